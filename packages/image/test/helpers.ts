/**
 * Test fixtures, all built at test time: layers from tar-stream (hostile
 * ones included) or GNU tar, compressed with zlib / the zstd CLI, and OCI
 * layouts written by plain code here (independent of the package's store).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { afterAll } from 'vitest';

export const isRoot = process.getuid?.() === 0;

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const tools = {
  skopeo: have('skopeo'),
  umoci: have('umoci'),
  zstd: have('zstd'),
  setfattr: have('setfattr'),
  busybox:
    have('busybox') ||
    (() => {
      try {
        execFileSync('test', ['-x', '/bin/busybox']);
        return true;
      } catch {
        return false;
      }
    })(),
};

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // a leftover mount would be reported by the test that made it
    }
  }
});

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = 'tsoci-image-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

export interface LayerEntry {
  name: string;
  type?: tarStream.Header['type'];
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** A tar archive from a list of entries (written verbatim: hostile names included). */
export async function tarLayer(entries: LayerEntry[], { end = true } = {}): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header: Partial<tarStream.Header> & { name: string; pax?: Record<string, string> } = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
    };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    if (e.devmajor !== undefined) header.devmajor = e.devmajor;
    if (e.devminor !== undefined) header.devminor = e.devminor;
    if (e.pax !== undefined) header.pax = e.pax;
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) => {
      if (content !== undefined)
        pack.entry(header, content, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  const all = Buffer.concat(chunks);
  // Without the end-of-archive marker, as unclosed Go tar writers (`umoci insert`) leave layers.
  return end ? all : all.subarray(0, all.length - 1024);
}

/** A tar of a directory made by GNU tar (numeric owners, xattrs). */
export function tarDir(dir: string): Buffer {
  return execFileSync(
    'tar',
    ['-C', dir, '--numeric-owner', '--xattrs', '--xattrs-include=*', '-cf', '-', '.'],
    { maxBuffer: 1 << 30 },
  );
}

export function gzip(data: Buffer): Buffer {
  return gzipSync(data);
}

export function zstd(data: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A tiny root filesystem around /bin/busybox with /etc/passwd and /etc/group. */
export function busyboxRoot(dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const applet of ['sh', 'ls', 'cat', 'echo', 'true', 'id']) {
    symlinkSync('busybox', join(dir, 'bin', applet));
  }
  writeFileSync(
    join(dir, 'etc/passwd'),
    [
      'root:x:0:0:root:/root:/bin/sh',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
      'bob:x:1001:100::/home/bob:/bin/sh',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'etc/group'),
    [
      'root:x:0:',
      'daemon:x:1:',
      'users:x:100:alice',
      'alice:x:1000:',
      'wheel:x:10:alice,bob',
      'audio:x:29:bob',
      '',
    ].join('\n'),
  );
  return dir;
}

export type Compression = 'none' | 'gzip' | 'zstd';

export const LAYER_MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

export function compress(data: Buffer, c: Compression): Buffer {
  return c === 'gzip' ? gzip(data) : c === 'zstd' ? zstd(data) : data;
}

export interface FixtureImage {
  dir: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
}

export interface FixtureOptions {
  /** ref.name annotation in index.json (default "latest"). */
  name?: string;
  /** Extra fields of the image config's `config` object. */
  config?: Record<string, unknown>;
  architecture?: string;
  os?: string;
  /** Override what the manifest says about a layer (to make broken images). */
  mutateManifest?: (manifest: Record<string, unknown>) => void;
  /** Skip writing some blobs (by layer index) to make a broken image. */
  omitLayers?: number[];
}

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const digest = sha256(data);
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs/sha256', digest.slice(7)), data);
  return { digest, size: Buffer.byteLength(data) };
}

/** Writes an OCI image layout with the given (uncompressed) layers. */
export function writeLayout(
  dir: string,
  layers: { tar: Buffer; compression?: Compression }[],
  options: FixtureOptions = {},
): FixtureImage {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const diffIds = layers.map((l) => sha256(l.tar));
  const layerDescs = layers.map((l, i) => {
    const c = l.compression ?? 'none';
    const data = compress(l.tar, c);
    const digest = sha256(data);
    if (!options.omitLayers?.includes(i)) writeBlob(dir, data);
    return { mediaType: LAYER_MEDIA[c], digest, size: data.length };
  });
  const config = {
    created: '2024-01-02T03:04:05Z',
    architecture: options.architecture ?? 'amd64',
    os: options.os ?? 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], ...options.config },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created_by: 'test' })),
  };
  const configBlob = writeBlob(dir, JSON.stringify(config));
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
    layers: layerDescs,
  };
  options.mutateManifest?.(manifest);
  const manifestBlob = writeBlob(dir, JSON.stringify(manifest));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifestBlob,
        annotations: { 'org.opencontainers.image.ref.name': options.name ?? 'latest' },
      },
    ],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return {
    dir,
    manifestDigest: manifestBlob.digest,
    configDigest: configBlob.digest,
    layerDigests: layerDescs.map((d) => d.digest),
    diffIds,
  };
}

/**
 * The standard multi-layer test image:
 *  0: busybox root (GNU tar), plus /data/{a,b,keep/x}, /opq/{old1,old2/deep}
 *  1: whiteout of /data/a, opaque /opq with a new /opq/new, a new /etc/motd
 *  2: a file replaced by a directory, a hard link to a lower layer's file, a file
 *     in a directory the layer does not list
 */
export async function standardLayers(): Promise<Buffer[]> {
  const base = tempDir();
  busyboxRoot(base);
  mkdirSync(join(base, 'data/keep'), { recursive: true });
  writeFileSync(join(base, 'data/a'), 'a');
  writeFileSync(join(base, 'data/b'), 'b');
  writeFileSync(join(base, 'data/keep/x'), 'x');
  mkdirSync(join(base, 'opq/old2'), { recursive: true });
  writeFileSync(join(base, 'opq/old1'), '1');
  writeFileSync(join(base, 'opq/old2/deep'), 'deep');
  writeFileSync(join(base, 'replace-me'), 'file');
  const l0 = tarDir(base);
  const l1 = await tarLayer([
    { name: 'data/', type: 'directory' },
    { name: 'data/.wh.a', content: '' },
    { name: 'opq/', type: 'directory', mode: 0o750 },
    { name: 'opq/new', content: 'new' },
    // after its sibling, as layer.md allows: must not remove opq/new
    { name: 'opq/.wh..wh..opq', content: '' },
    { name: 'etc/motd', content: 'hello\n', mode: 0o600, uid: 1000, gid: 1000 },
  ]);
  const l2 = await tarLayer([
    { name: 'replace-me/', type: 'directory' },
    { name: 'replace-me/inside', content: 'in' },
    { name: 'etc/motd-link', type: 'link', linkname: 'etc/motd' },
    // no 'tmp/' entry: the implicit parent must keep tmp's 1777 from below (overlay mode)
    { name: 'tmp/newfile', content: 't' },
  ]);
  return [l0, l1, l2];
}
