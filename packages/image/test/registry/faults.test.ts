/**
 * Fault injection with fake registries on loopback: retries and their
 * bounds, dropped connections and resumed downloads, wrong bytes, wrong
 * sizes, wrong media types, and the bearer-token flow with redirects to
 * another origin.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Descriptor } from '@ts-oci/spec';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pullToOciLayout, RegistryClient, RegistryError } from '../../src/registry/index.js';
import {
  type FakeServer,
  json,
  selfSignedCertificate,
  startFake,
  startHttpsFake,
} from './helpers/fake.js';
import { buildImage, sha256 } from './helpers/image.js';

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(Buffer.from('{}')),
      size: 2,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: sha256(Buffer.from('x')),
        size: 1,
      },
    ],
  }),
);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const BLOB = Buffer.alloc(256 * 1024, 7);
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 31) & 0xff;
const BLOB_DESC: Descriptor = {
  mediaType: 'application/octet-stream',
  digest: sha256(BLOB),
  size: BLOB.length,
};

function manifestResponse(
  res: import('node:http').ServerResponse,
  body: Buffer = MANIFEST,
  type = OCI_MANIFEST,
): void {
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'docker-content-digest': sha256(body),
  });
  res.end(body);
}

let servers: FakeServer[] = [];
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsoci-faults-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function fake(handler: Parameters<typeof startFake>[0]): Promise<FakeServer> {
  const server = await startFake(handler);
  servers.push(server);
  return server;
}

const client = (host: string, extra: ConstructorParameters<typeof RegistryClient>[0] = {}) =>
  new RegistryClient({ plainHttp: [host], retryDelayMs: 5, maxRetryDelayMs: 50, ...extra });

describe('retries', () => {
  it('retries a 500 twice and then succeeds', async () => {
    const server = await fake((_req, res, _b, seen) => {
      if (seen.length <= 2) json(res, 500, { errors: [{ code: 'UNKNOWN', message: 'flaky' }] });
      else manifestResponse(res);
    });
    const got = await client(server.host).getManifest(`${server.host}/a/b:1`);
    expect(got.bytes.equals(MANIFEST)).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('gives up after the configured retries, naming the URL and the status', async () => {
    const server = await fake((_req, res) =>
      json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'down' }] }),
    );
    const error = await client(server.host, { retries: 2 })
      .getManifest(`${server.host}/a/b:1`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: 'EREGISTRY_HTTP', status: 503 });
    const message = (error as Error).message;
    expect(message).toContain(`GET http://${server.host}/v2/a/b/manifests/1`);
    expect(message).toContain('503');
    expect(message).toContain('after 3 attempts');
    expect(message).toContain('UNAVAILABLE (down)');
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry with retries: 0, nor a plain 400', async () => {
    const server = await fake((_req, res) => json(res, 500, {}));
    await expect(
      client(server.host, { retries: 0 }).getManifest(`${server.host}/a:1`),
    ).rejects.toMatchObject({
      status: 500,
    });
    expect(server.requests).toHaveLength(1);
    const bad = await fake((_req, res) => json(res, 400, { errors: [{ code: 'NAME_INVALID' }] }));
    await expect(client(bad.host).getManifest(`${bad.host}/a:1`)).rejects.toMatchObject({
      code: 'EREGISTRY_HTTP',
      status: 400,
      registryErrors: [{ code: 'NAME_INVALID' }],
    });
    expect(bad.requests).toHaveLength(1);
  });

  it('retries 429 and honours Retry-After', async () => {
    const server = await fake((_req, res, _b, seen) => {
      if (seen.length === 1)
        json(res, 429, { errors: [{ code: 'TOOMANYREQUESTS' }] }, { 'retry-after': '0' });
      else manifestResponse(res);
    });
    await client(server.host).getManifest(`${server.host}/a:1`);
    expect(server.requests).toHaveLength(2);
  });

  it('retries a connection reset', async () => {
    const server = await fake((req, res, _b, seen) => {
      if (seen.length === 1) req.socket.destroy();
      else manifestResponse(res);
    });
    await client(server.host).getManifest(`${server.host}/a:1`);
    expect(server.requests).toHaveLength(2);
  });

  it('reports a refused connection after the retries, with the cause', async () => {
    const server = await fake(() => {});
    const host = server.host;
    await server.close();
    servers = [];
    const error = await client(host, { retries: 1 })
      .getManifest(`${host}/a:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_HTTP' });
    expect((error as Error).message).toContain(`http://${host}/v2/a/manifests/1`);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).toContain('after 2 attempts');
  });

  it('stops when aborted', async () => {
    const server = await fake((_req, res) => json(res, 503, {}, { 'retry-after': '5' }));
    const controller = new AbortController();
    const pending = client(server.host, {
      maxRetryDelayMs: 5000,
      signal: controller.signal,
    }).getManifest(`${server.host}/a:1`);
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('blob downloads', () => {
  const blobPath = `/v2/a/blobs/${BLOB_DESC.digest}`;

  it('resumes a dropped download with a Range request', async () => {
    const server = await fake((req, res, _b, seen) => {
      if (seen.length === 1) {
        res.writeHead(200, { 'content-length': BLOB.length });
        res.write(BLOB.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      const m = /^bytes=([0-9]+)-$/.exec(req.headers.range ?? '');
      const start = Number(m?.[1] ?? 0);
      res.writeHead(206, {
        'content-length': BLOB.length - start,
        'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}`,
      });
      res.end(BLOB.subarray(start));
    });
    const data = await client(server.host).readBlob(`${server.host}/a`, BLOB_DESC);
    expect(data.equals(BLOB)).toBe(true);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]?.url).toBe(blobPath);
    expect(
      Number(/bytes=([0-9]+)-/.exec(server.requests[1]?.headers.range ?? '')?.[1]),
    ).toBeGreaterThan(0);
  });

  it('resumes against a server that ignores Range by skipping what it has', async () => {
    const server = await fake((req, res, _b, seen) => {
      res.writeHead(200, { 'content-length': BLOB.length });
      if (seen.length === 1)
        res.write(BLOB.subarray(0, 70_000), () => setTimeout(() => req.socket.destroy(), 20));
      else res.end(BLOB);
    });
    const data = await client(server.host).readBlob(`${server.host}/a`, BLOB_DESC);
    expect(data.equals(BLOB)).toBe(true);
  });

  it('gives up resuming after the configured retries', async () => {
    const server = await fake((req, res) => {
      const start = Number(/bytes=([0-9]+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(start > 0 ? 206 : 200, {
        'content-length': BLOB.length - start,
        ...(start > 0
          ? { 'content-range': `bytes ${start}-${BLOB.length - 1}/${BLOB.length}` }
          : {}),
      });
      res.write(BLOB.subarray(start, start + 1000), () =>
        setTimeout(() => req.socket.destroy(), 20),
      );
    });
    const error = await client(server.host, { retries: 2 })
      .readBlob(`${server.host}/a`, BLOB_DESC)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_HTTP' });
    expect((error as Error).message).toContain(
      `download failed after 3000 of ${BLOB.length} bytes and 2 resumptions`,
    );
    expect(server.requests).toHaveLength(3);
  });

  it('fails on wrong bytes with EREGISTRY_DIGEST and leaves nothing on disk', async () => {
    const wrong = Buffer.from(BLOB);
    wrong.writeUInt8(wrong.readUInt8(wrong.length - 1) ^ 1, wrong.length - 1);
    const server = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': wrong.length });
      res.end(wrong);
    });
    const dir = join(work, 'wrong-bytes');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const target = join(dir, 'blob');
    const error = await client(server.host)
      .downloadBlob(`${server.host}/a`, BLOB_DESC, target)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: 'EREGISTRY_DIGEST' });
    expect((error as Error).message).toContain(
      `digest mismatch: expected ${BLOB_DESC.digest}, got ${sha256(wrong)}`,
    );
    expect(await readdir(dir)).toEqual([]);
    // the stream itself errors too
    const stream = await client(server.host).fetchBlob(`${server.host}/a`, BLOB_DESC);
    await expect(
      (async () => {
        for await (const _ of stream) {
          // consume
        }
      })(),
    ).rejects.toMatchObject({ code: 'EREGISTRY_DIGEST' });
  });

  it('stops reading at the first byte beyond the descriptor size', async () => {
    let written = 0;
    const server = await fake((_req, res) => {
      // no Content-Length: chunked, endless unless the client stops
      res.writeHead(200);
      const timer = setInterval(() => {
        written += 65536;
        if (!res.write(Buffer.alloc(65536)) && written > 64 * 1024 * 1024) clearInterval(timer);
      }, 1);
      res.on('close', () => clearInterval(timer));
    });
    const error = await client(server.host)
      .readBlob(`${server.host}/a`, BLOB_DESC)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_DIGEST' });
    expect((error as Error).message).toContain(`more than the expected ${BLOB.length} bytes`);
    expect(written).toBeLessThan(32 * 1024 * 1024);
  });

  it('refuses a Content-Length that differs from the descriptor before reading', async () => {
    const server = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': 10 });
      res.end(Buffer.alloc(10));
    });
    await expect(
      client(server.host).fetchBlob(`${server.host}/a`, BLOB_DESC),
    ).rejects.toMatchObject({
      code: 'EREGISTRY_DIGEST',
      message: expect.stringContaining('the registry announces 10'),
    });
  });

  it('serves a descriptor with embedded data without a request', async () => {
    const data = Buffer.from('{}');
    const stream = await new RegistryClient().fetchBlob('example.invalid/a', {
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: sha256(data),
      size: 2,
      data: data.toString('base64'),
    });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('{}');
  });
});

describe('concurrency', () => {
  it('downloads layers in parallel, never more than `concurrency` at once', async () => {
    const image = buildImage({
      layers: Array.from({ length: 6 }, (_, i) => [
        { path: `f${i}`, content: Buffer.alloc(1000, i) },
      ]),
    });
    let inFlight = 0;
    let most = 0;
    const server = await fake(async (req, res) => {
      const url = req.url ?? '';
      if (url.includes('/manifests/')) return manifestResponse(res, image.manifest);
      const digest = url.slice(url.lastIndexOf('/') + 1);
      const bytes = image.blobs.get(digest);
      if (bytes === undefined) return json(res, 404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
      if (digest === image.configDescriptor.digest) {
        res.writeHead(200, { 'content-length': bytes.length });
        res.end(bytes);
        return;
      }
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 40));
      inFlight--;
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    for (const concurrency of [1, 2, 4]) {
      most = 0;
      const dir = join(work, `concurrency-${concurrency}`);
      const result = await pullToOciLayout(
        client(server.host, { concurrency }),
        `${server.host}/a:1`,
        dir,
      );
      expect(result.downloaded).toBe(6);
      expect(most).toBe(concurrency);
    }
  });
});

describe('connections (node:http)', () => {
  it('retries a request whose server goes silent, after the idle timeout', async () => {
    const server = await fake((_req, res, _b, seen) => {
      if (seen.length === 1) return; // never answers
      manifestResponse(res);
    });
    const got = await client(server.host, { idleTimeoutMs: 200 }).getManifest(`${server.host}/a:1`);
    expect(got.bytes.equals(MANIFEST)).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('sends a User-Agent, tsoci unless configured, on API and blob requests', async () => {
    const server = await fake((req, res) => {
      if (req.url?.includes('/blobs/')) {
        res.writeHead(200, { 'content-length': BLOB.length });
        res.end(BLOB);
      } else manifestResponse(res);
    });
    await client(server.host).getManifest(`${server.host}/a:1`);
    await client(server.host).readBlob(`${server.host}/a`, BLOB_DESC);
    await client(server.host, { userAgent: 'custom/1' }).readBlob(`${server.host}/a`, BLOB_DESC);
    expect(server.requests.map((r) => r.headers['user-agent'])).toEqual([
      'tsoci',
      'tsoci',
      'custom/1',
    ]);
  });

  it('stops a request waiting for its response when aborted', async () => {
    const server = await fake(() => {}); // never answers
    const controller = new AbortController();
    const pending = client(server.host, { signal: controller.signal }).getManifest(
      `${server.host}/a:1`,
    );
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.requests).toHaveLength(1);
  });

  it('reuses one connection for the requests of a pull, and answers HEADs without leaking it', async () => {
    const sockets = new Set<unknown>();
    const server = await fake((req, res) => {
      sockets.add(req.socket);
      if (req.method === 'HEAD') {
        // (without a length, node's server closes the connection after a HEAD)
        res.writeHead(404, { 'content-length': 0 });
        res.end();
        return;
      }
      manifestResponse(res);
    });
    const c = client(server.host);
    for (let i = 0; i < 3; i++) {
      expect(await c.blobExists(`${server.host}/a`, BLOB_DESC)).toBe(false);
      await c.getManifest(`${server.host}/a:${i}`);
    }
    expect(server.requests).toHaveLength(6);
    expect(sockets.size).toBe(1);
  });
});

describe('manifests', () => {
  it('checks a manifest fetched by digest against the digest', async () => {
    const other = Buffer.concat([MANIFEST, Buffer.from(' ')]);
    const server = await fake((_req, res) => manifestResponse(res, other));
    const error = await client(server.host)
      .getManifest(`${server.host}/a@${sha256(MANIFEST)}`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_DIGEST' });
  });

  it('checks Docker-Content-Digest against the content', async () => {
    const server = await fake((_req, res) => {
      res.writeHead(200, {
        'content-type': OCI_MANIFEST,
        'docker-content-digest': sha256(Buffer.from('other')),
      });
      res.end(MANIFEST);
    });
    await expect(client(server.host).getManifest(`${server.host}/a:1`)).rejects.toMatchObject({
      code: 'EREGISTRY_DIGEST',
    });
  });

  it.each([
    [
      'a Content-Type that contradicts mediaType',
      MANIFEST,
      'application/vnd.oci.image.index.v1+json',
      'declares media type',
    ],
    [
      'schema 1',
      Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'a', tag: '1', fsLayers: [] })),
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
      'schema 1',
    ],
    [
      'an unknown media type',
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-thing' })),
      'application/x-thing',
      'unsupported manifest media type',
    ],
    ['invalid JSON', Buffer.from('{nope'), OCI_MANIFEST, 'not valid JSON'],
    [
      'a document that breaks the schema',
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] })),
      OCI_MANIFEST,
      'config',
    ],
  ])('refuses %s', async (_name, body, type, message) => {
    const server = await fake((_req, res) => manifestResponse(res, body, type));
    const error = await client(server.host)
      .getManifest(`${server.host}/a:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_MANIFEST' });
    expect((error as Error).message).toContain(message);
  });

  it('refuses a manifest larger than the limit', async () => {
    const server = await fake((_req, res) => manifestResponse(res));
    await expect(
      client(server.host, { maxManifestBytes: 100 }).getManifest(`${server.host}/a:1`),
    ).rejects.toMatchObject({
      code: 'EREGISTRY_MANIFEST',
      message: expect.stringContaining('limit'),
    });
  });

  it('sends an Accept header for OCI and Docker manifests and indexes', async () => {
    const server = await fake((_req, res) => manifestResponse(res));
    await client(server.host).getManifest(`${server.host}/a:1`);
    const accept = String(server.requests[0]?.headers.accept);
    for (const type of [
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v2+json',
    ]) {
      expect(accept).toContain(type);
    }
  });
});

describe('bearer tokens and redirects', () => {
  /**
   * A fake registry that wants `Bearer <token for scope>` and redirects blob
   * GETs to a storage server on another origin; a token service that issues
   * one token per scope set.
   */
  async function setup(options: { basic?: [string, string] } = {}) {
    const storage = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': BLOB.length });
      res.end(BLOB);
    });
    const tokens = await fake((req, res) => {
      const url = new URL(req.url ?? '', 'http://x');
      if (options.basic) {
        const expected = `Basic ${Buffer.from(options.basic.join(':')).toString('base64')}`;
        if (req.headers.authorization !== expected) return json(res, 401, { details: 'bad login' });
      }
      const scopes = url.searchParams.getAll('scope').join(' ');
      json(res, 200, { token: `tok[${scopes}]`, expires_in: 300 });
    });
    const registry = await fake((req, res) => {
      const url = req.url ?? '';
      const repo = /^\/v2\/(.+?)\/(manifests|blobs)\//.exec(url)?.[1] ?? '';
      const wanted =
        req.method === 'GET' || req.method === 'HEAD'
          ? `repository:${repo}:pull`
          : `repository:${repo}:pull,push`;
      const auth = req.headers.authorization ?? '';
      if (
        !auth.startsWith('Bearer tok[') ||
        !auth.includes(wanted.split(':').slice(0, 2).join(':'))
      ) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake-registry",scope="${wanted}"`,
          'content-type': 'application/json',
        });
        res.end(
          JSON.stringify({
            errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
          }),
        );
        return;
      }
      if (url.includes('/manifests/')) return manifestResponse(res);
      if (url.includes('/blobs/')) {
        res.writeHead(307, { location: `${storage.url}/storage/blob?sig=1` });
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    });
    return { storage, tokens, registry };
  }

  it('answers the challenge, caches the token per scope and asks again for a new scope', async () => {
    const { tokens, registry } = await setup();
    const c = client(registry.host);
    await c.getManifest(`${registry.host}/team/app:1`);
    await c.getManifest(`${registry.host}/team/app:2`);
    await c.getManifest(`${registry.host}/team/app:3`);
    expect(tokens.requests).toHaveLength(1);
    const tokenUrl = new URL(tokens.requests[0]?.url ?? '', 'http://x');
    expect(tokenUrl.pathname).toBe('/token');
    expect(tokenUrl.searchParams.get('service')).toBe('fake-registry');
    expect(tokenUrl.searchParams.getAll('scope')).toEqual(['repository:team/app:pull']);
    // one 401 (the first request), then every request authorised up front
    expect(registry.requests.filter((r) => r.headers.authorization === undefined)).toHaveLength(1);
    await c.getManifest(`${registry.host}/team/other:1`);
    expect(tokens.requests).toHaveLength(2);
    expect(new URL(tokens.requests[1]?.url ?? '', 'http://x').searchParams.getAll('scope')).toEqual(
      ['repository:team/other:pull'],
    );
  });

  it('shares one token request between concurrent requests', async () => {
    const { tokens, registry } = await setup();
    const c = client(registry.host);
    await c.getManifest(`${registry.host}/team/app:0`); // learn the challenge
    const fresh = client(registry.host);
    await fresh.getManifest(`${registry.host}/team/app:0`);
    const before = tokens.requests.length;
    await Promise.all([1, 2, 3, 4].map((i) => fresh.getManifest(`${registry.host}/team/x:${i}`)));
    expect(tokens.requests.length - before).toBe(1);
  });

  it('sends Basic credentials to the token realm only', async () => {
    const { tokens, registry, storage } = await setup({ basic: ['alice', 's3cret'] });
    const anonymous = await client(registry.host)
      .getManifest(`${registry.host}/team/app:1`)
      .catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ code: 'EREGISTRY_AUTH' });
    expect((anonymous as Error).message).toContain('no credentials were found');
    const c = client(registry.host, { credentials: { username: 'alice', password: 's3cret' } });
    await c.getManifest(`${registry.host}/team/app:1`);
    await c.readBlob(`${registry.host}/team/app`, BLOB_DESC);
    expect(tokens.requests.at(-1)?.headers.authorization).toMatch(/^Basic /);
    for (const r of registry.requests) expect(r.headers.authorization ?? '').not.toMatch(/^Basic/);
    expect(storage.requests).toHaveLength(1);
  });

  it('follows a blob redirect to another origin without the Authorization header', async () => {
    const { registry, storage } = await setup();
    const c = client(registry.host);
    const data = await c.readBlob(`${registry.host}/team/app`, BLOB_DESC);
    expect(data.equals(BLOB)).toBe(true);
    const blobRequest = registry.requests.filter((r) => r.url.includes('/blobs/')).at(-1);
    expect(blobRequest?.headers.authorization).toMatch(/^Bearer tok\[/);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]?.url).toBe('/storage/blob?sig=1');
    expect(storage.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('keeps the Authorization header on a same-origin redirect', async () => {
    const token = 'Bearer same-origin';
    const server = await fake((req, res) => {
      if (req.headers.authorization !== token) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://127.0.0.1:1/never"' });
        res.end();
        return;
      }
      if (req.url?.startsWith('/v2/a/blobs/')) {
        res.writeHead(302, { location: '/elsewhere/blob' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': BLOB.length });
      res.end(BLOB);
    });
    const c = client(server.host, { credentials: { registryToken: 'same-origin' } });
    // registryToken is used once a Bearer challenge is known: the first request learns it
    const data = await c.readBlob(`${server.host}/a`, BLOB_DESC);
    expect(data.equals(BLOB)).toBe(true);
    const last = server.requests.at(-1);
    expect(last?.url).toBe('/elsewhere/blob');
    expect(last?.headers.authorization).toBe(token);
  });

  it('fails with EREGISTRY_AUTH when the token service refuses', async () => {
    const tokens = await fake((_req, res) => json(res, 403, { details: 'nope' }));
    const registry = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/t",service="s"` });
      res.end();
    });
    const error = await client(registry.host)
      .getManifest(`${registry.host}/a:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH', status: 403 });
    expect((error as Error).message).toContain(`token request to ${tokens.url}/t`);
  });

  it('fails with EREGISTRY_AUTH when a fresh token is refused again', async () => {
    const tokens = await fake((_req, res) => json(res, 200, { token: 'useless' }));
    const registry = await fake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/t",service="s"` });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'no' }] }));
    });
    const error = await client(registry.host)
      .getManifest(`${registry.host}/a:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH', status: 401 });
    expect(registry.requests).toHaveLength(2);
  });
});

describe('uploads', () => {
  it('uploads in order-preserving PATCH chunks and closes with PUT ?digest=', async () => {
    let received = Buffer.alloc(0);
    const server = await fake((req, res, body) => {
      const url = new URL(req.url ?? '', 'http://x');
      if (req.method === 'HEAD') {
        res.writeHead(404);
        res.end();
      } else if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/a/blobs/uploads/u1?state=0' });
        res.end();
      } else if (req.method === 'PATCH') {
        received = Buffer.concat([received, body]);
        res.writeHead(202, {
          location: `/v2/a/blobs/uploads/u1?state=${received.length}`,
          range: `0-${received.length - 1}`,
        });
        res.end();
      } else if (req.method === 'PUT') {
        const ok = url.searchParams.get('digest') === sha256(received);
        res.writeHead(ok ? 201 : 400, {
          location: `/v2/a/blobs/${sha256(received)}`,
          'docker-content-digest': sha256(received),
        });
        res.end();
      }
    });
    const result = await client(server.host, { chunkSize: 100_000 }).pushBlob(
      `${server.host}/a`,
      BLOB_DESC,
      BLOB,
    );
    expect(result).toBe('uploaded');
    expect(received.equals(BLOB)).toBe(true);
    const patches = server.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((p) => p.headers['content-range'])).toEqual([
      '0-99999',
      '100000-199999',
      `200000-${BLOB.length - 1}`,
    ]);
    expect(patches[1]?.url).toBe('/v2/a/blobs/uploads/u1?state=100000');
    const put = server.requests.at(-1);
    expect(put?.method).toBe('PUT');
    expect(put?.url).toBe(
      `/v2/a/blobs/uploads/u1?state=${BLOB.length}&digest=${encodeURIComponent(BLOB_DESC.digest)}`,
    );
  });

  it('verifies pushed content and fails with EREGISTRY_DIGEST on a mismatch', async () => {
    const server = await fake((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(404);
        res.end();
      } else if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/a/blobs/uploads/u1' });
        res.end();
      } else {
        res.writeHead(201);
        res.end();
      }
    });
    const wrong = Buffer.from(BLOB);
    wrong.writeUInt8(wrong.readUInt8(0) ^ 1, 0);
    const error = await client(server.host)
      .pushBlob(`${server.host}/a`, BLOB_DESC, () =>
        import('node:stream').then((s) => s.Readable.from([wrong])),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_DIGEST' });
  });
});

describe('TLS', () => {
  let tls: { key: Buffer; cert: Buffer } | undefined;
  beforeAll(() => {
    tls = selfSignedCertificate(work, { ip: '127.0.0.1' });
  });

  async function httpsFake(
    handler: (
      req: import('node:http').IncomingMessage,
      res: import('node:http').ServerResponse,
    ) => void,
  ) {
    if (tls === undefined) throw new Error('openssl is needed for the TLS tests');
    const server = await startHttpsFake(tls, handler);
    servers.push(server);
    return server.host;
  }

  it('uses https by default, verifies certificates, and skips verification only when asked', async () => {
    const host = await httpsFake((_req, res) => manifestResponse(res));
    const strict = new RegistryClient({ retries: 0 });
    const error = await strict.getManifest(`${host}/a:1`).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_HTTP' });
    expect((error as Error).message).toContain(`https://${host}/v2/a/manifests/1`);
    expect((error as Error).message).toMatch(/self[- ]signed|certificate/i);
    const insecure = new RegistryClient({ insecure: [host] });
    expect((await insecure.getManifest(`${host}/a:1`)).bytes.equals(MANIFEST)).toBe(true);
    const trusted = new RegistryClient({ ca: tls?.cert ?? '' });
    expect((await trusted.getManifest(`${host}/a:1`)).bytes.equals(MANIFEST)).toBe(true);
  });

  it('never sends credentials to a plain-http token realm of an https registry', async () => {
    const realm = await fake((_req, res) => json(res, 200, { token: 't' }));
    const host = await httpsFake((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm.url}/token",service="s"` });
      res.end();
    });
    const c = new RegistryClient({
      insecure: [host],
      credentials: { username: 'u', password: 'p' },
    });
    const error = await c.getManifest(`${host}/a:1`).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH' });
    expect((error as Error).message).toContain('refusing to send credentials');
    expect(realm.requests).toHaveLength(0);
  });

  it('refuses a redirect from https to plain http', async () => {
    const plain = await fake((_req, res) => manifestResponse(res));
    const host = await httpsFake((_req, res) => {
      res.writeHead(302, { location: `${plain.url}/v2/a/manifests/1` });
      res.end();
    });
    const error = await new RegistryClient({ insecure: true })
      .getManifest(`${host}/a:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'EREGISTRY_HTTP',
      message: expect.stringContaining('refusing a redirect'),
    });
    expect(plain.requests).toHaveLength(0);
  });
});
