import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Resources } from '@ts-oci/spec';
import { CGROUP_ERROR_CODES, CgroupError, errnoOf, errnoText, ioError } from './errors.js';
import { type CgroupIo, defaultIo } from './io.js';
import type { CgroupWrite, PlanWarning } from './plan.js';
import type { CgroupStats } from './stats.js';
import { parseNumber } from './stats.js';

/**
 * Everything needed to find a container's cgroups again without its config:
 * store it in the container state and pass it to `cgroupManagerFromPaths`.
 * Plain JSON.
 */
export interface CgroupPaths {
  /** Which manager wrote it; `systemd` is reserved for a future driver. */
  driver: 'cgroupfs';
  /** 1: v1 hierarchies (plus the unified one on hybrid hosts); 2: unified only. */
  version: 1 | 2;
  /**
   * v1: controller (`memory`, `cpu`, `name=systemd`, …) → directory, and on
   * hybrid hosts `unified` → the cgroup2 directory. v2: `unified` → directory.
   */
  paths: Record<string, string>;
  /** Mount point of each key's hierarchy (same keys as `paths`). */
  mounts: Record<string, string>;
  /**
   * Directories `apply()` created above the container's own ones; `destroy()`
   * removes those that are empty, so no cgroup is left behind.
   */
  created: string[];
}

export interface SetResult {
  /** Fields that were accepted but have no effect here (e.g. kernel memory on v2). */
  warnings: PlanWarning[];
}

export interface DestroyOptions {
  /** How long to wait for the cgroups to become empty (default 5000 ms). */
  timeoutMs?: number;
}

export interface OomEvent {
  type: 'oom';
  /** The cgroup's total OOM kill count when the event was seen. */
  count: number;
  /** How many kills happened since the previous event (or since watching began). */
  delta: number;
  time: Date;
}

export interface OomWatchOptions {
  /** Polling interval (default 250 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface ManagerTimeouts {
  /** freeze(true)/freeze(false): how long to wait for the freezer (default 5000 ms). */
  freezeMs?: number;
  /** destroy(): default for DestroyOptions.timeoutMs (default 5000 ms). */
  destroyMs?: number;
}

export interface ManagerCommonOptions {
  /** Resources applied by `apply()` before the process joins. */
  resources?: Resources;
  /** Receives the warnings `set()` also returns. */
  onWarning?: (warning: PlanWarning) => void;
  io?: CgroupIo;
  timeouts?: ManagerTimeouts;
}

/**
 * Where a new process joins a cgroup without a threadgroup-locked move.
 */
export interface CgroupJoin {
  /**
   * v1 directories a single-threaded process moves *itself* into by writing
   * `0` to their `tasks` file: the kernel moves the calling thread alone
   * then, and skips the threadgroup lock (tsoci-init does this first thing).
   * The freezer's comes last: a process that enters a frozen cgroup stops
   * there.
   */
  selfMove: string[];
  /** The cgroup2 directory to start the process in (clone3 CLONE_INTO_CGROUP). */
  cloneInto?: string;
}

/**
 * One container's cgroup, whatever the driver and version. runc's
 * `cgroups.Manager` and youki's `CgroupManager`, trimmed to what the runtime
 * calls. A systemd driver would implement the same interface.
 */
export interface CgroupManager {
  readonly driver: 'cgroupfs' | 'systemd';
  readonly version: 1 | 2;
  /**
   * Creates the cgroup (every hierarchy), applies the resources given at
   * construction (before the process joins, so realtime budgets and cpusets
   * are in place), then moves `pid` in. Without `pid` it only creates. On
   * failure, directories this call created are removed again.
   */
  apply(pid?: number): Promise<void>;
  /**
   * How a new process can enter this cgroup (after `apply()`) without
   * `cgroup.procs`, whose every write takes the kernel's global threadgroup
   * lock for writing, which waits for an RCU grace period (milliseconds)
   * unless another move just did. See {@link CgroupJoin}.
   */
  joinTargets(): CgroupJoin;
  /** Moves `pid` in through `cgroup.procs`: of `dirs` when given, else of every hierarchy. */
  addProcess(pid: number, dirs?: readonly string[]): Promise<void>;
  /** Applies `linux.resources` (create and `update`). */
  set(resources: Resources): Promise<SetResult>;
  /** Freezes (true) or thaws (false), waiting until the kernel reports the state. */
  freeze(frozen: boolean): Promise<void>;
  isFrozen(): Promise<boolean>;
  stats(): Promise<CgroupStats>;
  /** Every pid in the cgroup and its sub-cgroups, ascending. */
  pids(): Promise<number[]>;
  /**
   * Signals every process in the cgroup (default SIGKILL): `cgroup.kill` where
   * the kernel has it and the signal is SIGKILL, otherwise freeze, signal each
   * pid, thaw — so nothing forks past the sweep.
   */
  killAll(signal?: NodeJS.Signals | number): Promise<void>;
  /**
   * Removes the cgroup in every hierarchy (sub-cgroups first), waiting up to
   * the timeout for its processes to exit; then the directories apply()
   * created above it, when empty. Does not kill anything: call killAll first.
   */
  destroy(options?: DestroyOptions): Promise<void>;
  paths(): CgroupPaths;
  /** Whether the cgroup still exists in any hierarchy. */
  exists(): Promise<boolean>;
  /** The memory controller's OOM kill counter (0 when unavailable). */
  oomKillCount(): Promise<number>;
  /**
   * OOM kills as they happen, by polling the kill counter (v1
   * memory.oom_control `oom_kill`, v2 memory.events `oom_kill`). Ends when the
   * signal aborts or the cgroup disappears.
   */
  oomEvents(options?: OomWatchOptions): AsyncIterableIterator<OomEvent>;
}

export interface DirWrite extends CgroupWrite {
  dir: string;
}

/** Runs planned writes in order, with the retry and verify rules of CgroupWrite. */
export async function runWrites(io: CgroupIo, writes: readonly DirWrite[]): Promise<void> {
  const deferred: DirWrite[] = [];
  for (const w of writes) {
    try {
      await io.write(posix.join(w.dir, w.file), w.value);
    } catch (err) {
      const errno = errnoOf(err);
      if (w.retryAfterRest === true && errno === 'EINVAL') {
        deferred.push(w);
        continue;
      }
      if (w.optional === true && errno === 'ENOENT') continue;
      throw await rejection(io, w, err);
    }
    if (w.verify === true) await verify(io, w);
  }
  for (const w of deferred) {
    try {
      await io.write(posix.join(w.dir, w.file), w.value);
    } catch (err) {
      throw await rejection(io, w, err);
    }
    if (w.verify === true) await verify(io, w);
  }
}

async function verify(io: CgroupIo, w: DirWrite): Promise<void> {
  const path = posix.join(w.dir, w.file);
  let stored: string;
  try {
    stored = (await io.read(path)).trim();
  } catch (err) {
    throw ioError('read', path, err, { field: w.field });
  }
  if (parseNumber(stored) !== parseNumber(w.value)) {
    throw new CgroupError(
      CGROUP_ERROR_CODES.VALUE_CLAMPED,
      `${w.field}: ${JSON.stringify(w.value)} was stored as ${JSON.stringify(stored)} by ${w.file} (outside the kernel's range)`,
      { field: w.field, path },
    );
  }
}

async function rejection(io: CgroupIo, w: DirWrite, err: unknown): Promise<CgroupError> {
  const path = posix.join(w.dir, w.file);
  const errno = errnoOf(err);
  if (errno === 'ENOENT') {
    return new CgroupError(
      CGROUP_ERROR_CODES.UNSUPPORTED,
      `${w.field}: cannot set ${JSON.stringify(w.value)}: there is no ${w.file} in ${w.dir}`,
      { field: w.field, path, errno, cause: err },
    );
  }
  let hint = '';
  if (errno === 'EBUSY' && /^memory\.(memsw\.)?limit_in_bytes$/.test(w.file)) {
    // v1 refuses a limit below the current usage; say how much is in use.
    try {
      const usage = (await io.read(posix.join(w.dir, 'memory.usage_in_bytes'))).trim();
      hint = ` (current usage ${usage} bytes)`;
    } catch {
      // The hint is optional.
    }
  }
  const reason =
    errno === undefined ? String(err instanceof Error ? err.message : err) : errnoText(errno);
  return new CgroupError(
    CGROUP_ERROR_CODES.WRITE_REJECTED,
    `${w.field}: ${JSON.stringify(w.value)} rejected by ${w.file}: ${reason}${hint}`,
    { field: w.field, path, ...(errno === undefined ? {} : { errno }), cause: err },
  );
}

/** Reads a file, or undefined when it does not exist. */
export async function readOptional(io: CgroupIo, path: string): Promise<string | undefined> {
  try {
    return await io.read(path);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENODEV' || errno === 'EOPNOTSUPP' || errno === 'ENOTSUP') {
      return undefined;
    }
    throw ioError('read', path, err);
  }
}

/** Every pid in `cgroup.procs` of dir and its sub-directories. */
export async function collectPids(io: CgroupIo, dir: string, out: Set<number>): Promise<void> {
  const procs = await readOptional(io, posix.join(dir, 'cgroup.procs'));
  if (procs === undefined) return;
  for (const line of procs.split('\n')) {
    const pid = Number(line.trim());
    if (Number.isInteger(pid) && pid > 0) out.add(pid);
  }
  for (const d of (await subCgroups(io, dir)) ?? []) {
    await collectPids(io, posix.join(dir, d), out);
  }
}

/** The sub-directories of a cgroup, or undefined when it is gone. */
async function subCgroups(io: CgroupIo, dir: string): Promise<string[] | undefined> {
  try {
    return (await io.list(dir)).dirs;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw ioError('list', dir, err);
  }
}

/**
 * Creates `dir` and any missing parents below `mountpoint`, one level at a
 * time. Returns the directories it created, top-down.
 */
export async function makeCgroupDirs(
  io: CgroupIo,
  mountpoint: string,
  dir: string,
): Promise<string[]> {
  const rel = posix.relative(mountpoint, dir);
  if (rel === '' || rel.startsWith('..')) {
    throw new CgroupError(
      CGROUP_ERROR_CODES.INVALID_PATH,
      `cgroup ${dir} is not below its hierarchy's mount point ${mountpoint}`,
      { path: dir },
    );
  }
  const created: string[] = [];
  let cur = mountpoint;
  for (const part of rel.split('/')) {
    cur = posix.join(cur, part);
    try {
      if (await io.mkdir(cur)) created.push(cur);
    } catch (err) {
      throw ioError('mkdir', cur, err);
    }
  }
  return created;
}

/** rmdir of directories we created, deepest first; failures are left alone. */
export async function removeQuietly(io: CgroupIo, dirs: readonly string[]): Promise<string[]> {
  const left: string[] = [];
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      await io.rmdir(d);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') left.push(d);
    }
  }
  return left;
}

/**
 * Removes a cgroup directory and its sub-cgroups. rmdir of a cgroup with tasks
 * fails with EBUSY: retry until the deadline, then report who is still there.
 */
export async function removeCgroupTree(io: CgroupIo, dir: string, deadline: number): Promise<void> {
  let delay = 1;
  // A container's cgroup rarely has sub-cgroups: rmdir first, and list the
  // directory only when it is refused (a readdir of a cgroup costs about as
  // much as the rmdir).
  let listFirst = false;
  for (;;) {
    if (listFirst) {
      const dirs = await subCgroups(io, dir);
      if (dirs === undefined) return;
      for (const d of dirs) await removeCgroupTree(io, posix.join(dir, d), deadline);
    }
    try {
      await io.rmdir(dir);
      return;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENOENT') return;
      if ((errno === 'EBUSY' || errno === 'ENOTEMPTY') && !listFirst) {
        // Sub-cgroups, or tasks still inside: from now on every round
        // removes the children first, as before.
        listFirst = true;
        continue;
      }
      // EBUSY: tasks still inside; ENOTEMPTY: a sub-cgroup appeared meanwhile.
      if ((errno !== 'EBUSY' && errno !== 'ENOTEMPTY') || Date.now() >= deadline) {
        if (errno === 'EBUSY' || errno === 'ENOTEMPTY') {
          const pids = new Set<number>();
          await collectPids(io, dir, pids).catch(() => undefined);
          const who =
            pids.size > 0
              ? `: processes ${[...pids].sort((a, b) => a - b).join(', ')} still in it`
              : '';
          throw new CgroupError(
            CGROUP_ERROR_CODES.NOT_EMPTY,
            `cannot remove cgroup ${dir}${who} (${errnoText(errno)})`,
            { path: dir, errno, cause: err },
          );
        }
        throw ioError('rmdir', dir, err);
      }
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}

/** Sends `signal` to each pid; a pid that already exited is not an error. */
export function signalPids(pids: readonly number[], signal: NodeJS.Signals | number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (errnoOf(err) !== 'ESRCH') {
        throw new CgroupError(
          CGROUP_ERROR_CODES.IO,
          `kill ${pid} with ${String(signal)}: ${errnoText(errnoOf(err))}`,
          {
            cause: err,
            ...(errnoOf(err) === undefined ? {} : { errno: errnoOf(err) }),
          },
        );
      }
    }
  }
}

export function isSigkill(signal: NodeJS.Signals | number): boolean {
  return signal === 'SIGKILL' || signal === 9;
}

/** The OOM iterator shared by both managers, over a counter reader. */
export async function* pollOom(
  read: () => Promise<number | undefined>,
  options: OomWatchOptions = {},
): AsyncIterableIterator<OomEvent> {
  const interval = options.intervalMs ?? 250;
  const signal = options.signal;
  let last = await read();
  if (last === undefined) return;
  while (signal?.aborted !== true) {
    try {
      await sleep(interval, undefined, signal === undefined ? undefined : { signal });
    } catch {
      return; // aborted
    }
    const now = await read();
    if (now === undefined) return; // the cgroup is gone
    if (now > last) {
      yield { type: 'oom', count: now, delta: now - last, time: new Date() };
    }
    last = now;
  }
}

/** Shared plumbing of the cgroupfs managers. */
export abstract class BaseManager {
  readonly driver = 'cgroupfs' as const;
  protected readonly io: CgroupIo;
  protected resources: Resources | undefined;
  protected readonly onWarning: ((w: PlanWarning) => void) | undefined;
  protected readonly freezeMs: number;
  protected readonly destroyMs: number;

  constructor(options: ManagerCommonOptions) {
    this.io = options.io ?? defaultIo;
    this.resources = options.resources;
    this.onWarning = options.onWarning;
    this.freezeMs = options.timeouts?.freezeMs ?? 5000;
    this.destroyMs = options.timeouts?.destroyMs ?? 5000;
  }

  protected report(warnings: readonly PlanWarning[]): SetResult {
    for (const w of warnings) this.onWarning?.(w);
    return { warnings: [...warnings] };
  }

  abstract oomKillCount(): Promise<number>;

  protected abstract oomCounter(): Promise<number | undefined>;

  oomEvents(options: OomWatchOptions = {}): AsyncIterableIterator<OomEvent> {
    return pollOom(() => this.oomCounter(), options);
  }
}
