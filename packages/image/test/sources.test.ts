/**
 * Image sources: layouts and archives written by our fixtures, by umoci and
 * by skopeo; docker-save archives in both shapes; bad inputs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyStream } from '../src/digest.js';
import { hostPlatform, selectPlatform } from '../src/platform.js';
import type { ImageSource } from '../src/source.js';
import { openImageSource, parseImageReference } from '../src/sources/open.js';
import {
  gzip,
  LAYER_MEDIA,
  sha256,
  standardLayers,
  tarLayer,
  tempDir,
  tools,
  writeLayout,
} from './helpers.js';

async function readAll(source: ImageSource, index: number): Promise<Buffer> {
  const image = await source.resolve();
  const layer = image.layers[index];
  if (layer === undefined) throw new Error('no such layer');
  const chunks: Buffer[] = [];
  const verifier = verifyStream({ digest: layer.digest, size: layer.size });
  (await source.openBlob(layer)).pipe(verifier);
  for await (const c of verifier) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const skopeo = (...args: string[]) =>
  execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

/** An OCI layout made by umoci from a busybox directory. */
function umociLayout(): string {
  const dir = tempDir();
  const layout = join(dir, 'layout');
  const src = join(dir, 'src/bin');
  mkdirSync(src, { recursive: true });
  execFileSync('cp', ['/bin/busybox', join(src, 'busybox')]);
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', `${layout}:v1`]);
  execFileSync('umoci', ['insert', '--image', `${layout}:v1`, src, '/bin']);
  execFileSync('umoci', [
    'config',
    '--image',
    `${layout}:v1`,
    '--config.cmd',
    '/bin/busybox',
    '--config.user',
    '1000',
  ]);
  return layout;
}

describe('image references', () => {
  it('parses transports as skopeo spells them', () => {
    expect(parseImageReference('oci:/a/b:tag')).toMatchObject({
      transport: 'oci',
      path: '/a/b',
      tag: 'tag',
    });
    expect(parseImageReference('oci:/a/b')).toEqual({
      transport: 'oci',
      rest: '/a/b',
      path: '/a/b',
    });
    expect(parseImageReference('oci-archive:x.tar:v1.2')).toMatchObject({
      path: 'x.tar',
      tag: 'v1.2',
    });
    expect(parseImageReference('docker-archive:d.tar:busybox:latest')).toMatchObject({
      path: 'd.tar',
      tag: 'busybox:latest',
    });
    expect(parseImageReference('docker-archive:d.tar:@2')).toMatchObject({ index: 2 });
    expect(parseImageReference('docker://busybox:1.36')).toMatchObject({
      transport: 'docker',
      rest: '//busybox:1.36',
    });
    for (const bad of ['busybox', '/abs/path', 'nope:thing', 'oci:', 'docker-archive:x:@z']) {
      expect(() => parseImageReference(bad)).toThrow(
        expect.objectContaining({ code: 'EIMAGE_REFERENCE' }),
      );
    }
  });
});

describe('transports', () => {
  it('opens docker:// references through the registry client, lazily', async () => {
    const source = await openImageSource('docker://127.0.0.1:1/some/repo:tag');
    expect(source.reference).toBe('docker://127.0.0.1:1/some/repo:tag');
    await source.close();
    await expect(openImageSource('docker:busybox')).rejects.toMatchObject({
      code: 'EIMAGE_REFERENCE',
    });
  });
});

describe('OCI layouts', () => {
  it('reads a layout with gzip and zstd layers', async () => {
    const [l0, l1, l2] = await standardLayers();
    const dir = tempDir();
    const fx = writeLayout(dir, [
      { tar: l0 as Buffer, compression: 'gzip' },
      { tar: l1 as Buffer, compression: 'zstd' },
      { tar: l2 as Buffer },
    ]);
    const source = await openImageSource(`oci:${dir}:latest`);
    const image = await source.resolve();
    expect(image.manifestDescriptor.digest).toBe(fx.manifestDigest);
    expect(image.layers.map((l) => l.mediaType)).toEqual([
      LAYER_MEDIA.gzip,
      LAYER_MEDIA.zstd,
      LAYER_MEDIA.none,
    ]);
    expect(image.config.rootfs.diff_ids).toEqual(fx.diffIds);
    expect(sha256(await readAll(source, 2))).toBe(fx.layerDigests[2]);
    await source.close();
  });

  it.skipIf(!tools.umoci)('reads what umoci writes', async () => {
    const layout = umociLayout();
    const source = await openImageSource(`oci:${layout}:v1`);
    const image = await source.resolve();
    expect(image.config.config?.Cmd).toEqual(['/bin/busybox']);
    expect(image.layers).toHaveLength(1);
    expect((await readAll(source, 0)).length).toBe(image.layers[0]?.size);
    await expect((await openImageSource(`oci:${layout}:nope`)).resolve()).rejects.toMatchObject({
      code: 'EIMAGE_NOT_FOUND',
      message: /v1/,
    });
  });

  it('chooses the platform from an index', async () => {
    const dir = tempDir();
    const amd = writeLayout(join(dir, 'amd'), [
      { tar: await tarLayer([{ name: 'arch', content: 'amd64' }]) },
    ]);
    const arm = writeLayout(
      join(dir, 'arm'),
      [{ tar: await tarLayer([{ name: 'arch', content: 'arm64' }]) }],
      {
        architecture: 'arm64',
      },
    );
    // merge both into one layout with an index of two platforms
    const out = join(dir, 'multi');
    mkdirSync(join(out, 'blobs/sha256'), { recursive: true });
    execFileSync('sh', [
      '-c',
      `cp ${amd.dir}/blobs/sha256/* ${arm.dir}/blobs/sha256/* ${out}/blobs/sha256/`,
    ]);
    writeFileSync(join(out, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const desc = (fx: typeof amd, architecture: string, variant?: string) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: fx.manifestDigest,
      size: readFileSync(join(fx.dir, 'blobs/sha256', fx.manifestDigest.slice(7))).length,
      platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
    });
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [desc(amd, 'amd64'), desc(arm, 'arm64', 'v8')],
    });
    writeFileSync(join(out, 'blobs/sha256', sha256(index).slice(7)), index);
    writeFileSync(
      join(out, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest: sha256(index),
            size: index.length,
            annotations: { 'org.opencontainers.image.ref.name': 'multi' },
          },
        ],
      }),
    );
    const source = await openImageSource(`oci:${out}:multi`);
    const host = await source.resolve();
    const hostArch = hostPlatform().architecture;
    if (hostArch === 'amd64' || hostArch === 'arm64') {
      expect(host.config.architecture).toBe(hostArch);
    }
    const armImage = await source.resolve({ os: 'linux', architecture: 'arm64' });
    expect(armImage.manifestDescriptor.digest).toBe(arm.manifestDigest);
    expect(armImage.manifestDescriptor.platform).toMatchObject({ architecture: 'arm64' });
    await expect(source.resolve({ os: 'linux', architecture: 's390x' })).rejects.toMatchObject({
      code: 'EIMAGE_PLATFORM',
      message: /linux\/amd64, linux\/arm64\/v8/,
    });
  });

  it('reports broken layouts clearly', async () => {
    const layer = await tarLayer([{ name: 'f', content: 'f' }]);
    const missing = writeLayout(tempDir(), [{ tar: layer }], { omitLayers: [0] });
    const s1 = await openImageSource(`oci:${missing.dir}`);
    await s1.resolve();
    await expect(
      s1.openBlob({
        mediaType: LAYER_MEDIA.none,
        digest: missing.layerDigests[0] as string,
        size: 1,
      }),
    ).rejects.toMatchObject({
      code: 'EIMAGE_NOT_FOUND',
    });
    const unknown = writeLayout(tempDir(), [{ tar: layer }], {
      mutateManifest: (m) => {
        (m.layers as { mediaType: string }[])[0] = {
          ...(m.layers as { mediaType: string }[])[0],
          mediaType: 'application/vnd.example.weird',
        } as never;
      },
    });
    await expect((await openImageSource(`oci:${unknown.dir}`)).resolve()).rejects.toMatchObject({
      code: 'EIMAGE_MEDIA_TYPE',
      message: /vnd\.example\.weird/,
    });
    // a manifest whose bytes do not match the index's digest
    const tampered = writeLayout(tempDir(), [{ tar: layer }]);
    const manifestPath = join(tampered.dir, 'blobs/sha256', tampered.manifestDigest.slice(7));
    writeFileSync(
      manifestPath,
      readFileSync(manifestPath, 'utf8').replace('"schemaVersion":2', '"schemaVersion": 2'),
    );
    await expect((await openImageSource(`oci:${tampered.dir}`)).resolve()).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
    });
    await expect((await openImageSource(`oci:${tempDir()}`)).resolve()).rejects.toMatchObject({
      code: 'EIMAGE_NOT_FOUND',
      message: /not an OCI image layout/,
    });
    // two names, no tag given
    const two = writeLayout(tempDir(), [{ tar: layer }]);
    const idx = JSON.parse(readFileSync(join(two.dir, 'index.json'), 'utf8'));
    idx.manifests.push({
      ...idx.manifests[0],
      annotations: { 'org.opencontainers.image.ref.name': 'other' },
    });
    writeFileSync(join(two.dir, 'index.json'), JSON.stringify(idx));
    await expect((await openImageSource(`oci:${two.dir}`)).resolve()).rejects.toMatchObject({
      code: 'EIMAGE_AMBIGUOUS',
      message: /latest, other/,
    });
  });
});

describe.skipIf(!tools.skopeo || !tools.umoci)('archives written by skopeo', () => {
  it('reads oci-archive, docker-archive, and compressed archives', async () => {
    const layout = umociLayout();
    const dir = tempDir();
    const ociArchive = join(dir, 'img.tar');
    const dockerArchive = join(dir, 'docker.tar');
    skopeo('copy', `oci:${layout}:v1`, `oci-archive:${ociArchive}:v1`);
    skopeo('copy', `oci:${layout}:v1`, `docker-archive:${dockerArchive}:example.com/busy/box:v1`);
    const original = await (await openImageSource(`oci:${layout}:v1`)).resolve();

    const oci = await openImageSource(`oci-archive:${ociArchive}:v1`);
    const fromOci = await oci.resolve();
    expect(fromOci.manifestDescriptor.digest).toBe(original.manifestDescriptor.digest);
    expect(sha256(await readAll(oci, 0))).toBe(original.layers[0]?.digest);
    await oci.close();

    const docker = await openImageSource(`docker-archive:${dockerArchive}:example.com/busy/box:v1`);
    const fromDocker = await docker.resolve();
    expect(fromDocker.config.config?.Cmd).toEqual(['/bin/busybox']);
    expect(fromDocker.config.rootfs.diff_ids).toEqual(original.config.rootfs.diff_ids);
    // an uncompressed docker layer is its own diff
    expect(fromDocker.layers[0]?.digest).toBe(original.config.rootfs.diff_ids[0]);
    expect(sha256(await readAll(docker, 0))).toBe(fromDocker.layers[0]?.digest);
    await docker.close();
    for (const ref of [`docker-archive:${dockerArchive}`, `docker-archive:${dockerArchive}:@0`]) {
      const s = await openImageSource(ref);
      expect((await s.resolve()).config.rootfs.diff_ids).toEqual(original.config.rootfs.diff_ids);
      await s.close();
    }
    await expect(
      (await openImageSource(`docker-archive:${dockerArchive}:other:v1`)).resolve(),
    ).rejects.toMatchObject({
      code: 'EIMAGE_NOT_FOUND',
      message: /example\.com\/busy\/box:v1/,
    });

    // gzip-compressed archive
    const gz = join(dir, 'docker.tar.gz');
    writeFileSync(gz, gzip(readFileSync(dockerArchive)));
    const compressed = await openImageSource(`docker-archive:${gz}`);
    expect((await compressed.resolve()).layers[0]?.digest).toBe(fromDocker.layers[0]?.digest);
    await compressed.close();
  });

  it('reads the docker save shape that carries an OCI layout', async () => {
    // Docker ≥ 25: index.json + blobs/sha256 + manifest.json pointing into blobs/.
    const layout = umociLayout();
    const image = await (await openImageSource(`oci:${layout}:v1`)).resolve();
    const dir = tempDir();
    const root = join(dir, 'save');
    execFileSync('cp', ['-r', layout, root]);
    const idx = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
    idx.manifests[0].annotations['io.containerd.image.name'] = 'docker.io/library/busy:v1';
    writeFileSync(join(root, 'index.json'), JSON.stringify(idx));
    writeFileSync(
      join(root, 'manifest.json'),
      JSON.stringify([
        {
          Config: `blobs/sha256/${image.manifest.config.digest.slice(7)}`,
          RepoTags: ['busy:v1'],
          Layers: image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
        },
      ]),
    );
    writeFileSync(join(root, 'repositories'), JSON.stringify({ busy: { v1: 'x' } }));
    const archive = join(dir, 'save.tar');
    execFileSync('tar', ['-C', root, '-cf', archive, '.']);
    const source = await openImageSource(`docker-archive:${archive}:docker.io/library/busy:v1`);
    const resolved = await source.resolve();
    // the real OCI manifest is used, not a synthesised one
    expect(resolved.manifestDescriptor.digest).toBe(image.manifestDescriptor.digest);
    expect(sha256(await readAll(source, 0))).toBe(image.layers[0]?.digest);
    await source.close();
  });
});

describe('platforms', () => {
  it('maps the host and prefers exact variants', () => {
    const host = hostPlatform();
    expect(host.os).toBe('linux');
    if (process.arch === 'x64') expect(host.architecture).toBe('amd64');
    const m = (architecture: string, variant?: string) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${architecture}${variant ?? ''}`,
      size: 1,
      platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
    });
    const list = [m('arm', 'v6'), m('arm', 'v7'), m('arm64'), m('amd64')];
    expect(selectPlatform(list, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest).toBe(
      'sha256:armv7',
    );
    expect(
      selectPlatform(list.slice(0, 1), { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest,
    ).toBe('sha256:armv6');
    expect(
      selectPlatform(list, { os: 'linux', architecture: 'arm64', variant: 'v8' })?.digest,
    ).toBe('sha256:arm64');
    expect(selectPlatform(list, { os: 'windows', architecture: 'amd64' })).toBeUndefined();
  });
});

describe('archives with hostile members', () => {
  it('never follows an archive symlink out of the archive', async () => {
    const layer = await tarLayer([{ name: 'f', content: 'f' }]);
    const fx = writeLayout(tempDir(), [{ tar: layer }]);
    const digest = (fx.layerDigests[0] as string).slice(7);
    // an oci-archive whose layer blob is a symlink pointing outside the archive
    const archive = await tarLayer([
      { name: 'oci-layout', content: readFileSync(join(fx.dir, 'oci-layout')) },
      { name: 'index.json', content: readFileSync(join(fx.dir, 'index.json')) },
      ...[fx.manifestDigest, fx.configDigest].map((d) => ({
        name: `blobs/sha256/${d.slice(7)}`,
        content: readFileSync(join(fx.dir, 'blobs/sha256', d.slice(7))),
      })),
      {
        name: `blobs/sha256/${digest}`,
        type: 'symlink' as const,
        linkname: '../../../../etc/passwd',
      },
    ]);
    const file = join(tempDir(), 'evil.tar');
    writeFileSync(file, archive);
    const source = await openImageSource(`oci-archive:${file}`);
    const image = await source.resolve();
    await expect(source.openBlob(image.layers[0] as never)).rejects.toMatchObject({
      code: 'EIMAGE_UNSAFE_PATH',
    });
    await source.close();
  });
});
