/**
 * Push and pull against a real CNCF distribution registry on loopback:
 * push an image built here, pull it back by tag and by digest with every blob
 * verified, multi-platform index selection, and the ImageSource view.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  pullToOciLayout,
  pushImage,
  RegistryClient,
  RegistryError,
  RegistrySource,
} from '../../src/registry/index.js';
import { buildImage, buildIndex, pushSourceOf, sha256 } from './helpers/image.js';
import { haveRegistry, type RunningRegistry, startRegistry } from './helpers/registry.js';

// Starting a registry (and, for token auth, an issuer with a fresh RSA key) takes a moment on a busy CI machine.
vi.setConfig({ hookTimeout: 60_000, testTimeout: 30_000 });

describe.skipIf(!haveRegistry)('registry round trip (docker-registry on loopback)', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let work: string;
  const image = buildImage({ architecture: 'amd64', label: 'roundtrip' });

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ plainHttp: [registry.host], retryDelayMs: 10 });
    work = await mkdtemp(join(tmpdir(), 'tsoci-regtest-'));
  });
  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pushes an image built at test time and reports what it uploaded', async () => {
    const result = await pushImage(
      client,
      `${registry.host}/tsoci/busybox:1.0`,
      pushSourceOf(image),
    );
    expect(result.digest).toBe(image.descriptor.digest);
    expect(result.blobs).toEqual({ uploaded: 2, exists: 0, mounted: 0, skipped: 0 });
    // Pushing again uploads nothing: HEAD finds every blob.
    const again = await pushImage(
      client,
      `${registry.host}/tsoci/busybox:1.0`,
      pushSourceOf(image),
    );
    expect(again.blobs).toEqual({ uploaded: 0, exists: 2, mounted: 0, skipped: 0 });
    expect(await client.listTags(`${registry.host}/tsoci/busybox`)).toEqual(['1.0']);
  });

  it('pulls the manifest by tag and by digest, byte for byte', async () => {
    const byTag = await client.getManifest(`${registry.host}/tsoci/busybox:1.0`);
    expect(byTag.kind).toBe('manifest');
    expect(byTag.bytes.equals(image.manifest)).toBe(true);
    expect(byTag.descriptor).toEqual(image.descriptor);
    expect(byTag.reference.toString()).toBe(
      `${registry.host}/tsoci/busybox:1.0@${image.descriptor.digest}`,
    );

    const byDigest = await client.getManifest(
      `${registry.host}/tsoci/busybox@${image.descriptor.digest}`,
    );
    expect(byDigest.bytes.equals(image.manifest)).toBe(true);
    expect(await client.headManifest(`${registry.host}/tsoci/busybox:1.0`)).toEqual(
      image.descriptor,
    );
    expect(await client.headManifest(`${registry.host}/tsoci/busybox:nope`)).toBeUndefined();
  });

  it('streams blobs verified against their descriptors', async () => {
    const ref = `${registry.host}/tsoci/busybox`;
    for (const layer of image.layers) {
      const stream = await client.fetchBlob(ref, layer.descriptor);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      expect(`sha256:${hash.digest('hex')}`).toBe(layer.descriptor.digest);
      expect(size).toBe(layer.descriptor.size);
    }
    const config = await client.readBlob(ref, image.configDescriptor);
    expect(config.equals(image.config)).toBe(true);
    expect(await client.blobExists(ref, image.configDescriptor)).toBe(true);
    expect(await client.blobExists(ref, { digest: sha256(Buffer.from('nope')) })).toBe(false);
  });

  it('refuses a descriptor whose size does not match the blob', async () => {
    const layer = image.layers[0]?.descriptor;
    if (layer === undefined) throw new Error('no layer');
    const wrong = { ...layer, size: layer.size - 1 };
    await expect(client.fetchBlob(`${registry.host}/tsoci/busybox`, wrong)).rejects.toMatchObject({
      code: 'EREGISTRY_DIGEST',
    });
  });

  it('pulls into an OCI layout, and a second pull downloads nothing', async () => {
    const dir = join(work, 'layout');
    const result = await pullToOciLayout(client, `${registry.host}/tsoci/busybox:1.0`, dir);
    expect(result.descriptor.digest).toBe(image.descriptor.digest);
    expect(result.downloaded).toBe(1);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('1.0');
    for (const digest of [
      image.descriptor.digest,
      image.configDescriptor.digest,
      ...image.layers.map((l) => l.descriptor.digest),
    ]) {
      const bytes = await readFile(join(dir, 'blobs', 'sha256', digest.slice(7)));
      expect(sha256(bytes)).toBe(digest);
    }
    const second = await pullToOciLayout(client, `${registry.host}/tsoci/busybox:1.0`, dir);
    expect(second).toMatchObject({ downloaded: 0, present: 1 });
    // Nothing temporary is left behind.
    expect(
      (await readdir(join(dir, 'blobs', 'sha256'))).filter((f) => f.includes('partial')),
    ).toEqual([]);
  });

  it('mounts blobs from another repository instead of uploading them', async () => {
    const result = await pushImage(client, `${registry.host}/tsoci/copy:1.0`, pushSourceOf(image), {
      mountFrom: 'tsoci/busybox',
    });
    expect(result.blobs).toEqual({ uploaded: 0, exists: 0, mounted: 2, skipped: 0 });
    const pulled = await client.getManifest(`${registry.host}/tsoci/copy:1.0`);
    expect(pulled.descriptor.digest).toBe(image.descriptor.digest);
  });

  it('uploads in PATCH chunks when asked', async () => {
    const chunked = new RegistryClient({ plainHttp: [registry.host], chunkSize: 64 * 1024 });
    const result = await pushImage(
      chunked,
      `${registry.host}/tsoci/chunked:1.0`,
      pushSourceOf(image),
    );
    expect(result.blobs.uploaded).toBe(2);
    const layer = image.layers[0];
    if (layer === undefined) throw new Error('no layer');
    expect(layer.bytes.length).toBeGreaterThan(64 * 1024);
    const back = await chunked.readBlob(`${registry.host}/tsoci/chunked`, layer.descriptor, {
      maxBytes: 1 << 30,
    });
    expect(back.equals(layer.bytes)).toBe(true);
  });

  it('refuses to push content that does not match its descriptor, leaving nothing behind', async () => {
    const broken = buildImage({ label: 'broken' });
    const layer = broken.layers[0];
    if (layer === undefined) throw new Error('no layer');
    const source = pushSourceOf(broken);
    const corrupt = Buffer.from(layer.bytes);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length >> 1) ^ 0xff, corrupt.length >> 1);
    const error = await pushImage(client, `${registry.host}/tsoci/broken:1`, {
      ...source,
      openBlob: (d) => (d.digest === layer.descriptor.digest ? corrupt : source.openBlob(d)),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: 'EREGISTRY_DIGEST' });
    expect((error as Error).message).toContain(layer.descriptor.digest);
    expect(await client.blobExists(`${registry.host}/tsoci/broken`, layer.descriptor)).toBe(false);
    expect(await client.headManifest(`${registry.host}/tsoci/broken:1`)).toBeUndefined();
  });

  it('pushes a Docker schema 2 image and reads it back with its media types', async () => {
    const docker = buildImage({ format: 'docker', label: 'docker' });
    await pushImage(client, `${registry.host}/tsoci/docker:v2`, pushSourceOf(docker));
    const got = await client.getManifest(`${registry.host}/tsoci/docker:v2`);
    expect(got.descriptor.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(got.bytes.equals(docker.manifest)).toBe(true);
  });

  describe('multi-platform index', () => {
    const amd64 = buildImage({ architecture: 'amd64', label: 'amd64' });
    const arm64 = buildImage({ architecture: 'arm64', variant: 'v8', label: 'arm64' });
    const index = buildIndex([amd64, arm64]);
    const name = () => `${registry.host}/tsoci/multi`;

    beforeAll(async () => {
      const result = await pushImage(client, `${name()}:latest`, pushSourceOf(index));
      expect(result.digest).toBe(index.descriptor.digest);
    });

    it('serves the index by tag', async () => {
      const got = await client.getManifest(`${name()}:latest`);
      expect(got.kind).toBe('index');
      expect(got.descriptor.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      expect(got.bytes.equals(index.bytes)).toBe(true);
    });

    it('selects amd64 and arm64', async () => {
      const a = await client.resolvePlatform(`${name()}:latest`, {
        os: 'linux',
        architecture: 'amd64',
      });
      expect(a.descriptor.digest).toBe(amd64.descriptor.digest);
      const b = await client.resolvePlatform(`${name()}:latest`, {
        os: 'linux',
        architecture: 'arm64',
      });
      expect(b.descriptor.digest).toBe(arm64.descriptor.digest);
      const c = await client.resolvePlatform(`${name()}:latest`, {
        os: 'linux',
        architecture: 'aarch64',
        variant: 'v8',
      });
      expect(c.descriptor.digest).toBe(arm64.descriptor.digest);
    });

    it('names the available platforms when none matches', async () => {
      const error = await client
        .resolvePlatform(`${name()}:latest`, { os: 'linux', architecture: 'riscv64' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryError);
      expect(error).toMatchObject({ code: 'EREGISTRY_PLATFORM' });
      expect((error as Error).message).toContain('linux/riscv64');
      expect((error as Error).message).toContain('linux/amd64, linux/arm64/v8');
    });

    it('resolves through RegistrySource (the ImageSource contract)', async () => {
      const source = new RegistrySource(client, `${name()}:latest`);
      const resolved = await source.resolve({ os: 'linux', architecture: 'arm64' });
      expect(resolved.manifestDescriptor.digest).toBe(arm64.descriptor.digest);
      expect(Buffer.from(resolved.configBytes).equals(arm64.config)).toBe(true);
      expect(resolved.config.architecture).toBe('arm64');
      expect(resolved.layers).toEqual(arm64.layers.map((l) => l.descriptor));
      const layer = resolved.layers[0];
      if (layer === undefined) throw new Error('no layer');
      const chunks: Buffer[] = [];
      for await (const c of await source.openBlob(layer)) chunks.push(c as Buffer);
      expect(sha256(Buffer.concat(chunks))).toBe(layer.digest);
      await expect(source.resolve({ os: 'linux', architecture: 's390x' })).rejects.toMatchObject({
        code: 'EIMAGE_PLATFORM',
      });
      await source.close();
    });

    it('pulls the wanted platform into a layout', async () => {
      const dir = join(work, 'multi');
      const result = await pullToOciLayout(client, `${name()}:latest`, dir, {
        platform: { os: 'linux', architecture: 'arm64' },
      });
      expect(result.descriptor.digest).toBe(arm64.descriptor.digest);
      expect(result.descriptor.platform).toMatchObject({ architecture: 'arm64' });
    });
  });

  it('reports a missing manifest, tag and repository as EREGISTRY_NOT_FOUND', async () => {
    for (const ref of [
      `${registry.host}/tsoci/busybox:missing`,
      `${registry.host}/tsoci/nothere:1`,
    ]) {
      const error = await client.getManifest(ref).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'EREGISTRY_NOT_FOUND', status: 404 });
      expect((error as Error).message).toContain(`http://${registry.host}/v2/tsoci/`);
      expect((error as Error).message).toMatch(/MANIFEST_UNKNOWN|NAME_UNKNOWN/);
    }
    const source = new RegistrySource(client, `${registry.host}/tsoci/busybox:missing`);
    await expect(source.resolve()).rejects.toMatchObject({ code: 'EIMAGE_NOT_FOUND' });
  });
});
