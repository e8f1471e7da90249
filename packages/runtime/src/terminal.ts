import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import * as native from './native.js';

/**
 * What `runc run` does for a container with `process.terminal` and no
 * `--console-socket`: receive the pty master on a private console socket and
 * relay it to this process's stdin/stdout, with the local terminal in raw
 * mode. The console socket path is kept short (unix paths are ≤ 107 bytes).
 */
export class TerminalRelay {
  readonly path: string;
  private readonly dir: string;
  private readonly listenFd: number;
  private readonly received: Promise<native.ReceivedFd>;

  private constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, 'c');
    this.listenFd = native.listenUnix(this.path);
    // Pending before create starts: the init sends the master during create.
    this.received = native.acceptRecvFd(this.listenFd, 60_000);
    this.received.catch(() => {});
  }

  static open(): TerminalRelay {
    return new TerminalRelay(mkdtempSync(join(tmpdir(), 'tsoci-tty-')));
  }

  /** Relays until the container side of the pty closes; resolves then. */
  async relay(input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<void> {
    const { fd } = await this.received;
    this.close();
    // One libuv tty handle for both directions (two handles on one fd clash in epoll).
    const master = new ReadStream(fd, { writable: true } as never);
    const raw = input.isTTY === true;
    if (raw) input.setRawMode(true);
    const resize = () => {
      // Resizing needs TIOCSWINSZ on the master, which Node cannot issue: the
      // container keeps the size it was created with (process.consoleSize).
    };
    output.on('resize', resize);
    input.pipe(master as unknown as NodeJS.WritableStream);
    master.pipe(output, { end: false });
    await new Promise<void>((resolve) => {
      master.once('close', resolve);
      // EIO is how a pty master reports that the slave side is gone.
      master.on('error', () => resolve());
    });
    input.unpipe(master as unknown as NodeJS.WritableStream);
    output.off('resize', resize);
    if (raw) input.setRawMode(false);
    input.pause();
    master.destroy();
  }

  close(): void {
    try {
      native.closeFd(this.listenFd);
    } catch {
      // Already closed.
    }
    rmSync(this.dir, { recursive: true, force: true });
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
