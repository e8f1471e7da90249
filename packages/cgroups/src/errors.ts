import { TsociError } from '@ts-oci/spec/errors';

/**
 * Stable codes of every failure this package reports. Callers branch on these,
 * never on message text.
 */
export const CGROUP_ERROR_CODES = {
  /** No cgroup filesystem is mounted where we looked (mountinfo has none). */
  NO_CGROUPFS: 'ECGROUP_NO_CGROUPFS',
  /** `--systemd-cgroup` / a systemd cgroupsPath: the systemd driver is not implemented. */
  SYSTEMD_UNSUPPORTED: 'ECGROUP_SYSTEMD_UNSUPPORTED',
  /** cgroupsPath or id cannot name a cgroup. */
  INVALID_PATH: 'ECGROUP_INVALID_PATH',
  /** A value we refuse before writing it (out of range, inconsistent with another field). */
  INVALID_VALUE: 'ECGROUP_INVALID_VALUE',
  /** A field needs a controller that is not mounted (v1) or cannot be enabled (v2). */
  CONTROLLER_UNAVAILABLE: 'ECGROUP_CONTROLLER_UNAVAILABLE',
  /** The controller is there but this kernel lacks the knob (no CFQ/BFQ weight, no swap accounting, …). */
  UNSUPPORTED: 'ECGROUP_UNSUPPORTED',
  /** `linux.resources.unified` on a host where the key's controller is not on cgroup v2. */
  UNIFIED_ON_V1: 'ECGROUP_UNIFIED_ON_V1',
  /** Device rules that cannot be enforced (cgroup v2 without an eBPF device filter). */
  DEVICES_UNSUPPORTED: 'ECGROUP_DEVICES_UNSUPPORTED',
  /** The kernel rejected a value written to a cgroup file. */
  WRITE_REJECTED: 'ECGROUP_WRITE_REJECTED',
  /** The kernel accepted a value but stored a different one (cpu.shares clamping). */
  VALUE_CLAMPED: 'ECGROUP_VALUE_CLAMPED',
  /** checkBeforeUpdate: the new memory limit is below the current usage. */
  MEMORY_IN_USE: 'ECGROUP_MEMORY_IN_USE',
  /** Any other filesystem failure (mkdir, read, rmdir) on a cgroup path. */
  IO: 'ECGROUP_IO',
  /** The cgroup does not exist (any more). */
  NOT_FOUND: 'ECGROUP_NOT_FOUND',
  /** The freezer did not reach the requested state in time. */
  FREEZE_TIMEOUT: 'ECGROUP_FREEZE_TIMEOUT',
  /** destroy(): the cgroup still had processes when the timeout expired. */
  NOT_EMPTY: 'ECGROUP_NOT_EMPTY',
  /** A serialised CgroupPaths document that cannot be used. */
  BAD_PATHS: 'ECGROUP_BAD_PATHS',
} as const;

export type CgroupErrorCode = (typeof CGROUP_ERROR_CODES)[keyof typeof CGROUP_ERROR_CODES];

export interface CgroupErrorDetails {
  /** JSON path of the offending config field, e.g. `linux.resources.cpu.cpus`. */
  field?: string;
  /** Absolute path of the cgroup file or directory involved. */
  path?: string;
  /** errno name from the kernel (`EINVAL`), when a syscall failed. */
  errno?: string;
  cause?: unknown;
}

/**
 * Every failure of @ts-oci/cgroups. Messages name the config field (JSON path)
 * and the cgroup file, e.g.
 * `linux.resources.cpu.cpus: "9-12" rejected by cpuset.cpus: invalid argument`.
 */
export class CgroupError extends TsociError {
  readonly field: string | undefined;
  readonly path: string | undefined;
  readonly errno: string | undefined;

  constructor(code: CgroupErrorCode, message: string, details: CgroupErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.field = details.field;
    this.path = details.path;
    this.errno = details.errno;
  }
}

/**
 * The error the CLI reports for `--systemd-cgroup` (and the factory throws for
 * `systemd: true`), so the message is the same wherever the request comes from.
 */
export function systemdCgroupUnsupported(): CgroupError {
  return new CgroupError(
    CGROUP_ERROR_CODES.SYSTEMD_UNSUPPORTED,
    '--systemd-cgroup: the systemd cgroup driver is not supported by tsoci; ' +
      'run without --systemd-cgroup to use the cgroupfs driver',
  );
}

// strerror(3) wording, lower-cased: what runc (Go's syscall.Errno) prints, so
// messages read the same as the other runtimes'. Node 20 has no public
// errno → text function, and libuv's texts differ ("result too large").
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  E2BIG: 'argument list too long',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EXDEV: 'invalid cross-device link',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ERANGE: 'numerical result out of range',
  ENOTEMPTY: 'directory not empty',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  EOVERFLOW: 'value too large for defined data type',
  ECANCELED: 'operation canceled',
};

/** `invalid argument` for an EINVAL error; the errno name itself when unknown. */
export function errnoText(code: string | undefined): string {
  if (code === undefined) return 'unknown error';
  return ERRNO_TEXT[code] ?? code.toLowerCase();
}

/** The errno name (`EINVAL`) of a Node system error, if it is one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}

/** Wraps a filesystem failure that is not a value rejection (mkdir, read, rmdir, open). */
export function ioError(
  op: string,
  path: string,
  err: unknown,
  extra: { field?: string } = {},
): CgroupError {
  if (err instanceof CgroupError) return err;
  const errno = errnoOf(err);
  const prefix = extra.field === undefined ? '' : `${extra.field}: `;
  const code = errno === 'ENOENT' ? CGROUP_ERROR_CODES.NOT_FOUND : CGROUP_ERROR_CODES.IO;
  const reason =
    errno !== undefined ? errnoText(errno) : err instanceof Error ? err.message : String(err);
  return new CgroupError(code, `${prefix}${op} ${path}: ${reason}`, {
    path,
    errno,
    cause: err,
    ...(extra.field === undefined ? {} : { field: extra.field }),
  });
}
