import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { ContainerError } from './errors.js';

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
}

/**
 * One running tsoci-init and its sync socket. Every wait (`next`) also watches
 * the process: if it exits, the pending wait fails instead of hanging.
 */
export class InitChannel {
  readonly child: ChildProcess;
  private readonly sock: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly queue: InitMessage[] = [];
  private waiter:
    | { resolve: (m: InitMessage | null) => void; reject: (e: Error) => void }
    | undefined;
  private failure: Error | undefined;
  private ended = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(opts: SpawnInitOptions) {
    const stdio: (StdioEntry | 'pipe')[] = opts.stdio.slice(0, 3);
    for (let fd = 3; fd < 3 + opts.preserveFds; fd++) stdio.push(fd);
    const syncFd = stdio.length;
    // libuv creates 'pipe' stdio as a socketpair: a bidirectional stream socket.
    stdio.push('pipe');
    const env: NodeJS.ProcessEnv = { _TSOCI_SYNC_FD: String(syncFd) };
    if (opts.logLevel === 'debug') env._TSOCI_LOG_LEVEL = 'debug';
    this.child = spawn(opts.initPath, [], { stdio, env, argv0: 'tsoci-init' });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.child.once('error', (err) => this.fail(err));
    const sock = this.child.stdio[syncFd] as Socket | null;
    if (!sock) throw new Error('spawn did not create the sync socket');
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

  get pid(): number {
    return this.child.pid ?? 0;
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
