import { TsociError } from '@ts-oci/spec/errors';
import { native } from './native.js';

/** Namespace kinds as the OCI runtime spec names them (`linux.namespaces[].type`). */
export const NAMESPACE_KINDS = [
  'cgroup',
  'ipc',
  'mount',
  'network',
  'pid',
  'time',
  'user',
  'uts',
] as const;

export type NamespaceKind = (typeof NAMESPACE_KINDS)[number];

/** Which namespace a process is in: two handles name the same namespace iff dev and inode match. */
export interface NamespaceIdentity {
  kind: NamespaceKind;
  dev: number;
  inode: number;
}

/** A namespace could not be inspected: the process is gone, access denied, or the kind is unknown. */
export class NamespaceError extends TsociError {
  static readonly CODE = 'ENS_INSPECT';
  /** The errno name reported by the kernel (`ENOENT`, `EACCES`, …). */
  readonly errno: string;

  constructor(message: string, errno: string, options?: { cause?: unknown }) {
    super(NamespaceError.CODE, message, options);
    this.errno = errno;
  }
}

export function isNamespaceKind(value: string): value is NamespaceKind {
  return (NAMESPACE_KINDS as readonly string[]).includes(value);
}

function pidArg(pid: number | 'self'): number {
  if (pid === 'self') return 0;
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0xffff_ffff) {
    throw new NamespaceError(`invalid pid ${String(pid)}: expected a positive integer`, 'EINVAL');
  }
  return pid;
}

function rethrow(err: unknown, what: string): never {
  const reason = err instanceof Error ? err.message : String(err);
  const m = /^([A-Z][A-Z0-9]+): (.*)$/s.exec(reason);
  throw new NamespaceError(`${what}: ${m?.[2] ?? reason}`, m?.[1] ?? 'EIO', { cause: err });
}

/** The namespace of `kind` that process `pid` (or this process) is in. */
export function namespaceOf(pid: number | 'self', kind: NamespaceKind): NamespaceIdentity {
  if (!isNamespaceKind(kind)) {
    throw new NamespaceError(`unknown namespace kind ${JSON.stringify(kind)}`, 'EINVAL');
  }
  const p = pidArg(pid);
  try {
    return native().namespaceOf(p, kind) as NamespaceIdentity;
  } catch (err) {
    rethrow(err, `namespace ${kind} of pid ${pid}`);
  }
}

/** Every namespace of `pid` that this kernel has, in NAMESPACE_KINDS order. */
export function listNamespaces(pid: number | 'self'): NamespaceIdentity[] {
  const p = pidArg(pid);
  try {
    return native().namespacesOf(p) as NamespaceIdentity[];
  } catch (err) {
    rethrow(err, `namespaces of pid ${pid}`);
  }
}

export function sameNamespace(a: NamespaceIdentity, b: NamespaceIdentity): boolean {
  return a.kind === b.kind && a.dev === b.dev && a.inode === b.inode;
}
