import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { CgroupManager, CgroupPaths, CgroupStats } from '@ts-oci/cgroups';
import type { HookKind } from '@ts-oci/hooks';
import type { RegistryClientOptions } from '@ts-oci/image';
import { initBinaryPath } from '@ts-oci/namespaces';
import type { Config, DeviceCgroup, Resources } from '@ts-oci/spec';
import { SpecValidationError } from '@ts-oci/spec/errors';
import { OCI_RUNTIME_SPEC_VERSION } from '@ts-oci/spec/tables';
import type { Container, ContainerOptions, ContainerSource } from './container.js';
import { ContainerError } from './errors.js';
import { InitChannel, initError } from './init-channel.js';
import * as native from './native.js';
import { sealedInitPath } from './sealed-init.js';
import { parseSignal, signalName } from './signals.js';
import {
  type ContainerStatus,
  liveStatus,
  type OciState,
  type StoredState,
  toOciState,
} from './state.js';
import { bundleWantsTerminal, TerminalRelay } from './terminal.js';

export const DEFAULT_STATE_ROOT = native.DEFAULT_STATE_ROOT;
const EXEC_FIFO = native.EXEC_FIFO;
const LOCK_TIMEOUT_MS = 30_000;

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface RuntimeOptions {
  /** State directory (default /run/tsoci). */
  root?: string;
  /** Receives log records (the init's included). */
  log?: (level: LogLevel, msg: string) => void;
  debug?: boolean;
  /** Path of tsoci-init; defaults to the one shipped with @ts-oci/namespaces. */
  initPath?: string;
  /** Use the systemd cgroup driver (not supported yet: create fails clearly). */
  systemdCgroup?: boolean;
  /**
   * The @ts-oci/image store for containers made from image references
   * (`createContainer({ id, image })`): bare names are looked up there, and
   * registry images pulled into it. None by default: registry images are
   * then unpacked straight from the registry, not kept.
   */
  imageStore?: string;
  /** How registries are reached for image references (plain http, CA, credentials, …). */
  registry?: RegistryClientOptions;
}

/** A container's stdio: fds of this process (0, 1, 2 by default), passed untouched. */
export type StdioFds = readonly [number | 'ignore', number | 'ignore', number | 'ignore'];

export interface CreateOptions {
  id: string;
  /** Bundle directory (default: the current directory). */
  bundle?: string;
  consoleSocket?: string;
  pidFile?: string;
  preserveFds?: number;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  stdio?: StdioFds;
  /**
   * The config to use instead of `<bundle>/config.json` (validated the same
   * way); a relative `root.path` is resolved against `bundle`.
   */
  config?: Config;
  /**
   * The bundle was made for this container by @ts-oci/image's createBundle:
   * deleting the container removes it (removeBundle: unmounts an overlay
   * rootfs, drops the store lease, deletes the directory). It is recorded
   * in the state, so an interrupted create's `delete --force` removes it
   * too. If create fails, the bundle stays the caller's.
   */
  ownsBundle?: boolean;
}

export interface RunOptions extends CreateOptions {
  /** Do not delete the container after it exits. */
  keep?: boolean;
  /** Forward the signals this process receives (SIGINT, SIGTERM, …) to the container, as `runc run` does. */
  forwardSignals?: boolean;
}

// What `run` forwards: everything a terminal or supervisor may send that Node
// lets a program catch.
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGPIPE',
  'SIGALRM',
];

export interface ExecOptions {
  /** The process to run (an OCI `process` object: args, env, cwd, user, capabilities, …). */
  process: NonNullable<Config['process']>;
  /** Return once the process runs instead of waiting for it. */
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  stdio?: StdioFds;
  /** Allow exec into a paused container. */
  ignorePaused?: boolean;
  /** Forward this process's signals to the exec'd process (non-detached). */
  forwardSignals?: boolean;
}

export interface ExitStatus {
  /** The exit code, or 128+n when killed by signal n (the shell convention runc uses). */
  exitCode: number;
  /** The signal that killed the process, if any. */
  signal: string | null;
}

/**
 * The container lifecycle of runtime.md for Node programs: create, start,
 * state, kill, delete, list, run and wait. Every method is promise-based and
 * fails with a typed error (ContainerError, SpecValidationError, HookError)
 * whose message names the container.
 */
export class Runtime {
  readonly root: string;
  /** See RuntimeOptions.imageStore. */
  readonly imageStore: string | undefined;
  /** See RuntimeOptions.registry. */
  readonly registry: RegistryClientOptions | undefined;
  private readonly logFn: (level: LogLevel, msg: string) => void;
  private readonly debug: boolean;
  private readonly initPath: string | undefined;
  private readonly systemdCgroup: boolean;

  constructor(opts: RuntimeOptions = {}) {
    this.root = resolve(opts.root ?? DEFAULT_STATE_ROOT);
    this.logFn = opts.log ?? (() => {});
    this.debug = opts.debug === true;
    this.initPath = opts.initPath;
    this.systemdCgroup = opts.systemdCgroup === true;
    this.imageStore = opts.imageStore === undefined ? undefined : resolve(opts.imageStore);
    this.registry = opts.registry;
  }

  /** Creates the container: everything but the user process, which waits for start(). */
  async create(opts: CreateOptions): Promise<OciState> {
    return toOciState(await this.createStored(opts), 'created');
  }

  /**
   * @internal `create`, returning what it stored: `Container` objects need
   * the process's start time, which reading the state back would cost.
   */
  async createStored(opts: CreateOptions): Promise<StoredState> {
    native.validateId(opts.id);
    const bundleDir = resolve(opts.bundle ?? '.');
    const config =
      opts.config === undefined ? await loadConfig(bundleDir) : await checkConfig(opts.config);
    const fifo = join(this.root, opts.id, EXEC_FIFO);
    // Everything that can be checked is checked here, before any side effect.
    // The planner (schemas, mount tables, seccomp) loads only for create.
    const { buildInitPlan } = await import('./plan.js');
    const plan = buildInitPlan(config, {
      id: opts.id,
      bundleDir,
      consoleSocket: opts.consoleSocket,
      execFifo: fifo,
      preserveFds: opts.preserveFds ?? 0,
      noPivot: opts.noPivot,
      noNewKeyring: opts.noNewKeyring,
      // runc drops unraisable ambient caps silently; keep the note for --debug.
      onWarning: (msg) => this.logFn('debug', msg),
    });
    const preserve = opts.preserveFds ?? 0;
    if (!Number.isInteger(preserve) || preserve < 0) {
      throw new ContainerError(ContainerError.INVALID_PLAN, `invalid --preserve-fds ${preserve}`, {
        id: opts.id,
      });
    }

    const cgroups = await import('@ts-oci/cgroups');
    const cgroup = await cgroups.createCgroupManager({
      id: opts.id,
      cgroupsPath: config.linux?.cgroupsPath,
      resources: withDeviceDefaults(config, cgroups.DEFAULT_ALLOWED_DEVICES),
      systemd: this.systemdCgroup,
      onWarning: (w) => this.logFn('warning', `${w.field}: ${w.message}`),
    });

    // Creates the root when missing and returns the new container dir locked.
    const lock = native.createContainerDir(this.root, opts.id);
    const state: StoredState = {
      ociVersion: OCI_RUNTIME_SPEC_VERSION,
      id: opts.id,
      status: 'creating',
      pid: 0,
      startTime: 0,
      initPid: 0,
      initStartTime: 0,
      bundle: bundleDir,
      rootfs: plan.rootfs?.root ?? '',
      created: new Date().toISOString(),
      annotations: config.annotations ?? {},
      owner: '',
      config,
      // Recorded before it exists, so an interrupted create can still be cleaned.
      cgroup: cgroup.paths(),
      ...(opts.ownsBundle ? { ownedBundle: bundleDir } : {}),
    };
    let channel: InitChannel | undefined;
    try {
      lock.writeState(JSON.stringify(state));
      native.mkfifo(fifo, native.EXEC_FIFO_MODE);
      chownToContainerRoot(fifo, config);
      // The cgroup, limits included, exists before the init: the init is
      // born in its cgroup2 directory and moves itself into the v1 ones as
      // the first step of the plan, before any namespace is made, so a new
      // cgroup namespace is rooted at the container's cgroup. Neither way
      // takes the kernel's threadgroup lock (see CgroupJoin).
      await cgroup.apply();
      // Usually what was recorded; only a cgroup2 side given up on changes it.
      state.cgroup = cgroup.paths();
      const join = cgroup.joinTargets();
      channel = new InitChannel({
        initPath: sealedInitPath(this.initPath ?? initBinaryPath()),
        stdio: opts.stdio ?? [0, 1, 2],
        preserveFds: preserve,
        logLevel: this.debug ? 'debug' : 'info',
        id: opts.id,
        cgroup: join.cloneInto,
      });
      // Record the init before it does anything, so that a create killed at
      // any later moment leaves something `delete --force` can find.
      state.initPid = channel.pid;
      state.initStartTime = startTimeOf(channel.pid);
      lock.writeState(JSON.stringify(state));
      if (join.cloneInto !== undefined && !channel.inCgroup) {
        await cgroup.addProcess(channel.pid, [join.cloneInto]);
      }
      channel.send({ type: 'plan', plan: { ...plan, joinCgroups: join.selfMove } });
      await this.driveCreate(channel, state, lock, config);
      // Recorded while stage 0 exits (its exit is awaited next): a stage 0
      // that fails still fails the create, which then removes the state.
      state.status = 'created';
      lock.writeState(JSON.stringify(state));
      const exit = await channel.exited;
      if (exit.code !== 0) {
        throw new ContainerError(
          ContainerError.INIT_FAILED,
          `container init exited with ${exit.signal ?? `status ${exit.code}`} during create`,
          { id: opts.id },
        );
      }
      if (opts.pidFile) await writePidFile(opts.pidFile, state.pid);
      return state;
    } catch (err) {
      await this.abortCreate(channel, state, lock);
      throw err;
    } finally {
      channel?.close();
      lock.unlock();
    }
  }

  private async driveCreate(
    channel: InitChannel,
    state: StoredState,
    lock: native.ContainerLock,
    config: Config,
  ): Promise<void> {
    const id = state.id;
    for (;;) {
      const m = await channel.next();
      if (m === null) {
        const exit = await channel.exited;
        throw new ContainerError(
          ContainerError.INIT_FAILED,
          `container init exited (${exit.signal ?? `status ${exit.code}`}) before the container was created`,
          { id },
        );
      }
      switch (m.type) {
        case 'log':
          this.logFn(m.level, m.msg);
          break;
        case 'error':
          throw initError(id, m);
        case 'userns':
          writeIdMappings(m.pid, config);
          channel.send({ type: 'userns-mapped' });
          break;
        case 'child':
          state.pid = m.pid;
          state.startTime = startTimeOf(m.pid);
          lock.writeState(JSON.stringify(state));
          break;
        case 'mounted': {
          const st = toOciState(state, 'creating');
          await this.hooks('prestart', config, st);
          await this.hooks('createRuntime', config, st);
          await this.hooks('createContainer', config, st);
          channel.send({ type: 'continue' });
          break;
        }
        case 'created':
          return;
      }
    }
  }

  /** Undo a failed create: kill what was started, then remove every trace. */
  private async abortCreate(
    channel: InitChannel | undefined,
    state: StoredState,
    lock: native.ContainerLock,
  ): Promise<void> {
    killQuietly(state.pid, state.startTime);
    if (channel) {
      channel.kill('SIGKILL');
      await channel.exited;
    }
    await waitDead(state.pid, state.startTime);
    await this.destroyCgroup(state);
    lock.remove();
  }

  /** Kills the container's processes and waits for them; the cgroup and state stay. */
  private async stopQuietly(state: StoredState): Promise<void> {
    const cgroup = await this.cgroupOf(state).catch(() => undefined);
    if (cgroup && (await cgroup.exists())) await this.killAllIn(cgroup);
    killQuietly(state.pid, state.startTime);
    await waitDead(state.pid, state.startTime);
  }

  /** Kills whatever is left in the container's cgroup and removes it. */
  private async destroyCgroup(state: StoredState): Promise<void> {
    const cgroup = await this.cgroupOf(state);
    if (!cgroup || !(await cgroup.exists())) return;
    await this.killAllIn(cgroup);
    await cgroup.destroy();
  }

  /**
   * SIGKILL to every process of the cgroup. A create interrupted while it made
   * the cgroup leaves some hierarchies missing (killAll's freezer sweep fails
   * there); the pids that do exist are then signalled one by one.
   */
  private async killAllIn(cgroup: CgroupManager): Promise<void> {
    try {
      await cgroup.killAll('SIGKILL');
    } catch (err) {
      this.logFn(
        'debug',
        `cgroup kill-all: ${(err as Error).message}; signalling its pids one by one`,
      );
      for (const pid of await cgroup.pids().catch(() => [] as number[])) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
    }
  }

  private async cgroupOf(state: StoredState): Promise<CgroupManager | undefined> {
    if (!state.cgroup) return undefined;
    const { cgroupManagerFromPaths } = await import('@ts-oci/cgroups');
    return cgroupManagerFromPaths(state.cgroup, {
      onWarning: (w) => this.logFn('warning', `${w.field}: ${w.message}`),
    });
  }

  /**
   * A {@link Container} object for an existing container (made by this
   * process, another one, or the CLI). ECONTAINER_NOT_FOUND if there is none.
   */
  async container(id: string): Promise<Container> {
    const { openContainer } = await import('./container.js');
    return openContainer(this, id);
  }

  /** Creates a container from a bundle, or from a config object and a rootfs. */
  async createContainer(source: ContainerSource, opts?: ContainerOptions): Promise<Container> {
    const { createContainer } = await import('./container.js');
    return createContainer(this, source, opts);
  }

  /** createContainer + start. */
  async runContainer(source: ContainerSource, opts?: ContainerOptions): Promise<Container> {
    const { runContainer } = await import('./container.js');
    return runContainer(this, source, opts);
  }

  /** Runs the user process of a created container. */
  async start(id: string): Promise<void> {
    native.validateId(id);
    const lock = await this.lock(id);
    try {
      const state = readState(lock, id);
      const status = await this.statusOf(state);
      if (status !== 'created') {
        throw new ContainerError(
          ContainerError.BAD_STATE,
          `cannot start a container that is ${status}: ${id}`,
          {
            id,
          },
        );
      }
      try {
        await this.hooks('startContainer', state.config, toOciState(state, 'created'), state.pid);
      } catch (err) {
        // runtime.md step 7: a failed startContainer hook stops the container.
        await this.stopQuietly(state);
        throw err;
      }
      native.releaseExecFifo(join(this.root, id, EXEC_FIFO), state.pid, state.startTime, 10_000);
      state.status = 'running';
      lock.writeState(JSON.stringify(state));
      try {
        await this.hooks('poststart', state.config, toOciState(state, 'running'));
      } catch (err) {
        // runtime.md step 9: a failed poststart hook stops the container.
        await this.stopQuietly(state);
        throw err;
      }
    } finally {
      lock.unlock();
    }
  }

  async state(id: string): Promise<OciState> {
    native.validateId(id);
    const lock = await this.lock(id);
    try {
      const state = readState(lock, id);
      return toOciState(state, await this.statusOf(state));
    } finally {
      lock.unlock();
    }
  }

  /** The container's config as it was created (with updates applied). */
  async config(id: string): Promise<Config> {
    native.validateId(id);
    const text = native.readStateUnlocked(this.root, id);
    if (text === null)
      throw new ContainerError(ContainerError.NOT_FOUND, `container ${id} does not exist`, { id });
    return parseStored(text, id).config;
  }

  /** Sends `signal` (a name, `SIG`-name or number; default SIGTERM) to the container process. */
  async kill(
    id: string,
    signal: string | number = 'SIGTERM',
    opts: { all?: boolean } = {},
  ): Promise<void> {
    native.validateId(id);
    const sig = parseSignal(signal);
    const lock = await this.lock(id);
    try {
      const state = readState(lock, id);
      const status = await this.statusOf(state);
      if (status === 'stopped' || (status === 'creating' && state.pid === 0)) {
        throw new ContainerError(ContainerError.BAD_STATE, `container ${id} is not running`, {
          id,
        });
      }
      const cgroup = opts.all || status === 'paused' ? await this.cgroupOf(state) : undefined;
      if (cgroup && opts.all) await cgroup.killAll(sig);
      else native.signalProcess(state.pid, state.startTime, sig);
      // A frozen process cannot act on SIGKILL: thaw it, as runc does.
      if (cgroup && status === 'paused' && sig === 9) await cgroup.freeze(false);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Removes a stopped (or created) container. With `force`, kills a running
   * one first. An interrupted create is removed too: every process recorded
   * for it is killed.
   */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    native.validateId(id);
    const lock = await this.lock(id);
    try {
      if (lock.readState() === null) {
        // A create killed between making the directory and its first state
        // write: nothing was started yet, so removing the directory is all.
        lock.remove();
        return;
      }
      const state = readState(lock, id);
      const status = await this.statusOf(state);
      if ((status === 'running' || status === 'paused') && !opts.force) {
        throw new ContainerError(
          ContainerError.BAD_STATE,
          `cannot delete container ${id} that is not stopped: ${status}`,
          { id },
        );
      }
      if (status !== 'stopped') {
        // Through the cgroup first: it reaches every process, and kills a
        // frozen (paused) container properly (freeze, signal, thaw).
        const cgroup = await this.cgroupOf(state);
        if (cgroup && (await cgroup.exists())) await this.killAllIn(cgroup);
        killQuietly(state.pid, state.startTime);
        killQuietly(state.initPid, state.initStartTime);
        await waitDead(state.pid, state.startTime);
        await waitDead(state.initPid, state.initStartTime);
      }
      await this.destroyCgroup(state);
      lock.remove();
      state.status = 'stopped';
      try {
        await this.hooks('poststop', state.config, toOciState(state, 'stopped'));
      } finally {
        // After the hooks: they run in the bundle directory.
        if (state.ownedBundle) await this.removeOwnedBundle(id, state.ownedBundle);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Removes a bundle the container owned. The container is gone already, so
   * a failure is logged (as a warning), not thrown.
   */
  private async removeOwnedBundle(id: string, dir: string): Promise<void> {
    try {
      const [{ removeBundle }, { overlayMounter }] = await Promise.all([
        import('@ts-oci/image'),
        import('./image.js'),
      ]);
      await removeBundle(dir, { mounter: overlayMounter() });
    } catch (err) {
      this.logFn(
        'warning',
        `container ${id}: removing its bundle ${dir}: ${(err as Error).message}`,
      );
    }
  }

  async list(): Promise<OciState[]> {
    const out: OciState[] = [];
    for (const id of native.listIds(this.root)) {
      // Unlocked read (writes are atomic): `list` must not wait behind a create.
      const text = native.readStateUnlocked(this.root, id);
      if (text === null) continue; // deleted meanwhile
      const state = parseStored(text, id);
      out.push(toOciState(state, await this.statusOf(state)));
    }
    return out;
  }

  /**
   * create + start, then wait for the container process to exit and delete the
   * container (unless `keep`). This process becomes a child subreaper so the
   * container, orphaned when the init's first stage exits, is reparented here
   * and its exit status can be collected.
   */
  async run(
    opts: RunOptions,
    hooks: { onStart?: (pid: number) => void } = {},
  ): Promise<ExitStatus> {
    native.setChildSubreaper();
    const relay =
      opts.consoleSocket === undefined && bundleWantsTerminal(resolve(opts.bundle ?? '.'))
        ? TerminalRelay.open()
        : undefined;
    let relayed: Promise<void> | undefined;
    let st: OciState;
    try {
      // A failed create cleans up after itself; it must not touch a container
      // that already had this id.
      st = await this.create(relay ? { ...opts, consoleSocket: relay.path } : opts);
    } catch (err) {
      relay?.close();
      throw err;
    }
    try {
      if (relay) relayed = relay.relay(process.stdin, process.stdout);
      await this.start(opts.id);
    } catch (err) {
      relay?.close();
      await this.delete(opts.id, { force: true }).catch(() => {});
      throw err;
    }
    hooks.onStart?.(st.pid);
    const forward = (sig: NodeJS.Signals) => {
      this.kill(opts.id, sig).catch((err: unknown) =>
        this.logFn('debug', `forwarding ${sig}: ${String(err)}`),
      );
    };
    if (opts.forwardSignals) for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
    try {
      const r = await native.waitPid(st.pid);
      await relayed;
      const status: ExitStatus =
        r.signal === null
          ? { exitCode: r.exitCode, signal: null }
          : { exitCode: 128 + r.signal, signal: signalName(r.signal) };
      if (!opts.keep) await this.delete(opts.id, { force: true });
      return status;
    } finally {
      if (opts.forwardSignals) for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
    }
  }

  /**
   * The container's lock. Tried at once first (a flock that is free costs
   * microseconds, a pool round trip 0.1-0.3 ms); when another operation
   * holds it, waited for on the libuv pool so a library caller's event loop
   * keeps running. Bounded: a holder that never lets go (a stuck create)
   * gives ECONTAINER_LOCKED instead of a hang.
   */
  private async lock(id: string): Promise<native.ContainerLock> {
    try {
      return native.lockContainer(this.root, id, 0);
    } catch (err) {
      if (!(err instanceof native.NativeRuntimeError) || err.code !== native.NativeErrorCode.LOCKED)
        throw err;
    }
    return native.lockContainerAsync(this.root, id, LOCK_TIMEOUT_MS);
  }

  private async statusOf(s: StoredState): Promise<ContainerStatus> {
    const fifo = join(this.root, s.id, EXEC_FIFO);
    const status = liveStatus(s, {
      isAlive: (pid, st) => native.isAlive(pid, st),
      fifoExists: () => existsSync(fifo),
    });
    if ((status === 'running' || status === 'created') && s.cgroup && isFrozen(s.cgroup))
      return 'paused';
    return status;
  }

  /**
   * Runs another process in a running container: every namespace and the
   * cgroup of the container, the process's own user, capabilities, rlimits,
   * noNewPrivileges, and the container's seccomp filter, through tsoci-init
   * like create (sealed binary, closed fds, verified cwd). A launch failure
   * (missing binary, permission denied) is an ECONTAINER_INIT error with the
   * errno. Returns the process's exit status, or at once with `detach`.
   */
  async exec(id: string, opts: ExecOptions): Promise<ExitStatus & { pid: number }> {
    native.validateId(id);
    const lock = await this.lock(id);
    let channel: InitChannel | undefined;
    let pid = 0;
    let initFailed = false;
    try {
      const state = readState(lock, id);
      const status = await this.statusOf(state);
      const allowed = opts.ignorePaused ? ['created', 'running', 'paused'] : ['created', 'running'];
      if (!allowed.includes(status)) {
        throw new ContainerError(
          ContainerError.BAD_STATE,
          `cannot exec in a ${status} container: ${id}`,
          { id },
        );
      }
      const { buildExecPlan } = await import('./plan.js');
      const plan = buildExecPlan(state.config, opts.process, {
        id,
        containerPid: state.pid,
        consoleSocket: opts.consoleSocket,
        preserveFds: opts.preserveFds ?? 0,
        wait: opts.detach !== true,
        onWarning: (msg) => this.logFn('debug', msg),
      });
      const cgroup = await this.cgroupOf(state);
      // As for create: the process joins the container's cgroup without a
      // threadgroup-locked move (see CgroupJoin).
      if (cgroup) await cgroup.apply();
      const join = cgroup?.joinTargets();
      channel = new InitChannel({
        initPath: sealedInitPath(this.initPath ?? initBinaryPath()),
        stdio: opts.stdio ?? [0, 1, 2],
        preserveFds: opts.preserveFds ?? 0,
        logLevel: this.debug ? 'debug' : 'info',
        id,
        cgroup: join?.cloneInto,
      });
      if (cgroup && join?.cloneInto !== undefined && !channel.inCgroup) {
        await cgroup.addProcess(channel.pid, [join.cloneInto]);
      }
      channel.send({ type: 'plan', plan: { ...plan, joinCgroups: join?.selfMove ?? [] } });
      for (;;) {
        const m = await channel.next();
        if (m === null) break; // the process exec'd: the sync socket closed on execve
        if (m.type === 'log') this.logFn(m.level, m.msg);
        else if (m.type === 'error') {
          initFailed = true;
          throw initError(id, m);
        } else if (m.type === 'child') pid = m.pid;
      }
      if (opts.pidFile) await writePidFile(opts.pidFile, pid);
    } catch (err) {
      if (channel) {
        // After an error frame the init's first stage reaps the failed
        // process and exits by itself: killing it first would orphan that
        // zombie to a subreaper caller (and a container whose pid 1 then
        // waits for it forever). Anything else, or a stage that lingers,
        // is killed.
        const exited = initFailed ? await settlesWithin(channel.exited, 5_000) : false;
        if (!exited) {
          channel.kill('SIGKILL');
          await channel.exited;
        }
      }
      throw err;
    } finally {
      channel?.close();
      lock.unlock();
    }
    const init = channel;
    if (opts.detach) {
      await init.exited;
      return { pid, exitCode: 0, signal: null };
    }
    const forward = (sig: NodeJS.Signals) => init.kill(sig);
    if (opts.forwardSignals) for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
    try {
      // Stage 0 waited for the process and exits with its status (128+n if killed).
      // (A status above 128 may mean a signal or a plain exit: the shell's ambiguity, as in runc.)
      const { code, signal } = await init.exited;
      if (code !== null) return { pid, exitCode: code, signal: null };
      return { pid, exitCode: 128 + (signal ? parseSignal(signal) : 9), signal };
    } finally {
      if (opts.forwardSignals) for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
    }
  }

  /** Freezes every process of a running container (the cgroup freezer). */
  async pause(id: string): Promise<void> {
    await this.withCgroup(id, ['running'], 'pause', (cg) => cg.freeze(true));
  }

  /** Thaws a paused container. */
  async resume(id: string): Promise<void> {
    await this.withCgroup(id, ['paused'], 'resume', (cg) => cg.freeze(false));
  }

  /** The host pids of every process in the container, ascending. */
  async ps(id: string): Promise<number[]> {
    return this.withCgroup(id, ['created', 'running', 'paused'], 'list processes of', (cg) =>
      cg.pids(),
    );
  }

  /** Resource usage of the container's cgroup (runc's `events --stats` shape). */
  async stats(id: string): Promise<CgroupStats> {
    // A stopped container keeps its cgroup (and its counters) until deleted.
    return this.withCgroup(id, ['created', 'running', 'paused', 'stopped'], 'read stats of', (cg) =>
      cg.stats(),
    );
  }

  /**
   * Changes `linux.resources` of a live container; the new values are kept in
   * its state so later reads and updates start from them.
   */
  async update(id: string, resources: Resources): Promise<void> {
    native.validateId(id);
    const lock = await this.lock(id);
    try {
      const state = readState(lock, id);
      const status = await this.statusOf(state);
      const cgroup = await this.cgroupOf(state);
      if (status === 'stopped' || !cgroup) {
        throw new ContainerError(
          ContainerError.BAD_STATE,
          `cannot update container ${id}: it is ${status}`,
          { id },
        );
      }
      await cgroup.set(resources);
      const linux = state.config.linux ?? {};
      linux.resources = mergeResources(linux.resources ?? {}, resources);
      state.config.linux = linux;
      lock.writeState(JSON.stringify(state));
    } finally {
      lock.unlock();
    }
  }

  /**
   * OOM events of the container as they happen, until `signal` aborts or
   * its cgroup is removed. Driven by the kernel's notifications, not by
   * polling: on cgroup v1 an eventfd registered for memory.oom_control (one
   * event each time the cgroup hits OOM), on v2 inotify on memory.events
   * (one event per rise of its `oom_kill` counter). Only where those are
   * unavailable (no memory controller) is the kill counter polled, every
   * `intervalMs` (default 250).
   */
  async *oomEvents(
    id: string,
    opts: { intervalMs?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<{
    type: 'oom';
    id: string;
    time: Date;
  }> {
    const cgroup = await this.withCgroup(
      id,
      ['created', 'running', 'paused', 'stopped'],
      'watch',
      async (cg) => cg,
    );
    const { OomWatch, oomTarget } = await import('./oom.js');
    const target = oomTarget(cgroup.paths());
    let watch: InstanceType<typeof OomWatch> | undefined;
    if (target) {
      try {
        watch = new OomWatch(target.kind, target.dir);
      } catch (err) {
        this.logFn(
          'debug',
          `container ${id}: no OOM notifications from ${target.dir} (${(err as Error).message}); polling its OOM kill counter`,
        );
      }
    }
    if (watch) {
      for await (const ev of watch.events(opts.signal)) yield { type: 'oom', id, time: ev.time };
      return;
    }
    for await (const ev of cgroup.oomEvents(opts)) yield { type: 'oom', id, time: ev.time };
  }

  private async withCgroup<T>(
    id: string,
    allowed: readonly ContainerStatus[],
    what: string,
    fn: (cg: CgroupManager) => Promise<T>,
  ): Promise<T> {
    native.validateId(id);
    const lock = await this.lock(id);
    try {
      const state = readState(lock, id);
      const status = await this.statusOf(state);
      if (!allowed.includes(status)) {
        throw new ContainerError(
          ContainerError.BAD_STATE,
          `cannot ${what} container ${id}: it is ${status}`,
          {
            id,
          },
        );
      }
      const cgroup = await this.cgroupOf(state);
      if (!cgroup) {
        throw new ContainerError(ContainerError.BAD_STATE, `container ${id} has no cgroup`, { id });
      }
      return await fn(cgroup);
    } finally {
      lock.unlock();
    }
  }

  private async hooks(
    kind: HookKind,
    config: Config,
    state: OciState,
    containerPid?: number,
  ): Promise<void> {
    const list = config.hooks?.[kind];
    if (!list || list.length === 0) return;
    // execa and the hook runner load only when a container has hooks.
    const { HOOK_KINDS, nsenterWrapper, runHooks } = await import('@ts-oci/hooks');
    const inContainer = HOOK_KINDS[kind].namespace === 'container';
    // Hooks in the container namespace see the pid as the container sees it.
    const hookState =
      inContainer && state.pid > 0 ? { ...state, pid: pidInOwnNamespace(state.pid) } : state;
    await runHooks(kind, list, hookState, {
      cwd: state.bundle,
      onWarning: (msg) => this.logFn('warning', msg),
      wrap: inContainer
        ? nsenterWrapper({
            init: this.initPath ?? initBinaryPath(),
            pid: containerPid ?? state.pid,
          })
        : undefined,
    });
  }
}

/**
 * Every problem that would stop the bundle from running (schema and semantic),
 * with no side effect: `tsoci validate`.
 */
export async function validateBundle(bundle: string): Promise<{ path: string; message: string }[]> {
  const bundleDir = resolve(bundle);
  const path = join(bundleDir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return [
      {
        path: '',
        message:
          code === 'ENOENT' ? `${path} does not exist` : `${path}: ${(err as Error).message}`,
      },
    ];
  }
  const { validatePlan } = await import('./plan.js');
  return validatePlan(raw, { id: 'validate', bundleDir });
}

async function checkConfig(input: Config): Promise<Config> {
  const { parseConfig } = await import('@ts-oci/spec');
  return parseConfig(input);
}

// config.json texts that passed validation, with the JSON of the result.
// Validation (zod, ~90 µs) is a tenth of what create does in TypeScript,
// and a program tends to make many containers from one bundle; the same
// text validates the same way, and a fresh parse of the stored result
// gives each create its own objects.
const validatedConfigs = new Map<string, string>();
const VALIDATED_CONFIGS = 16;

function rememberValidConfig(text: string, config: Config): void {
  if (validatedConfigs.size >= VALIDATED_CONFIGS) {
    const oldest = validatedConfigs.keys().next().value;
    if (oldest !== undefined) validatedConfigs.delete(oldest);
  }
  validatedConfigs.set(text, JSON.stringify(config));
}

async function loadConfig(bundleDir: string): Promise<Config> {
  const path = join(bundleDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      code === 'ENOENT'
        ? `${path} does not exist`
        : `cannot read ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const cached = validatedConfigs.get(text);
  if (cached !== undefined) return JSON.parse(cached) as Config;
  const { parseConfig } = await import('@ts-oci/spec');
  try {
    const config = parseConfig(text);
    rememberValidConfig(text, config);
    return config;
  } catch (err) {
    if (err instanceof SpecValidationError) {
      throw new SpecValidationError(path, err.issues, { cause: err });
    }
    throw err;
  }
}

function readState(lock: native.ContainerLock, id: string): StoredState {
  const text = lock.readState();
  if (text === null)
    throw new ContainerError(ContainerError.NOT_FOUND, `container ${id} does not exist`, { id });
  return parseStored(text, id);
}

function parseStored(text: string, id: string): StoredState {
  try {
    return JSON.parse(text) as StoredState;
  } catch (err) {
    throw new ContainerError(
      ContainerError.CORRUPT_STATE,
      `state of container ${id} is corrupt: ${(err as Error).message}`,
      {
        id,
        cause: err,
      },
    );
  }
}

function writeIdMappings(pid: number, config: Config): void {
  const fmt = (maps: { containerID: number; hostID: number; size: number }[]) =>
    maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
  writeFileSync(`/proc/${pid}/uid_map`, fmt(config.linux?.uidMappings ?? []));
  writeFileSync(`/proc/${pid}/gid_map`, fmt(config.linux?.gidMappings ?? []));
}

/**
 * In a new user namespace the container reopens the exec fifo as its own root,
 * which is some unprivileged host uid: give the fifo to that uid.
 */
function chownToContainerRoot(path: string, config: Config): void {
  const linux = config.linux;
  if (!linux?.namespaces?.some((n) => n.type === 'user' && !n.path)) return;
  const host = (maps: { containerID: number; hostID: number; size: number }[] | undefined) => {
    const m = (maps ?? []).find((x) => x.containerID <= 0 && 0 < x.containerID + x.size);
    return m ? m.hostID - m.containerID : undefined;
  };
  const uid = host(linux.uidMappings);
  const gid = host(linux.gidMappings);
  if (uid !== undefined || gid !== undefined) chownSync(path, uid ?? 0, gid ?? 0);
}

function startTimeOf(pid: number): number {
  try {
    return native.processStartTime(pid);
  } catch {
    // Already gone: 0 never matches a live process, so it reads as stopped.
    return 0;
  }
}

/**
 * The device cgroup rules of the config, then the devices of linux.devices and
 * the default allowed set (as runc does), so a container can always use the
 * nodes it was given.
 */
function withDeviceDefaults(config: Config, defaults: readonly DeviceCgroup[]): Resources {
  const resources: Resources = { ...(config.linux?.resources ?? {}) };
  const fromDevices: DeviceCgroup[] = (config.linux?.devices ?? [])
    .filter((d) => d.type !== 'p')
    .map((d) => ({
      allow: true,
      type: d.type === 'b' ? 'b' : 'c',
      major: d.major,
      minor: d.minor,
      access: 'rwm',
    }));
  resources.devices = [...(resources.devices ?? []), ...fromDevices, ...defaults];
  return resources;
}

/**
 * Whether the cgroup is frozen, read straight from the freezer files so that
 * `state` and `list` need not load the cgroup package: v1 freezer.state, else
 * the cgroup2 `frozen` key of cgroup.events.
 */
function isFrozen(cg: CgroupPaths): boolean {
  try {
    const freezer = cg.paths.freezer;
    if (freezer) return readFileSync(join(freezer, 'freezer.state'), 'utf8').trim() === 'FROZEN';
    const unified = cg.paths.unified;
    if (unified) return /^frozen 1$/m.test(readFileSync(join(unified, 'cgroup.events'), 'utf8'));
  } catch {
    // The cgroup is gone: not paused.
  }
  return false;
}

/** `update` semantics: fields given replace the stored ones, one level deep. */
function mergeResources(base: Resources, patch: Resources): Resources {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
        ? { ...(prev as object), ...(v as object) }
        : v;
  }
  return out as Resources;
}

/** The pid of host process `pid` in its own (innermost) pid namespace: the NSpid line's last field. */
function pidInOwnNamespace(pid: number): number {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    const last = line?.trim().split(/\s+/).pop();
    return last ? Number(last) : pid;
  } catch {
    return pid;
  }
}

function killQuietly(pid: number, startTime: number): void {
  if (pid <= 0) return;
  try {
    native.signalProcess(pid, startTime, 9);
  } catch {
    // Already gone (or reused): nothing of ours to kill.
  }
}

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the process is gone (or a zombie); never longer than `ms`. */
async function waitDead(pid: number, startTime: number, ms = 10_000): Promise<void> {
  if (pid <= 0) return;
  const deadline = Date.now() + ms;
  while (native.isAlive(pid, startTime)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not exit within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The pid, no trailing newline (containerd rejects one), written atomically. */
async function writePidFile(path: string, pid: number): Promise<void> {
  const abs = resolve(path);
  const tmp = join(dirname(abs), `.${Date.now()}.${process.pid}.pid.tmp`);
  await writeFile(tmp, String(pid), { mode: 0o644 });
  await rename(tmp, abs);
}
