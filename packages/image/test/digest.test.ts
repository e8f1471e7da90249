import { createHash } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { verifyStream } from '../src/digest.js';

const content = Buffer.from('some layer bytes, '.repeat(1000));
const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;

async function drain(verifier: Transform, pieces: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), verifier, async (source) => {
    for await (const c of source) out.push(c as Buffer);
  });
  return Buffer.concat(out);
}

const pieces = (n: number) => {
  const out: Buffer[] = [];
  for (let i = 0; i < content.length; i += n) out.push(content.subarray(i, i + n));
  return out;
};

describe('VerifyStream', () => {
  for (const deferred of [false, true]) {
    describe(deferred ? 'deferred' : 'immediate', () => {
      it('passes matching content through unchanged', async () => {
        for (const n of [1, 100, content.length]) {
          const v = verifyStream({ digest, size: content.length }, { deferred });
          expect((await drain(v, pieces(n))).equals(content)).toBe(true);
          expect(v.verifiedDigest).toBe(digest);
        }
      });

      it('fails on other bytes, too few and too many', async () => {
        const other = Buffer.from(content);
        other[7] = 0;
        await expect(drain(verifyStream({ digest }, { deferred }), [other])).rejects.toThrow(
          /digest mismatch .*content has digest sha256:/,
        );
        await expect(
          drain(verifyStream({ digest, size: content.length }, { deferred }), [
            content.subarray(1),
          ]),
        ).rejects.toThrow(/size mismatch .*got 17999 \(truncated\?\)/);
        await expect(
          drain(verifyStream({ digest, size: content.length }, { deferred }), [content, content]),
        ).rejects.toThrow(/size mismatch .*got more/);
      });
    });
  }

  it('deferred: the write returns before the chunk is hashed and passed on', async () => {
    const v = verifyStream({ digest }, { deferred: true });
    const passed: Buffer[] = [];
    v.on('data', (c: Buffer) => passed.push(c));
    v.write(content);
    expect(passed).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(passed.length).toBe(1);
  });

  it('deferred: a chunk pending when it is destroyed is neither hashed nor passed on', async () => {
    const v = verifyStream({ digest }, { deferred: true });
    const passed: Buffer[] = [];
    v.on('data', (c: Buffer) => passed.push(c));
    v.on('error', () => {});
    const calledBack = new Promise<unknown>((r) => v.write(content, r));
    v.destroy();
    await calledBack;
    await new Promise((r) => setImmediate(r));
    expect(passed).toEqual([]);
    expect(v.bytes).toBe(content.length);
    expect(v.verifiedDigest).toBeUndefined();
  });
});
