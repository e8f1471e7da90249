/** Early freeing of streamed buffers: a young-generation collection every few MiB. */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BufferReclaimer } from '../src/reclaim.js';

describe('BufferReclaimer', () => {
  it('collects after a few MiB of streamed bytes, and frees dead buffers', () => {
    const r = new BufferReclaimer();
    r.add(1024); // below the threshold: nothing happens
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(256 * 1024).fill(i); // 16 MiB of garbage
    r.add(8 * 1024 * 1024);
    // The collector was reached (the flag is set, so new contexts see gc).
    expect(typeof runInNewContext('typeof gc')).toBe('string');
    expect(runInNewContext('typeof gc')).toBe('function');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });
});
