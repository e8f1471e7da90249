import { createRequire } from 'node:module';
import { TsociError } from '@ts-oci/spec/errors';
import type * as Binding from '../native/binding.cjs';

// The addon is loaded on first use, not at import: `tsoci spec` or `--help`
// must not pay for dlopen (and libseccomp with it). Same path from src/ and dist/.
let binding: typeof Binding | undefined;

function native(): typeof Binding {
  binding ??= createRequire(import.meta.url)('../native/binding.cjs') as typeof Binding;
  return binding;
}

/** `--root` when none is given. */
export const DEFAULT_STATE_ROOT = '/run/tsoci';
/** The exec fifo's name inside a container directory. */
export const EXEC_FIFO = 'exec.fifo';
/** Its mode: the container may run as any user (runc uses the same). */
export const EXEC_FIFO_MODE = 0o622;

/** Stable codes of {@link NativeRuntimeError}. */
export const NativeErrorCode = {
  /** A container id breaks the id rules (charset, length, `.`/`..`, `/`). */
  INVALID_ID: 'ECONTAINER_ID_INVALID',
  /** `create` of an id that already exists. */
  EXISTS: 'ECONTAINER_EXISTS',
  /** No container with that id (or it was deleted while waiting for its lock). */
  NOT_FOUND: 'ECONTAINER_NOT_FOUND',
  /** Another operation holds the container's lock and the timeout expired. */
  LOCKED: 'ECONTAINER_LOCKED',
  /** A {@link ContainerLock} was used after `unlock()` or `remove()`. */
  LOCK_RELEASED: 'ECONTAINER_LOCK_RELEASED',
  /** `state.json` on disk is not a JSON object. */
  STATE_CORRUPT: 'ESTATE_CORRUPT',
  /** A state to write is not a JSON object. */
  STATE_INVALID: 'ESTATE_INVALID',
  /** The process is gone, or its pid now belongs to another process. */
  PROCESS_GONE: 'EPROCESS_GONE',
  /** `start`: the container process died before it opened the exec fifo. */
  EXITED_BEFORE_START: 'ECONTAINER_EXITED',
  /** `start`: no exec fifo (the container was already started, or never created). */
  FIFO_MISSING: 'EEXEC_FIFO_MISSING',
  /** A wait (lock, fifo, socket) ran out of time. */
  TIMEOUT: 'ETIMEOUT',
  /** `waitPid` of a process that is not a child of this process. */
  NOT_CHILD: 'ENOT_CHILD',
  /** The peer of an fd-passing socket sent no fd, or several. */
  FD_PROTOCOL: 'EFD_PROTOCOL',
  /** `linux.seccomp` is malformed or uses unknown values. */
  SECCOMP_INVALID: 'ESECCOMP_INVALID',
  /** `linux.seccomp` asks for something not implemented here (SCMP_ACT_NOTIFY, a foreign arch). */
  SECCOMP_UNSUPPORTED: 'ESECCOMP_UNSUPPORTED',
  /** A bad argument (pid, signal, timeout, fd, path length). */
  INVALID_ARGUMENT: 'EINVALID_ARGUMENT',
  /** Any other system call failure; `errno` says which. */
  SYSTEM: 'ENATIVE_SYSTEM',
} as const;

export type NativeErrorCodeValue = (typeof NativeErrorCode)[keyof typeof NativeErrorCode];

/** A failure in the native runtime addon. `errno` is the kernel's (or the addon's) errno name. */
export class NativeRuntimeError extends TsociError {
  /** `ENOENT`, `EAGAIN`, `ESRCH`, …; `EINVAL` for argument errors caught in TypeScript. */
  readonly errno: string;

  constructor(
    code: NativeErrorCodeValue,
    message: string,
    errno: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.errno = errno;
  }
}

type Codes = Partial<Record<string, NativeErrorCodeValue>>;

// Errnos whose meaning does not depend on the call.
const COMMON: Codes = {
  EINVAL: NativeErrorCode.INVALID_ARGUMENT,
  ETIMEDOUT: NativeErrorCode.TIMEOUT,
  EBADMSG: NativeErrorCode.STATE_CORRUPT,
  EPROTO: NativeErrorCode.FD_PROTOCOL,
  ECHILD: NativeErrorCode.NOT_CHILD,
  ESRCH: NativeErrorCode.PROCESS_GONE,
};

const CONTAINER: Codes = {
  EEXIST: NativeErrorCode.EXISTS,
  ENOENT: NativeErrorCode.NOT_FOUND,
  EAGAIN: NativeErrorCode.LOCKED,
};

const HANDLE: Codes = {
  EBADF: NativeErrorCode.LOCK_RELEASED,
  EINVAL: NativeErrorCode.STATE_INVALID,
};

const FIFO: Codes = {
  ESRCH: NativeErrorCode.EXITED_BEFORE_START,
  ENOENT: NativeErrorCode.FIFO_MISSING,
};

const SECCOMP: Codes = {
  EINVAL: NativeErrorCode.SECCOMP_INVALID,
  ENOTSUP: NativeErrorCode.SECCOMP_UNSUPPORTED,
};

function toError(err: unknown, codes: Codes): NativeRuntimeError {
  const reason = err instanceof Error ? err.message : String(err);
  const m = /^([A-Z][A-Z0-9]+): (.*)$/s.exec(reason);
  const errno = m?.[1] ?? 'EIO';
  const code = codes[errno] ?? COMMON[errno] ?? NativeErrorCode.SYSTEM;
  return new NativeRuntimeError(code, m?.[2] ?? reason, errno, { cause: err });
}

function call<T>(codes: Codes, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toError(err, codes);
  }
}

async function callAsync<T>(codes: Codes, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toError(err, codes);
  }
}

function badArgument(message: string): NativeRuntimeError {
  return new NativeRuntimeError(NativeErrorCode.INVALID_ARGUMENT, message, 'EINVAL');
}

// napi's own conversion errors ("Failed to convert JavaScript value …") name
// no parameter; checking here gives messages that do.
function checkPid(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fff_ffff) {
    throw badArgument(`invalid pid ${String(pid)}: expected an integer from 1 to 2147483647`);
  }
  return pid;
}

function checkStartTime(startTime: number): number {
  if (!Number.isSafeInteger(startTime) || startTime < 0) {
    throw badArgument(`invalid start time ${String(startTime)}: expected a non-negative integer`);
  }
  return startTime;
}

function checkTimeout(timeoutMs: number | undefined): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0xffff_ffff) {
    throw badArgument(
      `invalid timeout ${String(timeoutMs)} ms: expected an integer from 0 to 4294967295`,
    );
  }
  return timeoutMs;
}

function checkFd(fd: number, what: string): number {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) {
    throw badArgument(`invalid ${what} ${String(fd)}: expected a file descriptor number`);
  }
  return fd;
}

function checkString(value: string, what: string): string {
  if (typeof value !== 'string' || value.includes('\0')) {
    throw badArgument(
      `invalid ${what} ${JSON.stringify(value)}: expected a string without NUL bytes`,
    );
  }
  return value;
}

/** Throws {@link NativeErrorCode.INVALID_ID} unless `id` may name a container (runc's rule). */
export function validateId(id: string): void {
  if (typeof id !== 'string') {
    throw new NativeRuntimeError(
      NativeErrorCode.INVALID_ID,
      `invalid container id ${String(id)}: expected a string`,
      'EINVAL',
    );
  }
  call({ EINVAL: NativeErrorCode.INVALID_ID }, () => native().validateId(id));
}

/** True if `id` may name a container. */
export function isValidContainerId(id: string): boolean {
  try {
    validateId(id);
    return true;
  } catch {
    return false;
  }
}

/** A JSON object as stored in `state.json` (the runtime owns its schema). */
export type StateObject = Record<string, unknown>;

function parseState(text: string | null, where: string): StateObject | null {
  if (text === null) return null;
  // The addon already checked that the file holds a JSON object.
  try {
    return JSON.parse(text) as StateObject;
  } catch (err) {
    throw new NativeRuntimeError(
      NativeErrorCode.STATE_CORRUPT,
      `${where}: not valid JSON`,
      'EBADMSG',
      { cause: err },
    );
  }
}

function stateText(state: StateObject, id: string): string {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    throw new NativeRuntimeError(
      NativeErrorCode.STATE_INVALID,
      `state of container ${JSON.stringify(id)}: expected an object`,
      'EINVAL',
    );
  }
  try {
    return JSON.stringify(state);
  } catch (err) {
    throw new NativeRuntimeError(
      NativeErrorCode.STATE_INVALID,
      `state of container ${JSON.stringify(id)}: cannot be serialised: ${(err as Error).message}`,
      'EINVAL',
      { cause: err },
    );
  }
}

/**
 * The held lock of one container directory (`flock` on `<root>/<id>`).
 * Operations on one id are serialised by it; ids never block each other, and
 * two handles on one id conflict even inside one process. Release it with
 * {@link ContainerLock.unlock} (or {@link ContainerLock.remove}), ideally in a
 * `finally`; a dropped handle only lets go when garbage collected.
 */
export class ContainerLock {
  readonly #handle: Binding.ContainerLock;

  /** @internal Use {@link createContainerDir} or {@link lockContainer}. */
  constructor(handle: Binding.ContainerLock) {
    this.#handle = handle;
  }

  get id(): string {
    return this.#handle.id;
  }

  /** `<root>/<id>`. */
  get path(): string {
    return this.#handle.path;
  }

  /** False once released or removed. */
  get held(): boolean {
    return this.#handle.held;
  }

  /** The stored state as its exact JSON text (a JSON object), or null if none was written yet. */
  readState(): string | null {
    return call(HANDLE, () => this.#handle.readState());
  }

  /** {@link ContainerLock.readState}, parsed. */
  readStateJson(): StateObject | null {
    return parseState(this.readState(), `state of container ${JSON.stringify(this.id)}`);
  }

  /**
   * Replaces the state atomically (temp file, fsync, rename, fsync of the
   * directory). `state` is an object or the JSON text of one.
   */
  writeState(state: StateObject | string): void {
    const text = typeof state === 'string' ? state : stateText(state, this.id);
    call(HANDLE, () => this.#handle.writeState(text));
  }

  /** Deletes `<root>/<id>` and everything in it, then releases the lock. */
  remove(): void {
    call(HANDLE, () => this.#handle.remove());
  }

  /** Releases the lock. Idempotent. */
  unlock(): void {
    this.#handle.release();
  }
}

/**
 * Creates the directory of a new container (0700; the root 0711 when missing)
 * and returns it LOCKED, so `create` holds the lock from the first instant:
 * use this handle, do not call {@link lockContainer} for the same id while it
 * is held (that would wait for yourself). Throws {@link NativeErrorCode.EXISTS}
 * for a duplicate id.
 */
export function createContainerDir(root: string, id: string): ContainerLock {
  validateId(id);
  checkString(root, 'state root');
  return new ContainerLock(call(CONTAINER, () => native().createContainerDir(root, id)));
}

/**
 * Locks container `id`, blocking the event loop while it waits: for the CLI,
 * where nothing else runs. Library code should use {@link lockContainerAsync}.
 * `timeoutMs` undefined waits as long as it takes; on expiry throws
 * {@link NativeErrorCode.LOCKED}.
 */
export function lockContainer(root: string, id: string, timeoutMs?: number): ContainerLock {
  validateId(id);
  checkString(root, 'state root');
  const timeout = checkTimeout(timeoutMs);
  return new ContainerLock(call(CONTAINER, () => native().lockContainer(root, id, timeout)));
}

/** Locks container `id`, waiting on the libuv pool instead of the event loop. */
export async function lockContainerAsync(
  root: string,
  id: string,
  timeoutMs?: number,
): Promise<ContainerLock> {
  validateId(id);
  checkString(root, 'state root');
  const timeout = checkTimeout(timeoutMs);
  return new ContainerLock(
    await callAsync(CONTAINER, () => native().lockContainerAsync(root, id, timeout)),
  );
}

/**
 * Runs `fn` while holding the lock of `id`, and releases it afterwards
 * (unless `fn` removed the container, which releases it too).
 */
export async function withContainerLock<T>(
  root: string,
  id: string,
  fn: (lock: ContainerLock) => T | Promise<T>,
  timeoutMs?: number,
): Promise<T> {
  const lock = await lockContainerAsync(root, id, timeoutMs);
  try {
    return await fn(lock);
  } finally {
    lock.unlock();
  }
}

/**
 * The state text of `id` read WITHOUT its lock, or null if none was written
 * yet. Safe because writes are atomic renames; meant for `list`, which must
 * not wait behind a long `create`.
 */
export function readStateUnlocked(root: string, id: string): string | null {
  validateId(id);
  checkString(root, 'state root');
  return call(CONTAINER, () => native().readState(root, id));
}

/** Ids of all containers under `root`, sorted; empty when `root` does not exist. */
export function listIds(root: string): string[] {
  checkString(root, 'state root');
  return call({}, () => native().listIds(root));
}

/**
 * Start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks after boot).
 * Store it with the pid: together they identify the process across pid reuse.
 */
export function processStartTime(pid: number): number {
  checkPid(pid);
  return call({}, () => native().processStartTime(pid));
}

/** True if `pid` is alive (not a zombie) and still the process that started at `startTime`. */
export function isAlive(pid: number, startTime: number): boolean {
  checkPid(pid);
  checkStartTime(startTime);
  return call({}, () => native().isAlive(pid, startTime));
}

/**
 * Sends signal number `signal` (0-64; 0 only checks) through a pidfd, after
 * verifying that `pid` still started at `startTime`: a recycled pid is never
 * signalled ({@link NativeErrorCode.PROCESS_GONE}).
 */
export function signalProcess(pid: number, startTime: number, signal: number): void {
  checkPid(pid);
  checkStartTime(startTime);
  if (!Number.isInteger(signal) || signal < 0 || signal > 64) {
    throw badArgument(`invalid signal ${String(signal)}: expected a number from 0 to 64`);
  }
  call({}, () => native().signalProcess(pid, startTime, signal));
}

/** Makes this process a child subreaper, so orphaned container processes are re-parented here. */
export function setChildSubreaper(): void {
  call({}, () => native().setChildSubreaper());
}

/** How a process ended. */
export type ExitResult = { exitCode: number; signal: null } | { exitCode: null; signal: number };

/**
 * Waits for child `pid` to exit and reaps it; the wait occupies one libuv
 * pool thread until then. Only for processes node:child_process does not
 * track (it reaps its own), e.g. orphans adopted as a subreaper.
 */
export async function waitPid(pid: number): Promise<ExitResult> {
  checkPid(pid);
  const r = await callAsync({}, () => native().waitPid(pid));
  if (r.signal !== undefined && r.signal !== null) return { exitCode: null, signal: r.signal };
  return { exitCode: r.exitCode ?? 0, signal: null };
}

/** Creates a fifo with exactly `mode` (default 0o622), regardless of the umask. */
export function mkfifo(path: string, mode: number = EXEC_FIFO_MODE): void {
  checkString(path, 'fifo path');
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw badArgument(`invalid fifo mode ${String(mode)}: expected permission bits (0 to 0o777)`);
  }
  call({}, () => native().mkfifo(path, mode));
}

/**
 * `start`: reads the byte the created container writes into its exec fifo,
 * watching the process at the same time (a dead container is an error,
 * {@link NativeErrorCode.EXITED_BEFORE_START}, never a hang), then removes
 * the fifo. Returns the byte. `timeoutMs` undefined waits as long as the
 * process lives ({@link NativeErrorCode.TIMEOUT} otherwise). Blocks the event
 * loop: for the CLI.
 */
export function releaseExecFifo(
  path: string,
  pid: number,
  startTime: number,
  timeoutMs?: number,
): number {
  checkString(path, 'exec fifo path');
  checkPid(pid);
  checkStartTime(startTime);
  const timeout = checkTimeout(timeoutMs);
  return call(FIFO, () => native().releaseExecFifo(path, pid, startTime, timeout));
}

/** {@link releaseExecFifo} waiting on the libuv pool. */
export async function releaseExecFifoAsync(
  path: string,
  pid: number,
  startTime: number,
  timeoutMs?: number,
): Promise<number> {
  checkString(path, 'exec fifo path');
  checkPid(pid);
  checkStartTime(startTime);
  const timeout = checkTimeout(timeoutMs);
  return callAsync(FIFO, () => native().releaseExecFifoAsync(path, pid, startTime, timeout));
}

/** The compiled form of `linux.seccomp`, as `process.seccomp` of the init plan wants it. */
export interface CompiledSeccomp {
  /** `struct sock_filter[]`, 8 bytes per instruction, native byte order. */
  filter: Buffer;
  /** The `flags` argument of seccomp(SECCOMP_SET_MODE_FILTER). */
  flags: number;
  /** Syscall names libseccomp does not know here; skipped, as runc does. */
  skippedSyscalls: string[];
}

/**
 * Compiles `linux.seccomp` (an object, or its JSON text) to classic BPF.
 * Unknown actions, operators, arches and flags fail with
 * {@link NativeErrorCode.SECCOMP_INVALID} and a message naming the JSON path;
 * SCMP_ACT_NOTIFY fails with {@link NativeErrorCode.SECCOMP_UNSUPPORTED}.
 */
export function compileSeccomp(seccomp: unknown): CompiledSeccomp {
  let json: string;
  if (typeof seccomp === 'string') {
    json = seccomp;
  } else {
    try {
      json = JSON.stringify(seccomp) ?? 'null';
    } catch (err) {
      throw new NativeRuntimeError(
        NativeErrorCode.SECCOMP_INVALID,
        `linux.seccomp: cannot be serialised: ${(err as Error).message}`,
        'EINVAL',
        { cause: err },
      );
    }
  }
  return call(SECCOMP, () => native().compileSeccomp(json));
}

/** What the seccomp compiler supports; `tsoci features` is generated from it. */
export interface SeccompTables {
  /** Every action name the runtime spec defines. */
  knownActions: string[];
  /** The actions {@link compileSeccomp} accepts (no SCMP_ACT_NOTIFY). */
  supportedActions: string[];
  operators: string[];
  knownArchs: string[];
  /** Arches the linked libseccomp knows and that share the native byte order. */
  supportedArchs: string[];
  knownFlags: string[];
  /** Flags this kernel accepts and that are passed on to it. */
  supportedFlags: string[];
  nativeArch: string;
  libseccompVersion: string;
}

let tables: SeccompTables | undefined;

export function seccompTables(): SeccompTables {
  tables ??= call({}, () => native().seccompTables());
  return tables;
}

/**
 * Listens on a new unix stream socket at `path` (which must not exist; at
 * most 107 bytes). Returns the fd; close it with {@link closeFd}.
 */
export function listenUnix(path: string): number {
  checkString(path, 'socket path');
  return call({}, () => native().listenUnix(path));
}

export interface ReceivedFd {
  /** Now owned by the caller (CLOEXEC). */
  fd: number;
  /** The bytes sent with it (the console socket protocol sends the pty name). */
  name: string;
}

/**
 * Accepts one connection on `listenFd` and receives exactly one fd over
 * SCM_RIGHTS, waiting on the libuv pool. Do not close `listenFd` before the
 * promise settles.
 */
export async function acceptRecvFd(listenFd: number, timeoutMs?: number): Promise<ReceivedFd> {
  checkFd(listenFd, 'listening fd');
  const timeout = checkTimeout(timeoutMs);
  return callAsync({}, () => native().acceptRecvFd(listenFd, timeout));
}

/** Connects to the unix socket at `path` and sends `fd` with `name` (the runtime side of --console-socket). */
export function sendFd(path: string, fd: number, name: string): void {
  checkString(path, 'socket path');
  checkFd(fd, 'fd');
  checkString(name, 'fd name');
  call({}, () => native().sendFd(path, fd, name));
}

/**
 * A sealed memfd copy of the executable at `path` (close-on-exec); the
 * caller owns the fd. See sealed-init.ts.
 */
export function sealedExecutable(path: string): number {
  checkString(path, 'executable path');
  return call({}, () => native().sealedExecutable(path));
}

/**
 * Mounts an overlay (`options` as `@ts-oci/image`'s overlayOptions makes
 * them) on `target`, relative paths taken from `cwd`, on a thread of the
 * addon's own (this process's directory and namespaces stay as they are).
 */
export function mountOverlay(options: string, target: string, cwd?: string): void {
  checkString(options, 'overlay options');
  checkString(target, 'mount target');
  if (cwd !== undefined) checkString(cwd, 'mount directory');
  call({}, () => native().mountOverlay(options, target, cwd));
}

/** Unmounts `target`; false when nothing was mounted there. */
export function unmount(target: string): boolean {
  checkString(target, 'mount target');
  return call({}, () => native().unmount(target));
}

/** Closes an fd obtained from {@link listenUnix} or {@link acceptRecvFd}. Refuses 0-2. */
export function closeFd(fd: number): void {
  checkFd(fd, 'fd');
  call({}, () => native().closeFd(fd));
}

/**
 * How a watched process ended. `source`: `waitid` (it was this process's
 * child and is now reaped), `pidfd` (another parent reaped it; the kernel
 * kept its status, Linux 6.15+), `proc` (read from the zombie before its
 * parent reaped it), `unknown` (exitCode and signal both null).
 */
export interface ExitReport {
  token: number;
  exitCode: number | null;
  signal: number | null;
  source: 'waitid' | 'pidfd' | 'proc' | 'unknown';
}

/**
 * Routes every exit reported by the addon's watcher thread (one thread, in
 * epoll_wait on pidfds: no polling, no libuv pool thread) to `onExit`. The
 * addon keeps a single callback per process: a later call replaces it.
 */
export function exitWatchInit(onExit: (report: ExitReport) => void): void {
  call({}, () =>
    native().exitWatchInit((e) =>
      onExit({
        token: e.token,
        exitCode: e.exitCode ?? null,
        signal: e.signal ?? null,
        source: e.source as ExitReport['source'],
      }),
    ),
  );
}

/**
 * Watches `pid` (verified against `startTime` through its pidfd); returns the
 * token its report will carry. An exited child of this process is reaped by
 * the watcher. {@link NativeErrorCode.PROCESS_GONE} if it is already reaped
 * or the pid was reused.
 */
export function exitWatchAdd(pid: number, startTime: number): number {
  checkPid(pid);
  checkStartTime(startTime);
  return call({}, () => native().exitWatchAdd(pid, startTime));
}

/** Stops a watch; no report follows. False if it already fired. */
export function exitWatchCancel(token: number): boolean {
  return call({}, () => native().exitWatchCancel(token));
}

/**
 * Signals a watched process through its pidfd. False once its exit was
 * seen (nothing is signalled then, not even a process that reuses the pid).
 */
export function exitWatchKill(token: number, signal: number): boolean {
  return call({}, () => native().exitWatchKill(token, signal));
}

/** A tsoci-init started by {@link spawnInit}. */
export interface SpawnedInit {
  pid: number;
  /** This side of the sync socket; the init's is its fd `fds.length`. */
  syncFd: number;
  /** The exit watch token: its report reaps the init. */
  token: number;
  /** False when the kernel would not start it in the cgroup asked for. */
  inCgroup: boolean;
}

/**
 * Starts tsoci-init with clone3(CLONE_VM|CLONE_VFORK) (tsoci-state's
 * spawn): no copy of this process, whatever its heap; born in `cgroup` (a
 * cgroup2 directory) when given; watched from the start (call
 * {@link exitWatchInit} first). `fds[i]` becomes the init's fd i (-1:
 * /dev/null); nothing else is inherited. The error's `errno` is `ENOSYS`
 * where this build cannot spawn this way.
 */
export function spawnInit(opts: {
  path: string;
  argv0: string;
  env: string[];
  fds: number[];
  cgroup?: string;
}): SpawnedInit {
  checkString(opts.path, 'init path');
  for (const fd of opts.fds) {
    if (fd !== -1) checkFd(fd, 'init fd');
  }
  return call({}, () => native().spawnInit(opts));
}

/** A new pipe `[readFd, writeFd]`, both CLOEXEC. */
export function makePipe(): [number, number] {
  const [r, w] = call({}, () => native().makePipe());
  if (r === undefined || w === undefined) throw new Error('pipe2 returned no fds');
  return [r, w];
}

function checkCells(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xffff) {
    throw badArgument(`invalid terminal ${what} ${String(n)}: expected an integer from 1 to 65535`);
  }
  return n;
}

/**
 * TIOCSWINSZ: sets the size of the terminal `fd` (a pty master); the
 * processes on the pty get SIGWINCH. `fd` must stay open for the call.
 */
export function setWindowSize(fd: number, columns: number, rows: number): void {
  checkFd(fd, 'terminal fd');
  checkCells(columns, 'columns');
  checkCells(rows, 'rows');
  call({}, () => native().setWindowSize(fd, columns, rows));
}

/** TIOCGWINSZ: the size of the terminal `fd`. */
export function getWindowSize(fd: number): { columns: number; rows: number } {
  checkFd(fd, 'terminal fd');
  return call({}, () => native().getWindowSize(fd));
}

/** One wakeup of a cgroup OOM watch (see {@link oomWatchAdd}). */
export interface OomReport {
  token: number;
  /** v1: OOM notifications since the last report; v2: changes of memory.events. */
  notifications: number;
  /** The `oom_kill` counter now; null when the kernel has none or the cgroup is gone. */
  oomKill: number | null;
  /** The cgroup was removed: the watch has ended. */
  gone: boolean;
}

/**
 * Routes every OOM report of the addon's watcher thread (the exit watcher's
 * epoll: no polling) to `onReport`. One callback per process.
 */
export function oomWatchInit(onReport: (report: OomReport) => void): void {
  call({}, () =>
    native().oomWatchInit((e) =>
      onReport({
        token: e.token,
        notifications: e.notifications,
        oomKill: e.oomKill ?? null,
        gone: e.gone,
      }),
    ),
  );
}

/**
 * Watches the memory cgroup directory `dir` for OOM: `v1` registers an
 * eventfd for memory.oom_control (cgroup.event_control), `v2` watches
 * memory.events with inotify. Returns the token and the `oom_kill` counter
 * at the start. ENOENT (as {@link NativeErrorCode.SYSTEM}) if the files are missing.
 */
export function oomWatchAdd(
  kind: 'v1' | 'v2',
  dir: string,
): { token: number; oomKill: number | null } {
  checkString(dir, 'cgroup directory');
  const r = call({}, () => native().oomWatchAdd(kind, dir));
  return { token: r.token, oomKill: r.oomKill ?? null };
}

/** Stops an OOM watch. False if it had ended already. */
export function oomWatchCancel(token: number): boolean {
  return call({}, () => native().oomWatchCancel(token));
}
