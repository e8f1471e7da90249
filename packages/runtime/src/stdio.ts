import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { ContainerError } from './errors.js';
import * as native from './native.js';
import type { StdioFds } from './runtime.js';

/**
 * One of a container's fds 0-2: `'pipe'` (a Node stream on this side),
 * `'inherit'` (this process's own fd), `'ignore'` (/dev/null), or an fd of
 * this process, passed untouched.
 */
export type StdioEntry = 'pipe' | 'inherit' | 'ignore' | number;

/** One entry for all three fds, or one each for stdin, stdout, stderr. */
export type StdioOption = StdioEntry | readonly [StdioEntry, StdioEntry, StdioEntry];

export interface StdioStreams {
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
}

/**
 * The container's ends of its stdio, ready for `create`/`exec`, and the
 * streams on this side. The container's pipe ends stay open here only until
 * the init has them (`releaseChildEnds`): a copy kept here would hide the
 * container's EOF from its own readers.
 */
export class StdioSetup implements StdioStreams {
  readonly fds: StdioFds;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  private childEnds: number[] = [];

  constructor(option: StdioOption = 'inherit', what = 'stdio') {
    const entries = typeof option === 'object' ? option : ([option, option, option] as const);
    if (!Array.isArray(entries) || entries.length !== 3) {
      throw new ContainerError(
        ContainerError.INVALID_PLAN,
        `invalid ${what}: expected 'pipe', 'inherit', 'ignore', an fd, or three of those`,
      );
    }
    const fds: (number | 'ignore')[] = [];
    try {
      entries.forEach((entry, i) => {
        fds.push(this.open(entry, i, what));
      });
    } catch (err) {
      this.destroy();
      throw err;
    }
    this.fds = [fds[0] ?? 'ignore', fds[1] ?? 'ignore', fds[2] ?? 'ignore'];
  }

  private open(entry: StdioEntry, i: number, what: string): number | 'ignore' {
    if (entry === 'inherit') return i;
    if (entry === 'ignore') return 'ignore';
    if (typeof entry === 'number' && Number.isInteger(entry) && entry >= 0) return entry;
    if (entry !== 'pipe') {
      throw new ContainerError(
        ContainerError.INVALID_PLAN,
        `invalid ${what}[${i}] ${JSON.stringify(entry)}: expected 'pipe', 'inherit', 'ignore' or an fd`,
      );
    }
    const [readEnd, writeEnd] = native.makePipe();
    if (i === 0) {
      this.childEnds.push(readEnd);
      // libuv makes only this process's end non-blocking: a pipe's two ends
      // are separate open files, so the container's end stays blocking.
      this.stdin = new Socket({ fd: writeEnd, readable: false, writable: true });
      return readEnd;
    }
    this.childEnds.push(writeEnd);
    const stream = new Socket({ fd: readEnd, readable: true, writable: false });
    if (i === 1) this.stdout = stream;
    else this.stderr = stream;
    return writeEnd;
  }

  /** Closes this process's copies of the container's ends (after the init was spawned). */
  releaseChildEnds(): void {
    for (const fd of this.childEnds.splice(0)) {
      try {
        native.closeFd(fd);
      } catch {
        // Already closed: nothing to release.
      }
    }
  }

  /** Closes everything: after a failed create, or when the container is disposed of. */
  destroy(): void {
    this.releaseChildEnds();
    this.stdin?.destroy();
    this.stdout?.destroy();
    this.stderr?.destroy();
  }
}
