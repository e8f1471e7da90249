/**
 * Kernel constants the plan is expressed in. The values are the uapi ones
 * (include/uapi/linux/mount.h, identical on every architecture Linux supports),
 * because tsoci-mount passes them to mount(2) and mount_setattr(2) unchanged.
 * All of them fit in 31 bits, so JavaScript's 32-bit bitwise operators are safe.
 */

/** `MS_*` flags of mount(2). */
export const MS = Object.freeze({
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const);

/** `MOUNT_ATTR_*` of mount_setattr(2), used for the recursive (`r*`) options. */
export const MOUNT_ATTR = Object.freeze({
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  /** Not a flag but the mask of the access-time enumeration below. */
  _ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const);

/** mknod(2) file-type bits (`S_IFMT` and the device kinds a config may name). */
export const S_IF = Object.freeze({
  FMT: 0o170000,
  FIFO: 0o010000,
  CHR: 0o020000,
  BLK: 0o060000,
} as const);

/**
 * The kernel's dev_t has a 12-bit major and a 20-bit minor (MINORBITS in
 * include/linux/kdev_t.h); larger numbers would be silently truncated by
 * mknod(2), creating a different device than the config asked for.
 */
export const MAX_MAJOR = 0xfff;
export const MAX_MINOR = 0xfffff;
