/**
 * Interoperability with skopeo against a real registry on loopback: skopeo
 * reads what this client pushed, and this client reads what skopeo pushed
 * (as OCI and as Docker schema 2).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  pullToOciLayout,
  pushImage,
  RegistryClient,
  RegistrySource,
} from '../../src/registry/index.js';
import { buildImage, pushSourceOf, sha256 } from './helpers/image.js';
import {
  haveRegistry,
  haveSkopeo,
  type RunningRegistry,
  SKOPEO_BIN,
  startRegistry,
} from './helpers/registry.js';

// Starting a registry (and, for token auth, an issuer with a fresh RSA key) takes a moment on a busy CI machine.
vi.setConfig({ hookTimeout: 60_000, testTimeout: 30_000 });

const run = promisify(execFile);

async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await run(SKOPEO_BIN, ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

describe.skipIf(!haveRegistry || !haveSkopeo)('skopeo interop', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let work: string;
  const image = buildImage({ label: 'skopeo', architecture: 'amd64' });

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ plainHttp: [registry.host] });
    work = await mkdtemp(join(tmpdir(), 'tsoci-skopeo-'));
  });
  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('skopeo copies what this client pushed into an OCI layout, unchanged', async () => {
    await pushImage(client, `${registry.host}/interop/mine:v1`, pushSourceOf(image));
    const dir = join(work, 'from-tsoci');
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/interop/mine:v1`,
      `oci:${dir}:v1`,
    );
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(image.descriptor.digest);
    const manifest = await readFile(join(dir, 'blobs', 'sha256', image.descriptor.digest.slice(7)));
    expect(manifest.equals(image.manifest)).toBe(true);
    for (const layer of image.layers) {
      const bytes = await readFile(join(dir, 'blobs', 'sha256', layer.descriptor.digest.slice(7)));
      expect(sha256(bytes)).toBe(layer.descriptor.digest);
    }
    const inspect = JSON.parse(
      await skopeo('inspect', '--tls-verify=false', `docker://${registry.host}/interop/mine:v1`),
    );
    expect(inspect.Digest).toBe(image.descriptor.digest);
    expect(inspect.Labels['test.label']).toBe('skopeo');
  });

  it('this client pulls what skopeo pushed (OCI and Docker schema 2)', async () => {
    // Give skopeo a layout to push: the one it made in the previous test, or a fresh pull of ours.
    const src = join(work, 'src-layout');
    await pullToOciLayout(client, `${registry.host}/interop/mine:v1`, src, { refName: 'v1' });
    await skopeo(
      'copy',
      '--dest-tls-verify=false',
      `oci:${src}:v1`,
      `docker://${registry.host}/interop/theirs:oci`,
    );
    await skopeo(
      'copy',
      '--dest-tls-verify=false',
      '--format',
      'v2s2',
      `oci:${src}:v1`,
      `docker://${registry.host}/interop/theirs:docker`,
    );

    const oci = await client.getManifest(`${registry.host}/interop/theirs:oci`);
    expect(oci.descriptor.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const docker = await client.getManifest(`${registry.host}/interop/theirs:docker`);
    expect(docker.descriptor.mediaType).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    if (docker.kind !== 'manifest') throw new Error('expected a manifest');
    expect(docker.manifest.layers[0]?.mediaType).toBe(
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    );

    for (const tag of ['oci', 'docker']) {
      const source = new RegistrySource(client, `${registry.host}/interop/theirs:${tag}`);
      const resolved = await source.resolve();
      expect(resolved.config.rootfs.diff_ids).toEqual(image.layers.map((l) => l.diffId));
      for (const layer of resolved.layers) {
        const chunks: Buffer[] = [];
        for await (const c of await source.openBlob(layer)) chunks.push(c as Buffer);
        expect(sha256(Buffer.concat(chunks))).toBe(layer.digest);
      }
    }
  });
});
