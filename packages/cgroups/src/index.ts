// The public API of @ts-oci/cgroups. Everything else under src/ is internal.

export {
  classifyDeviceRules,
  DEFAULT_ALLOWED_DEVICES,
  type DeviceRule,
  normalizeDeviceRule,
} from './devices.js';
export {
  CGROUP_ERROR_CODES,
  CgroupError,
  type CgroupErrorCode,
  systemdCgroupUnsupported,
} from './errors.js';
export {
  type CreateCgroupManagerOptions,
  cgroupManagerFromPaths,
  createCgroupManager,
  type FromPathsOptions,
} from './factory.js';
export { CGROUP_DRIVERS, type CgroupFeatures, cgroupFeatures } from './features.js';
export { type CgroupIo, NodeCgroupIo } from './io.js';
export type {
  CgroupJoin,
  CgroupManager,
  CgroupPaths,
  DestroyOptions,
  ManagerCommonOptions,
  ManagerTimeouts,
  OomEvent,
  OomWatchOptions,
  SetResult,
} from './manager.js';
export {
  blkioWeightToIoWeight,
  type CgroupVersion,
  type CgroupWrite,
  type MemoryUsageCheck,
  memorySwapToV2,
  type PlanContext,
  type Planner,
  type PlanWarning,
  planResource,
  planResources,
  RESOURCE_KEYS,
  RESOURCE_TABLE,
  type ResourceKey,
  type ResourcePlan,
  sharesToWeight,
  type VersionEntry,
} from './plan.js';
export {
  type CgroupSetup,
  getCgroupSetup,
  type UnifiedHierarchy,
  type V1Hierarchy,
} from './setup.js';
export { type BlkioEntry, type CgroupStats, type MemoryEntry, UNLIMITED } from './stats.js';
export { type V1Dir, V1Manager, type V1ManagerOptions } from './v1.js';
export { type DeviceFilter, V2Manager, type V2ManagerOptions } from './v2.js';
