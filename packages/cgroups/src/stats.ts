/**
 * Stats, shaped and named like runc's `types.Stats` (the JSON of
 * `runc events --stats`), so the `events` command can print them as they are.
 * All values are numbers: exact up to 2^53, approximate above.
 */

/**
 * What an unlimited limit reads as. runc reports 2^64-1; that is not a double,
 * so this is the largest double below 2^64: JSON.stringify prints it as a
 * number a Go decoder still accepts as a uint64.
 */
export const UNLIMITED = 2 ** 64 - 2048;

export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CgroupStats {
  cpu: {
    usage: {
      /** Nanoseconds. */
      total: number;
      percpu: number[];
      percpu_kernel: number[];
      percpu_user: number[];
      kernel: number;
      user: number;
    };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  cpuset: { cpus: number[]; mems: number[] };
  memory: {
    cache: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw: Record<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: {
    ioServiceBytesRecursive: BlkioEntry[];
    ioServicedRecursive: BlkioEntry[];
  };
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

export function emptyStats(): CgroupStats {
  const entry = (): MemoryEntry => ({ limit: 0, usage: 0, max: 0, failcnt: 0 });
  return {
    cpu: {
      usage: { total: 0, percpu: [], percpu_kernel: [], percpu_user: [], kernel: 0, user: 0 },
      throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 },
    },
    cpuset: { cpus: [], mems: [] },
    memory: {
      cache: 0,
      usage: entry(),
      swap: entry(),
      kernel: entry(),
      kernelTCP: entry(),
      raw: {},
    },
    pids: { current: 0, limit: 0 },
    blkio: { ioServiceBytesRecursive: [], ioServicedRecursive: [] },
    hugetlb: {},
  };
}

/** A cgroup number: `max` is {@link UNLIMITED}; anything unparsable is 0. */
export function parseNumber(text: string): number {
  const t = text.trim();
  if (t === 'max') return UNLIMITED;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, oom_control). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === undefined || k === '' || v === undefined) continue;
    out[k] = parseNumber(v);
  }
  return out;
}

/** Space-separated numbers (cpuacct.usage_percpu). */
export function parseNumberList(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(parseNumber);
}

/** A cpuset list (`0-3,7`) as numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-');
    const from = Number(a);
    const to = b === undefined ? from : Number(b);
    if (!Number.isInteger(from) || !Number.isInteger(to)) continue;
    for (let i = from; i <= to; i++) out.push(i);
  }
  return out;
}

/**
 * v1 blkio files: `8:0 Read 1282048` lines plus a `Total N` line (dropped).
 */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const [dev, op, value] = parts as [string, string, string];
    const [major, minor] = dev.split(':');
    if (major === undefined || minor === undefined) continue;
    out.push({ major: Number(major), minor: Number(minor), op, value: parseNumber(value) });
  }
  return out;
}

/**
 * v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 …`) as the v1-style
 * entries runc reports: bytes and ios, Read and Write.
 */
export function parseIoStat(
  text: string,
): Pick<CgroupStats['blkio'], 'ioServiceBytesRecursive' | 'ioServicedRecursive'> {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    if (dev === undefined || dev === '') continue;
    const [major, minor] = dev.split(':').map(Number);
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor))
      continue;
    for (const kv of kvs) {
      const [k, v] = kv.split('=');
      if (v === undefined) continue;
      const value = parseNumber(v);
      if (k === 'rbytes') bytes.push({ major, minor, op: 'Read', value });
      else if (k === 'wbytes') bytes.push({ major, minor, op: 'Write', value });
      else if (k === 'rios') ios.push({ major, minor, op: 'Read', value });
      else if (k === 'wios') ios.push({ major, minor, op: 'Write', value });
    }
  }
  return { ioServiceBytesRecursive: bytes, ioServicedRecursive: ios };
}

/** `hugetlb.2MB.max` → `2MB`, for every hugetlb file of one suffix in a listing. */
export function hugepageSizes(files: readonly string[], suffix: string): string[] {
  const re = new RegExp(`^hugetlb\\.([0-9]+[KMG]B)\\.${suffix.replace(/\./g, '\\.')}$`);
  const out: string[] = [];
  for (const f of files) {
    const m = re.exec(f);
    if (m?.[1] !== undefined) out.push(m[1]);
  }
  return out.sort();
}
