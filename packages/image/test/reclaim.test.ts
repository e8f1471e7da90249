/** Early freeing of streamed buffers: a young-generation collection every few MiB. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferReclaimer } from '../src/reclaim.js';

type Gc = (options?: { type?: 'minor' | 'major' }) => void;
const g = globalThis as { gc?: Gc };
const original = g.gc;

afterEach(() => {
  if (original === undefined) delete g.gc;
  else g.gc = original;
});

describe('BufferReclaimer', () => {
  it("runs the host's collector after a few MiB of streamed bytes", () => {
    const calls: unknown[] = [];
    g.gc = (options) => {
      calls.push(options);
    };
    const r = new BufferReclaimer();
    r.add(1024); // below the threshold: nothing happens
    expect(calls).toEqual([]);
    r.add(8 * 1024 * 1024);
    expect(calls).toEqual([{ type: 'minor' }]);
    r.add(1024);
    expect(calls).toHaveLength(1);
  });

  it('frees dead buffers with a real collector', () => {
    setFlagsFromString('--expose-gc');
    g.gc = runInNewContext('gc') as Gc;
    const r = new BufferReclaimer();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(256 * 1024).fill(i); // 16 MiB of garbage
    r.add(8 * 1024 * 1024);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('does nothing (and does not touch V8 flags) without a collector', () => {
    delete g.gc;
    const r = new BufferReclaimer();
    expect(() => r.add(64 * 1024 * 1024)).not.toThrow();
    expect(g.gc).toBeUndefined();
  });
});
