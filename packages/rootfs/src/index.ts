export { DEFAULT_DEVICES } from './devices.js';
export { type RootfsIssue, RootfsPlanError } from './errors.js';
export { MOUNT_ATTR, MS } from './kernel.js';
export { MOUNT_OPTIONS, type MountOptionEffect, UNSUPPORTED_MOUNT_OPTIONS } from './options.js';
export {
  buildRootfsPlan,
  DEFAULT_ROOTFS_PROPAGATION,
  ROOTFS_PROPAGATIONS,
  validateRootfs,
} from './plan.js';
export type {
  DeviceNode,
  DeviceType,
  MountOp,
  RootfsConfig,
  RootfsConfigDevice,
  RootfsConfigLinux,
  RootfsConfigMount,
  RootfsPlan,
  RootfsPlanOptions,
  RootfsPropagation,
  Symlink,
} from './types.js';
