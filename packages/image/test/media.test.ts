import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { decompressor, layerCompression, sniffCompression, zstdDecoder } from '../src/media.js';
import { gzip, tools, zstd } from './helpers.js';

async function inflate(
  data: Buffer,
  kind: 'gzip' | 'zstd',
  decoder?: 'fzstd' | 'zstd-cli',
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const d = decompressor(kind, decoder);
  if (d === undefined) throw new Error('no decoder');
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += 1000) pieces.push(data.subarray(i, i + 1000));
  await pipeline(
    Readable.from(pieces),
    d,
    new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(Buffer.from(c));
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

describe('layer media types and decompression', () => {
  it('maps OCI and Docker layer types, refusing others', () => {
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar')).toBe('none');
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar+gzip')).toBe('gzip');
    expect(layerCompression('application/vnd.oci.image.layer.nondistributable.v1.tar+zstd')).toBe(
      'zstd',
    );
    expect(layerCompression('application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe('gzip');
    expect(layerCompression('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')).toBe(
      'gzip',
    );
    expect(() => layerCompression('application/vnd.oci.image.layer.v1.tar+bzip2')).toThrow(
      expect.objectContaining({ code: 'EIMAGE_MEDIA_TYPE' }),
    );
    expect(sniffCompression(gzip(Buffer.from('x')))).toBe('gzip');
    expect(sniffCompression(Buffer.from('plain'))).toBe('none');
  });

  it.skipIf(!tools.zstd)('decodes zstd with every decoder and rejects corrupt data', async () => {
    const data = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i}\n`).join(''));
    const packed = zstd(data);
    expect(['zlib', 'zstd-cli']).toContain(zstdDecoder());
    for (const decoder of ['fzstd', 'zstd-cli'] as const) {
      expect((await inflate(packed, 'zstd', decoder)).equals(data)).toBe(true);
      const truncated = packed.subarray(0, packed.length - 20);
      await expect(inflate(truncated, 'zstd', decoder)).rejects.toMatchObject({
        code: 'EIMAGE_INVALID',
      });
      const garbage = Buffer.from(packed);
      garbage.fill(0x55, 10, 200);
      await expect(inflate(garbage, 'zstd', decoder)).rejects.toMatchObject({
        code: 'EIMAGE_INVALID',
      });
    }
    expect((await inflate(gzip(data), 'gzip')).equals(data)).toBe(true);
  });
});
