// The public API of @ts-oci/spec. Everything else under src/ is internal.

export { type DefaultConfigOptions, defaultConfig } from './defaults.js';
export { type SpecIssue, SpecValidationError, TsociError } from './errors.js';
export {
  type History,
  type ImageConfig,
  ImageConfigSchema,
  type ImageExecConfig,
} from './image/config.js';
export { type Descriptor, DescriptorSchema, type Platform } from './image/descriptor.js';
export {
  type DockerArchiveManifest,
  type DockerArchiveManifestEntry,
  DockerArchiveManifestSchema,
  type DockerRepositories,
  DockerRepositoriesSchema,
} from './image/docker.js';
export { type Index, IndexSchema } from './image/image-index.js';
export { type ImageLayout, ImageLayoutSchema } from './image/layout.js';
export { type Manifest, ManifestSchema } from './image/manifest.js';
export { DOCKER_MEDIA_TYPES, OCI_MEDIA_TYPES } from './image/media-types.js';
export {
  type ParseOptions,
  parseConfig,
  parseDescriptor,
  parseDockerArchiveManifest,
  parseDockerRepositories,
  parseFeatures,
  parseImageConfig,
  parseImageLayout,
  parseIndex,
  parseManifest,
  parseState,
  validateConfig,
} from './parse.js';
export {
  type Capabilities,
  type Config,
  ConfigSchema,
  type Hooks,
  type IoPriority,
  type Process,
  type Rlimit,
  type Root,
  type Scheduler,
  type User,
} from './runtime/config.js';
export type { Hook, IdMapping, Mount } from './runtime/defs.js';
export { type Features, FeaturesSchema, type LinuxFeatures } from './runtime/features.js';
export type {
  BlockIo,
  Cpu,
  Device,
  DeviceCgroup,
  HugepageLimit,
  IntelRdt,
  Linux,
  Memory,
  MemoryPolicy,
  Namespace,
  Network,
  Personality,
  Rdma,
  Resources,
  Seccomp,
  Syscall,
  SyscallArg,
  TimeOffset,
} from './runtime/linux.js';
export { type State, StateSchema } from './runtime/state.js';
export {
  CAPABILITIES,
  CAPABILITY_PATTERN,
  type Capability,
  CONTAINER_STATUSES,
  type ContainerStatus,
  DEVICE_CGROUP_TYPES,
  DEVICE_TYPES,
  type DeviceCgroupType,
  type DeviceType,
  EXTRA_CONTAINER_STATUSES,
  HOOK_NAMES,
  type HookName,
  IO_PRIORITY_CLASSES,
  type IoPriorityClass,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  type MemoryPolicyFlag,
  type MemoryPolicyMode,
  NAMESPACE_TYPES,
  type NamespaceType,
  OCI_IMAGE_SPEC_VERSION,
  OCI_RUNTIME_SPEC_VERSION,
  PERSONALITY_DOMAINS,
  type PersonalityDomain,
  RLIMIT_PATTERN,
  RLIMIT_TYPES,
  type RlimitType,
  ROOTFS_PROPAGATIONS,
  type RootfsPropagation,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  type SchedulerFlag,
  type SchedulerPolicy,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type SeccompAction,
  type SeccompArch,
  type SeccompFlag,
  type SeccompOperator,
} from './tables.js';
