/** Whole-image unpacking: verified layers in order, nothing half-written on failure. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createBundle } from '../src/bundle.js';
import type { ImageSource } from '../src/source.js';
import { openImageSource } from '../src/sources/open.js';
import { ImageStore } from '../src/store/store.js';
import { unpackImage } from '../src/unpack/unpack.js';
import {
  gzip,
  isRoot,
  LAYER_MEDIA,
  sha256,
  standardLayers,
  tarLayer,
  tempDir,
  tools,
  writeLayout,
  zstd,
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

/**
 * A layout whose last layer is `blob` as it is, described by its own digest
 * and size: the blob verifies, so only the decompressor or the tar reader can
 * find what is wrong with it.
 */
function layoutWithRawLayer(
  good: Buffer,
  tar: Buffer,
  blob: Buffer,
  mediaType: string,
): { dir: string; digest: string } {
  const digest = sha256(blob);
  // `tar` is what `blob` should decompress to: the config's DiffID
  const fx = writeLayout(tempDir(), [{ tar: good }, { tar }], {
    mutateManifest: (m) => {
      (m.layers as Record<string, unknown>[])[1] = { mediaType, digest, size: blob.length };
    },
  });
  writeFileSync(join(fx.dir, 'blobs/sha256', digest.slice(7)), blob);
  return { dir: fx.dir, digest };
}

/** Flips every bit of the byte at `at` (negative: from the end). */
function flip(data: Buffer, at: number): Buffer {
  const copy = Buffer.from(data);
  const i = at < 0 ? copy.length + at : at;
  copy.writeUInt8(copy.readUInt8(i) ^ 0xff, i);
  return copy;
}

/** Leftovers of interrupted overlay-layer unpacking in a store. */
function tempLayers(store: ImageStore): string[] {
  const dir = join(store.dir, 'tsoci/layers');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.tmp-')) : [];
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

  it('unpacks layer tars that end without the end-of-archive marker', async () => {
    const files = [
      { name: 'etc/', type: 'directory' as const },
      { name: 'etc/hostname', content: 'umoci\n' },
      { name: 'usr/share/big', content: 'b'.repeat(5000) },
    ];
    // as `umoci insert` and Go writers that are not closed leave them: the
    // archive ends right after the last entry's padded content
    const bare = await tarLayer(files, { end: false });
    expect(bare.length % 512).toBe(0);
    expect(bare.subarray(-1024).equals(Buffer.alloc(1024))).toBe(false);
    const layers: { tar: Buffer; compression?: 'gzip' | 'zstd' }[] = [
      { tar: bare },
      {
        tar: await tarLayer([{ name: 'gz', content: 'gzip' }], { end: false }),
        compression: 'gzip',
      },
    ];
    if (tools.zstd) {
      layers.push({
        tar: await tarLayer([{ name: 'zst', content: 'zstd' }], { end: false }),
        compression: 'zstd',
      });
    }
    const fx = writeLayout(tempDir(), layers);
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(`oci:${fx.dir}`, 'bare');
    const targets = [join(tempDir(), 'a'), join(tempDir(), 'b'), join(tempDir(), 'c')];
    await unpackImage(store, 'bare', targets[0] as string);
    await unpackImage(await openImageSource(`oci:${fx.dir}`), undefined, targets[1] as string);
    const streamed = streamOnly(await openImageSource(`oci:${fx.dir}`));
    await unpackImage(streamed, undefined, targets[2] as string);
    for (const target of targets) {
      expect(readFileSync(join(target, 'etc/hostname'), 'utf8')).toBe('umoci\n');
      expect(readFileSync(join(target, 'usr/share/big'), 'utf8')).toBe('b'.repeat(5000));
      expect(readFileSync(join(target, 'gz'), 'utf8')).toBe('gzip');
      if (tools.zstd) expect(readFileSync(join(target, 'zst'), 'utf8')).toBe('zstd');
      expect(tree(target)).toEqual(tree(targets[0] as string));
    }
    if (isRoot) {
      const image = await store.resolve('bare');
      const unpacked = await store.unpackLayers(image);
      expect(readFileSync(join(unpacked.dirs[0] as string, 'etc/hostname'), 'utf8')).toBe(
        'umoci\n',
      );
    }
  });

  it.skipIf(!tools.umoci)(
    'unpacks a layer written by umoci insert (it ends after the last content, unpadded)',
    async () => {
      const src = tempDir();
      mkdirSync(join(src, 'etc'));
      writeFileSync(join(src, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      const layout = join(tempDir(), 'layout');
      const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
      umoci('init', '--layout', layout);
      umoci('new', '--image', `${layout}:v1`);
      umoci('insert', '--image', `${layout}:v1`, src, '/');
      const target = join(tempDir(), 'rootfs');
      const source = await openImageSource(`oci:${layout}:v1`);
      try {
        await unpackImage(source, undefined, target);
      } finally {
        await source.close();
      }
      expect(readFileSync(join(target, 'etc/passwd'), 'utf8')).toBe(
        'root:x:0:0:root:/root:/bin/sh\n',
      );
    },
  );

  it('names the layer when its tar stops inside a header or an entry', async () => {
    const good = await tarLayer([{ name: 'ok', content: 'ok' }]);
    const tar = await tarLayer([
      { name: 'first', content: 'x'.repeat(3000) },
      { name: 'second', content: 'y' },
    ]);
    // first: header 0..512, content to 3512, padding to 3584; second's header to 4096
    const cuts: [number, RegExp][] = [
      [2000, /inside the content of entry 1 \("first", 3000 bytes\), 1512 bytes short/],
      [3584 + 200, /inside the header of entry 2 \(200 of 512 bytes\)/],
    ];
    for (const [length, where] of cuts) {
      for (const compression of ['none', 'gzip'] as const) {
        const cut = tar.subarray(0, length);
        const blob = compression === 'gzip' ? gzip(cut) : cut;
        const fx = layoutWithRawLayer(good, cut, blob, LAYER_MEDIA[compression]);
        const target = join(tempDir(), 'rootfs');
        const error = await unpackImage(
          await openImageSource(`oci:${fx.dir}`),
          undefined,
          target,
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'EIMAGE_INVALID' });
        const { message } = error as Error;
        expect(message).toContain(`oci:${fx.dir}: layer 1 (${fx.digest})`);
        expect(message).toMatch(/truncated tar archive/);
        expect(message).toMatch(where);
        expect(existsSync(target)).toBe(false);
      }
    }
  });

  it('names the layer and leaves nothing behind when its compressed stream is corrupt', async () => {
    const good = await tarLayer([
      { name: 'base/', type: 'directory' },
      { name: 'base/file', content: 'base' },
    ]);
    const tar = await tarLayer([
      { name: 'one', content: 'one'.repeat(4000) },
      // larger than a read chunk (256 KiB): decompressed data reaches the tar
      // reader before the decompressor has seen the whole stream
      {
        name: 'two',
        content: Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7) & 0xff)),
      },
    ]);
    const gz = gzip(tar);
    // stored (level 0) deflate blocks: the bad byte reaches the tar reader before gzip's CRC check
    const stored = gzipSync(tar, { level: 0 });
    const cases: { what: string; blob: Buffer; media: string; problem: RegExp }[] = [
      {
        what: 'gzip header',
        blob: flip(gz, 0),
        media: LAYER_MEDIA.gzip,
        problem: /corrupt or truncated gzip data \(incorrect header check\)/,
      },
      {
        what: 'gzip data',
        blob: flip(gz, gz.length >> 1),
        media: LAYER_MEDIA.gzip,
        problem: /corrupt or truncated gzip data/,
      },
      {
        what: 'gzip checksum',
        blob: flip(gz, -6),
        media: LAYER_MEDIA.gzip,
        problem: /corrupt or truncated gzip data \(incorrect data check\)/,
      },
      {
        what: 'stored gzip',
        // 10-byte gzip header + 5-byte stored-block header, then the tar: byte 20 is in 'one'
        blob: flip(stored, 10 + 5 + 20),
        media: LAYER_MEDIA.gzip,
        problem: /invalid tar header checksum/,
      },
    ];
    if (tools.zstd) {
      const zst = zstd(tar);
      cases.push(
        { what: 'zstd magic', blob: flip(zst, 0), media: LAYER_MEDIA.zstd, problem: /zstd/ },
        {
          what: 'zstd data',
          blob: flip(zst, zst.length >> 1),
          media: LAYER_MEDIA.zstd,
          problem: /zstd/,
        },
      );
    }
    for (const c of cases) {
      const fx = layoutWithRawLayer(good, tar, c.blob, c.media);
      const layer = `layer 1 (${fx.digest})`;
      const expectNamed = (error: unknown, where: string) => {
        expect(error, c.what).toMatchObject({ code: 'EIMAGE_INVALID' });
        const { message } = error as Error;
        expect(message, c.what).toContain(`${where}: ${layer}: `);
        expect(message, c.what).toMatch(c.problem);
      };
      const failure = (p: Promise<unknown>) =>
        p.then(
          () => {
            throw new Error(`${c.what}: unpacking a corrupt layer succeeded`);
          },
          (e: unknown) => e,
        );

      // straight from the layout (local file ranges, then plain streams as from a registry)
      for (const source of [
        await openImageSource(`oci:${fx.dir}`),
        streamOnly(await openImageSource(`oci:${fx.dir}`)),
      ]) {
        const target = join(tempDir(), 'rootfs');
        expectNamed(await failure(unpackImage(source, undefined, target)), `oci:${fx.dir}`);
        expect(existsSync(target), c.what).toBe(false);
      }
      const existing = join(tempDir(), 'empty-rootfs');
      mkdirSync(existing);
      expectNamed(
        await failure(unpackImage(await openImageSource(`oci:${fx.dir}`), undefined, existing)),
        `oci:${fx.dir}`,
      );
      expect(readdirSync(existing), c.what).toEqual([]);

      // from a store: the blobs verify, so the import takes them
      const store = new ImageStore(join(tempDir(), 'store'));
      await store.import(`oci:${fx.dir}`, 'img');
      const where = `${store.dir} (img)`;
      const target = join(tempDir(), 'rootfs');
      expectNamed(await failure(unpackImage(store, 'img', target)), where);
      expect(existsSync(target), c.what).toBe(false);
      const bundle = join(tempDir(), 'bundle');
      expectNamed(await failure(createBundle({ store, image: 'img', dir: bundle })), where);
      expect(existsSync(bundle), c.what).toBe(false);
      if (isRoot) {
        const overlay = join(tempDir(), 'overlay-bundle');
        expectNamed(
          await failure(createBundle({ store, image: 'img', dir: overlay, overlay: true })),
          where,
        );
        expect(existsSync(overlay), c.what).toBe(false);
        expect(tempLayers(store), c.what).toEqual([]);
        // the good base layer was finished before the bad one and stays for reuse
        expect(readdirSync(join(store.dir, 'tsoci/layers')), c.what).toHaveLength(1);
      }
    }
  });
});
