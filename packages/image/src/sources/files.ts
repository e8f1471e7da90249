/**
 * Read access to the files of an image container, whatever holds them: a
 * directory (an OCI layout) or a tar archive (oci-archive, docker-archive).
 * Paths are relative, '/'-separated, and never leave the container.
 */
import { createReadStream, open as openCallback, readFileSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ImageError } from '../errors.js';
import type { FileRange } from '../source.js';

const openFd = promisify(openCallback);

/** Documents (index.json, manifests, configs) larger than this are refused. */
export const MAX_DOCUMENT_SIZE = 32 * 1024 * 1024;

export interface Files {
  /** Names the container in messages. */
  readonly description: string;
  /** Size in bytes, or undefined when there is no such file. */
  size(path: string): Promise<number | undefined>;
  /** The whole file (small documents only; EIMAGE_INVALID beyond `MAX_DOCUMENT_SIZE`). */
  read(path: string): Promise<Buffer>;
  /** The first `n` bytes (fewer if the file is shorter). */
  head(path: string, n: number): Promise<Buffer>;
  open(path: string): Promise<Readable>;
  /** Where the file's bytes lie on disk (EIMAGE_NOT_FOUND when missing). */
  range(path: string): Promise<FileRange>;
  close(): Promise<void>;
}

/** Normalises a relative member path; EIMAGE_UNSAFE_PATH when it would leave the root. */
export function memberPath(path: string, what: string): string {
  const normalized = posix.normalize(path.replace(/^\/+/, ''));
  if (normalized === '..' || normalized.startsWith('../') || normalized === '.') {
    throw new ImageError(
      'EIMAGE_UNSAFE_PATH',
      `${what}: path ${JSON.stringify(path)} leaves the image`,
    );
  }
  return normalized.replace(/\/+$/, '');
}

export function notFound(what: string, path: string): ImageError {
  return new ImageError('EIMAGE_NOT_FOUND', `${what}: ${path} not found`);
}

/** The files of a directory. */
export class DirFiles implements Files {
  readonly description: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.description = dir;
  }

  #path(path: string): string {
    return posix.join(this.#dir, memberPath(path, this.#dir));
  }

  // size() and read() serve documents (oci-layout, index.json, manifests,
  // configs: a few KB): synchronous calls cost less than the thread-pool
  // round trips around them. Layers are streamed (open, range).
  async size(path: string): Promise<number | undefined> {
    try {
      const st = statSync(this.#path(path));
      return st.isFile() ? st.size : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async read(path: string): Promise<Buffer> {
    const size = await this.size(path);
    if (size === undefined) throw notFound(this.description, path);
    if (size > MAX_DOCUMENT_SIZE) {
      throw new ImageError(
        'EIMAGE_INVALID',
        `${this.description}: ${path} is too large (${size} bytes)`,
      );
    }
    return readFileSync(this.#path(path));
  }

  async head(path: string, n: number): Promise<Buffer> {
    const fh = await this.#openHandle(path);
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async #openHandle(path: string): Promise<fs.FileHandle> {
    try {
      return await fs.open(this.#path(path), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw notFound(this.description, path);
      throw error;
    }
  }

  async open(path: string): Promise<Readable> {
    let fd: number;
    try {
      fd = await openFd(this.#path(path), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw notFound(this.description, path);
      throw error;
    }
    // The callback API reads faster than FileHandle streams; the stream owns (and closes) the fd.
    return createReadStream('', { fd, highWaterMark: 1024 * 1024 });
  }

  async range(path: string): Promise<FileRange> {
    const size = await this.size(path);
    if (size === undefined) throw notFound(this.description, path);
    return { path: this.#path(path), start: 0, length: size };
  }

  async close(): Promise<void> {}
}
