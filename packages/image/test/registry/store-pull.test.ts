/**
 * Pulls into the store, where registry blobs go from the socket straight
 * into the blob file (BlobStream.toFile through the store's file-writer
 * lookup): large layers in odd-sized pieces, progress, connections reset or
 * cut short mid-layer and resumed, wrong bytes, redirects to storage on
 * another host, a stalled server, aborts, chunked responses and TLS. Every
 * failure must leave neither a blob nor an ingest file nor an index entry.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ImageProgressEvent } from '../../src/progress.js';
import { BlobStream } from '../../src/registry/blob-stream.js';
import {
  RegistryClient,
  type RegistryClientOptions,
  RegistrySource,
} from '../../src/registry/index.js';
import { ImageStore } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import {
  type FakeServer,
  json,
  selfSignedCertificate,
  startFake,
  startHttpsFake,
} from './helpers/fake.js';
import { type BuiltImage, buildImage, makeTar } from './helpers/image.js';

// Incompressible, several batches (1 MiB) long: a layer of 5 MiB.
const IMAGE = buildImage({
  rawLayers: [
    gzipSync(makeTar([{ path: 'big.bin', content: randomBytes(5 * 1024 * 1024) }]), { level: 0 }),
  ],
});
const LAYER = IMAGE.layers[0] as BuiltImage['layers'][number];

let servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

type LayerHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  attempt: number,
) => void | Promise<void>;

/**
 * A registry serving IMAGE as `a:1`; layer GETs go to `layer` (attempt
 * counts them from 1), everything else is answered normally.
 */
async function registry(layer: LayerHandler): Promise<FakeServer> {
  let attempts = 0;
  const server = await startFake(async (req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/a/manifests/1') {
      res.writeHead(200, {
        'content-type': IMAGE.mediaType,
        'content-length': IMAGE.manifest.length,
      });
      res.end(IMAGE.manifest);
      return;
    }
    if (url === `/v2/a/blobs/${LAYER.descriptor.digest}`) {
      await layer(req, res, ++attempts);
      return;
    }
    const blob = IMAGE.blobs.get(url.slice('/v2/a/blobs/'.length));
    if (blob === undefined) return json(res, 404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob);
  });
  servers.push(server);
  return server;
}

/** Writes bytes in pieces, yielding between them, so the client sees many reads. */
async function dribble(res: ServerResponse, bytes: Buffer, size: number): Promise<void> {
  for (let i = 0; i < bytes.length && !res.destroyed; i += size) {
    if (!res.write(bytes.subarray(i, i + size))) {
      await new Promise((r) => res.once('drain', r));
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
}

/** Serves the layer from the Range start (206), or whole (200). */
function serveLayer(req: IncomingMessage, res: ServerResponse): number {
  const start = Number(/^bytes=([0-9]+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
  res.writeHead(start > 0 ? 206 : 200, {
    'content-length': LAYER.bytes.length - start,
    ...(start > 0
      ? { 'content-range': `bytes ${start}-${LAYER.bytes.length - 1}/${LAYER.bytes.length}` }
      : {}),
  });
  res.end(LAYER.bytes.subarray(start));
  return start;
}

function pull(server: FakeServer, store: ImageStore, options: RegistryClientOptions = {}) {
  const events: ImageProgressEvent[] = [];
  const client = new RegistryClient({
    plainHttp: [server.host],
    retryDelayMs: 5,
    ...options,
  });
  const result = store.import(new RegistrySource(client, `${server.host}/a:1`), 'a:1', {
    onProgress: (e) => events.push(e),
  });
  return { result, events };
}

function expectStored(store: ImageStore): void {
  expect(readFileSync(store.blobPath(LAYER.descriptor.digest)).equals(LAYER.bytes)).toBe(true);
  expect(readdirSync(join(store.dir, 'tsoci', 'ingest'))).toEqual([]);
}

async function expectNothingLeft(store: ImageStore): Promise<void> {
  expect(existsSync(store.blobPath(LAYER.descriptor.digest))).toBe(false);
  expect(readdirSync(join(store.dir, 'tsoci', 'ingest'))).toEqual([]);
  expect(await store.list()).toEqual([]);
}

describe('registry layers straight into the store', () => {
  it('writes a multi-MiB layer that arrives in odd-sized pieces, reporting progress', async () => {
    const server = await registry(async (_req, res) => {
      res.writeHead(200, { 'content-length': LAYER.bytes.length });
      await dribble(res, LAYER.bytes, 7001);
      res.end();
    });
    const store = new ImageStore(tempDir());
    const toFile = vi.spyOn(BlobStream.prototype, 'toFile');
    const { result, events } = pull(server, store);
    await result;
    expectStored(store);
    // the layer went to the file from the socket, not through stream stages
    expect(toFile).toHaveBeenCalledTimes(1);
    toFile.mockRestore();
    const progress = events.filter((e) => e.type === 'layer-download-progress');
    expect(progress.length).toBeGreaterThan(10);
    const bytes = progress.map((e) => (e as { bytes: number }).bytes);
    expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
    expect(bytes.at(-1)).toBe(LAYER.bytes.length);
    expect(events.find((e) => e.type === 'layer-download-done')).toMatchObject({
      bytes: LAYER.bytes.length,
      cached: false,
    });
  });

  it('stores a layer sent with chunked transfer coding', async () => {
    const server = await registry(async (_req, res) => {
      res.writeHead(200); // no Content-Length: node sends it chunked
      await dribble(res, LAYER.bytes, 65_000);
      res.end();
    });
    const store = new ImageStore(tempDir());
    await pull(server, store).result;
    expectStored(store);
  });

  it('resumes a layer whose connection is reset mid-way, from where it stopped', async () => {
    const ranges: string[] = [];
    const server = await registry((req, res, attempt) => {
      ranges.push(req.headers.range ?? '');
      if (attempt === 1) {
        res.writeHead(200, { 'content-length': LAYER.bytes.length });
        res.write(LAYER.bytes.subarray(0, 1_500_000), () =>
          setTimeout(() => req.socket.destroy(), 20),
        );
        return;
      }
      serveLayer(req, res);
    });
    const store = new ImageStore(tempDir());
    await pull(server, store).result;
    expectStored(store);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBe('');
    expect(Number(/^bytes=([0-9]+)-$/.exec(ranges[1] ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('resumes a layer whose body ends before its Content-Length', async () => {
    const server = await registry((req, res, attempt) => {
      if (attempt === 1) {
        res.writeHead(200, { 'content-length': LAYER.bytes.length });
        // a clean end of the connection, short of the announced length
        res.write(LAYER.bytes.subarray(0, 300_000), () => req.socket.end());
        return;
      }
      expect(serveLayer(req, res)).toBe(300_000);
    });
    const store = new ImageStore(tempDir());
    await pull(server, store).result;
    expectStored(store);
  });

  it('resumes against a server that ignores Range, skipping what it had', async () => {
    const server = await registry((req, res, attempt) => {
      res.writeHead(200, { 'content-length': LAYER.bytes.length });
      if (attempt === 1) res.write(LAYER.bytes.subarray(0, 2_100_000), () => req.socket.end());
      else res.end(LAYER.bytes);
    });
    const store = new ImageStore(tempDir());
    await pull(server, store).result;
    expectStored(store);
  });

  it('gives up after its retries, naming how far it got, and leaves nothing behind', async () => {
    const server = await registry((req, res) => {
      const start = Number(/^bytes=([0-9]+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(start > 0 ? 206 : 200, {
        'content-length': LAYER.bytes.length - start,
        ...(start > 0
          ? { 'content-range': `bytes ${start}-${LAYER.bytes.length - 1}/${LAYER.bytes.length}` }
          : {}),
      });
      res.write(LAYER.bytes.subarray(start, start + 1000), () => req.socket.end());
    });
    const store = new ImageStore(tempDir());
    const error = await pull(server, store, { retries: 1 }).result.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_HTTP' });
    expect((error as Error).message).toContain(
      `download failed after 2000 of ${LAYER.bytes.length} bytes and 1 resumptions: the connection closed after 1000 of ${LAYER.bytes.length - 1000} bytes`,
    );
    await expectNothingLeft(store);
  });

  it('fails on wrong bytes with EIMAGE_DIGEST and leaves nothing behind', async () => {
    const wrong = Buffer.from(LAYER.bytes);
    wrong[wrong.length - 3] = (wrong[wrong.length - 3] as number) ^ 1;
    const server = await registry((_req, res) => {
      res.writeHead(200, { 'content-length': wrong.length });
      res.end(wrong);
    });
    const store = new ImageStore(tempDir());
    await expect(pull(server, store).result).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
      message: expect.stringContaining('digest mismatch'),
    });
    await expectNothingLeft(store);
  });

  it('fails on a layer longer than its descriptor as soon as the excess arrives', async () => {
    const server = await registry(async (_req, res) => {
      res.writeHead(200); // chunked, and more than the descriptor's size
      await dribble(res, Buffer.concat([LAYER.bytes, Buffer.alloc(3 * 1024 * 1024)]), 256 * 1024);
      res.end();
    });
    const store = new ImageStore(tempDir());
    await expect(pull(server, store).result).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
      message: expect.stringContaining('more than the expected'),
    });
    await expectNothingLeft(store);
  });

  it('resumes a connection that stalls, after the idle timeout', async () => {
    const server = await registry((req, res, attempt) => {
      if (attempt === 1) {
        res.writeHead(200, { 'content-length': LAYER.bytes.length });
        res.write(LAYER.bytes.subarray(0, 50_000)); // … and nothing more
        return;
      }
      serveLayer(req, res);
    });
    const store = new ImageStore(tempDir());
    await pull(server, store, { idleTimeoutMs: 200 }).result;
    expectStored(store);
  });

  it('fails with the error of a progress listener that throws, leaving nothing', async () => {
    const server = await registry((req, res) => {
      serveLayer(req, res);
    });
    const store = new ImageStore(tempDir());
    const client = new RegistryClient({ plainHttp: [server.host] });
    const boom = new Error('listener failed');
    await expect(
      store.import(new RegistrySource(client, `${server.host}/a:1`), 'a:1', {
        onProgress: (e) => {
          if (e.type === 'layer-download-progress') throw boom;
        },
      }),
    ).rejects.toBe(boom);
    await expectNothingLeft(store);
  });

  it('ends with the error of a failed write, without resuming', async () => {
    const server = await registry((req, res) => {
      serveLayer(req, res);
    });
    const client = new RegistryClient({ plainHttp: [server.host], retryDelayMs: 5 });
    const stream = await client.fetchBlob(`${server.host}/a`, LAYER.descriptor);
    const path = join(tempDir(), 'read-only');
    writeFileSync(path, '');
    const file = await open(path, 'r'); // writes fail with EBADF
    try {
      await expect((stream as BlobStream).toFile(file.fd)).rejects.toMatchObject({
        code: 'EBADF',
      });
    } finally {
      await file.close();
    }
    expect(server.requests.filter((r) => r.url.includes(LAYER.descriptor.digest))).toHaveLength(1);
  });

  it('stops when aborted mid-layer, leaving nothing', async () => {
    const controller = new AbortController();
    const server = await registry((_req, res) => {
      res.writeHead(200, { 'content-length': LAYER.bytes.length });
      res.write(LAYER.bytes.subarray(0, 100_000), () => controller.abort());
    });
    const store = new ImageStore(tempDir());
    await expect(pull(server, store, { signal: controller.signal }).result).rejects.toMatchObject({
      name: 'AbortError',
    });
    await expectNothingLeft(store);
  });

  it('follows a layer redirect to another host without the Authorization header', async () => {
    const storage = await startFake((req, res) => {
      serveLayer(req, res);
    });
    servers.push(storage);
    // A registry that wants Basic credentials and keeps its layers elsewhere.
    const server = await startFake((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      const url = req.url ?? '';
      if (url === '/v2/a/manifests/1') {
        res.writeHead(200, { 'content-type': IMAGE.mediaType });
        res.end(IMAGE.manifest);
      } else if (url === `/v2/a/blobs/${LAYER.descriptor.digest}`) {
        res.writeHead(307, { location: `${storage.url}/bucket/layer?sig=abc` });
        res.end();
      } else {
        res.end(IMAGE.blobs.get(url.slice('/v2/a/blobs/'.length)));
      }
    });
    servers.push(server);
    const store = new ImageStore(tempDir());
    await pull(server, store, { credentials: { username: 'u', password: 'p' } }).result;
    expectStored(store);
    const layerRequests = server.requests.filter((r) => r.url.includes(LAYER.descriptor.digest));
    expect(layerRequests.at(-1)?.headers.authorization).toMatch(/^Basic /);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]?.url).toBe('/bucket/layer?sig=abc');
    expect(storage.requests[0]?.headers.authorization).toBeUndefined();
  });
});

describe('memory', () => {
  it('reuses its read buffers across layers: as many as run at once, not one per layer', async () => {
    const image = buildImage({
      layers: Array.from({ length: 9 }, (_, i) => [
        { path: `f${i}`, content: randomBytes(200_000 + i) },
      ]),
    });
    const server = await startFake((req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/a/manifests/1') {
        res.writeHead(200, { 'content-type': image.mediaType });
        res.end(image.manifest);
        return;
      }
      const blob = image.blobs.get(url.slice('/v2/a/blobs/'.length));
      res.writeHead(blob ? 200 : 404, { 'content-length': blob?.length ?? 0 });
      res.end(blob);
    });
    servers.push(server);
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      const store = new ImageStore(tempDir());
      const client = new RegistryClient({ plainHttp: [server.host] });
      await store.import(new RegistrySource(client, `${server.host}/a:1`), 'a:1');
      for (const layer of image.layers) {
        expect(readFileSync(store.blobPath(layer.descriptor.digest)).equals(layer.bytes)).toBe(
          true,
        );
      }
      const sizes = allocUnsafe.mock.calls.map(([size]) => size);
      // three layers are copied at once
      expect(sizes.filter((n) => n === 1024 * 1024).length).toBeLessThanOrEqual(3);
      expect(sizes.filter((n) => n === 16 * 1024).length).toBeLessThanOrEqual(4);
    } finally {
      allocUnsafe.mockRestore();
    }
  });
});

describe('registry layers over TLS', () => {
  let tls: { key: Buffer; cert: Buffer } | undefined;
  beforeAll(() => {
    tls = selfSignedCertificate(tempDir(), { ip: '127.0.0.1' });
  });

  /** An https registry; with `storage`, its layer is redirected to that host. */
  async function httpsRegistry(storage?: string): Promise<string> {
    if (tls === undefined) throw new Error('openssl is needed for the TLS tests');
    const server = await startHttpsFake(tls, (req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/a/manifests/1') {
        res.writeHead(200, { 'content-type': IMAGE.mediaType });
        res.end(IMAGE.manifest);
      } else if (url === `/v2/a/blobs/${LAYER.descriptor.digest}` && storage !== undefined) {
        res.writeHead(307, { location: `https://${storage}/layer` });
        res.end();
      } else if (url === `/v2/a/blobs/${LAYER.descriptor.digest}` || url === '/layer') {
        serveLayer(req, res);
      } else {
        res.end(IMAGE.blobs.get(url.slice('/v2/a/blobs/'.length)));
      }
    });
    servers.push(server);
    return server.host;
  }

  it('verifies the certificate, and pulls with `insecure` or the CA', async () => {
    const host = await httpsRegistry();
    const source = (options: RegistryClientOptions) =>
      new RegistrySource(new RegistryClient({ retries: 0, ...options }), `${host}/a:1`);
    const strict = new ImageStore(tempDir());
    await expect(strict.import(source({}), 'a:1')).rejects.toThrow(/self[- ]signed|certificate/i);
    for (const options of [{ insecure: [host] }, { ca: tls?.cert ?? '' }]) {
      const store = new ImageStore(tempDir());
      await store.import(source(options), 'a:1');
      expectStored(store);
    }
  });

  it('verifies the certificate of storage a layer is redirected to, even for an insecure registry', async () => {
    const storage = await httpsRegistry();
    const host = await httpsRegistry(storage);
    const source = (options: RegistryClientOptions) =>
      new RegistrySource(new RegistryClient({ retries: 0, ...options }), `${host}/a:1`);
    const store = new ImageStore(tempDir());
    await expect(store.import(source({ insecure: [host] }), 'a:1')).rejects.toThrow(
      new RegExp(`https://${storage}/layer: .*(self[- ]signed|certificate)`, 'i'),
    );
    await expectNothingLeft(store);
    await store.import(source({ insecure: [host], ca: tls?.cert ?? '' }), 'a:1');
    expectStored(store);
  });
});
