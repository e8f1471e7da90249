/** Whole-image unpacking: verified layers in order, nothing half-written on failure. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageSource } from '../src/source.js';
import { openImageSource } from '../src/sources/open.js';
import { ImageStore } from '../src/store/store.js';
import { unpackImage } from '../src/unpack/unpack.js';
import {
  gzip,
  isRoot,
  sha256,
  standardLayers,
  tarLayer,
  tempDir,
  tools,
  writeLayout,
} from './helpers.js';

/** Every path under `dir` with its type, for comparing trees. */
function tree(dir: string): string[] {
  return execFileSync('find', ['.', '-printf', '%p %y %m\\n'], { cwd: dir })
    .toString()
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('. '))
    .sort();
}

/** The source without its local-file shortcut: blobs arrive as plain streams (as from a registry). */
function streamOnly(source: ImageSource): ImageSource {
  return {
    reference: source.reference,
    resolve: (p) => source.resolve(p),
    openBlob: (d) => source.openBlob(d),
    close: () => source.close(),
  };
}

describe('unpackImage', () => {
  it('unpacks gzip, zstd and plain layers from a store and from a source alike', async () => {
    const [l0, l1, l2] = await standardLayers();
    const fx = writeLayout(tempDir(), [
      { tar: l0 as Buffer, compression: 'gzip' },
      { tar: l1 as Buffer, compression: 'zstd' },
      { tar: l2 as Buffer },
    ]);
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(`oci:${fx.dir}`, 'img');
    const a = join(tempDir(), 'from-store');
    const result = await unpackImage(store, 'img', a);
    expect(result.layers).toHaveLength(3);
    expect(result.layers[1]?.whiteouts).toBe(2);
    const source = await openImageSource(`oci:${fx.dir}:latest`);
    const b = join(tempDir(), 'from-source');
    await unpackImage(source, undefined, b);
    await source.close();
    expect(tree(a)).toEqual(tree(b));
    expect(existsSync(join(a, 'data/a'))).toBe(false);
    expect(readdirSync(join(a, 'opq'))).toEqual(['new']);
    if (isRoot) {
      expect(execFileSync('chroot', [a, '/bin/sh', '-c', 'echo $((6*7))']).toString()).toBe('42\n');
    }
  });

  it('verifies streamed blobs as strictly as local files', async () => {
    const [l0, l1] = await standardLayers();
    const fx = writeLayout(tempDir(), [
      { tar: l0 as Buffer, compression: 'zstd' },
      { tar: l1 as Buffer, compression: 'gzip' },
    ]);
    const viaFile = join(tempDir(), 'file');
    await unpackImage(await openImageSource(`oci:${fx.dir}`), undefined, viaFile);
    const viaStream = join(tempDir(), 'stream');
    await unpackImage(streamOnly(await openImageSource(`oci:${fx.dir}`)), undefined, viaStream);
    expect(tree(viaStream)).toEqual(tree(viaFile));
    // flip one byte in the middle of the gzip layer: the digest check fails, the rootfs goes
    const blob = join(fx.dir, 'blobs/sha256', (fx.layerDigests[1] as string).slice(7));
    const bytes = readFileSync(blob);
    const mid = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(mid) ^ 0xff, mid);
    writeFileSync(blob, bytes);
    for (const source of [
      streamOnly(await openImageSource(`oci:${fx.dir}`)),
      await openImageSource(`oci:${fx.dir}`),
    ]) {
      const target = join(tempDir(), 'bad');
      await expect(unpackImage(source, undefined, target)).rejects.toMatchObject({
        code: expect.stringMatching(/EIMAGE_(DIGEST|INVALID)/),
      });
      expect(existsSync(target)).toBe(false);
    }
  });

  it.skipIf(!tools.umoci || !isRoot)('produces the same tree as umoci unpack', async () => {
    const [l0, l1, l2] = await standardLayers();
    const fx = writeLayout(tempDir(), [
      { tar: l0 as Buffer, compression: 'gzip' },
      { tar: l1 as Buffer },
      { tar: l2 as Buffer, compression: 'gzip' },
    ]);
    const bundle = join(tempDir(), 'umoci');
    execFileSync('umoci', ['unpack', '--image', `${fx.dir}:latest`, bundle], { stdio: 'ignore' });
    const ours = join(tempDir(), 'ours');
    await unpackImage(await openImageSource(`oci:${fx.dir}:latest`), undefined, ours);
    expect(tree(ours)).toEqual(tree(join(bundle, 'rootfs')));
  });

  it('leaves no rootfs when a layer is truncated, corrupt or not what the config says', async () => {
    const good = await tarLayer([{ name: 'ok', content: 'ok' }]);
    const truncatedTar = (await tarLayer([{ name: 'big', content: 'x'.repeat(100_000) }])).subarray(
      0,
      50_000,
    );
    // the descriptor matches the truncated bytes: only the tar reader can notice
    const truncated = writeLayout(tempDir(), [{ tar: good }, { tar: truncatedTar }]);
    const target = join(tempDir(), 'rootfs');
    await expect(
      unpackImage(await openImageSource(`oci:${truncated.dir}`), undefined, target),
    ).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
      message: /truncated/,
    });
    expect(existsSync(target)).toBe(false);

    // a gzip stream cut short
    const gz = writeLayout(tempDir(), [{ tar: good }], {
      mutateManifest: (m) => {
        const cut = gzip(good).subarray(0, 40);
        const layer = (m.layers as Record<string, unknown>[])[0] as Record<string, unknown>;
        layer.mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
        layer.digest = sha256(cut);
        layer.size = cut.length;
      },
    });
    const cut = gzip(good).subarray(0, 40);
    writeFileSync(join(gz.dir, 'blobs/sha256', sha256(cut).slice(7)), cut);
    await expect(
      unpackImage(await openImageSource(`oci:${gz.dir}`), undefined, target),
    ).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
    });
    expect(existsSync(target)).toBe(false);

    // content that does not match the layer digest (unpacking straight from a source)
    const tampered = writeLayout(tempDir(), [
      { tar: good },
      { tar: await tarLayer([{ name: 'two', content: 'abc' }]) },
    ]);
    const blob = join(tampered.dir, 'blobs/sha256', (tampered.layerDigests[1] as string).slice(7));
    writeFileSync(blob, readFileSync(blob, 'latin1').replace('abc', 'xyz'), 'latin1');
    const existing = join(tempDir(), 'existing-empty');
    mkdirSync(existing);
    await expect(
      unpackImage(await openImageSource(`oci:${tampered.dir}`), undefined, existing),
    ).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
    });
    // a pre-existing (empty) rootfs is emptied again, not removed
    expect(readdirSync(existing)).toEqual([]);

    // a layer that is not the config's DiffID
    const lying = writeLayout(tempDir(), [{ tar: good }]);
    const other = writeLayout(tempDir(), [
      { tar: await tarLayer([{ name: 'other', content: 'o' }]) },
    ]);
    const configPath = join(other.dir, 'blobs/sha256', other.configDigest.slice(7));
    const config = readFileSync(configPath);
    const mixed = writeLayout(tempDir(), [{ tar: good }], {
      mutateManifest: (m) => {
        m.config = {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: other.configDigest,
          size: config.length,
        };
      },
    });
    writeFileSync(join(mixed.dir, 'blobs/sha256', other.configDigest.slice(7)), config);
    await expect(
      unpackImage(await openImageSource(`oci:${mixed.dir}`), undefined, target),
    ).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
      message: /DiffID/,
    });
    expect(existsSync(target)).toBe(false);
    expect(lying.diffIds).toHaveLength(1);

    // a non-empty target is refused before anything is written
    const full = join(tempDir(), 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep'), 'keep');
    await expect(
      unpackImage(await openImageSource(`oci:${lying.dir}`), undefined, full),
    ).rejects.toMatchObject({
      code: 'EIMAGE_EXISTS',
    });
    expect(readdirSync(full)).toEqual(['keep']);
  });
});
