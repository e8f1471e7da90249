/** Small file-system helpers for the store: atomic writes, a lock file, random names. */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsync as fsyncCallback,
  lstatSync,
  openSync,
  renameSync,
  rmSync,
  writeFileSync,
  writevSync,
} from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { ImageError } from '../errors.js';
import { BufferReclaimer } from '../reclaim.js';

export function randomName(prefix: string): string {
  return `${prefix}${randomBytes(8).toString('hex')}`;
}

/**
 * Replaces `path` with `data` so that other processes see the old content or
 * the new, never a part (a temporary file, renamed), synchronously and
 * without fsync: for records that matter only while something that does not
 * survive a crash either (a mount) exists.
 */
export function replaceFileSync(path: string, data: string, mode = 0o644): void {
  const temp = join(dirname(path), randomName(`.tmp-`));
  try {
    writeFileSync(temp, data, { flag: 'wx', mode });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  const temp = join(dirname(path), randomName(`.tmp-`));
  const fh = await fs.open(temp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (error) {
    await fh.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fh.close();
  try {
    await fs.rename(temp, path);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/**
 * A new file (O_EXCL) written with synchronous writev calls, fsynced (on the
 * thread pool) before it finishes. Blob content arrives in many 16–64 KiB
 * chunks; writing them into the page cache takes microseconds, less than a
 * thread-pool round trip per chunk (what fs.WriteStream does), and queued
 * chunks go out in one writev.
 */
export class SyncFileSink extends Writable {
  readonly path: string;
  #fd: number | undefined;
  readonly #reclaimer = new BufferReclaimer();

  constructor(path: string, mode = 0o644) {
    super({ highWaterMark: 256 * 1024 });
    this.path = path;
    this.#fd = openSync(path, 'wx', mode);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error | null) => void) {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (e?: Error | null) => void): void {
    try {
      let buffers = chunks.map((c) => c.chunk);
      let left = buffers.reduce((n, b) => n + b.length, 0);
      while (left > 0) {
        let n = writevSync(this.#fd as number, buffers);
        left -= n;
        if (left === 0) break;
        // A short write: drop what went out and go on with the rest.
        while (n > 0 && buffers.length > 0) {
          const first = buffers[0] as Buffer;
          if (n >= first.length) {
            n -= first.length;
            buffers = buffers.slice(1);
          } else {
            buffers = [first.subarray(n), ...buffers.slice(1)];
            n = 0;
          }
        }
      }
      // The chunks written so far (socket reads) are dead: free them early.
      this.#reclaimer.add(chunks.reduce((n, c) => n + c.chunk.length, 0));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _final(callback: (e?: Error | null) => void): void {
    fsyncCallback(this.#fd as number, (error) => callback(error));
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void): void {
    if (this.#fd !== undefined) {
      try {
        closeSync(this.#fd);
      } catch {
        // closed already
      }
      this.#fd = undefined;
    }
    callback(error);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding our
 * pid). A lock whose holder is dead is taken over. Waits up to `timeoutMs`.
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await fs.open(path, 'wx', 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = Number.NaN;
    try {
      holder = Number((await fs.readFile(path, 'utf8')).trim());
    } catch {
      // released meanwhile, or being written: retry
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      await fs.rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ImageError(
        'EIMAGE_IO',
        `timed out waiting for the lock ${path} (held by pid ${holder})`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(path, { force: true });
  }
}

/** `exists` without the thread pool, for the few checks on a hot path. */
export function existsNow(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Whether `path` exists (lstat). */
export async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first error after all settle. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed.error;
  return results;
}
