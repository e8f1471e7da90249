/**
 * Layer media types (layer.md, plus Docker's) and their decompression.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import {
  Duplex,
  type Readable,
  Transform,
  type TransformCallback,
  type Writable,
} from 'node:stream';
import * as zlib from 'node:zlib';
import { DOCKER_MEDIA_TYPES, OCI_MEDIA_TYPES } from '@ts-oci/spec';
import { Decompress as ZstdDecompress } from 'fzstd';
import { ImageError } from './errors.js';

export type Compression = 'none' | 'gzip' | 'zstd';

const LAYER_TYPES: ReadonlyMap<string, Compression> = new Map<string, Compression>([
  [OCI_MEDIA_TYPES.layer, 'none'],
  [OCI_MEDIA_TYPES.layerGzip, 'gzip'],
  [OCI_MEDIA_TYPES.layerZstd, 'zstd'],
  [OCI_MEDIA_TYPES.layerNondistributable, 'none'],
  [OCI_MEDIA_TYPES.layerNondistributableGzip, 'gzip'],
  [OCI_MEDIA_TYPES.layerNondistributableZstd, 'zstd'],
  [DOCKER_MEDIA_TYPES.layerTar, 'none'],
  [DOCKER_MEDIA_TYPES.layerGzip, 'gzip'],
  [DOCKER_MEDIA_TYPES.layerForeignGzip, 'gzip'],
  // Docker's zstd layers (moby 23+) use the OCI zstd type; some tools write this one.
  ['application/vnd.docker.image.rootfs.diff.tar.zstd', 'zstd'],
]);

/** The layer media types this package can unpack. */
export const LAYER_MEDIA_TYPES: readonly string[] = [...LAYER_TYPES.keys()];

/** The compression of a layer media type; EIMAGE_MEDIA_TYPE for anything that is not a layer we can apply. */
export function layerCompression(mediaType: string, what = 'layer'): Compression {
  const c = LAYER_TYPES.get(mediaType);
  if (c === undefined) {
    throw new ImageError(
      'EIMAGE_MEDIA_TYPE',
      `${what} has unsupported media type ${JSON.stringify(mediaType)} (supported: tar, tar+gzip, tar+zstd)`,
    );
  }
  return c;
}

/** Compression recognised from the first bytes of a stream. */
export function sniffCompression(head: Uint8Array): Compression | 'bzip2' | 'xz' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) return 'xz';
  return 'none';
}

type NodeZstd = { createZstdDecompress?: () => Transform };

/**
 * zstd decompression: node:zlib's native decoder where Node has it
 * (≥ 22.15 / 23.8), else fzstd (pure JS, streaming).
 */
class FzstdTransform extends Transform {
  #decoder: ZstdDecompress;
  #out: Buffer[] = [];

  constructor() {
    super();
    this.#decoder = new ZstdDecompress((data) => {
      // fzstd may reuse its window buffer: copy what it hands out.
      this.#out.push(Buffer.from(data));
    });
  }

  #drain(): void {
    for (const b of this.#out) this.push(b);
    this.#out = [];
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#decoder.push(chunk);
    } catch (error) {
      callback(zstdError(error));
      return;
    }
    this.#drain();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#decoder.push(new Uint8Array(0), true);
    } catch (error) {
      callback(zstdError(error));
      return;
    }
    this.#drain();
    callback();
  }
}

function zstdError(error: unknown): ImageError {
  const message = error instanceof Error ? error.message : String(error);
  return new ImageError('EIMAGE_INVALID', `invalid zstd data: ${message}`, { cause: error });
}

/**
 * The `zstd` program as a decompressing stream: C speed on another core.
 * Its exit status is awaited before the stream ends, so corrupt or
 * truncated input fails the pipeline instead of ending it early.
 */
class ZstdProcess extends Duplex {
  #child: ChildProcessByStdio<Writable, Readable, Readable>;
  #stderr = '';
  #stdoutEnded = false;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor() {
    super({ readableHighWaterMark: 1024 * 1024, writableHighWaterMark: 256 * 1024 });
    this.#child = spawn(zstdPath() as string, ['-d', '-c', '-q', '--no-progress'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (d: string) => {
      if (this.#stderr.length < 4096) this.#stderr += d;
    });
    this.#child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.#child.stdout.pause();
    });
    this.#child.stdout.on('end', () => {
      this.#stdoutEnded = true;
      this.#maybeEnd();
    });
    this.#child.stdin.on('error', () => {
      // zstd stopped reading (bad input): its exit status reports it
    });
    this.#child.on('error', (error) => this.destroy(error));
    this.#child.on('close', (code, signal) => {
      this.#exit = { code, signal };
      this.#maybeEnd();
    });
  }

  #maybeEnd(): void {
    if (!this.#stdoutEnded || this.#exit === undefined) return;
    if (this.#exit.code === 0) this.push(null);
    else {
      this.destroy(
        new ImageError(
          'EIMAGE_INVALID',
          `invalid zstd data: ${this.#stderr.trim() || `zstd exited with ${this.#exit.code ?? this.#exit.signal}`}`,
        ),
      );
    }
  }

  override _read(): void {
    this.#child.stdout.resume();
  }

  override _write(
    chunk: Buffer,
    _e: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    // Call back only once the pipe has taken the bytes (callers may reuse the
    // buffer). A write error means zstd quit: its exit status says why.
    this.#child.stdin.write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#child.stdin.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#exit === undefined) this.#child.kill('SIGKILL');
    callback(error);
  }
}

let zstdLookup: { path: string | undefined } | undefined;

/** Where the zstd program is, if anywhere on PATH (looked up once, on first use). */
function zstdPath(): string | undefined {
  if (zstdLookup === undefined) {
    zstdLookup = { path: undefined };
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      if (dir === '') continue;
      const candidate = `${dir}/zstd`;
      try {
        accessSync(candidate, fsConstants.X_OK);
        zstdLookup.path = candidate;
        break;
      } catch {
        // not here
      }
    }
  }
  return zstdLookup.path;
}

/**
 * Which zstd decoder `decompressor('zstd')` uses: node:zlib's native one
 * (Node ≥ 22.15 / 23.8), else the `zstd` program, else fzstd (pure JS,
 * several times slower).
 */
export function zstdDecoder(): 'zlib' | 'zstd-cli' | 'fzstd' {
  if ((zlib as unknown as NodeZstd).createZstdDecompress !== undefined) return 'zlib';
  return zstdPath() !== undefined ? 'zstd-cli' : 'fzstd';
}

/** A decompressing stream for `compression`, or undefined for 'none'. */
export function decompressor(compression: Compression, zstd = zstdDecoder()): Duplex | undefined {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd': {
      const native = (zlib as unknown as NodeZstd).createZstdDecompress;
      if (zstd === 'zlib' && native !== undefined) return native();
      if (zstd === 'zstd-cli' && zstdPath() !== undefined) return new ZstdProcess();
      return new FzstdTransform();
    }
  }
}
