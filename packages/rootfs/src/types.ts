import type { RootfsIssue } from './errors.js';

/**
 * The types of the RootfsPlan in crates/tsoci-init/PROTOCOL.md, field for
 * field: the plan is serialised with JSON.stringify and deserialised by the
 * Rust crate tsoci-mount, so names and shapes must not drift.
 */

/** `linux.rootfsPropagation` values tsoci accepts (the spec's four plus runc's recursive forms). */
export type RootfsPropagation =
  | 'private'
  | 'rprivate'
  | 'slave'
  | 'rslave'
  | 'shared'
  | 'rshared'
  | 'unbindable'
  | 'runbindable';

/** `linux.devices[].type`: character, block, unbuffered character (also S_IFCHR), FIFO. */
export type DeviceType = 'c' | 'b' | 'u' | 'p';

/** One mount, in config order. */
export interface MountOp {
  /** Absolute, normalised, inside the container; tsoci-init resolves it with RESOLVE_IN_ROOT. */
  destination: string;
  /** Filesystem type; `"bind"` for bind mounts. */
  type: string;
  /** Bind mounts: an absolute host path. Otherwise the config's source (or the type when absent). */
  source: string;
  bind: boolean;
  /** `rbind`: the bind includes the submounts. */
  recursive: boolean;
  /** `MS_*` flags to set, without propagation, `MS_BIND` or `MS_REC`. */
  flags: number;
  /** `MS_*` flags the options explicitly cleared (`rw`, `suid`, …), for bind remounts. */
  clearFlags: number;
  /** `MS_SHARED`/`MS_SLAVE`/`MS_PRIVATE`/`MS_UNBINDABLE` (`|MS_REC`), applied in this order after mounting. */
  propagation: number[];
  /** `MOUNT_ATTR_*` to set recursively with mount_setattr(AT_RECURSIVE). */
  attrSet: number;
  /** `MOUNT_ATTR_*` to clear recursively; includes `MOUNT_ATTR__ATIME` whenever `attrSet` picks an access-time mode. */
  attrClr: number;
  /** Filesystem-specific options (everything that is not a known flag), comma-joined, or "". */
  data: string;
}

/** A device node to create (mknod) or, with `bindDevices`, to bind from the same path on the host. */
export interface DeviceNode {
  path: string;
  type: DeviceType;
  /** 0 for FIFOs (`p`), whose numbers are ignored. */
  major: number;
  minor: number;
  /** Permission bits only (`S_IFMT` removed); decimal in JSON. */
  fileMode: number;
  /** Owner in the container's user namespace. */
  uid: number;
  gid: number;
}

/** `[target, path in container]`: the symlink at `path` points to `target`. */
export type Symlink = [target: string, path: string];

export interface RootfsPlan {
  /** Absolute host path of `root.path`. */
  root: string;
  readonly: boolean;
  /** Applied to `/` recursively-or-not as the name says, before anything else. */
  propagation: RootfsPropagation;
  noPivot: boolean;
  mounts: MountOp[];
  devices: DeviceNode[];
  /** True when mknod is impossible (user namespace): bind the host node instead. */
  bindDevices: boolean;
  symlinks: Symlink[];
  maskedPaths: string[];
  readonlyPaths: string[];
}

/**
 * The parts of a runtime-spec config the rootfs plan reads. The field names
 * are config.md's, so a `Config` from @ts-oci/spec is assignable to it; values
 * are nevertheless re-checked at run time, so unparsed input yields issues,
 * never a crash.
 */
export interface RootfsConfig {
  root?: { path: string; readonly?: boolean | undefined } | undefined;
  mounts?: readonly RootfsConfigMount[] | undefined;
  linux?: RootfsConfigLinux | undefined;
}

export interface RootfsConfigMount {
  destination: string;
  source?: string | undefined;
  type?: string | undefined;
  options?: readonly string[] | undefined;
  uidMappings?: readonly unknown[] | undefined;
  gidMappings?: readonly unknown[] | undefined;
}

export interface RootfsConfigDevice {
  type: string;
  path: string;
  major?: number | undefined;
  minor?: number | undefined;
  fileMode?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
}

export interface RootfsConfigLinux {
  namespaces?: readonly { type: string; path?: string | undefined }[] | undefined;
  devices?: readonly RootfsConfigDevice[] | undefined;
  rootfsPropagation?: string | undefined;
  maskedPaths?: readonly string[] | undefined;
  readonlyPaths?: readonly string[] | undefined;
  mountLabel?: string | undefined;
}

export interface RootfsPlanOptions {
  /** Absolute path of the bundle; relative `root.path` and bind sources are resolved against it (runc's cwd). */
  bundleDir: string;
  /** `--no-pivot`: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean | undefined;
  /**
   * tsoci itself runs in a non-initial user namespace (rootless), where mknod
   * is refused even without a container user namespace. The caller knows this
   * from /proc/self/uid_map; this package does no I/O.
   */
  inUserNamespace?: boolean | undefined;
  /**
   * Reject relative mount destinations instead of interpreting them relative
   * to "/" (config.md deprecates them but still requires that interpretation).
   */
  strictDestinations?: boolean | undefined;
  /** Receives things that are accepted but probably not what the author meant. */
  onWarning?: ((warning: RootfsIssue) => void) | undefined;
}
