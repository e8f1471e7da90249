import { describe, expect, it } from 'vitest';
import { ByteTail } from '../src/tail.js';

describe('ByteTail', () => {
  it('keeps everything under the limit', () => {
    const t = new ByteTail(10);
    t.push('abc');
    t.push(Buffer.from('def'));
    expect(t.text()).toBe('abcdef');
  });

  it('keeps only the last bytes, marked as cut', () => {
    const t = new ByteTail(5);
    for (const c of ['0123', '4567', '89']) t.push(c);
    expect(t.text()).toBe('…56789');
  });

  it('does not grow with the input', () => {
    const t = new ByteTail(16);
    for (let i = 0; i < 10_000; i++) t.push(`line ${i}\n`);
    expect(t.text()).toBe('… 9998\nline 9999\n');
    expect(Buffer.byteLength(t.text())).toBeLessThanOrEqual(16 + 3);
  });

  it('does not start with half a multi-byte character', () => {
    const t = new ByteTail(3);
    t.push('xü€'); // ü = 2 bytes, € = 3 bytes: the last 3 bytes are exactly €
    expect(t.text()).toBe('…€');
    const u = new ByteTail(4);
    u.push('x€ü'); // last 4 bytes: 1 byte of €, then ü
    expect(u.text()).toBe('…ü');
  });
});
