import { Duplex } from 'node:stream';
import { ReadStream } from 'node:tty';
import { ContainerError } from './errors.js';
import * as native from './native.js';
import type { StdioStreams } from './stdio.js';

/** A terminal size in character cells. */
export interface TerminalSize {
  columns: number;
  rows: number;
}

/**
 * The pty master of a container (or exec'd process) made with
 * `stdio: 'pty'`, as a duplex stream: what is written is typed into the
 * terminal, what the processes print on it is read. `resize()` changes its
 * size (the processes get SIGWINCH).
 *
 * The stream ends when the last process holding the terminal closes it (the
 * kernel then reports EIO on the master, which ends the stream instead of
 * failing it); the master's fd is closed at that moment, or by `destroy()`.
 */
export class Terminal extends Duplex {
  readonly #handle: ReadStream;
  readonly #fd: number;
  #closed = false;
  #ended = false;
  /** Reading stopped because nobody consumes the stream (backpressure). */
  #paused = false;
  readonly #closedPromise: Promise<void>;
  #markClosed: () => void = () => {};

  /** @internal Takes ownership of `fd`, a pty master. */
  constructor(fd: number) {
    super({ allowHalfOpen: true });
    this.#fd = fd;
    this.#closedPromise = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    // One libuv tty handle for both directions (two handles on one fd clash
    // in epoll). libuv does not reopen a master (only slaves), so it reads
    // and writes this fd, made non-blocking, and closes it with the handle.
    this.#handle = new ReadStream(fd, { writable: true } as never);
    this.#handle.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) {
        this.#paused = true;
        this.#handle.pause();
      }
    });
    this.#handle.on('end', () => this.#end());
    this.#handle.on('error', (err: NodeJS.ErrnoException) => {
      // EIO: every slave fd is closed (the processes are gone).
      if (err.code === 'EIO') this.#end();
      else this.destroy(err);
    });
    this.#handle.on('close', () => this.#end());
  }

  /** The terminal's size as the kernel has it. */
  get size(): TerminalSize {
    this.#checkOpen('read the size of');
    return native.getWindowSize(this.#fd);
  }

  get columns(): number {
    return this.size.columns;
  }

  get rows(): number {
    return this.size.rows;
  }

  /** Whether the master is still open (false once the processes closed the terminal). */
  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Sets the terminal's size (TIOCSWINSZ); the processes on it get SIGWINCH. */
  resize(size: TerminalSize): void {
    if (typeof size !== 'object' || size === null) {
      throw new ContainerError(
        ContainerError.INVALID_PLAN,
        'resize expects { columns, rows } (character cells)',
      );
    }
    this.#checkOpen('resize');
    native.setWindowSize(this.#fd, size.columns, size.rows);
  }

  /** Resolves once the master's fd is closed. */
  whenClosed(): Promise<void> {
    return this.#closedPromise;
  }

  /**
   * @internal Closes the master once the processes are known to be gone:
   * after reading what they left in the pty (until EIO), for at most `ms`;
   * at once when nobody reads the stream (what the kernel still holds is
   * then dropped; what the stream buffered stays readable).
   */
  async closeAfterDrain(ms: number): Promise<void> {
    if (this.#closed) return;
    if (this.#paused) {
      this.#end();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#closedPromise,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
    this.#end();
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new ContainerError(
        ContainerError.BAD_STATE,
        `cannot ${what} the terminal: it is closed (its processes have exited)`,
      );
    }
  }

  #end(): void {
    this.#close();
    if (this.#ended) return;
    this.#ended = true;
    this.push(null);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.destroy();
    this.#markClosed();
  }

  override _read(): void {
    this.#paused = false;
    if (!this.#closed) this.#handle.resume();
  }

  override _write(
    chunk: Buffer,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.#closed) {
      callback(
        new ContainerError(
          ContainerError.BAD_STATE,
          'cannot write to the terminal: it is closed (its processes have exited)',
        ),
      );
      return;
    }
    this.#handle.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // A pty has no end-of-input of its own (a program reads ^D, the VEOF
    // character, as end of file): ending the writable side only stops writes.
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close();
    callback(error);
  }
}

/** A container's (or exec'd process's) stdio when it is a pty: one stream for stdin and stdout. */
export class PtyStdio implements StdioStreams {
  readonly stdin: Terminal;
  readonly stdout: Terminal;
  readonly stderr = null;
  readonly terminal: Terminal;

  constructor(terminal: Terminal) {
    this.terminal = terminal;
    this.stdin = terminal;
    this.stdout = terminal;
  }

  releaseChildEnds(): void {}

  destroy(): void {
    this.terminal.destroy();
  }
}

/** Wraps a received pty master; closes it if that fails. */
export function terminalFromFd(fd: number): Terminal {
  try {
    return new Terminal(fd);
  } catch (err) {
    try {
      native.closeFd(fd);
    } catch {
      // Already closed by the failed constructor.
    }
    throw err;
  }
}
