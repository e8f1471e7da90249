import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { ContainerError } from './errors.js';
import { holdEventLoop, routeExits, watchedExit } from './exits.js';
import * as native from './native.js';
import { parseSignal, signalName } from './signals.js';

/** Messages tsoci-init sends (crates/tsoci-init/PROTOCOL.md). */
export type InitMessage =
  | { type: 'log'; level: 'debug' | 'info' | 'warning' | 'error'; msg: string }
  | { type: 'userns'; pid: number }
  | { type: 'child'; pid: number }
  | { type: 'mounted' }
  | { type: 'created' }
  | { type: 'error'; msg: string; errno: string | null };

/** Messages the parent sends. */
export type ParentMessage =
  | { type: 'plan'; plan: unknown }
  | { type: 'userns-mapped' }
  | { type: 'continue' };

const MAX_FRAME = 16 * 1024 * 1024;

export function encodeFrame(msg: ParentMessage): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; throws on an oversized or non-JSON frame. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): InitMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: InitMessage[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_FRAME)
        throw new Error(`init sent a frame of ${len} bytes (limit ${MAX_FRAME})`);
      if (this.buf.length < 4 + len) break;
      const body = this.buf.subarray(4, 4 + len).toString('utf8');
      this.buf = this.buf.subarray(4 + len);
      const msg = JSON.parse(body) as InitMessage;
      if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') {
        throw new Error(`init sent a frame without a type: ${body.slice(0, 200)}`);
      }
      out.push(msg);
    }
    return out;
  }

  get pending(): number {
    return this.buf.length;
  }
}

export type StdioEntry = number | 'ignore' | 'inherit';

export interface SpawnInitOptions {
  initPath: string;
  /** fds 0, 1, 2 of the container: fds of this process (passed untouched), or 'ignore'. */
  stdio: readonly StdioEntry[];
  /** Pass this process's fds 3..3+n-1 to the container unchanged. */
  preserveFds: number;
  logLevel: 'debug' | 'info';
  id: string;
  /**
   * A cgroup2 directory for the init to be born in. Check
   * {@link InitChannel.inCgroup}: where that cannot be done the init starts
   * in this process's cgroup and the caller moves it.
   */
  cgroup?: string;
}

export interface InitExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Cleared after the first ENOSYS: this build has no clone3 entry for the
// architecture, so node:child_process spawns the init.
let nativeSpawn = true;

/** @internal Tests: spawn inits with node:child_process (the fallback) or the addon. */
export function setNativeSpawn(enabled: boolean): void {
  nativeSpawn = enabled;
}

/** The init's fds for the spawn: stdio, then the preserved fds as they are. */
function initFds(opts: SpawnInitOptions): (StdioEntry | 'pipe')[] {
  const stdio: (StdioEntry | 'pipe')[] = opts.stdio.slice(0, 3);
  for (let fd = 3; fd < 3 + opts.preserveFds; fd++) stdio.push(fd);
  return stdio;
}

function initEnv(syncFd: number, opts: SpawnInitOptions): Record<string, string> {
  const env: Record<string, string> = { _TSOCI_SYNC_FD: String(syncFd) };
  if (opts.logLevel === 'debug') env._TSOCI_LOG_LEVEL = 'debug';
  return env;
}

/** How a started init is reached: its pid, its end, its exit. */
interface Started {
  pid: number;
  sock: Socket;
  exited: Promise<InitExit>;
  kill: (signal: NodeJS.Signals) => void;
  inCgroup: boolean;
  /** Where a spawn failure that node:child_process reports later goes. */
  onError?: (listener: (err: Error) => void) => void;
}

/**
 * tsoci-init through the runtime addon (clone3 with CLONE_VM|CLONE_VFORK:
 * no copy of this process, born in its cgroup2 directory). Null where the
 * addon cannot do it here.
 */
function startNative(opts: SpawnInitOptions): Started | null {
  const fds = initFds(opts).map((e, i) =>
    e === 'ignore' ? -1 : e === 'inherit' ? i : (e as number),
  );
  const env = Object.entries(initEnv(fds.length, opts)).map(([k, v]) => `${k}=${v}`);
  routeExits();
  let s: native.SpawnedInit;
  try {
    s = native.spawnInit({
      path: opts.initPath,
      argv0: 'tsoci-init',
      env,
      fds,
      ...(opts.cgroup === undefined ? {} : { cgroup: opts.cgroup }),
    });
  } catch (err) {
    if (err instanceof native.NativeRuntimeError && err.errno === 'ENOSYS') {
      nativeSpawn = false;
      return null;
    }
    throw new ContainerError(
      ContainerError.INIT_FAILED,
      `cannot start tsoci-init (${opts.initPath}): ${(err as Error).message}`,
      { id: opts.id, cause: err },
    );
  }
  // The report comes from the addon's watcher thread, whose callback does
  // not keep the event loop alive: hold it until the init is reaped, as the
  // child process handle of node:child_process would.
  const release = holdEventLoop();
  const exited = watchedExit(s.token).then((r): InitExit => {
    release();
    return {
      code: r.exitCode,
      signal: r.signal === null ? null : (signalName(r.signal) as NodeJS.Signals),
    };
  });
  return {
    pid: s.pid,
    sock: new Socket({ fd: s.syncFd, readable: true, writable: true }),
    exited,
    kill: (signal) => {
      native.exitWatchKill(s.token, parseSignal(signal));
    },
    inCgroup: s.inCgroup,
  };
}

/** tsoci-init through node:child_process (libuv forks this process). */
function startWithNode(opts: SpawnInitOptions): Started {
  const stdio = initFds(opts);
  const syncFd = stdio.length;
  // libuv creates 'pipe' stdio as a socketpair: a bidirectional stream socket.
  stdio.push('pipe');
  const child: ChildProcess = spawn(opts.initPath, [], {
    stdio,
    env: initEnv(syncFd, opts),
    argv0: 'tsoci-init',
  });
  const exited = new Promise<InitExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const sock = child.stdio[syncFd] as Socket | null;
  if (!sock) throw new Error('spawn did not create the sync socket');
  return {
    pid: child.pid ?? 0,
    sock,
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
    inCgroup: false,
    onError: (listener) => child.once('error', listener),
  };
}

/**
 * One running tsoci-init and its sync socket. Every wait (`next`) also watches
 * the process: if it exits, the pending wait fails instead of hanging.
 */
export class InitChannel {
  private readonly sock: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly queue: InitMessage[] = [];
  private waiter:
    | { resolve: (m: InitMessage | null) => void; reject: (e: Error) => void }
    | undefined;
  private failure: Error | undefined;
  private ended = false;
  private readonly started: Started;
  readonly exited: Promise<InitExit>;

  constructor(opts: SpawnInitOptions) {
    const started = (nativeSpawn ? startNative(opts) : null) ?? startWithNode(opts);
    this.started = started;
    this.exited = started.exited;
    started.onError?.((err) => this.fail(err));
    const sock = started.sock;
    this.sock = sock;
    sock.on('data', (chunk: Buffer) => {
      try {
        for (const m of this.decoder.push(chunk)) this.deliver(m);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    sock.on('end', () => this.end());
    sock.on('close', () => this.end());
    sock.on('error', (err) => this.fail(err));
  }

  /** Whether the init was born in `SpawnInitOptions.cgroup`. */
  get inCgroup(): boolean {
    return this.started.inCgroup;
  }

  /** Signals the init, unless it has exited already. */
  kill(signal: NodeJS.Signals): void {
    this.started.kill(signal);
  }

  get pid(): number {
    return this.started.pid;
  }

  send(msg: ParentMessage): void {
    this.sock.write(encodeFrame(msg));
  }

  /** The next message, or null once init closed the channel (EOF). */
  next(): Promise<InitMessage | null> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private deliver(m: InitMessage): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(m);
    } else this.queue.push(m);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.decoder.pending > 0 && !this.failure) {
      this.failure = new Error(`init closed the channel in the middle of a message`);
    }
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (this.failure) w.reject(this.failure);
      else w.resolve(null);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }
}

/** Turns an init `error` frame into a ContainerError for `id`. */
export function initError(id: string, m: { msg: string; errno: string | null }): ContainerError {
  return new ContainerError(ContainerError.INIT_FAILED, m.msg, { id, errno: m.errno });
}
