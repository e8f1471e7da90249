/**
 * The store: imports verified blob by blob, is a valid OCI layout that skopeo
 * and umoci read, and leaves nothing half-written on bad input.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openImageSource } from '../src/sources/open.js';
import { existsNow, replaceFileSync } from '../src/store/fsutil.js';
import { ImageStore } from '../src/store/store.js';
import { isRoot, standardLayers, tarLayer, tempDir, tools, writeLayout } from './helpers.js';

function blobs(store: string): string[] {
  const dir = join(store, 'blobs/sha256');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

function ingest(store: string): string[] {
  const dir = join(store, 'tsoci/ingest');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** gzip and plain layers: umoci 0.4.7 predates zstd layers. */
async function standardImage() {
  const [l0, l1, l2] = await standardLayers();
  return writeLayout(tempDir(), [
    { tar: l0 as Buffer, compression: 'gzip' },
    { tar: l1 as Buffer, compression: 'gzip' },
    { tar: l2 as Buffer },
  ]);
}

describe('ImageStore', () => {
  it('imports, lists, resolves and stays an OCI layout skopeo and umoci read', async () => {
    const fx = await standardImage();
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    const result = await store.import(`oci:${fx.dir}:latest`, 'example.com/test:v1');
    expect(result.stored).toBe(5);
    expect(result.descriptor.digest).toBe(fx.manifestDigest);
    expect(result.descriptor.platform).toMatchObject({ os: 'linux', architecture: 'amd64' });
    expect(blobs(dir)).toEqual(
      [fx.manifestDigest, fx.configDigest, ...fx.layerDigests].map((d) => d.slice(7)).sort(),
    );
    expect((await store.list()).map((i) => i.name)).toEqual(['example.com/test:v1']);
    const again = await store.import(`oci:${fx.dir}:latest`, 'example.com/test:v1');
    expect([again.stored, again.present]).toEqual([0, 5]);
    expect(await store.list()).toHaveLength(1);
    const resolved = await store.resolve('example.com/test:v1');
    expect(resolved.config.rootfs.diff_ids).toEqual(fx.diffIds);
    expect((await store.resolve(fx.manifestDigest)).manifestDescriptor.digest).toBe(
      fx.manifestDigest,
    );
    // the store itself is an image source for the oci: transport
    const viaLayout = await openImageSource(`oci:${dir}:example.com/test:v1`);
    expect((await viaLayout.resolve()).manifestDescriptor.digest).toBe(fx.manifestDigest);

    if (tools.skopeo) {
      const inspect = JSON.parse(
        execFileSync('skopeo', ['inspect', `oci:${dir}:example.com/test:v1`]).toString(),
      ) as { Layers: string[]; Architecture: string };
      expect(inspect.Layers).toEqual(fx.layerDigests);
      expect(inspect.Architecture).toBe('amd64');
      const copy = join(tempDir(), 'copy.tar');
      execFileSync(
        'skopeo',
        ['--insecure-policy', 'copy', `oci:${dir}:example.com/test:v1`, `oci-archive:${copy}`],
        {
          stdio: 'ignore',
        },
      );
      expect(existsSync(copy)).toBe(true);
    }
    if (tools.umoci && isRoot) {
      // umoci applies the layers (whiteouts included) from our store.
      const bundle = join(tempDir(), 'umoci-bundle');
      execFileSync('umoci', ['unpack', '--image', `${dir}:example.com/test:v1`, bundle], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const rootfs = join(bundle, 'rootfs');
      expect(existsSync(join(rootfs, 'bin/busybox'))).toBe(true);
      expect(existsSync(join(rootfs, 'data/a'))).toBe(false);
      expect(readdirSync(join(rootfs, 'opq'))).toEqual(['new']);
      expect(readFileSync(join(rootfs, 'etc/motd-link'), 'utf8')).toBe('hello\n');
    }
  });

  it('keeps the layout tools write readable after they add to it', async () => {
    if (!tools.umoci) return;
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    const fx = writeLayout(tempDir(), [
      { tar: await tarLayer([{ name: 'hello', content: 'hi' }]) },
    ]);
    await store.import(`oci:${fx.dir}`, 'mine');
    // umoci adds a tag to our store; we read it back
    execFileSync('umoci', ['tag', '--image', `${dir}:mine`, 'theirs']);
    expect((await store.list()).map((i) => i.name).sort()).toEqual(['mine', 'theirs']);
    expect((await store.resolve('theirs')).manifestDescriptor.digest).toBe(fx.manifestDigest);
  });

  it('leaves no blob behind when a layer does not match its digest', async () => {
    const layer = await tarLayer([{ name: 'f', content: 'original content' }]);
    const fx = writeLayout(tempDir(), [{ tar: layer }]);
    const blob = join(fx.dir, 'blobs/sha256', (fx.layerDigests[0] as string).slice(7));
    // same size, different bytes
    writeFileSync(
      blob,
      readFileSync(blob).toString('latin1').replace('original', 'tampered'),
      'latin1',
    );
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    await expect(store.import(`oci:${fx.dir}`, 'bad')).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
      message: /digest mismatch/,
    });
    expect(blobs(dir)).toEqual([]);
    expect(ingest(dir)).toEqual([]);
    expect(await store.list()).toEqual([]);
    // a blob shorter than its descriptor says
    writeFileSync(blob, readFileSync(blob).subarray(0, 700));
    await expect(store.import(`oci:${fx.dir}`, 'bad')).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
      message: /size mismatch/,
    });
    expect(blobs(dir)).toEqual([]);
    expect(ingest(dir)).toEqual([]);
  });

  it('creates no store for an image that cannot be resolved', async () => {
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    await expect(store.import(`oci:${join(dir, '..', 'none')}:v1`, 'x')).rejects.toMatchObject({
      message: /not an OCI image layout/,
    });
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses unknown media types and missing blobs before naming anything', async () => {
    const layer = await tarLayer([{ name: 'f', content: 'f' }]);
    const weird = writeLayout(tempDir(), [{ tar: layer }], {
      mutateManifest: (m) => {
        (m.layers as { mediaType: string }[])[0] = {
          ...((m.layers as object[])[0] as object),
          mediaType: 'application/x-unknown',
        };
      },
    });
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    await expect(store.import(`oci:${weird.dir}`, 'weird')).rejects.toMatchObject({
      code: 'EIMAGE_MEDIA_TYPE',
    });
    expect(blobs(dir)).toEqual([]);
    const missing = writeLayout(
      tempDir(),
      [{ tar: layer }, { tar: await tarLayer([{ name: 'g', content: 'g' }]) }],
      {
        omitLayers: [1],
      },
    );
    await expect(store.import(`oci:${missing.dir}`, 'missing')).rejects.toMatchObject({
      code: 'EIMAGE_NOT_FOUND',
    });
    expect(await store.list()).toEqual([]);
    await expect(store.import(`oci:${missing.dir}`, 'bad name!')).rejects.toMatchObject({
      code: 'EIMAGE_REFERENCE',
    });
  });

  it('removes names and collects what no image uses any more', async () => {
    const shared = await tarLayer([{ name: 'base', content: 'base' }]);
    const a = writeLayout(tempDir(), [
      { tar: shared },
      { tar: await tarLayer([{ name: 'a', content: 'a' }]) },
    ]);
    const b = writeLayout(tempDir(), [
      { tar: shared },
      { tar: await tarLayer([{ name: 'b', content: 'b' }]) },
    ]);
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    await store.import(`oci:${a.dir}`, 'a');
    const rb = await store.import(`oci:${b.dir}`, 'b');
    expect(rb.present).toBe(1); // the shared base layer
    expect(await store.remove('a')).toBe(true);
    expect(await store.remove('a')).toBe(false);
    const gc = await store.gc({ graceMs: 0 });
    expect(gc.removedBlobs.sort()).toEqual(
      [a.manifestDigest, a.configDigest, a.layerDigests[1]].sort(),
    );
    expect(blobs(dir)).toContain((a.layerDigests[0] as string).slice(7));
    expect((await store.resolve('b')).layers).toHaveLength(2);
    // the default grace period keeps young unreferenced blobs
    await store.remove('b');
    expect((await store.gc()).removedBlobs).toEqual([]);
    expect((await store.gc({ graceMs: 0 })).removedBlobs).toHaveLength(4);
    expect(blobs(dir)).toEqual([]);
  });

  it('imports from docker-archives into an OCI layout umoci can unpack', async () => {
    if (!tools.skopeo || !tools.umoci || !isRoot) return;
    const fx = writeLayout(tempDir(), [
      { tar: await tarLayer([{ name: 'etc/hostname', content: 'docker' }]) },
    ]);
    const archive = join(tempDir(), 'd.tar');
    execFileSync(
      'skopeo',
      ['--insecure-policy', 'copy', `oci:${fx.dir}:latest`, `docker-archive:${archive}:img:1`],
      {
        stdio: 'ignore',
      },
    );
    const dir = join(tempDir(), 'store');
    const store = new ImageStore(dir);
    const r = await store.import(`docker-archive:${archive}:img:1`, 'img:1');
    expect(r.image.manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const bundle = join(tempDir(), 'b');
    execFileSync('umoci', ['unpack', '--image', `${dir}:img:1`, bundle], { stdio: 'ignore' });
    expect(readFileSync(join(bundle, 'rootfs/etc/hostname'), 'utf8')).toBe('docker');
  });
});

describe('existsNow', () => {
  it('is false only for a missing path; other errors are thrown', () => {
    const dir = tempDir();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    expect(existsNow(file)).toBe(true);
    expect(existsNow(join(dir, 'missing'))).toBe(false);
    // A path through a regular file is ENOTDIR, not "missing".
    expect(() => existsNow(join(file, 'below'))).toThrow(
      expect.objectContaining({ code: 'ENOTDIR' }),
    );
  });
});

describe('replaceFileSync', () => {
  it('creates or replaces a file whole and leaves no temporary file, also when it fails', () => {
    const dir = tempDir();
    const file = join(dir, 'record.json');
    replaceFileSync(file, 'first');
    replaceFileSync(file, 'second');
    expect(readFileSync(file, 'utf8')).toBe('second');
    expect(readdirSync(dir)).toEqual(['record.json']);
    // A directory in the way: the rename fails, the temporary file goes.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'inside'), { recursive: true });
    expect(() => replaceFileSync(blocked, 'x')).toThrow(
      expect.objectContaining({ code: 'EISDIR' }),
    );
    expect(readdirSync(dir).sort()).toEqual(['blocked', 'record.json']);
  });
});
