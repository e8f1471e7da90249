/**
 * Bundles: copy mode and overlay mode. Overlay tests mount in this process's
 * mount namespace and unmount everything they mounted (removeBundle, plus a
 * final sweep of mounts under this file's temporary directories).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@ts-oci/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { createBundle, removeBundle } from '../src/bundle.js';
import { chainIds } from '../src/chain.js';
import type { OverlayMounter } from '../src/overlay.js';
import { ImageStore } from '../src/store/store.js';
import { isRoot, standardLayers, tarLayer, tempDir, tools, writeLayout } from './helpers.js';

const mine: string[] = [];
function bundleDir(): string {
  const d = join(tempDir('tsoci-bundle-test-'), 'bundle');
  mine.push(d);
  return d;
}

function mountedUnder(prefixes: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => prefixes.some((p) => m.startsWith(p)));
}

afterAll(() => {
  for (const m of mountedUnder(mine).reverse()) execFileSync('umount', [m]);
});

function tree(dir: string): string[] {
  return execFileSync('find', ['.', '-printf', '%p %y %m %U:%G\\n'], { cwd: dir })
    .toString()
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('. '))
    .sort();
}

describe('createBundle', () => {
  it('writes config.json and an unpacked rootfs (copy mode, no store)', async () => {
    const [l0, l1, l2] = await standardLayers();
    const fx = writeLayout(
      tempDir(),
      [{ tar: l0 as Buffer, compression: 'gzip' }, { tar: l1 as Buffer }, { tar: l2 as Buffer }],
      {
        config: {
          Entrypoint: ['/bin/sh', '-c'],
          Cmd: ['cat /etc/motd'],
          User: 'alice',
          WorkingDir: '/tmp',
        },
      },
    );
    const dir = bundleDir();
    const bundle = await createBundle({ image: `oci:${fx.dir}:latest`, dir });
    const config = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    expect(config.process?.args).toEqual(['/bin/sh', '-c', 'cat /etc/motd']);
    expect(config.process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [100, 10] });
    expect(config.process?.cwd).toBe('/tmp');
    expect(config.root?.path).toBe('rootfs');
    expect(bundle.overlay).toBe(false);
    expect(existsSync(join(dir, 'rootfs/bin/busybox'))).toBe(true);
    // Written in place: nothing else in the directory, and readable by all.
    expect(readdirSync(dir).sort()).toEqual(['.tsoci-bundle.json', 'config.json', 'rootfs']);
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o644);
    await removeBundle(dir);
    expect(existsSync(dir)).toBe(false);
    // a failing conversion (unknown user) leaves no bundle behind
    const bad = writeLayout(tempDir(), [{ tar: l0 as Buffer }], {
      config: { User: 'nobody-here' },
    });
    const dir2 = bundleDir();
    await expect(createBundle({ image: `oci:${bad.dir}`, dir: dir2 })).rejects.toMatchObject({
      code: 'EIMAGE_USER',
    });
    expect(existsSync(dir2)).toBe(false);
  });

  it.skipIf(!isRoot || !tools.setfattr)(
    'assembles overlay bundles from shared, once-unpacked layers',
    async () => {
      const [l0, l1, l2] = await standardLayers();
      const other = await tarLayer([
        { name: 'only-in-b', content: 'b' },
        { name: 'data/.wh.b', content: '' },
      ]);
      const a = writeLayout(
        tempDir(),
        [
          { tar: l0 as Buffer, compression: 'gzip' },
          { tar: l1 as Buffer, compression: 'zstd' },
          { tar: l2 as Buffer },
        ],
        {
          config: { Cmd: ['/bin/cat', '/etc/motd-link'] },
        },
      );
      const b = writeLayout(tempDir(), [
        { tar: l0 as Buffer, compression: 'gzip' },
        { tar: l1 as Buffer, compression: 'zstd' },
        { tar: other },
      ]);
      const store = new ImageStore(join(tempDir(), 'store'));
      await store.import(`oci:${a.dir}`, 'a');
      await store.import(`oci:${b.dir}`, 'b');

      const dirA = bundleDir();
      const bundleA = await createBundle({ store, image: 'a', dir: dirA, overlay: true });
      const dirB = bundleDir();
      const dirA2 = bundleDir();
      try {
        expect(bundleA.layers.every((s) => s !== undefined)).toBe(true);
        const bundleB = await createBundle({ store, image: 'b', dir: dirB, overlay: true });
        // the two shared layers were not unpacked again
        expect(bundleB.layers.map((s) => s === undefined)).toEqual([true, true, false]);
        const t0 = performance.now();
        const bundleA2 = await createBundle({ store, image: 'a', dir: dirA2, overlay: true });
        const ms = performance.now() - t0;
        console.log(`overlay bundle of an already-unpacked 3-layer image: ${ms.toFixed(1)} ms`);
        expect(bundleA2.layers.every((s) => s === undefined)).toBe(true);

        // the merged view equals the copy-mode rootfs (whiteouts, opaque dirs, implicit parents)
        const copy = bundleDir();
        await createBundle({ store, image: 'a', dir: copy });
        expect(tree(bundleA.rootfs)).toEqual(tree(join(copy, 'rootfs')));
        expect(existsSync(join(bundleA.rootfs, 'data/a'))).toBe(false);
        expect(readdirSync(join(bundleA.rootfs, 'opq'))).toEqual(['new']);
        expect(statSync(join(bundleA.rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
        expect(existsSync(join(bundleB.rootfs, 'data/b'))).toBe(false);
        expect(existsSync(join(bundleA.rootfs, 'data/b'))).toBe(true);
        // the layer itself holds an overlayfs whiteout (char 0:0) and an opaque marker
        const [, chain1] = chainIds(a.diffIds);
        const layer1 = store.layerPath(chain1 as string);
        const wh = statSync(join(layer1, 'data/a'));
        expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
        expect(
          execFileSync('getfattr', [
            '-n',
            'trusted.overlay.opaque',
            '--only-values',
            join(layer1, 'opq'),
          ]).toString(),
        ).toBe('y');

        // writes land in the bundle's upper dir, never in the shared layers
        writeFileSync(join(bundleA.rootfs, 'etc/motd'), 'changed');
        expect(readFileSync(join(bundleA2.rootfs, 'etc/motd'), 'utf8')).toBe('hello\n');
        expect(readFileSync(join(dirA, 'overlay/upper/etc/motd'), 'utf8')).toBe('changed');
        expect(
          execFileSync('chroot', [bundleA2.rootfs, '/bin/cat', '/etc/motd-link']).toString(),
        ).toBe('hello\n');

        // gc keeps layers that bundles use, even once no image names them
        await store.remove('b');
        const gc1 = await store.gc({ graceMs: 0 });
        expect(gc1.removedLayers).toEqual([]);
        await removeBundle(dirB);
        expect(mountedUnder([dirB])).toEqual([]);
        const gc2 = await store.gc({ graceMs: 0 });
        expect(gc2.removedLayers).toEqual([chainIds(b.diffIds)[2]]);
      } finally {
        for (const d of [dirA, dirA2]) if (existsSync(d)) await removeBundle(d);
        if (existsSync(dirB)) await removeBundle(dirB);
      }
      expect(mountedUnder(mine)).toEqual([]);
    },
  );

  it('stops in the middle of a layer when its signal aborts, leaving nothing behind', async () => {
    // 24 files of 1 MiB of random bytes (gzip cannot shrink them): the
    // abort comes at the first progress event, long before the layer's end.
    const entries = Array.from({ length: 24 }, (_, i) => ({
      name: `f${i}`,
      content: randomBytes(1024 * 1024),
    }));
    for (const compression of ['none', 'gzip'] as const) {
      const fx = writeLayout(tempDir(), [{ tar: await tarLayer(entries), compression }]);
      const dir = bundleDir();
      const controller = new AbortController();
      const reason = new Error(`stop (${compression})`);
      // The most of the layer's blob that was ever consumed: without the
      // signal reaching the layer, it would run to the blob's end.
      let unpacked = 0;
      let total = 0;
      const made = createBundle({
        image: `oci:${fx.dir}`,
        dir,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type === 'layer-unpack-progress') {
            unpacked = Math.max(unpacked, e.bytes);
            total = e.total;
            controller.abort(reason);
          }
        },
      });
      await expect(made).rejects.toBe(reason);
      expect(unpacked).toBeGreaterThan(0);
      expect(unpacked).toBeLessThan(total / 2);
      expect(existsSync(dir)).toBe(false);
    }
  });

  it.skipIf(!isRoot)('stops an overlay layer mid-way and removes the partial layer', async () => {
    const entries = Array.from({ length: 24 }, (_, i) => ({
      name: `f${i}`,
      content: randomBytes(1024 * 1024),
    }));
    const fx = writeLayout(tempDir(), [{ tar: await tarLayer(entries), compression: 'gzip' }]);
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(`oci:${fx.dir}`, 'big');
    const dir = bundleDir();
    const controller = new AbortController();
    let unpacked = 0;
    let total = 0;
    const made = createBundle({
      store,
      image: 'big',
      dir,
      overlay: true,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'layer-unpack-progress') {
          unpacked = Math.max(unpacked, e.bytes);
          total = e.total;
          controller.abort();
        }
      },
    });
    await expect(made).rejects.toMatchObject({ name: 'AbortError' });
    expect(unpacked).toBeLessThan(total / 2);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(join(store.dir, 'tsoci/layers')).join(' '), 'layers').toBe('');
    expect(readdirSync(join(store.dir, 'tsoci/leases'))).toEqual([]);
    // The next bundle unpacks the layer whole.
    const b = await createBundle({ store, image: 'big', dir: bundleDir(), overlay: true });
    try {
      expect(readdirSync(b.rootfs)).toHaveLength(24);
    } finally {
      await removeBundle(b.dir);
    }
  });

  it.skipIf(!isRoot)('mounts and unmounts through the mounter it is given', async () => {
    const fx = writeLayout(tempDir(), [{ tar: await tarLayer([{ name: 'f', content: 'f' }]) }]);
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(`oci:${fx.dir}`, 'given');
    const calls: unknown[] = [];
    const mounter: OverlayMounter = {
      mount: async (spec) => {
        calls.push(['mount', spec]);
      },
      unmount: async (target) => {
        calls.push(['unmount', target]);
      },
    };
    const dir = bundleDir();
    const b = await createBundle({ store, image: 'given', dir, overlay: true, mounter });
    expect(calls).toEqual([
      [
        'mount',
        {
          lower: [expect.stringMatching(/^l\/[A-Za-z0-9]+$/)],
          upper: join(dir, 'overlay', 'upper'),
          work: join(dir, 'overlay', 'work'),
          target: b.rootfs,
          cwd: join(store.dir, 'tsoci'),
        },
      ],
    ]);
    expect(mountedUnder([dir])).toEqual([]);
    // The lease that keeps the layers from gc, whole and alone.
    const leases = join(store.dir, 'tsoci/leases');
    const [lease, ...others] = readdirSync(leases);
    expect(others).toEqual([]);
    expect(lease).toMatch(/^[0-9a-f]{32}\.json$/);
    expect(JSON.parse(readFileSync(join(leases, lease as string), 'utf8'))).toEqual({
      bundle: dir,
      chainIds: [expect.stringMatching(/^sha256:[0-9a-f]{64}$/)],
    });
    await removeBundle(dir, { mounter });
    expect(readdirSync(leases)).toEqual([]);
    expect(calls[1]).toEqual(['unmount', b.rootfs]);
    expect(existsSync(dir)).toBe(false);
  });

  it.skipIf(!isRoot)('leaves nothing behind when an overlay bundle cannot be made', async () => {
    const fx = writeLayout(tempDir(), [{ tar: await tarLayer([{ name: 'f', content: 'f' }]) }], {
      config: { User: 'ghost' },
    });
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(`oci:${fx.dir}`, 'ghost');
    const dir = bundleDir();
    await expect(createBundle({ store, image: 'ghost', dir, overlay: true })).rejects.toMatchObject(
      {
        code: 'EIMAGE_USER',
      },
    );
    expect(existsSync(dir)).toBe(false);
    expect(mountedUnder([dir])).toEqual([]);
    expect(readdirSync(join(store.dir, 'tsoci/leases'))).toEqual([]);
  });
});
