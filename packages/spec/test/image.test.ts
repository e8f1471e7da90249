/**
 * The image side: descriptors, manifests, indexes, image configs, oci-layout
 * and the metadata files of `docker save` archives, good and bad.
 */
import { describe, expect, it } from 'vitest';
import { SpecValidationError } from '../src/errors.js';
import { DOCKER_MEDIA_TYPES, OCI_MEDIA_TYPES } from '../src/image/media-types.js';
import {
  parseDescriptor,
  parseDockerArchiveManifest,
  parseDockerRepositories,
  parseImageConfig,
  parseImageLayout,
  parseIndex,
  parseManifest,
} from '../src/parse.js';
import {
  descriptorSeeds,
  imageConfigSeeds,
  indexSeeds,
  layoutSeeds,
  manifestSeeds,
} from './helpers/seeds.js';

const SHA = 'sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b';
const SHA_B = 'sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270';

function issues(parse: (input: unknown) => unknown, input: unknown): string[] {
  try {
    parse(input);
    return [];
  } catch (error) {
    if (!(error instanceof SpecValidationError)) throw error;
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

const descriptor = (extra: object = {}) => ({
  mediaType: OCI_MEDIA_TYPES.layerGzip,
  digest: SHA,
  size: 32654,
  ...extra,
});

describe('good documents', () => {
  const cases: [string, (input: unknown) => unknown, unknown[]][] = [
    ['descriptor', parseDescriptor, descriptorSeeds()],
    ['manifest', parseManifest, manifestSeeds()],
    ['index', parseIndex, indexSeeds()],
    ['image config', parseImageConfig, imageConfigSeeds()],
    ['oci-layout', parseImageLayout, layoutSeeds()],
  ];
  for (const [name, parse, docs] of cases) {
    it(`parses every ${name} example unchanged`, () => {
      for (const doc of docs) expect(parse(JSON.stringify(doc))).toEqual(doc);
    });
  }
});

describe('descriptor', () => {
  it('checks the digest grammar and the registered encodings', () => {
    expect(issues(parseDescriptor, descriptor({ digest: 'sha256' }))).toEqual([
      'digest: expected a digest (algorithm:encoded) matching ^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$, got "sha256"',
    ]);
    expect(
      issues(parseDescriptor, descriptor({ digest: SHA.toUpperCase().replace('SHA', 'sha') })),
    ).toEqual([
      expect.stringMatching(/^digest: expected 64 lowercase hex digits after "sha256:", got /),
    ]);
    expect(issues(parseDescriptor, descriptor({ digest: `sha512:${'a'.repeat(127)}` }))).toEqual([
      expect.stringMatching(/^digest: expected 128 lowercase hex digits after "sha512:"/),
    ]);
    // Unregistered algorithms pass if they follow the grammar (descriptor.md).
    expect(
      issues(
        parseDescriptor,
        descriptor({ digest: 'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8' }),
      ),
    ).toEqual([]);
  });

  it('checks media types, sizes, urls and embedded data', () => {
    expect(
      issues(
        parseDescriptor,
        descriptor({
          mediaType: 'tar',
          size: 1.5,
          urls: ['https://example.com/x', 'not a url'],
          data: 'e30',
          annotations: { a: 1 },
        }),
      ),
    ).toEqual([
      'mediaType: expected a media type (type/subtype) matching ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$, got "tar"',
      'size: expected an integer, got 1.5',
      'urls[1]: expected an RFC 3986 URI, got "not a url"',
      'annotations.a: expected a string, got 1',
      'data: expected RFC 4648 base64 text, got "e30" (descriptor.md#properties)',
    ]);
  });

  it('requires mediaType, digest and size', () => {
    expect(issues(parseDescriptor, {})).toEqual([
      'mediaType: required property is missing',
      'digest: required property is missing',
      'size: required property is missing',
    ]);
  });
});

describe('manifest', () => {
  const manifest = (extra: object = {}) => ({
    schemaVersion: 2,
    mediaType: OCI_MEDIA_TYPES.imageManifest,
    config: descriptor({ mediaType: OCI_MEDIA_TYPES.imageConfig }),
    layers: [descriptor()],
    ...extra,
  });

  it('accepts Docker schema2 manifests, which have the same shape', () => {
    const docker = manifest({
      mediaType: DOCKER_MEDIA_TYPES.manifestV2,
      config: descriptor({ mediaType: DOCKER_MEDIA_TYPES.imageConfig }),
      layers: [descriptor({ mediaType: DOCKER_MEDIA_TYPES.layerGzip })],
    });
    expect(parseManifest(docker)).toEqual(docker);
  });

  it('rejects other documents passed off as manifests', () => {
    expect(issues(parseManifest, manifest({ mediaType: OCI_MEDIA_TYPES.imageIndex }))).toEqual([
      'mediaType: expected one of "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json", got "application/vnd.oci.image.index.v1+json" (manifest.md)',
    ]);
    expect(issues(parseManifest, manifest({ schemaVersion: 1 }))).toEqual([
      'schemaVersion: expected the integer 2, got 1',
    ]);
    expect(issues(parseManifest, manifest({ layers: [] }))).toEqual([
      'layers: expected at least 1 entry, got an empty array',
    ]);
    expect(issues(parseManifest, manifest({ layers: [descriptor(), { size: 'big' }] }))).toEqual([
      'layers[1].mediaType: required property is missing',
      'layers[1].digest: required property is missing',
      'layers[1].size: expected an integer, got "big"',
    ]);
  });

  it('requires artifactType for an artifact with the empty config', () => {
    const artifact = manifest({ config: descriptor({ mediaType: OCI_MEDIA_TYPES.empty }) });
    expect(issues(parseManifest, artifact)).toEqual([
      'artifactType: required property is missing (required when config.mediaType is the empty media type; manifest.md)',
    ]);
    expect(
      issues(parseManifest, { ...artifact, artifactType: 'application/vnd.example+json' }),
    ).toEqual([]);
  });
});

describe('index', () => {
  it('checks platforms and accepts Docker manifest lists', () => {
    const list = {
      schemaVersion: 2,
      mediaType: DOCKER_MEDIA_TYPES.manifestListV2,
      manifests: [
        descriptor({
          mediaType: DOCKER_MEDIA_TYPES.manifestV2,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
        }),
      ],
    };
    expect(parseIndex(list)).toEqual(list);
    expect(
      issues(parseIndex, {
        ...list,
        manifests: [descriptor({ platform: { architecture: 'amd64' } })],
      }),
    ).toEqual(['manifests[0].platform.os: required property is missing']);
    expect(issues(parseIndex, { schemaVersion: 2 })).toEqual([
      'manifests: required property is missing',
    ]);
  });
});

describe('image config', () => {
  const config = (extra: object = {}) => ({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [SHA, SHA_B] },
    ...extra,
  });

  it('accepts the nulls Docker writes for absent fields', () => {
    const doc = config({
      created: null,
      config: { Env: null, Entrypoint: null, Cmd: ['sh'], ExposedPorts: null, Labels: null },
      history: [{ created_by: 'x', empty_layer: null }],
    });
    expect(parseImageConfig(doc)).toEqual(doc);
  });

  it('checks dates, DiffIDs and the rootfs type', () => {
    expect(
      issues(
        parseImageConfig,
        config({
          created: '2015-10-31',
          rootfs: { type: 'tar', diff_ids: [SHA, 'layer.tar'] },
          history: [{ created: '2015-02-29T00:00:00Z' }],
          config: { ExposedPorts: { '80/tcp': [] }, Entrypoint: 'sh' },
        }),
      ),
    ).toEqual([
      'created: expected an RFC 3339 date-time such as "2015-10-31T22:22:56Z", got "2015-10-31"',
      'config.ExposedPorts["80/tcp"]: expected an object, got an array',
      'config.Entrypoint: expected an array, got "sh"',
      'rootfs.type: expected "layers", got "tar"',
      'rootfs.diff_ids[1]: expected a digest (algorithm:encoded), got "layer.tar" (config.md#layer-diffid)',
      'history[0].created: expected an RFC 3339 date-time such as "2015-10-31T22:22:56Z", got "2015-02-29T00:00:00Z"',
    ]);
  });

  it('requires architecture, os and rootfs', () => {
    expect(issues(parseImageConfig, {})).toEqual([
      'architecture: required property is missing',
      'os: required property is missing',
      'rootfs: required property is missing',
    ]);
  });
});

describe('oci-layout', () => {
  it('knows layout version 1.0.0 only', () => {
    expect(parseImageLayout('{"imageLayoutVersion":"1.0.0"}')).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(issues(parseImageLayout, '{"imageLayoutVersion":"2.0.0"}')).toEqual([
      'imageLayoutVersion: expected "1.0.0", got "2.0.0"',
    ]);
  });
});

describe('docker save archives', () => {
  const hex = SHA.slice('sha256:'.length);
  // What `docker save busybox:latest alpine` writes (Docker 24 layout, and Docker 25+ OCI paths).
  const manifestJson = [
    {
      Config: `${hex}.json`,
      RepoTags: ['busybox:latest'],
      Layers: [`${hex}/layer.tar`],
    },
    {
      Config: `blobs/sha256/${hex}`,
      RepoTags: null,
      Layers: [`blobs/sha256/${hex}`],
      LayerSources: {
        [SHA_B]: {
          mediaType: DOCKER_MEDIA_TYPES.layerForeignGzip,
          size: 1,
          digest: SHA_B,
          urls: ['https://example.com/l'],
        },
      },
    },
    { Config: 'c.json', RepoTags: [], Layers: null, Parent: `sha256:${hex}` },
  ];

  it('parses manifest.json', () => {
    expect(parseDockerArchiveManifest(JSON.stringify(manifestJson))).toEqual(manifestJson);
  });

  it('rejects malformed manifest.json entries and paths leaving the archive', () => {
    expect(
      issues(parseDockerArchiveManifest, [
        {
          Config: '/etc/passwd',
          RepoTags: 'busybox',
          Layers: ['../../x/layer.tar', 'ok/layer.tar'],
        },
        { RepoTags: [] },
      ]),
    ).toEqual([
      '[0].Config: expected a relative path inside the archive, got "/etc/passwd"',
      '[0].RepoTags: expected an array, got "busybox"',
      '[0].Layers[0]: expected a relative path inside the archive, got "../../x/layer.tar"',
      '[1].Config: required property is missing',
      '[1].Layers: required property is missing',
    ]);
    expect(issues(parseDockerArchiveManifest, { Config: 'x' })).toEqual(
      ['expected an array, got an object'].map((m) => `: ${m}`),
    );
  });

  it('parses repositories', () => {
    const repositories = {
      busybox: { latest: hex },
      'registry.example:5000/app': { v1: hex, v2: hex },
    };
    expect(parseDockerRepositories(Buffer.from(JSON.stringify(repositories)))).toEqual(
      repositories,
    );
    expect(issues(parseDockerRepositories, { busybox: { latest: 1 }, alpine: 'x' })).toEqual([
      'busybox.latest: expected a string, got 1',
      'alpine: expected an object, got "x"',
    ]);
  });
});

describe('media type constants', () => {
  it('spell the registered types', () => {
    expect(OCI_MEDIA_TYPES.imageManifest).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(OCI_MEDIA_TYPES.imageIndex).toBe('application/vnd.oci.image.index.v1+json');
    expect(DOCKER_MEDIA_TYPES.manifestV2).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    );
    expect(DOCKER_MEDIA_TYPES.manifestListV2).toBe(
      'application/vnd.docker.distribution.manifest.list.v2+json',
    );
    for (const type of [...Object.values(OCI_MEDIA_TYPES), ...Object.values(DOCKER_MEDIA_TYPES)]) {
      expect(type).toMatch(/^application\/vnd\.(oci|docker)\.[a-z0-9.+-]+$/);
    }
  });
});
