import { dirname, isAbsolute, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { CgroupStats } from '@ts-oci/cgroups';
import type { Config, Resources } from '@ts-oci/spec';
import { abortable, ContainerAbortError, onceAborted } from './abort.js';
import { ContainerError } from './errors.js';
import { type ContainerEvent, EventHub } from './events.js';
import {
  type ContainerExit,
  holdEventLoop,
  toContainerExit,
  UNKNOWN_EXIT,
  watchExit,
} from './exits.js';
import * as native from './native.js';
import type { CreateOptions, Runtime } from './runtime.js';
import { parseSignal } from './signals.js';
import type { OciState } from './state.js';
import { type StdioOption, StdioSetup } from './stdio.js';

// Node 20.4+ defines it; older 20.x lack the symbol that `await using` looks up.
(Symbol as unknown as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

/** Where a container comes from: a bundle directory, or a config object and a rootfs. */
export type ContainerSource =
  | { id: string; bundle: string }
  | {
      id: string;
      config: Config;
      /** The root filesystem; replaces `config.root.path` (`readonly` is kept). */
      rootfs: string;
      /** The bundle directory recorded in the state and used as the hooks' cwd (default: the rootfs's parent). */
      bundle?: string;
    };

export interface ContainerOptions {
  /** Default `'inherit'`. `'pipe'` gives `stdin`/`stdout`/`stderr` streams. */
  stdio?: StdioOption;
  /**
   * Bound to the container's life: aborting it kills the container (every
   * process of its cgroup) and makes `wait()` reject with an AbortError. An
   * abort while it is being made deletes it and rejects.
   */
  signal?: AbortSignal;
  consoleSocket?: string;
  pidFile?: string;
  preserveFds?: number;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

export interface ContainerExecOptions {
  /** Default `'inherit'`. */
  stdio?: StdioOption;
  /** Aborting kills the process and makes `wait()` reject with an AbortError. */
  signal?: AbortSignal;
  /** Allow exec into a paused container. */
  ignorePaused?: boolean;
}

type Process = NonNullable<Config['process']>;

/**
 * The process for `Container.exec`: what is given replaces the container's
 * own `process` field by field (env, cwd, user, capabilities, rlimits… are
 * the container's unless given), as `runc exec` does.
 */
export type ExecProcess = Partial<Process> & { args: string[] };

// Containers this process knows, per runtime, so that `runtime.container(id)`
// hands out the object that already watches the process (one pidfd, one
// event history) instead of a second watcher.
const known = new WeakMap<Runtime, Map<string, Container>>();

function registry(rt: Runtime): Map<string, Container> {
  let m = known.get(rt);
  if (!m) {
    m = new Map();
    known.set(rt, m);
  }
  return m;
}

let subreaper = false;

/**
 * Makes this process a child subreaper once, so that container processes,
 * orphaned when their init's first stage exits, become its children: their
 * exit status can then be collected (and they never linger as zombies).
 */
function becomeSubreaper(): void {
  if (subreaper) return;
  native.setChildSubreaper();
  subreaper = true;
}

function startTimeFromState(rt: Runtime, id: string): number {
  const text = native.readStateUnlocked(rt.root, id);
  if (text === null) {
    throw new ContainerError(ContainerError.NOT_FOUND, `container ${id} does not exist`, { id });
  }
  const startTime = (JSON.parse(text) as { startTime?: unknown }).startTime;
  return typeof startTime === 'number' ? startTime : 0;
}

function createOptionsOf(source: ContainerSource, opts: ContainerOptions): CreateOptions {
  const base = {
    id: source.id,
    consoleSocket: opts.consoleSocket,
    pidFile: opts.pidFile,
    preserveFds: opts.preserveFds,
    noPivot: opts.noPivot,
    noNewKeyring: opts.noNewKeyring,
  };
  if (typeof source !== 'object' || source === null) {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      'expected a container source: { id, bundle } or { id, config, rootfs }',
    );
  }
  if ('image' in source) {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      `container ${source.id}: creating from an image reference is not supported by the API yet; build a bundle with @ts-oci/image's createBundle and pass { bundle }`,
      { id: source.id },
    );
  }
  if ('config' in source && source.config !== undefined) {
    if (typeof source.rootfs !== 'string' || source.rootfs === '') {
      throw new ContainerError(
        ContainerError.INVALID_PLAN,
        `container ${source.id}: a config needs a rootfs path`,
        { id: source.id },
      );
    }
    const rootfs = resolve(source.rootfs);
    const config: Config = {
      ...source.config,
      root: { ...source.config.root, path: rootfs },
    };
    return { ...base, bundle: resolve(source.bundle ?? dirname(rootfs)), config };
  }
  if (typeof source.bundle !== 'string' || source.bundle === '') {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      `container ${source.id}: expected { id, bundle } or { id, config, rootfs }`,
      { id: source.id },
    );
  }
  return { ...base, bundle: isAbsolute(source.bundle) ? source.bundle : resolve(source.bundle) };
}

function aborted(signal: AbortSignal, id: string, what: string): ContainerAbortError {
  return new ContainerAbortError(what, { id, cause: signal.reason });
}

/**
 * `wait()` of a container or an exec'd process: `exit`, keeping the event
 * loop alive meanwhile; aborting `signal` runs `kill` and rejects with an
 * AbortError (also when the abort came through the container's own signal).
 */
async function waitForExit(
  exit: Promise<ContainerExit>,
  signal: AbortSignal | undefined,
  kill: () => Promise<void>,
  o: { id: string; what: string; abortedBy: () => AbortSignal | undefined },
): Promise<ContainerExit> {
  const release = holdEventLoop();
  try {
    const status = await abortable(exit, signal, kill, `waiting for ${o.what}`, o.id);
    const by = o.abortedBy();
    if (by) throw aborted(by, o.id, o.what);
    return status;
  } finally {
    release();
  }
}

/** Implements `Runtime.createContainer`. */
export async function createContainer(
  rt: Runtime,
  source: ContainerSource,
  opts: ContainerOptions = {},
): Promise<Container> {
  const create = createOptionsOf(source, opts);
  const id = create.id;
  const signal = opts.signal;
  if (signal?.aborted) throw aborted(signal, id, `creating container ${id}`);
  becomeSubreaper();
  const stdio = new StdioSetup(opts.stdio, 'stdio');
  let state: OciState;
  try {
    state = await rt.create({ ...create, stdio: stdio.fds });
  } catch (err) {
    stdio.destroy();
    throw err;
  }
  stdio.releaseChildEnds();
  const container = new Container(rt, id, {
    pid: state.pid,
    startTime: startTimeFromState(rt, id),
    stdio,
    created: true,
  });
  registry(rt).set(id, container);
  if (signal) {
    if (signal.aborted) {
      await container.delete({ force: true }).catch(() => {});
      throw aborted(signal, id, `creating container ${id}`);
    }
    container.bindSignal(signal);
  }
  return container;
}

/** Implements `Runtime.runContainer`. */
export async function runContainer(
  rt: Runtime,
  source: ContainerSource,
  opts: ContainerOptions = {},
): Promise<Container> {
  const container = await createContainer(rt, source, opts);
  try {
    await container.start();
  } catch (err) {
    await container[Symbol.asyncDispose]().catch(() => {});
    throw err;
  }
  return container;
}

/** Implements `Runtime.container`. */
export async function openContainer(rt: Runtime, id: string): Promise<Container> {
  const state = await rt.state(id);
  const startTime = startTimeFromState(rt, id);
  const cached = registry(rt).get(id);
  if (cached?.sameProcess(state.pid, startTime)) return cached;
  const container = new Container(rt, id, {
    pid: state.status === 'stopped' ? 0 : state.pid,
    startTime,
    stdio: null,
  });
  registry(rt).set(id, container);
  return container;
}

/**
 * A container as a Node object. Obtain one from `Runtime.createContainer`,
 * `Runtime.runContainer` or `Runtime.container`. Operations go through the
 * same state root, locks and checks as the CLI, so the container stays
 * visible to (and removable by) `tsoci list`/`delete` if this process dies.
 *
 * `await using c = await rt.runContainer(...)` force-deletes it on scope exit.
 */
export class Container implements AsyncDisposable {
  readonly id: string;
  readonly runtime: Runtime;
  /** The container's stdin when created with `stdio: 'pipe'`; null otherwise. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly #pid: number;
  readonly #startTime: number;
  readonly #stdio: StdioSetup | null;
  readonly #hub: EventHub;
  readonly #exit: Promise<ContainerExit>;
  #exitStatus: ContainerExit | undefined;
  #abortedBy: AbortSignal | undefined;
  #unbindSignal: (() => void) | undefined;
  #releaseLoop: (() => void) | undefined;
  #stopOom: AbortController | undefined;

  /** @internal Use the Runtime's methods. */
  constructor(
    rt: Runtime,
    id: string,
    init: { pid: number; startTime: number; stdio: StdioSetup | null; created?: boolean },
  ) {
    this.runtime = rt;
    this.id = id;
    this.#pid = init.pid;
    this.#startTime = init.startTime;
    this.#stdio = init.stdio;
    this.stdin = init.stdio?.stdin ?? null;
    this.stdout = init.stdio?.stdout ?? null;
    this.stderr = init.stdio?.stderr ?? null;
    this.#hub = new EventHub(id, (active) => this.#eventsActive(active));
    if (init.created) this.#hub.emit({ type: 'created', pid: init.pid });
    if (init.pid > 0) {
      const watch = watchExit(init.pid, init.startTime);
      this.#exit = watch.exited.then((report) => {
        const status = toContainerExit(report);
        this.#exitStatus = status;
        this.#unbindSignal?.();
        this.#hub.emit({ type: 'exited', ...status });
        return status;
      });
    } else {
      this.#exitStatus = UNKNOWN_EXIT;
      this.#exit = Promise.resolve(UNKNOWN_EXIT);
    }
  }

  /** The container process's host pid (0 when it was already stopped when this object was made). */
  get pid(): number {
    return this.#pid;
  }

  /** How the container process ended, once it has; undefined while it lives. */
  get exitStatus(): ContainerExit | undefined {
    return this.#exitStatus;
  }

  /** @internal */
  sameProcess(pid: number, startTime: number): boolean {
    return this.#pid === pid && this.#startTime === startTime;
  }

  /** @internal Ties the container's life to `signal` (see ContainerOptions.signal). */
  bindSignal(signal: AbortSignal): void {
    this.#unbindSignal = onceAborted(signal, () => {
      this.#abortedBy = signal;
      void this.#killForAbort();
    });
  }

  async #killForAbort(): Promise<void> {
    if (this.#exitStatus) return;
    try {
      await this.runtime.kill(this.id, 'SIGKILL', { all: true });
    } catch {
      // Stopped meanwhile, or deleted: either way it no longer runs.
    }
    await this.#exit;
  }

  /** Runs the user process of a created container. */
  async start(): Promise<void> {
    await this.runtime.start(this.id);
    this.#hub.emit({ type: 'started', pid: this.#pid });
  }

  /** Sends `signal` (default SIGTERM) to the container process, or with `all` to every process of its cgroup. */
  async kill(signal: string | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    await this.runtime.kill(this.id, signal, opts);
  }

  async pause(): Promise<void> {
    await this.runtime.pause(this.id);
    this.#hub.emit({ type: 'paused' });
  }

  async resume(): Promise<void> {
    await this.runtime.resume(this.id);
    this.#hub.emit({ type: 'resumed' });
  }

  /** Changes the container's `linux.resources` (cgroup limits) while it lives. */
  async update(resources: Resources): Promise<void> {
    await this.runtime.update(this.id, resources);
  }

  /** The runtime-spec state, read from the state root (so changes made by others show). */
  state(): Promise<OciState> {
    return this.runtime.state(this.id);
  }

  stats(): Promise<CgroupStats> {
    return this.runtime.stats(this.id);
  }

  /** Host pids of every process in the container. */
  ps(): Promise<number[]> {
    return this.runtime.ps(this.id);
  }

  /**
   * Removes the container; `force` kills it first if it still runs. Resolves
   * after the `exited` and `deleted` events. The stdin stream is closed;
   * stdout and stderr end once read to their end.
   */
  async delete(opts: { force?: boolean } = {}): Promise<void> {
    await this.runtime.delete(this.id, opts);
    // Delete has killed and waited for the process: its exit report is due.
    await this.#exit;
    this.stdin?.destroy();
    this.#hub.emit({ type: 'deleted' });
    this.#eventsActive(false);
    const reg = registry(this.runtime);
    if (reg.get(this.id) === this) reg.delete(this.id);
  }

  /**
   * Resolves with how the container process ended: exactly, when this
   * process created it (it is reaped here) and, through its pidfd, on
   * kernels with PIDFD_INFO_EXIT (6.15+) for containers made elsewhere. No
   * polling: the addon's watcher thread sleeps in epoll on the pidfd.
   * Aborting `signal` kills the container and rejects with an AbortError.
   */
  async wait(opts: { signal?: AbortSignal } = {}): Promise<ContainerExit> {
    return waitForExit(this.#exit, opts.signal, () => this.#killForAbort(), {
      id: this.id,
      what: `container ${this.id}`,
      abortedBy: () => this.#abortedBy,
    });
  }

  /**
   * Runs another process in the container (its namespaces, cgroup and
   * seccomp filter; the process's own user and capabilities) and returns
   * once it runs. The init's first stage exits right away (detached exec), so
   * the container's lock is not held while the process runs and the process
   * becomes this process's child: `wait()` reaps it with its exact status.
   */
  async exec(process: ExecProcess, opts: ContainerExecOptions = {}): Promise<ContainerProcess> {
    const signal = opts.signal;
    if (signal?.aborted) throw aborted(signal, this.id, `exec in container ${this.id}`);
    becomeSubreaper();
    const stdio = new StdioSetup(opts.stdio, 'exec stdio');
    let pid: number;
    try {
      const base = (await this.runtime.config(this.id)).process;
      ({ pid } = await this.runtime.exec(this.id, {
        process: { ...base, terminal: false, ...process, cwd: process.cwd ?? base?.cwd ?? '/' },
        stdio: stdio.fds,
        ignorePaused: opts.ignorePaused,
        detach: true,
      }));
    } catch (err) {
      stdio.destroy();
      throw err;
    }
    stdio.releaseChildEnds();
    const proc = new ContainerProcess(this.id, pid, stdio);
    if (signal) proc.bindSignal(signal);
    return proc;
  }

  /**
   * The container's lifecycle events as an async iterator: first those this
   * process already saw (unless `history: false`), then live ones, ending
   * after `deleted` (or when `signal` aborts, or the loop breaks). `exited`
   * comes from the pidfd; `oom` from the cgroup's OOM kill counter (read
   * every 250 ms while an iterator is open: cgroup v1 offers no
   * notification without an eventfd); the others from calls made through
   * this process's `Container` objects.
   */
  events(
    opts: { signal?: AbortSignal; history?: boolean } = {},
  ): AsyncGenerator<ContainerEvent, void, undefined> {
    return this.#hub.subscribe(opts);
  }

  #eventsActive(active: boolean): void {
    if (active && !this.#releaseLoop) {
      this.#releaseLoop = holdEventLoop();
      const stop = new AbortController();
      this.#stopOom = stop;
      void this.#forwardOom(stop.signal);
    } else if (!active && this.#releaseLoop) {
      this.#releaseLoop();
      this.#releaseLoop = undefined;
      this.#stopOom?.abort();
      this.#stopOom = undefined;
    }
  }

  async #forwardOom(signal: AbortSignal): Promise<void> {
    try {
      for await (const _ of this.runtime.oomEvents(this.id, { signal })) {
        this.#hub.emit({ type: 'oom' });
      }
    } catch {
      // No memory cgroup, or the container went away: no OOM events to report.
    }
  }

  /** Force-deletes the container (if it still exists) and closes its streams. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.delete({ force: true });
    } catch (err) {
      // Deleted by someone else already (the CLI, another Runtime): nothing left to do.
      if ((err as { code?: unknown }).code !== ContainerError.NOT_FOUND) throw err;
    } finally {
      this.#unbindSignal?.();
      this.#stdio?.destroy();
    }
  }
}

/** A process started by `Container.exec`: the same shape as a container. */
export class ContainerProcess {
  readonly containerId: string;
  /** Host pid of the process. */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly #startTime: number | undefined;
  readonly #exit: Promise<ContainerExit>;
  readonly #stdio: StdioSetup;
  #exitStatus: ContainerExit | undefined;
  #abortedBy: AbortSignal | undefined;
  #unbindSignal: (() => void) | undefined;

  /** @internal */
  constructor(containerId: string, pid: number, stdio: StdioSetup) {
    this.containerId = containerId;
    this.pid = pid;
    this.#stdio = stdio;
    this.stdin = stdio.stdin;
    this.stdout = stdio.stdout;
    this.stderr = stdio.stderr;
    // Our child (or zombie) by now: the first stage exited before exec returned.
    let startTime: number | undefined;
    try {
      startTime = native.processStartTime(pid);
    } catch {
      startTime = undefined;
    }
    this.#startTime = startTime;
    this.#exit =
      startTime === undefined
        ? Promise.resolve(UNKNOWN_EXIT)
        : watchExit(pid, startTime).exited.then(toContainerExit);
    this.#exit.then((status) => {
      this.#exitStatus = status;
      this.#unbindSignal?.();
    });
  }

  get exitStatus(): ContainerExit | undefined {
    return this.#exitStatus;
  }

  /** @internal */
  bindSignal(signal: AbortSignal): void {
    this.#unbindSignal = onceAborted(signal, () => {
      this.#abortedBy = signal;
      void this.#killForAbort();
    });
  }

  async #killForAbort(): Promise<void> {
    if (!this.#exitStatus) await this.kill('SIGKILL').catch(() => {});
    await this.#exit;
  }

  /** Sends `signal` (default SIGTERM) to the process, through a pidfd. */
  async kill(signal: string | number = 'SIGTERM'): Promise<void> {
    const sig = parseSignal(signal);
    if (this.#exitStatus || this.#startTime === undefined) {
      throw new ContainerError(
        ContainerError.BAD_STATE,
        `process ${this.pid} in container ${this.containerId} has exited`,
        { id: this.containerId },
      );
    }
    try {
      native.signalProcess(this.pid, this.#startTime, sig);
    } catch (err) {
      if (
        err instanceof native.NativeRuntimeError &&
        err.code === native.NativeErrorCode.PROCESS_GONE
      ) {
        throw new ContainerError(
          ContainerError.BAD_STATE,
          `process ${this.pid} in container ${this.containerId} has exited`,
          { id: this.containerId, cause: err },
        );
      }
      throw err;
    }
  }

  /** How the process ended (see Container.wait); aborting `signal` kills it and rejects with an AbortError. */
  async wait(opts: { signal?: AbortSignal } = {}): Promise<ContainerExit> {
    return waitForExit(this.#exit, opts.signal, () => this.#killForAbort(), {
      id: this.containerId,
      what: `process ${this.pid} in container ${this.containerId}`,
      abortedBy: () => this.#abortedBy,
    });
  }

  /** Closes this side's streams (the process keeps running). */
  closeStdio(): void {
    this.#stdio.destroy();
  }
}
