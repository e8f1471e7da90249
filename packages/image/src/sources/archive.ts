/**
 * Random access to the members of a tar archive file (oci-archive,
 * docker-archive) without extracting it: one pass over the headers builds an
 * index of member → byte range, and members are then streamed straight from
 * the file. A compressed archive (gzip, zstd) is first decompressed, streaming,
 * into a private temporary file that close() removes.
 *
 * Symlinks and hard links between members (skopeo writes legacy
 * `<id>/layer.tar` symlinks) are followed inside the archive only; a link that
 * would leave it is EIMAGE_UNSAFE_PATH.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ImageError } from '../errors.js';
import { decompressor, sniffCompression } from '../media.js';
import type { FileRange } from '../source.js';
import { BLOCK, HeaderDecoder, padded, type TarEntryType } from '../tar/header.js';
import { type Files, MAX_DOCUMENT_SIZE, memberPath, notFound } from './files.js';

interface Member {
  type: TarEntryType;
  offset: number;
  size: number;
  linkname: string;
}

const MAX_LINKS = 40;

export class ArchiveFiles implements Files {
  readonly description: string;
  readonly #file: string;
  readonly #members: Map<string, Member>;
  readonly #tempDir: string | undefined;
  #closed = false;

  private constructor(
    description: string,
    file: string,
    members: Map<string, Member>,
    tempDir?: string,
  ) {
    this.description = description;
    this.#file = file;
    this.#members = members;
    this.#tempDir = tempDir;
  }

  static async open(file: string): Promise<ArchiveFiles> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ImageError('EIMAGE_NOT_FOUND', `archive ${file} not found`);
      }
      throw new ImageError(
        'EIMAGE_IO',
        `cannot open archive ${file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    let compression: ReturnType<typeof sniffCompression>;
    try {
      const head = Buffer.alloc(8);
      await fh.read(head, 0, 8, 0);
      compression = sniffCompression(head);
      if (compression === 'none') {
        return new ArchiveFiles(file, file, await indexArchive(fh, file));
      }
    } finally {
      await fh.close();
    }
    if (compression === 'bzip2' || compression === 'xz') {
      throw new ImageError(
        'EIMAGE_INVALID',
        `archive ${file} is ${compression}-compressed; only gzip and zstd are supported`,
      );
    }
    const tempDir = await fs.mkdtemp(join(tmpdir(), 'tsoci-archive-'));
    try {
      const plain = join(tempDir, 'archive.tar');
      const decoder = decompressor(compression) as NodeJS.ReadWriteStream;
      try {
        await pipeline(createReadStream(file), decoder, createWriteStream(plain, { mode: 0o600 }));
      } catch (error) {
        if (error instanceof ImageError) throw error;
        throw new ImageError(
          'EIMAGE_INVALID',
          `archive ${file}: bad ${compression} data: ${(error as Error).message}`,
          { cause: error },
        );
      }
      const pfh = await fs.open(plain, 'r');
      try {
        return new ArchiveFiles(file, plain, await indexArchive(pfh, file), tempDir);
      } finally {
        await pfh.close();
      }
    } catch (error) {
      await fs.rm(tempDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Member paths (regular files, directories, links), for diagnostics and format detection. */
  has(path: string): boolean {
    try {
      return this.#resolve(path) !== undefined;
    } catch {
      return false;
    }
  }

  #resolve(path: string): Member | undefined {
    let pending = memberPath(path, this.description).split('/');
    let resolved: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const component = pending.shift() as string;
      if (component === '' || component === '.') continue;
      if (component === '..') {
        if (resolved.length === 0) {
          throw new ImageError(
            'EIMAGE_UNSAFE_PATH',
            `${this.description}: a link leaves the archive (${path})`,
          );
        }
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, component].join('/');
      const member = this.#members.get(candidate);
      if (member !== undefined && (member.type === 'symlink' || member.type === 'hardlink')) {
        if (++links > MAX_LINKS) {
          throw new ImageError(
            'EIMAGE_INVALID',
            `${this.description}: too many links resolving ${path}`,
          );
        }
        const target = member.linkname.split('/');
        if (member.type === 'hardlink' || member.linkname.startsWith('/')) {
          // Hard link names are archive-relative; absolute symlinks are taken relative to the archive root.
          resolved = [];
        }
        pending = [...target, ...pending];
        continue;
      }
      resolved.push(component);
    }
    return this.#members.get(resolved.join('/'));
  }

  #file_(path: string): Member {
    const member = this.#resolve(path);
    if (member === undefined || member.type !== 'file') throw notFound(this.description, path);
    return member;
  }

  async size(path: string): Promise<number | undefined> {
    const member = this.#resolve(path);
    return member?.type === 'file' ? member.size : undefined;
  }

  async read(path: string): Promise<Buffer> {
    const member = this.#file_(path);
    if (member.size > MAX_DOCUMENT_SIZE) {
      throw new ImageError(
        'EIMAGE_INVALID',
        `${this.description}: ${path} is too large (${member.size} bytes)`,
      );
    }
    return this.#readRange(member.offset, member.size);
  }

  async head(path: string, n: number): Promise<Buffer> {
    const member = this.#file_(path);
    return this.#readRange(member.offset, Math.min(n, member.size));
  }

  async #readRange(offset: number, length: number): Promise<Buffer> {
    const fh = await fs.open(this.#file, 'r');
    try {
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0)
          throw new ImageError('EIMAGE_INVALID', `${this.description}: archive is truncated`);
        done += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  async open(path: string): Promise<Readable> {
    const member = this.#file_(path);
    if (member.size === 0) {
      const empty = new PassThrough();
      empty.end();
      return empty;
    }
    return createReadStream(this.#file, {
      start: member.offset,
      end: member.offset + member.size - 1,
      highWaterMark: 256 * 1024,
    });
  }

  async range(path: string): Promise<FileRange> {
    const member = this.#file_(path);
    return { path: this.#file, start: member.offset, length: member.size };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tempDir !== undefined) await fs.rm(this.#tempDir, { recursive: true, force: true });
  }
}

/** One pass over the headers: member path → where its content lies. */
async function indexArchive(fh: fs.FileHandle, description: string): Promise<Map<string, Member>> {
  const { size: fileSize } = await fh.stat();
  const members = new Map<string, Member>();
  const decoder = new HeaderDecoder();
  const block = Buffer.alloc(BLOCK);
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > fileSize) {
      throw new ImageError(
        'EIMAGE_INVALID',
        `archive ${description} is truncated or not a tar archive`,
      );
    }
    await fh.read(block, 0, BLOCK, offset);
    offset += BLOCK;
    const result = decoder.header(block);
    if (result.kind === 'end') break;
    if (result.kind === 'meta') {
      if (offset + result.size > fileSize) {
        throw new ImageError('EIMAGE_INVALID', `archive ${description} is truncated`);
      }
      const data = Buffer.alloc(result.size);
      await fh.read(data, 0, result.size, offset);
      decoder.meta(data);
      offset += padded(result.size);
      continue;
    }
    if (result.kind === 'skip') {
      offset += padded(result.size);
      continue;
    }
    const { entry } = result;
    if (offset + entry.size > fileSize) {
      throw new ImageError(
        'EIMAGE_INVALID',
        `archive ${description} is truncated (in ${entry.name})`,
      );
    }
    let name: string;
    try {
      name = memberPath(entry.name, description);
    } catch {
      // A member outside the archive root can never be looked up; skip it.
      offset += padded(entry.size);
      continue;
    }
    members.set(name, { type: entry.type, offset, size: entry.size, linkname: entry.linkname });
    offset += padded(entry.size);
  }
  return members;
}
