import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import * as native from './native.js';

/**
 * A private console socket (runc's `--console-socket` protocol): a listening
 * unix socket in a fresh temporary directory (the path stays far below the
 * 107-byte limit), on which the container init sends the pty master.
 *
 * The init connects and sends the master during create (or exec) without
 * waiting to be accepted (a unix stream connection queues until accepted),
 * so `receive()` may be called after create returns: then no libuv pool
 * thread waits through the whole create.
 */
export class ConsoleSocket {
  readonly path: string;
  private readonly dir: string;
  private readonly listenFd: number;
  private pending: Promise<unknown> | undefined;
  private closed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, 'c');
    try {
      this.listenFd = native.listenUnix(this.path);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  static open(): ConsoleSocket {
    return new ConsoleSocket(mkdtempSync(join(tmpdir(), 'tsoci-tty-')));
  }

  /** Accepts one connection and receives the fd it carries (the pty master, now ours). */
  receive(timeoutMs: number): Promise<native.ReceivedFd> {
    const received = native.acceptRecvFd(this.listenFd, timeoutMs);
    this.pending = received.catch(() => {});
    return received;
  }

  /** Removes the socket; its fd is closed once no accept is pending on it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    rmSync(this.dir, { recursive: true, force: true });
    const closeListener = () => {
      try {
        native.closeFd(this.listenFd);
      } catch {
        // Already closed.
      }
    };
    // Closing it under a pending accept could hand its number to another
    // open() while the accept still uses it.
    if (this.pending) void this.pending.then(closeListener);
    else closeListener();
  }
}

/**
 * What `runc run` does for a container with `process.terminal` and no
 * `--console-socket`: receive the pty master on a private console socket and
 * relay it to this process's stdin/stdout, with the local terminal in raw
 * mode; a resize of the local terminal is passed on (TIOCSWINSZ).
 */
export class TerminalRelay {
  private readonly socket: ConsoleSocket;
  private readonly received: Promise<native.ReceivedFd>;

  private constructor() {
    this.socket = ConsoleSocket.open();
    // Pending before create starts (a foreground run has nothing else to do).
    this.received = this.socket.receive(60_000);
    this.received.catch(() => {});
  }

  get path(): string {
    return this.socket.path;
  }

  static open(): TerminalRelay {
    return new TerminalRelay();
  }

  /** Relays until the container side of the pty closes; resolves then. */
  async relay(input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<void> {
    const { fd } = await this.received;
    this.close();
    // One libuv tty handle for both directions (two handles on one fd clash in epoll).
    const master = new ReadStream(fd, { writable: true } as never);
    const raw = input.isTTY === true;
    if (raw) input.setRawMode(true);
    let open = true;
    const resize = () => {
      if (!open || !output.columns || !output.rows) return;
      try {
        native.setWindowSize(fd, output.columns, output.rows);
      } catch {
        // The pty is going away.
      }
    };
    output.on('resize', resize);
    input.pipe(master as unknown as NodeJS.WritableStream);
    master.pipe(output, { end: false });
    await new Promise<void>((resolve) => {
      master.once('close', resolve);
      // EIO is how a pty master reports that the slave side is gone.
      master.on('error', () => resolve());
    });
    open = false;
    input.unpipe(master as unknown as NodeJS.WritableStream);
    output.off('resize', resize);
    if (raw) input.setRawMode(false);
    input.pause();
    master.destroy();
  }

  close(): void {
    this.socket.close();
  }
}

/** Whether the bundle's config asks for a terminal (a cheap peek; create validates properly). */
export function bundleWantsTerminal(bundleDir: string): boolean {
  try {
    const cfg = JSON.parse(readFileSync(join(bundleDir, 'config.json'), 'utf8')) as {
      process?: { terminal?: unknown };
    };
    return cfg.process?.terminal === true;
  } catch {
    return false;
  }
}
