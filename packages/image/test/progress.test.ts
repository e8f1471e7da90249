/**
 * Progress events of pulls, imports, unpacks and bundles: their order (per
 * layer: start, progress…, done; the whole: resolving, resolved, layers,
 * done), the byte counts they report, `cached` for work already done, and
 * that a registry pull reports downloads. Also locateImage's rules.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBundle, removeBundle } from '../src/bundle.js';
import { ImageError } from '../src/errors.js';
import { locateImage, storeCandidates } from '../src/locate.js';
import type { ImageProgressEvent } from '../src/progress.js';
import { pullToOciLayout, pushImage, RegistryClient } from '../src/registry/index.js';
import { parseReference } from '../src/registry/reference.js';
import { openImageSource } from '../src/sources/open.js';
import { ImageStore } from '../src/store/store.js';
import { unpackImage } from '../src/unpack/unpack.js';
import { isRoot, standardLayers, tarLayer, tempDir, writeLayout } from './helpers.js';
import { buildImage, busyboxLayer, pushSourceOf } from './registry/helpers/image.js';
import { haveRegistry, type RunningRegistry, startRegistry } from './registry/helpers/registry.js';

vi.setConfig({ hookTimeout: 60_000, testTimeout: 30_000 });

const BIG = 1024 * 1024;

/** A layout with three layers, the last one holding 1 MiB of random bytes (uncompressed). */
async function layoutWithBigLayer(): Promise<{ ref: string; sizes: number[] }> {
  const [l0, l1] = await standardLayers();
  const big = await tarLayer([{ name: 'big.bin', content: randomBytes(BIG) }]);
  const fx = writeLayout(tempDir(), [
    { tar: l0 as Buffer, compression: 'gzip' },
    { tar: l1 as Buffer },
    { tar: big },
  ]);
  const manifest = JSON.parse(
    readFileSync(join(fx.dir, 'blobs/sha256', fx.manifestDigest.slice(7)), 'utf8'),
  ) as { layers: { size: number }[] };
  return { ref: `oci:${fx.dir}:latest`, sizes: manifest.layers.map((l) => l.size) };
}

function recorder() {
  const events: ImageProgressEvent[] = [];
  return { events, onProgress: (e: ImageProgressEvent) => events.push(e) };
}

/**
 * The events as short words with runs of progress collapsed: `resolving`,
 * `resolved`, `unpack-start:2`, `unpack-progress:2+`, `unpack-done:2`, `done`.
 */
function shape(events: ImageProgressEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const word = 'index' in e ? `${e.type.replace(/^layer-/, '')}:${e.index}` : (e.type as string);
    const collapsed = word.includes('-progress:') ? `${word}+` : word;
    if (out.at(-1) !== collapsed || !collapsed.endsWith('+')) out.push(collapsed);
  }
  return out;
}

/** The events of layer `i`, as `shape` words. */
function ofLayer(events: ImageProgressEvent[], i: number): string[] {
  return shape(events.filter((e) => 'index' in e && e.index === i));
}

/** Progress of layer `i` of `type` rises, never past total, and ends at total. */
function checkBytes(
  events: ImageProgressEvent[],
  i: number,
  type: 'layer-download-progress' | 'layer-unpack-progress',
  total: number,
): number[] {
  const bytes = events
    .filter((e) => e.type === type && e.index === i)
    .map((e) => (e as { bytes: number }).bytes);
  expect(bytes.length).toBeGreaterThan(0);
  for (let k = 1; k < bytes.length; k++) {
    expect(bytes[k]).toBeGreaterThan(bytes[k - 1] as number);
  }
  expect(bytes.at(-1)).toBe(total);
  for (const e of events) {
    if ('total' in e && e.index === i) expect(e.total).toBe(total);
  }
  return bytes;
}

describe('unpackImage progress', () => {
  it('reports resolving, resolved, each layer in order with its bytes, then done', async () => {
    const { ref, sizes } = await layoutWithBigLayer();
    const { events, onProgress } = recorder();
    const rootfs = join(tempDir(), 'rootfs');
    const source = await openImageSource(ref);
    try {
      await unpackImage(source, undefined, rootfs, { onProgress });
    } finally {
      await source.close();
    }
    expect(shape(events)).toEqual([
      'resolving',
      'resolved',
      'unpack-start:0',
      'unpack-progress:0+',
      'unpack-done:0',
      'unpack-start:1',
      'unpack-progress:1+',
      'unpack-done:1',
      'unpack-start:2',
      'unpack-progress:2+',
      'unpack-done:2',
      'done',
    ]);
    expect(events[0]).toEqual({ type: 'resolving', reference: ref });
    const resolved = events[1] as Extract<ImageProgressEvent, { type: 'resolved' }>;
    expect(resolved.layers.map((l) => l.size)).toEqual(sizes);
    expect(resolved.totalBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    // The 1 MiB layer reports in several steps (coalesced to ≥ 64 KiB).
    const big = checkBytes(events, 2, 'layer-unpack-progress', sizes[2] as number);
    expect(big.length).toBeGreaterThan(3);
    expect(big.length).toBeLessThanOrEqual(Math.ceil((sizes[2] as number) / 65536) + 1);
    const done2 = events.find((e) => e.type === 'layer-unpack-done' && e.index === 2) as {
      cached: boolean;
      stats: { files: number; bytes: number };
    };
    expect(done2.cached).toBe(false);
    expect(done2.stats).toMatchObject({ files: 1, bytes: BIG });
    expect(events.at(-1)).toEqual({ type: 'done', reference: ref, digest: resolved.digest });
    expect(readFileSync(join(rootfs, 'big.bin')).length).toBe(BIG);
  });

  it('a listener that throws fails the unpack and leaves no rootfs', async () => {
    const { ref } = await layoutWithBigLayer();
    const rootfs = join(tempDir(), 'rootfs');
    const source = await openImageSource(ref);
    const boom = new Error('listener failed');
    try {
      await expect(
        unpackImage(source, undefined, rootfs, {
          onProgress: (e) => {
            if (e.type === 'layer-unpack-progress' && e.index === 2) throw boom;
          },
        }),
      ).rejects.toThrow(/listener failed/);
    } finally {
      await source.close();
    }
    expect(existsSync(rootfs)).toBe(false);
  });
});

describe('ImageStore progress', () => {
  it('import reports downloads per layer, then cached layers on a second import', async () => {
    const { ref, sizes } = await layoutWithBigLayer();
    const store = new ImageStore(join(tempDir(), 'store'));
    const first = recorder();
    await store.import(ref, 'progress/img:1', { onProgress: first.onProgress });
    expect(shape(first.events).slice(0, 2)).toEqual(['resolving', 'resolved']);
    expect(first.events.at(-1)?.type).toBe('done');
    for (const i of [0, 1, 2]) {
      expect(ofLayer(first.events, i)).toEqual([
        `download-start:${i}`,
        `download-progress:${i}+`,
        `download-done:${i}`,
      ]);
      checkBytes(first.events, i, 'layer-download-progress', sizes[i] as number);
      expect(
        first.events.find((e) => e.type === 'layer-download-done' && e.index === i),
      ).toMatchObject({ bytes: sizes[i], cached: false, count: 3 });
    }

    const again = recorder();
    await store.import(ref, 'progress/img:2', { onProgress: again.onProgress });
    for (const i of [0, 1, 2]) {
      expect(ofLayer(again.events, i)).toEqual([`download-done:${i}`]);
      expect(
        again.events.find((e) => e.type === 'layer-download-done' && e.index === i),
      ).toMatchObject({ bytes: 0, cached: true, total: sizes[i] });
    }
  });

  it('a listener that throws fails the import: the error as thrown, no image, no partial blob', async () => {
    const { ref } = await layoutWithBigLayer();
    const store = new ImageStore(join(tempDir(), 'store'));
    const boom = new Error('stop the download');
    await expect(
      store.import(ref, 'progress/fail:1', {
        onProgress: (e) => {
          if (e.type === 'layer-download-progress' && e.index === 2) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(await store.list()).toEqual([]);
    expect(readdirSync(join(store.dir, 'tsoci/ingest'))).toEqual([]);
  });

  it.skipIf(!isRoot)('unpackLayers reports each layer once, then cached', async () => {
    const { ref, sizes } = await layoutWithBigLayer();
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(ref, 'progress/layers:1');
    const image = await store.resolve('progress/layers:1');
    const first = recorder();
    await store.unpackLayers(image, { onProgress: first.onProgress });
    expect(shape(first.events)).toEqual([
      'unpack-start:0',
      'unpack-progress:0+',
      'unpack-done:0',
      'unpack-start:1',
      'unpack-progress:1+',
      'unpack-done:1',
      'unpack-start:2',
      'unpack-progress:2+',
      'unpack-done:2',
    ]);
    checkBytes(first.events, 2, 'layer-unpack-progress', sizes[2] as number);
    const again = recorder();
    await store.unpackLayers(image, { onProgress: again.onProgress });
    expect(shape(again.events)).toEqual(['unpack-done:0', 'unpack-done:1', 'unpack-done:2']);
    expect(again.events.every((e) => 'cached' in e && e.cached && e.bytes === 0)).toBe(true);
  });
});

describe('createBundle progress', () => {
  it('copy mode from a layout: the reference as given, unpack events, done after config.json', async () => {
    const { ref } = await layoutWithBigLayer();
    const dir = join(tempDir(), 'bundle');
    const { events, onProgress } = recorder();
    let configAtDone: boolean | undefined;
    await createBundle({
      image: ref,
      dir,
      onProgress: (e) => {
        if (e.type === 'done') configAtDone = existsSync(join(dir, 'config.json'));
        onProgress(e);
      },
    });
    expect(shape(events)).toEqual([
      'resolving',
      'resolved',
      'unpack-start:0',
      'unpack-progress:0+',
      'unpack-done:0',
      'unpack-start:1',
      'unpack-progress:1+',
      'unpack-done:1',
      'unpack-start:2',
      'unpack-progress:2+',
      'unpack-done:2',
      'done',
    ]);
    expect(events[0]).toEqual({ type: 'resolving', reference: ref });
    expect(configAtDone).toBe(true);
    await removeBundle(dir);
  });
});

describe('locateImage', () => {
  it('names a bare reference may be stored under', () => {
    expect(storeCandidates('busybox', parseReference('busybox'))).toEqual([
      'busybox',
      'docker.io/library/busybox:latest',
      'busybox:latest',
    ]);
    expect(storeCandidates('busybox:1.36', parseReference('busybox:1.36'))).toEqual([
      'busybox:1.36',
      'docker.io/library/busybox:1.36',
    ]);
    expect(storeCandidates('localhost:5000/app', parseReference('localhost:5000/app'))).toEqual([
      'localhost:5000/app',
      'localhost:5000/app:latest',
    ]);
  });

  it('finds store images by their normalised name; refuses what it cannot find', async () => {
    const { ref } = await layoutWithBigLayer();
    const store = new ImageStore(join(tempDir(), 'store'));
    await store.import(ref, 'docker.io/library/thing:v2');
    expect(await locateImage('thing:v2', { store })).toEqual({
      kind: 'store',
      name: 'docker.io/library/thing:v2',
    });
    const located = await locateImage(ref, { store });
    expect(located.kind).toBe('source');
    if (located.kind === 'source') await located.source.close();
    const missing = await locateImage('thing:v3', { store }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ImageError);
    expect((missing as ImageError).code).toBe('EIMAGE_NOT_FOUND');
    expect((missing as Error).message).toMatch(/not in store/);
    const digest = await locateImage(`sha256:${'a'.repeat(64)}`).catch((e: unknown) => e);
    expect((digest as ImageError).code).toBe('EIMAGE_REFERENCE');
    const bad = await locateImage('Not/Valid', { store, registry: true }).catch((e: unknown) => e);
    expect((bad as ImageError).code).toBe('EIMAGE_NOT_FOUND');
    expect((bad as Error).message).toMatch(/not a registry reference/);
  });
});

describe.skipIf(!haveRegistry)('registry pulls (docker-registry on loopback)', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  const built = buildImage({
    layers: [busyboxLayer(), [{ path: 'big.bin', mode: 0o644, content: randomBytes(BIG) }]],
    label: 'progress',
  });
  const sizes = built.layers.map((l) => l.descriptor.size);

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ plainHttp: [registry.host], retryDelayMs: 10 });
    await pushImage(client, `${registry.host}/progress/img:v1`, pushSourceOf(built));
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pullToOciLayout reports downloads with bytes, then cached layers', async () => {
    const dir = join(tempDir(), 'layout');
    const ref = `${registry.host}/progress/img:v1`;
    const first = recorder();
    await pullToOciLayout(client, ref, dir, { onProgress: first.onProgress });
    expect(first.events[0]).toEqual({ type: 'resolving', reference: `docker://${ref}` });
    expect(first.events[1]).toMatchObject({ type: 'resolved', digest: built.descriptor.digest });
    expect(first.events.at(-1)).toMatchObject({ type: 'done', digest: built.descriptor.digest });
    for (const i of [0, 1]) {
      expect(ofLayer(first.events, i)).toEqual([
        `download-start:${i}`,
        `download-progress:${i}+`,
        `download-done:${i}`,
      ]);
      checkBytes(first.events, i, 'layer-download-progress', sizes[i] as number);
    }
    const again = recorder();
    await pullToOciLayout(client, ref, dir, { onProgress: again.onProgress });
    expect(ofLayer(again.events, 0)).toEqual(['download-done:0']);
    expect(ofLayer(again.events, 1)).toEqual(['download-done:1']);
  });

  it('createBundle with pull: a bare name is pulled into the store, then unpacked from it', async () => {
    const store = new ImageStore(join(tempDir(), 'store'));
    const text = `${registry.host}/progress/img:v1`;
    const registryOptions = { plainHttp: [registry.host], retryDelayMs: 10 };
    const first = recorder();
    const dir = join(tempDir(), 'bundle');
    const bundle = await createBundle({
      image: text,
      store,
      dir,
      pull: true,
      registry: registryOptions,
      overlay: 'auto',
      onProgress: first.onProgress,
    });
    expect(bundle.overlay).toBe(isRoot);
    expect((await store.list()).map((i) => i.name)).toEqual([text]);
    expect(shape(first.events)[0]).toBe('resolving');
    expect(shape(first.events)[1]).toBe('resolved');
    expect(shape(first.events).at(-1)).toBe('done');
    for (const i of [0, 1]) {
      // Downloaded into the store, then unpacked from it.
      expect(ofLayer(first.events, i)).toEqual([
        `download-start:${i}`,
        `download-progress:${i}+`,
        `download-done:${i}`,
        `unpack-start:${i}`,
        `unpack-progress:${i}+`,
        `unpack-done:${i}`,
      ]);
    }
    expect(first.events.filter((e) => e.type === 'resolving' || e.type === 'done')).toEqual([
      { type: 'resolving', reference: text },
      { type: 'done', reference: text, digest: built.descriptor.digest },
    ]);
    expect(readFileSync(join(bundle.rootfs, 'big.bin')).length).toBe(BIG);
    await removeBundle(dir);

    // Found in the store now: no download; overlay layers are reused as they are.
    const again = recorder();
    const dir2 = join(tempDir(), 'bundle');
    await createBundle({
      image: text,
      store,
      dir: dir2,
      pull: true,
      registry: registryOptions,
      overlay: 'auto',
      onProgress: again.onProgress,
    });
    expect(again.events.some((e) => e.type.startsWith('layer-download'))).toBe(false);
    if (isRoot) {
      expect(shape(again.events)).toEqual([
        'resolving',
        'resolved',
        'unpack-done:0',
        'unpack-done:1',
        'done',
      ]);
    }
    await removeBundle(dir2);
  });

  it('createBundle without a store streams a registry image into the rootfs', async () => {
    const dir = join(tempDir(), 'bundle');
    const { events, onProgress } = recorder();
    const text = `docker://${registry.host}/progress/img:v1`;
    const bundle = await createBundle({
      image: text,
      dir,
      registry: { plainHttp: [registry.host] },
      onProgress,
    });
    expect(bundle.overlay).toBe(false);
    expect(events.some((e) => e.type.startsWith('layer-download'))).toBe(false);
    checkBytes(events, 1, 'layer-unpack-progress', sizes[1] as number);
    expect(execFileSync('cat', [join(bundle.rootfs, 'big.bin')]).length).toBe(BIG);
    await removeBundle(dir);
  });
});
