/**
 * The enumerations of the OCI runtime spec, as readonly tables.
 *
 * These are the single source for three consumers: the zod schemas in this
 * package (unknown values are rejected), the runtime (which maps the names to
 * kernel numbers), and `tsoci features`, which must never claim more than the
 * runtime recognises. Keep them in sync with runtime-spec v1.3.0
 * (config-linux.md, schema/defs-linux.json) and the kernel headers.
 */

/** The runtime-spec version this package implements, written into configs and state we produce. */
export const OCI_RUNTIME_SPEC_VERSION = '1.3.0';

/** The image-spec version this package implements. */
export const OCI_IMAGE_SPEC_VERSION = '1.1.1';

/** `linux.namespaces[].type` (config-linux.md#namespaces). */
export const NAMESPACE_TYPES = [
  'mount',
  'pid',
  'network',
  'uts',
  'ipc',
  'user',
  'cgroup',
  'time',
] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

/**
 * Linux capabilities known to kernel 6.x, in kernel bit order: the index of a
 * name is its `CAP_*` number (include/uapi/linux/capability.h), so the runtime
 * can build capability masks straight from this table.
 */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * The shape every capability name must have. config.md asks runtimes to warn
 * about (not reject) capabilities they cannot grant, so a well-formed name that
 * is missing from CAPABILITIES (a newer kernel's) is valid config; the pattern
 * is the one features-linux.json uses for the same names.
 */
export const CAPABILITY_PATTERN = /^CAP_[A-Z_]+$/;

/**
 * Linux `RLIMIT_*` names from getrlimit(2), in the asm-generic resource order.
 * The numbers differ on a few architectures (alpha, mips, sparc), so the
 * runtime must not use the index as the resource number.
 */
export const RLIMIT_TYPES = [
  'RLIMIT_CPU',
  'RLIMIT_FSIZE',
  'RLIMIT_DATA',
  'RLIMIT_STACK',
  'RLIMIT_CORE',
  'RLIMIT_RSS',
  'RLIMIT_NPROC',
  'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK',
  'RLIMIT_AS',
  'RLIMIT_LOCKS',
  'RLIMIT_SIGPENDING',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
] as const;
export type RlimitType = (typeof RLIMIT_TYPES)[number];

/**
 * The schema only constrains the shape of `process.rlimits[].type` (other
 * platforms have other names, e.g. Solaris' RLIMIT_VMEM); RLIMIT_TYPES is the
 * Linux subset the runtime can actually map.
 */
export const RLIMIT_PATTERN = /^RLIMIT_[A-Z]+$/;

/** `linux.seccomp.defaultAction` and `syscalls[].action`. */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

/** `linux.seccomp.syscalls[].args[].op`. */
export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** `linux.seccomp.architectures` (libseccomp v2.6.0 names). */
export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
] as const;
export type SeccompArch = (typeof SECCOMP_ARCHES)[number];

/** `linux.seccomp.flags` (seccomp(2) filter flags). */
export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];

/** `linux.rootfsPropagation`. */
export const ROOTFS_PROPAGATIONS = ['private', 'shared', 'slave', 'unbindable'] as const;
export type RootfsPropagation = (typeof ROOTFS_PROPAGATIONS)[number];

/** The keys of `hooks`, in the order the lifecycle runs them; `prestart` is deprecated. */
export const HOOK_NAMES = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** `process.scheduler.policy` (sched(7)). */
export const SCHEDULER_POLICIES = [
  'SCHED_OTHER',
  'SCHED_FIFO',
  'SCHED_RR',
  'SCHED_BATCH',
  'SCHED_ISO',
  'SCHED_IDLE',
  'SCHED_DEADLINE',
] as const;
export type SchedulerPolicy = (typeof SCHEDULER_POLICIES)[number];

/** `process.scheduler.flags` (sched_setattr(2)). */
export const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
] as const;
export type SchedulerFlag = (typeof SCHEDULER_FLAGS)[number];

/** `process.ioPriority.class` (ioprio_set(2)). */
export const IO_PRIORITY_CLASSES = [
  'IOPRIO_CLASS_RT',
  'IOPRIO_CLASS_BE',
  'IOPRIO_CLASS_IDLE',
] as const;
export type IoPriorityClass = (typeof IO_PRIORITY_CLASSES)[number];

/** `linux.memoryPolicy.mode` (set_mempolicy(2)). */
export const MEMORY_POLICY_MODES = [
  'MPOL_DEFAULT',
  'MPOL_BIND',
  'MPOL_INTERLEAVE',
  'MPOL_WEIGHTED_INTERLEAVE',
  'MPOL_PREFERRED',
  'MPOL_PREFERRED_MANY',
  'MPOL_LOCAL',
] as const;
export type MemoryPolicyMode = (typeof MEMORY_POLICY_MODES)[number];

/** `linux.memoryPolicy.flags`. */
export const MEMORY_POLICY_FLAGS = [
  'MPOL_F_NUMA_BALANCING',
  'MPOL_F_RELATIVE_NODES',
  'MPOL_F_STATIC_NODES',
] as const;
export type MemoryPolicyFlag = (typeof MEMORY_POLICY_FLAGS)[number];

/** `linux.personality.domain` (personality(2)). */
export const PERSONALITY_DOMAINS = ['LINUX', 'LINUX32'] as const;
export type PersonalityDomain = (typeof PERSONALITY_DOMAINS)[number];

/** `linux.devices[].type`: character, block, unbuffered character, FIFO (mknod(1)). */
export const DEVICE_TYPES = ['c', 'b', 'u', 'p'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** `linux.resources.devices[].type`: all, character, block (config-linux.md#allowed-device-list). */
export const DEVICE_CGROUP_TYPES = ['a', 'c', 'b'] as const;
export type DeviceCgroupType = (typeof DEVICE_CGROUP_TYPES)[number];

/** `status` of the runtime state (runtime.md#state). */
export const CONTAINER_STATUSES = ['creating', 'created', 'running', 'stopped'] as const;

/**
 * runtime.md lets a runtime add statuses for states the spec does not define.
 * runc and crun report `paused` for a frozen container and engines read it, so
 * tsoci does the same; no other extra status is accepted.
 */
export const EXTRA_CONTAINER_STATUSES = ['paused'] as const;
export type ContainerStatus =
  | (typeof CONTAINER_STATUSES)[number]
  | (typeof EXTRA_CONTAINER_STATUSES)[number];
