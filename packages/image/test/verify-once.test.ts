/**
 * Blobs from a registry are hashed once: the registry client's stream
 * verifies itself, and the store (or the unpacker) does not hash it again.
 * The guarantees stay: wrong bytes fail and leave nothing behind. Also the
 * store's synchronous blob sink.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor } from '@ts-oci/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { isSelfVerifying } from '../src/digest.js';
import { RegistryClient } from '../src/registry/index.js';
import { SyncFileSink } from '../src/store/fsutil.js';
import { ImageStore } from '../src/store/store.js';
import { tempDir } from './helpers.js';
import { type FakeServer, startFake } from './registry/helpers/fake.js';
import { sha256 } from './registry/helpers/image.js';

const BLOB = Buffer.alloc(300 * 1024);
for (let i = 0; i < BLOB.length; i++) BLOB[i] = (i * 131) & 0xff;
const DESC: Descriptor = {
  mediaType: 'application/octet-stream',
  digest: sha256(BLOB),
  size: BLOB.length,
};

let servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(body: Buffer): Promise<FakeServer> {
  const server = await startFake((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  servers.push(server);
  return server;
}

const client = (host: string) => new RegistryClient({ plainHttp: [host], retries: 0 });

describe('self-verifying blob streams', () => {
  it('marks the registry client stream for its own digest and size only', async () => {
    const server = await serve(BLOB);
    const stream = await client(server.host).fetchBlob(`${server.host}/a`, DESC);
    expect(isSelfVerifying(stream, DESC)).toBe(true);
    expect(isSelfVerifying(stream, { ...DESC, size: DESC.size + 1 })).toBe(false);
    expect(isSelfVerifying(stream, { ...DESC, digest: sha256(Buffer.from('x')) })).toBe(false);
    expect(isSelfVerifying(Readable.from([BLOB]), DESC)).toBe(false);
    stream.destroy();
  });

  it('stores a registry blob unchanged', async () => {
    const server = await serve(BLOB);
    const store = new ImageStore(tempDir());
    const c = client(server.host);
    expect(await store.putBlob(DESC, () => c.fetchBlob(`${server.host}/a`, DESC))).toBe('stored');
    expect(readFileSync(store.blobPath(DESC.digest)).equals(BLOB)).toBe(true);
  });

  it('still fails on wrong bytes from the registry and leaves no blob', async () => {
    const wrong = Buffer.from(BLOB);
    wrong[1000] = (wrong[1000] as number) ^ 1;
    const server = await serve(wrong);
    const store = new ImageStore(tempDir());
    const c = client(server.host);
    await expect(
      store.putBlob(DESC, () => c.fetchBlob(`${server.host}/a`, DESC)),
    ).rejects.toMatchObject({ code: 'EREGISTRY_DIGEST' });
    expect(existsSync(store.blobPath(DESC.digest))).toBe(false);
    expect(readdirSync(join(store.dir, 'tsoci', 'ingest'))).toEqual([]);
  });

  it('verifies an unmarked stream itself', async () => {
    const wrong = Buffer.from(BLOB);
    wrong[5] = (wrong[5] as number) ^ 1;
    const store = new ImageStore(tempDir());
    await expect(store.putBlob(DESC, async () => Readable.from([wrong]))).rejects.toMatchObject({
      code: 'EIMAGE_DIGEST',
    });
    expect(existsSync(store.blobPath(DESC.digest))).toBe(false);
    expect(readdirSync(join(store.dir, 'tsoci', 'ingest'))).toEqual([]);
  });
});

describe('SyncFileSink', () => {
  it('writes every chunk in order, batched or not', async () => {
    const path = join(tempDir(), 'out');
    const chunks = Array.from({ length: 200 }, (_, i) => BLOB.subarray(i * 1000, i * 1000 + 1500));
    await pipeline(Readable.from(chunks), new SyncFileSink(path));
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('refuses to overwrite a file', () => {
    const path = join(tempDir(), 'out');
    new SyncFileSink(path).destroy();
    expect(() => new SyncFileSink(path)).toThrow(/EEXIST/);
  });
});
