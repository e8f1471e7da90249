import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { CgroupStats } from '@ts-oci/cgroups';
import type { ImageProgressEvent } from '@ts-oci/image';
import type { Config, Resources } from '@ts-oci/spec';
import { abortable, ContainerAbortError, onceAborted } from './abort.js';
import { ContainerError } from './errors.js';
import { type ContainerEvent, EventHub } from './events.js';
import {
  type ContainerExit,
  type ExitWatch,
  holdEventLoop,
  toContainerExit,
  UNKNOWN_EXIT,
  watchExit,
} from './exits.js';
import type { ImageContainerSource, PreparedImageBundle } from './image.js';
import * as native from './native.js';
import { PtyStdio, type Terminal, type TerminalSize, terminalFromFd } from './pty.js';
import type { CreateOptions, Runtime, StdioFds } from './runtime.js';
import { parseSignal } from './signals.js';
import type { OciState, StoredState } from './state.js';
import { type StdioOption, StdioSetup } from './stdio.js';
import { ConsoleSocket } from './terminal.js';

// Node 20.4+ defines it; older 20.x lack the symbol that `await using` looks up.
(Symbol as unknown as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('nodejs.asyncDispose');

/**
 * Where a container comes from: a bundle directory, a config object and a
 * rootfs, or an image reference (see ImageContainerSource).
 */
export type ContainerSource =
  | { id: string; bundle: string }
  | {
      id: string;
      config: Config;
      /** The root filesystem; replaces `config.root.path` (`readonly` is kept). */
      rootfs: string;
      /** The bundle directory recorded in the state and used as the hooks' cwd (default: the rootfs's parent). */
      bundle?: string;
    }
  | ImageContainerSource;

/**
 * `'pty'`: the process gets a new pseudo-terminal as stdin, stdout and
 * stderr (and as its controlling terminal); `terminal` (also `stdin` and
 * `stdout`) is its master as a duplex stream with `resize()`.
 */
export type ContainerStdioOption = StdioOption | 'pty';

export interface ContainerOptions {
  /**
   * Default `'inherit'` (`'pty'` when the config sets `process.terminal`).
   * `'pipe'` gives `stdin`/`stdout`/`stderr` streams, `'pty'` a terminal.
   */
  stdio?: ContainerStdioOption;
  /** With `stdio: 'pty'`: the terminal's first size (`process.consoleSize`). */
  terminalSize?: TerminalSize;
  /** Image sources: progress of resolving, pulling and unpacking the image (see @ts-oci/image). */
  onProgress?: (event: ImageProgressEvent) => void;
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
  /** Default `'inherit'`; `'pty'` gives the process a terminal (see ContainerOptions.stdio). */
  stdio?: ContainerStdioOption;
  /** With `stdio: 'pty'`: the terminal's first size. */
  terminalSize?: TerminalSize;
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

function checkSource(source: ContainerSource): void {
  if (typeof source !== 'object' || source === null) {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      'expected a container source: { id, bundle }, { id, config, rootfs } or { id, image }',
    );
  }
}

function isImageSource(source: ContainerSource): source is ImageContainerSource {
  return 'image' in source && source.image !== undefined;
}

/** `process.consoleSize` for a terminal size option. */
function consoleSizeOf(
  size: TerminalSize | undefined,
  id: string,
): { width: number; height: number } | undefined {
  if (size === undefined) return undefined;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0 && (n as number) <= 0xffff;
  if (typeof size !== 'object' || size === null || !ok(size.columns) || !ok(size.rows)) {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      `container ${id}: terminalSize must be { columns, rows } (integers from 1 to 65535)`,
      { id },
    );
  }
  return { width: size.columns, height: size.rows };
}

/** A config with a terminal on (for `stdio: 'pty'`). */
function withTerminal(config: Config, size: { width: number; height: number } | undefined): Config {
  const proc = config.process;
  if (!proc) return config;
  return {
    ...config,
    process: { ...proc, terminal: true, ...(size ? { consoleSize: size } : {}) },
  };
}

/** The bundle's config.json, read for changing it (create validates it). */
function readBundleConfig(bundle: string, id: string): Config {
  const path = join(bundle, 'config.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Config;
  } catch (err) {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      `cannot read ${path}: ${(err as Error).message}`,
      {
        id,
        cause: err,
      },
    );
  }
}

/** Whether the container gets a pty: asked for, or its config wants a terminal and nothing else was said. */
function wantsPty(source: ContainerSource, opts: ContainerOptions): boolean {
  if (opts.stdio === 'pty') {
    if (opts.consoleSocket !== undefined) {
      throw new ContainerError(
        ContainerError.INVALID_PLAN,
        `container ${source.id}: stdio 'pty' and consoleSocket are two ways to get the terminal: give one`,
        { id: source.id },
      );
    }
    return true;
  }
  if (opts.stdio !== undefined || opts.consoleSocket !== undefined || isImageSource(source)) {
    return false;
  }
  if ('config' in source && source.config !== undefined)
    return source.config.process?.terminal === true;
  if (typeof source.bundle !== 'string') return false;
  try {
    return readBundleConfig(resolve(source.bundle), source.id).process?.terminal === true;
  } catch {
    return false; // create reports what is wrong with it
  }
}

function createOptionsOf(
  source: Exclude<ContainerSource, ImageContainerSource>,
  opts: ContainerOptions,
  pty: boolean,
): CreateOptions {
  const base = {
    id: source.id,
    consoleSocket: opts.consoleSocket,
    pidFile: opts.pidFile,
    preserveFds: opts.preserveFds,
    noPivot: opts.noPivot,
    noNewKeyring: opts.noNewKeyring,
  };
  const size = pty ? consoleSizeOf(opts.terminalSize, source.id) : undefined;
  if ('config' in source && source.config !== undefined) {
    if (typeof source.rootfs !== 'string' || source.rootfs === '') {
      throw new ContainerError(
        ContainerError.INVALID_PLAN,
        `container ${source.id}: a config needs a rootfs path`,
        { id: source.id },
      );
    }
    const rootfs = resolve(source.rootfs);
    let config: Config = {
      ...source.config,
      root: { ...source.config.root, path: rootfs },
    };
    if (pty) config = withTerminal(config, size);
    return { ...base, bundle: resolve(source.bundle ?? dirname(rootfs)), config };
  }
  if (typeof source.bundle !== 'string' || source.bundle === '') {
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      `container ${source.id}: expected { id, bundle }, { id, config, rootfs } or { id, image }`,
      { id: source.id },
    );
  }
  const bundle = isAbsolute(source.bundle) ? source.bundle : resolve(source.bundle);
  if (!pty) return { ...base, bundle };
  return { ...base, bundle, config: withTerminal(readBundleConfig(bundle, source.id), size) };
}

/** A container's or exec'd process's stdio: pipes and fds, or a pty. */
type Stdio = StdioSetup | PtyStdio;

/** The fds a pty process's init gets: its own stdio is replaced by the pty slave. */
const PTY_INIT_STDIO: StdioFds = ['ignore', 'ignore', 'ignore'];

/** Receives the pty master the init sent (before create or exec returned). */
async function receiveTerminal(socket: ConsoleSocket): Promise<PtyStdio> {
  try {
    const { fd } = await socket.receive(10_000);
    return new PtyStdio(terminalFromFd(fd));
  } finally {
    socket.close();
  }
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
  checkSource(source);
  const id = source.id;
  const signal = opts.signal;
  if (signal?.aborted) throw aborted(signal, id, `creating container ${id}`);
  const pty = wantsPty(source, opts);
  let create: CreateOptions;
  let image: PreparedImageBundle | undefined;
  if (isImageSource(source)) {
    const { prepareImageBundle } = await import('./image.js');
    try {
      image = await prepareImageBundle(rt, source, {
        terminal: pty,
        consoleSize: pty ? consoleSizeOf(opts.terminalSize, id) : undefined,
        onProgress: opts.onProgress,
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw aborted(signal, id, `creating container ${id}`);
      throw err;
    }
    create = {
      id,
      bundle: image.bundle,
      ownsBundle: image.owned,
      consoleSocket: opts.consoleSocket,
      pidFile: opts.pidFile,
      preserveFds: opts.preserveFds,
      noPivot: opts.noPivot,
      noNewKeyring: opts.noNewKeyring,
    };
  } else {
    create = createOptionsOf(source, opts, pty);
  }
  becomeSubreaper();
  let stdio: Stdio | undefined;
  let socket: ConsoleSocket | undefined;
  let state: StoredState;
  try {
    if (pty) socket = ConsoleSocket.open();
    else stdio = new StdioSetup(opts.stdio as StdioOption | undefined, 'stdio');
    state = await rt.createStored({
      ...create,
      stdio: stdio instanceof StdioSetup ? stdio.fds : PTY_INIT_STDIO,
      ...(socket ? { consoleSocket: socket.path } : {}),
    });
  } catch (err) {
    stdio?.destroy();
    socket?.close();
    await image?.discard().catch(() => {});
    throw err;
  }
  stdio?.releaseChildEnds();
  if (socket) {
    try {
      stdio = await receiveTerminal(socket);
    } catch (err) {
      await rt.delete(id, { force: true }).catch(() => {});
      throw err;
    }
  }
  const container = new Container(rt, id, {
    pid: state.pid,
    startTime: state.startTime,
    stdio: stdio ?? null,
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
  /** The container's stdin when created with `stdio: 'pipe'` (the terminal with `'pty'`); null otherwise. */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** With `stdio: 'pty'`: the pty master (a duplex stream with `resize()`); null otherwise. */
  readonly terminal: Terminal | null;
  readonly #pid: number;
  readonly #startTime: number;
  readonly #stdio: Stdio | null;
  readonly #hub: EventHub;
  readonly #exit: Promise<ContainerExit>;
  readonly #watch: ExitWatch | undefined;
  #exitStatus: ContainerExit | undefined;
  #abortedBy: AbortSignal | undefined;
  #unbindSignal: (() => void) | undefined;
  #releaseLoop: (() => void) | undefined;
  #stopOom: AbortController | undefined;

  /** @internal Use the Runtime's methods. */
  constructor(
    rt: Runtime,
    id: string,
    init: { pid: number; startTime: number; stdio: Stdio | null; created?: boolean },
  ) {
    this.runtime = rt;
    this.id = id;
    this.#pid = init.pid;
    this.#startTime = init.startTime;
    this.#stdio = init.stdio;
    this.stdin = init.stdio?.stdin ?? null;
    this.stdout = init.stdio?.stdout ?? null;
    this.stderr = init.stdio?.stderr ?? null;
    this.terminal = init.stdio instanceof PtyStdio ? init.stdio.terminal : null;
    this.#hub = new EventHub(id, (active) => this.#eventsActive(active));
    if (init.created) this.#hub.emit({ type: 'created', pid: init.pid });
    if (init.pid > 0) {
      const watch = watchExit(init.pid, init.startTime);
      this.#watch = watch;
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
    // Not reaped while start releases it: a process that runs and exits at
    // once must still be there (a zombie) when start opens its pidfd, or
    // start would take it for one that died before it was started.
    const paused = this.#watch?.pause() ?? false;
    try {
      await this.runtime.start(this.id);
    } finally {
      if (paused) this.#watch?.resume();
    }
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
   * stdout and stderr end once read to their end. A terminal's master is
   * closed (what the stream buffered stays readable). A bundle made for an
   * image (unless the caller named it) is removed.
   */
  async delete(opts: { force?: boolean } = {}): Promise<void> {
    await this.runtime.delete(this.id, opts);
    // Delete has killed and waited for the process: its exit report is due.
    await this.#exit;
    if (this.terminal) await this.terminal.closeAfterDrain(1_000);
    else this.stdin?.destroy();
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
    const pty = opts.stdio === 'pty' || (opts.stdio === undefined && process.terminal === true);
    const size = pty ? consoleSizeOf(opts.terminalSize, this.id) : undefined;
    let stdio: Stdio | undefined;
    let socket: ConsoleSocket | undefined;
    let pid: number;
    try {
      if (pty) socket = ConsoleSocket.open();
      else stdio = new StdioSetup(opts.stdio as StdioOption | undefined, 'exec stdio');
      const base = (await this.runtime.config(this.id)).process;
      const { consoleSize: _size, ...inherited } = base ?? { args: [], cwd: '/' };
      ({ pid } = await this.runtime.exec(this.id, {
        process: {
          ...inherited,
          ...process,
          terminal: pty,
          ...(size ? { consoleSize: size } : {}),
          cwd: process.cwd ?? base?.cwd ?? '/',
        },
        stdio: stdio instanceof StdioSetup ? stdio.fds : PTY_INIT_STDIO,
        ignorePaused: opts.ignorePaused,
        detach: true,
        ...(socket ? { consoleSocket: socket.path } : {}),
      }));
    } catch (err) {
      stdio?.destroy();
      socket?.close();
      throw err;
    }
    stdio?.releaseChildEnds();
    if (socket) {
      try {
        stdio = await receiveTerminal(socket);
      } catch (err) {
        try {
          globalThis.process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        throw err;
      }
    }
    const proc = new ContainerProcess(this.id, pid, stdio as Stdio);
    if (signal) proc.bindSignal(signal);
    return proc;
  }

  /**
   * The container's lifecycle events as an async iterator: first those this
   * process already saw (unless `history: false`), then live ones, ending
   * after `deleted` (or when `signal` aborts, or the loop breaks). `exited`
   * comes from the pidfd; `oom` from the kernel's OOM notifications for the
   * container's memory cgroup (v1 eventfd, v2 inotify on memory.events),
   * watched while an iterator is open; the others from calls made through
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
  /** With `stdio: 'pty'`: the pty master (a duplex stream with `resize()`); null otherwise. */
  readonly terminal: Terminal | null;
  readonly #startTime: number | undefined;
  readonly #exit: Promise<ContainerExit>;
  readonly #stdio: Stdio;
  #exitStatus: ContainerExit | undefined;
  #abortedBy: AbortSignal | undefined;
  #unbindSignal: (() => void) | undefined;

  /** @internal */
  constructor(containerId: string, pid: number, stdio: Stdio) {
    this.containerId = containerId;
    this.pid = pid;
    this.#stdio = stdio;
    this.stdin = stdio.stdin;
    this.stdout = stdio.stdout;
    this.stderr = stdio.stderr;
    this.terminal = stdio instanceof PtyStdio ? stdio.terminal : null;
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
