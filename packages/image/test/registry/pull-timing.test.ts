/**
 * Pull timing against skopeo, by hand (never asserted):
 *   TSOCI_REGISTRY_BENCH=1 pnpm exec vitest run test/registry/pull-timing.test.ts
 * Pushes a ~50 MB image (5 incompressible layers) to a local registry, then
 * pulls it into fresh OCI layouts with this client and with `skopeo copy`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullToOciLayout, pushImage, RegistryClient } from '../../src/registry/index.js';
import { buildImage, makeTar, pushSourceOf } from './helpers/image.js';
import { type RunningRegistry, SKOPEO_BIN, startRegistry } from './helpers/registry.js';

const LAYERS = 5;
const LAYER_BYTES = 10 * 1024 * 1024;
const ROUNDS = 5;

describe.skipIf(process.env.TSOCI_REGISTRY_BENCH !== '1')('pull timing vs skopeo (manual)', () => {
  let registry: RunningRegistry;
  let work: string;

  beforeAll(async () => {
    registry = await startRegistry();
    work = await mkdtemp(join(tmpdir(), 'tsoci-regbench-'));
  });
  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('prints timings', { timeout: 600_000 }, async () => {
    const rawLayers = Array.from({ length: LAYERS }, (_, i) =>
      gzipSync(makeTar([{ path: `data${i}.bin`, content: randomBytes(LAYER_BYTES) }]), {
        level: 1,
      }),
    );
    const image = buildImage({ rawLayers, label: 'bench' });
    const total = image.layers.reduce((n, l) => n + l.descriptor.size, 0);
    const ref = `${registry.host}/bench/big:1`;
    const client = new RegistryClient({ plainHttp: [registry.host] });
    let t = performance.now();
    await pushImage(client, ref, pushSourceOf(image));
    const lines = [`image: ${LAYERS} layers, ${(total / 1e6).toFixed(1)} MB compressed`];
    lines.push(`push (tsoci): ${(performance.now() - t).toFixed(0)} ms`);

    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dirA = join(work, `tsoci-${round}`);
      t = performance.now();
      await pullToOciLayout(client, ref, dirA);
      ours.push(performance.now() - t);
      const dirB = join(work, `skopeo-${round}`);
      t = performance.now();
      execFileSync(SKOPEO_BIN, [
        '--insecure-policy',
        'copy',
        '-q',
        '--src-tls-verify=false',
        `docker://${ref}`,
        `oci:${dirB}:1`,
      ]);
      theirs.push(performance.now() - t);
      await rm(dirA, { recursive: true, force: true });
      await rm(dirB, { recursive: true, force: true });
    }
    for (const concurrency of [1, 3, 6]) {
      const c = new RegistryClient({ plainHttp: [registry.host], concurrency });
      const dir = join(work, `c${concurrency}`);
      t = performance.now();
      await pullToOciLayout(c, ref, dir);
      lines.push(
        `pullToOciLayout concurrency ${concurrency}: ${(performance.now() - t).toFixed(0)} ms`,
      );
      await rm(dir, { recursive: true, force: true });
    }
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
    lines.push(
      `pull (tsoci pullToOciLayout → OCI layout): ${fmt(ours)} ms (median ${median(ours).toFixed(0)})`,
    );
    lines.push(
      `pull (skopeo copy → oci:):          ${fmt(theirs)} ms (median ${median(theirs).toFixed(0)})`,
    );
    lines.push(`ratio tsoci/skopeo: ${(median(ours) / median(theirs)).toFixed(2)}`);
    console.log(lines.join('\n'));
    expect(ours.length).toBe(ROUNDS);
  });
});
