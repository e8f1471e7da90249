import { describe, expect, it } from 'vitest';
import {
  hugepageSizes,
  parseBlkioV1,
  parseCpuList,
  parseIoStat,
  parseKeyValues,
  parseNumber,
  parseNumberList,
  UNLIMITED,
} from '../src/stats.js';

describe('stats parsers', () => {
  it('numbers, with max as UNLIMITED that still JSON-encodes as a uint64', () => {
    expect(parseNumber(' 42\n')).toBe(42);
    expect(parseNumber('max')).toBe(UNLIMITED);
    expect(parseNumber('junk')).toBe(0);
    const text = JSON.stringify(UNLIMITED);
    expect(BigInt(text) <= 2n ** 64n - 1n).toBe(true);
    expect(BigInt(text) > 2n ** 63n).toBe(true);
  });

  it('key/value files', () => {
    expect(parseKeyValues('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toEqual({
      oom_kill_disable: 0,
      under_oom: 0,
      oom_kill: 3,
    });
  });

  it('lists', () => {
    expect(parseNumberList('10 20 30 \n')).toEqual([10, 20, 30]);
    expect(parseCpuList('0-2,5\n')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('\n')).toEqual([]);
  });

  it('v1 blkio lines, without the Total line', () => {
    expect(parseBlkioV1('8:0 Read 1282048\n8:0 Write 2195456\nTotal 3477504\n')).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 1282048 },
      { major: 8, minor: 0, op: 'Write', value: 2195456 },
    ]);
  });

  it('v2 io.stat as runc entries', () => {
    expect(parseIoStat('254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n')).toEqual({
      ioServiceBytesRecursive: [
        { major: 254, minor: 0, op: 'Read', value: 10 },
        { major: 254, minor: 0, op: 'Write', value: 20 },
      ],
      ioServicedRecursive: [
        { major: 254, minor: 0, op: 'Read', value: 1 },
        { major: 254, minor: 0, op: 'Write', value: 2 },
      ],
    });
  });

  it('hugepage sizes from a directory listing', () => {
    expect(
      hugepageSizes(
        ['hugetlb.2MB.max', 'hugetlb.1GB.max', 'hugetlb.2MB.rsvd.max', 'memory.max'],
        'max',
      ),
    ).toEqual(['1GB', '2MB']);
  });
});
