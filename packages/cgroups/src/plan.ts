/**
 * `linux.resources` → cgroup file writes, one pure function per resource and
 * cgroup version. Every v1/v2 difference lives in {@link RESOURCE_TABLE}; the
 * managers only decide which directory a write goes to and run it. Nothing here
 * touches the filesystem: what the host has is passed in as `PlanContext`.
 */
import type { DeviceCgroup, Resources } from '@ts-oci/spec';
import { normalizeDeviceRule, v1DeviceLines } from './devices.js';
import { CGROUP_ERROR_CODES, CgroupError } from './errors.js';

export type CgroupVersion = 1 | 2;

/** One write to one cgroup file. */
export interface CgroupWrite {
  /**
   * v1: the controller whose hierarchy holds the file. v2: the controller that
   * must be enabled for the file to exist (`cgroup` for core files).
   */
  controller: string;
  /** File name inside the cgroup directory. */
  file: string;
  value: string;
  /** JSON path of the config field the value comes from. */
  field: string;
  /**
   * The kernel checks this value against another one written later
   * (cfs_period/cfs_quota, limit/memsw.limit): on EINVAL, retry it once after
   * the remaining writes instead of failing.
   */
  retryAfterRest?: boolean;
  /** Read back and compare: the kernel clamps some values silently (cpu.shares). */
  verify?: boolean;
  /** A missing file is not an error (memory.swap.max on a host without swap). */
  optional?: boolean;
}

/** A field that was accepted but has no effect on this cgroup version. */
export interface PlanWarning {
  field: string;
  message: string;
}

/** v2 `checkBeforeUpdate`: the limit must not be below memory.current. */
export interface MemoryUsageCheck {
  field: string;
  limit: number;
}

export interface ResourcePlan {
  writes: CgroupWrite[];
  warnings: PlanWarning[];
  checks: MemoryUsageCheck[];
  /** v2 only: device rules, which need an eBPF program rather than file writes. */
  deviceRules?: DeviceCgroup[];
}

export interface PlanContext {
  /**
   * Whether `file` exists in the directory of `controller`: true, false, or
   * undefined when not known yet (the usual file name is then assumed).
   */
  hasFile?: (controller: string, file: string) => boolean | undefined;
}

export type Planner = (resources: Resources, ctx: PlanContext) => ResourcePlan;

export const RESOURCE_KEYS = [
  'cpu',
  'memory',
  'devices',
  'pids',
  'blockIO',
  'hugepageLimits',
  'network',
  'rdma',
  'unified',
] as const;
export type ResourceKey = (typeof RESOURCE_KEYS)[number];

// ---------------------------------------------------------------- helpers --

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `linux.resources` + segments, formatted as @ts-oci/spec formats JSON paths. */
export function fieldPath(...segments: (string | number)[]): string {
  let out = 'linux.resources';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Decimal text of an integer, without exponent notation for huge values. */
export function int(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
}

/** v2 spelling of a limit: -1 is `max`. */
function v2Limit(n: number): string {
  return n === -1 ? 'max' : int(n);
}

class Builder {
  readonly plan: ResourcePlan = { writes: [], warnings: [], checks: [] };
  constructor(private readonly ctx: PlanContext) {}

  has(controller: string, file: string): boolean | undefined {
    return this.ctx.hasFile?.(controller, file);
  }

  write(
    controller: string,
    file: string,
    value: string,
    field: string,
    opts: Pick<CgroupWrite, 'retryAfterRest' | 'verify' | 'optional'> = {},
  ): void {
    const w: CgroupWrite = { controller, file, value, field };
    if (opts.retryAfterRest === true) w.retryAfterRest = true;
    if (opts.verify === true) w.verify = true;
    if (opts.optional === true) w.optional = true;
    this.plan.writes.push(w);
  }

  /** A knob that must exist: fails when the host is known to lack it. */
  need(controller: string, file: string, field: string, why: string): void {
    if (this.has(controller, file) === false) {
      throw new CgroupError(
        CGROUP_ERROR_CODES.UNSUPPORTED,
        `${field}: not supported by this kernel (no ${file}${why === '' ? '' : `; ${why}`})`,
        { field },
      );
    }
  }

  warn(field: string, message: string): void {
    this.plan.warnings.push({ field, message });
  }
}

function invalid(field: string, message: string): CgroupError {
  return new CgroupError(CGROUP_ERROR_CODES.INVALID_VALUE, `${field}: ${message}`, { field });
}

const empty = (): ResourcePlan => ({ writes: [], warnings: [], checks: [] });

// ------------------------------------------------------------ conversions --

/**
 * cpu.shares (v1, 2..262144) → cpu.weight (v2, 1..10000), the linear mapping of
 * runc 1.x and crun: weight = 1 + ((shares - 2) * 9999) / 262142, integer
 * division. 0 means unset and stays 0.
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/**
 * blkio.weight (v1, 10..1000) → io.weight (v2, 1..10000), runc's linear
 * mapping 1 + (w - 10) * 9999 / 990, clamped to io.weight's range.
 */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  const w = 1 + Math.floor(((weight - 10) * 9999) / 990);
  return Math.min(10000, Math.max(1, w));
}

/**
 * OCI `swap` is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
 * runc's conversion, returning the v2 value (-1 = max, 0 = leave unset).
 */
export function memorySwapToV2(swap: number, limit: number, field: string): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === -1) return swap;
  if (limit === 0) throw invalid(field, 'a swap limit needs a memory limit on cgroup v2');
  if (limit < 0) throw invalid(fieldPath('memory', 'limit'), `invalid memory limit ${limit}`);
  if (swap < limit) {
    throw invalid(field, `memory+swap limit ${swap} is lower than the memory limit ${limit}`);
  }
  return swap - limit;
}

// ----------------------------------------------------------------- memory --

function memoryV1(r: Resources, ctx: PlanContext): ResourcePlan {
  const m = r.memory;
  if (m === undefined) return empty();
  const b = new Builder(ctx);
  const memsw = 'memory.memsw.limit_in_bytes';
  const limit = m.limit ?? 0;
  let swap = m.swap ?? 0;
  let swapField = fieldPath('memory', 'swap');
  // runc: an unlimited memory limit without a swap value lifts the memsw
  // limit too, or the old memsw limit would still cap the cgroup.
  if (limit === -1 && swap === 0 && b.has('memory', memsw) === true) {
    swap = -1;
    swapField = fieldPath('memory', 'limit');
  }
  if (limit !== 0) {
    b.write('memory', 'memory.limit_in_bytes', int(limit), fieldPath('memory', 'limit'), {
      retryAfterRest: swap !== 0,
    });
  }
  if (swap !== 0) {
    b.need('memory', memsw, swapField, 'swap accounting is disabled');
    b.write('memory', memsw, int(swap), swapField);
  }
  if (m.reservation !== undefined && m.reservation !== 0) {
    b.write(
      'memory',
      'memory.soft_limit_in_bytes',
      int(m.reservation),
      fieldPath('memory', 'reservation'),
    );
  }
  for (const [key, file] of [
    ['kernel', 'memory.kmem.limit_in_bytes'],
    ['kernelTCP', 'memory.kmem.tcp.limit_in_bytes'],
  ] as const) {
    const v = m[key];
    if (v === undefined || v === 0) continue;
    if (b.has('memory', file) === false) {
      b.warn(
        fieldPath('memory', key),
        `ignored: this kernel has no ${file} (kernel memory limits were removed)`,
      );
    } else {
      b.write('memory', file, int(v), fieldPath('memory', key));
    }
  }
  if (m.swappiness !== undefined) {
    if (m.swappiness > 100) {
      throw invalid(fieldPath('memory', 'swappiness'), `${m.swappiness} is out of range (0-100)`);
    }
    b.write('memory', 'memory.swappiness', int(m.swappiness), fieldPath('memory', 'swappiness'));
  }
  if (m.disableOOMKiller !== undefined) {
    b.write(
      'memory',
      'memory.oom_control',
      m.disableOOMKiller ? '1' : '0',
      fieldPath('memory', 'disableOOMKiller'),
    );
  }
  if (m.useHierarchy !== undefined) {
    b.write(
      'memory',
      'memory.use_hierarchy',
      m.useHierarchy ? '1' : '0',
      fieldPath('memory', 'useHierarchy'),
    );
  }
  // checkBeforeUpdate needs nothing on v1: the kernel itself refuses a limit
  // below the usage (EBUSY), which set() reports with the usage.
  return b.plan;
}

function memoryV2(r: Resources, ctx: PlanContext): ResourcePlan {
  const m = r.memory;
  if (m === undefined) return empty();
  const b = new Builder(ctx);
  const limit = m.limit ?? 0;
  const swap = m.swap ?? 0;
  const swapField = fieldPath('memory', m.swap === undefined ? 'limit' : 'swap');
  if (m.checkBeforeUpdate === true && limit > 0) {
    b.plan.checks.push({ field: fieldPath('memory', 'limit'), limit });
  }
  if (limit !== 0 || swap !== 0) {
    const v2swap = memorySwapToV2(swap, limit, fieldPath('memory', 'swap'));
    let value = v2swap === 0 ? '' : v2Limit(v2swap);
    // swap == limit means "no swap at all": write 0 rather than leave it unset.
    if (value === '' && swap > 0) value = '0';
    if (value !== '') {
      b.write('memory', 'memory.swap.max', value, swapField, {
        // Without swap there is no memory.swap.max; "max" and "0" both mean
        // no swap then, so only a real swap budget is an error.
        optional: value === 'max' || value === '0',
      });
    }
  }
  if (limit !== 0) b.write('memory', 'memory.max', v2Limit(limit), fieldPath('memory', 'limit'));
  if (m.reservation !== undefined && m.reservation !== 0) {
    b.write('memory', 'memory.low', v2Limit(m.reservation), fieldPath('memory', 'reservation'));
  }
  for (const key of ['kernel', 'kernelTCP'] as const) {
    const v = m[key];
    if (v !== undefined && v > 0)
      b.warn(fieldPath('memory', key), 'ignored: cgroup v2 has no kernel memory limit');
  }
  if (m.swappiness !== undefined) {
    b.warn(fieldPath('memory', 'swappiness'), 'ignored: cgroup v2 has no per-cgroup swappiness');
  }
  if (m.disableOOMKiller === true) {
    b.warn(
      fieldPath('memory', 'disableOOMKiller'),
      'ignored: cgroup v2 cannot disable the OOM killer',
    );
  }
  if (m.useHierarchy === false) {
    b.warn(
      fieldPath('memory', 'useHierarchy'),
      'ignored: cgroup v2 accounting is always hierarchical',
    );
  }
  return b.plan;
}

// -------------------------------------------------------------------- cpu --

function checkBurst(r: Resources): void {
  const c = r.cpu;
  if (c?.burst !== undefined && c.quota !== undefined && c.quota > 0 && c.burst > c.quota) {
    throw invalid(fieldPath('cpu', 'burst'), `${c.burst} is larger than quota ${c.quota}`);
  }
}

function cpusetWrites(b: Builder, r: Resources): void {
  const c = r.cpu;
  if (c === undefined) return;
  for (const key of ['cpus', 'mems'] as const) {
    const v = c[key];
    if (v === undefined || v === '') continue;
    // v1 cpuset mounted with "noprefix" names the files cpus/mems.
    const file =
      b.has('cpuset', `cpuset.${key}`) === false && b.has('cpuset', key) === true
        ? key
        : `cpuset.${key}`;
    b.write('cpuset', file, v, fieldPath('cpu', key));
  }
}

function cpuV1(r: Resources, ctx: PlanContext): ResourcePlan {
  const c = r.cpu;
  if (c === undefined) return empty();
  checkBurst(r);
  const b = new Builder(ctx);
  cpusetWrites(b, r);
  if (c.shares !== undefined && c.shares !== 0) {
    b.write('cpu', 'cpu.shares', int(c.shares), fieldPath('cpu', 'shares'), { verify: true });
  }
  const quotaSet = c.quota !== undefined && c.quota !== 0;
  if (c.period !== undefined && c.period !== 0) {
    b.write('cpu', 'cpu.cfs_period_us', int(c.period), fieldPath('cpu', 'period'), {
      retryAfterRest: quotaSet,
    });
  }
  if (c.burst !== undefined) {
    b.need('cpu', 'cpu.cfs_burst_us', fieldPath('cpu', 'burst'), '');
    b.write('cpu', 'cpu.cfs_burst_us', int(c.burst), fieldPath('cpu', 'burst'), {
      retryAfterRest: quotaSet,
    });
  }
  if (quotaSet && c.quota !== undefined) {
    b.write('cpu', 'cpu.cfs_quota_us', int(c.quota), fieldPath('cpu', 'quota'));
  }
  const rtRuntimeSet = c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0;
  if (c.realtimePeriod !== undefined && c.realtimePeriod !== 0) {
    const f = fieldPath('cpu', 'realtimePeriod');
    b.need('cpu', 'cpu.rt_period_us', f, 'the kernel lacks CONFIG_RT_GROUP_SCHED');
    b.write('cpu', 'cpu.rt_period_us', int(c.realtimePeriod), f, { retryAfterRest: rtRuntimeSet });
  }
  if (rtRuntimeSet && c.realtimeRuntime !== undefined) {
    const f = fieldPath('cpu', 'realtimeRuntime');
    b.need('cpu', 'cpu.rt_runtime_us', f, 'the kernel lacks CONFIG_RT_GROUP_SCHED');
    b.write('cpu', 'cpu.rt_runtime_us', int(c.realtimeRuntime), f);
  }
  if (c.idle !== undefined) {
    b.need('cpu', 'cpu.idle', fieldPath('cpu', 'idle'), '');
    b.write('cpu', 'cpu.idle', int(c.idle), fieldPath('cpu', 'idle'));
  }
  return b.plan;
}

function cpuV2(r: Resources, ctx: PlanContext): ResourcePlan {
  const c = r.cpu;
  if (c === undefined) return empty();
  checkBurst(r);
  const b = new Builder(ctx);
  cpusetWrites(b, r);
  if (c.idle !== undefined) b.write('cpu', 'cpu.idle', int(c.idle), fieldPath('cpu', 'idle'));
  if (c.shares !== undefined && c.shares !== 0) {
    b.write('cpu', 'cpu.weight', String(sharesToWeight(c.shares)), fieldPath('cpu', 'shares'));
  }
  const quota = c.quota ?? 0;
  const period = c.period ?? 0;
  if (c.burst !== undefined) {
    b.write('cpu', 'cpu.max.burst', int(c.burst), fieldPath('cpu', 'burst'), {
      retryAfterRest: quota !== 0 || period !== 0,
    });
  }
  if (quota !== 0 || period !== 0) {
    // cpu.max holds both numbers; like runc, an unset quota is written as
    // "max" and an unset period as the kernel default 100000.
    const value = `${quota > 0 ? int(quota) : 'max'} ${period !== 0 ? int(period) : '100000'}`;
    b.write('cpu', 'cpu.max', value, fieldPath('cpu', quota !== 0 ? 'quota' : 'period'));
  }
  for (const key of ['realtimeRuntime', 'realtimePeriod'] as const) {
    const v = c[key];
    if (v !== undefined && v !== 0) {
      b.warn(fieldPath('cpu', key), 'ignored: cgroup v2 has no realtime group scheduling');
    }
  }
  return b.plan;
}

// ------------------------------------------------------------------- pids --

function pids(r: Resources, ctx: PlanContext): ResourcePlan {
  const p = r.pids;
  if (p === undefined) return empty();
  const b = new Builder(ctx);
  // config-linux.md: 0 is a real limit (no new tasks), -1 (any negative) is max.
  b.write('pids', 'pids.max', p.limit < 0 ? 'max' : int(p.limit), fieldPath('pids', 'limit'));
  return b.plan;
}

// ---------------------------------------------------------------- blockIO --

const THROTTLES = [
  ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device', 'rbps'],
  ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device', 'wbps'],
  ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device', 'riops'],
  ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device', 'wiops'],
] as const;

function blockIoV1(r: Resources, ctx: PlanContext): ResourcePlan {
  const io = r.blockIO;
  if (io === undefined) return empty();
  const b = new Builder(ctx);
  // CFQ named the knobs blkio.weight*, BFQ names them blkio.bfq.weight*.
  const bfq =
    b.has('blkio', 'blkio.weight') === false && b.has('blkio', 'blkio.bfq.weight') === true;
  const weightFile = bfq ? 'blkio.bfq.weight' : 'blkio.weight';
  const weightDeviceFile = bfq ? 'blkio.bfq.weight_device' : 'blkio.weight_device';
  const why = 'the I/O scheduler is neither CFQ nor BFQ';
  if (io.weight !== undefined && io.weight !== 0) {
    b.need('blkio', weightFile, fieldPath('blockIO', 'weight'), why);
    b.write('blkio', weightFile, int(io.weight), fieldPath('blockIO', 'weight'));
  }
  if (io.leafWeight !== undefined && io.leafWeight !== 0) {
    b.need(
      'blkio',
      'blkio.leaf_weight',
      fieldPath('blockIO', 'leafWeight'),
      'only CFQ had leaf weights',
    );
    b.write('blkio', 'blkio.leaf_weight', int(io.leafWeight), fieldPath('blockIO', 'leafWeight'));
  }
  (io.weightDevice ?? []).forEach((d, i) => {
    const dev = `${int(d.major)}:${int(d.minor)}`;
    if (d.weight !== undefined && d.weight !== 0) {
      const f = fieldPath('blockIO', 'weightDevice', i, 'weight');
      b.need('blkio', weightDeviceFile, f, why);
      b.write('blkio', weightDeviceFile, `${dev} ${int(d.weight)}`, f);
    }
    if (d.leafWeight !== undefined && d.leafWeight !== 0) {
      const f = fieldPath('blockIO', 'weightDevice', i, 'leafWeight');
      b.need('blkio', 'blkio.leaf_weight_device', f, 'only CFQ had leaf weights');
      b.write('blkio', 'blkio.leaf_weight_device', `${dev} ${int(d.leafWeight)}`, f);
    }
  });
  for (const [key, file] of THROTTLES) {
    (io[key] ?? []).forEach((d, i) => {
      const f = fieldPath('blockIO', key, i);
      b.write('blkio', file, `${int(d.major)}:${int(d.minor)} ${int(d.rate ?? 0)}`, f);
    });
  }
  return b.plan;
}

function blockIoV2(r: Resources, ctx: PlanContext): ResourcePlan {
  const io = r.blockIO;
  if (io === undefined) return empty();
  const b = new Builder(ctx);
  // With BFQ, io.bfq.weight takes blkio's 1..1000 scale unchanged; io.weight
  // (the io.cost/iolatency knob) needs the 1..10000 conversion.
  const bfq = b.has('io', 'io.bfq.weight') === true;
  if (io.weight !== undefined && io.weight !== 0) {
    const f = fieldPath('blockIO', 'weight');
    if (bfq) b.write('io', 'io.bfq.weight', int(io.weight), f);
    else b.write('io', 'io.weight', String(blkioWeightToIoWeight(io.weight)), f);
  }
  if (io.leafWeight !== undefined && io.leafWeight !== 0) {
    b.warn(fieldPath('blockIO', 'leafWeight'), 'ignored: cgroup v2 has no leaf weights');
  }
  (io.weightDevice ?? []).forEach((d, i) => {
    const dev = `${int(d.major)}:${int(d.minor)}`;
    if (d.weight !== undefined && d.weight !== 0) {
      const f = fieldPath('blockIO', 'weightDevice', i, 'weight');
      if (bfq) b.write('io', 'io.bfq.weight', `${dev} ${int(d.weight)}`, f);
      else b.write('io', 'io.weight', `${dev} ${blkioWeightToIoWeight(d.weight)}`, f);
    }
    if (d.leafWeight !== undefined && d.leafWeight !== 0) {
      b.warn(
        fieldPath('blockIO', 'weightDevice', i, 'leafWeight'),
        'ignored: cgroup v2 has no leaf weights',
      );
    }
  });
  for (const [key, , name] of THROTTLES) {
    (io[key] ?? []).forEach((d, i) => {
      b.write(
        'io',
        'io.max',
        `${int(d.major)}:${int(d.minor)} ${name}=${int(d.rate ?? 0)}`,
        fieldPath('blockIO', key, i),
      );
    });
  }
  return b.plan;
}

// ---------------------------------------------------------------- hugetlb --

function hugetlb(version: CgroupVersion): Planner {
  const limitSuffix = version === 1 ? 'limit_in_bytes' : 'max';
  return (r, ctx) => {
    const limits = r.hugepageLimits;
    if (limits === undefined) return empty();
    const b = new Builder(ctx);
    limits.forEach((l, i) => {
      const f = fieldPath('hugepageLimits', i);
      const file = `hugetlb.${l.pageSize}.${limitSuffix}`;
      b.need('hugetlb', file, f, `hugepage size ${l.pageSize} is not available`);
      b.write('hugetlb', file, int(l.limit), f);
      // Reservation accounting (kernel 5.7+) is the stricter limit the spec
      // prefers; the fault-time limit is still set for older readers.
      const rsvd = `hugetlb.${l.pageSize}.rsvd.${limitSuffix}`;
      if (b.has('hugetlb', rsvd) === true) b.write('hugetlb', rsvd, int(l.limit), f);
    });
    return b.plan;
  };
}

// ---------------------------------------------------------------- network --

function networkV1(r: Resources, ctx: PlanContext): ResourcePlan {
  const n = r.network;
  if (n === undefined) return empty();
  const b = new Builder(ctx);
  if (n.classID !== undefined && n.classID !== 0) {
    b.write('net_cls', 'net_cls.classid', int(n.classID), fieldPath('network', 'classID'));
  }
  (n.priorities ?? []).forEach((p, i) => {
    b.write(
      'net_prio',
      'net_prio.ifpriomap',
      `${p.name} ${int(p.priority)}`,
      fieldPath('network', 'priorities', i),
    );
  });
  return b.plan;
}

function networkV2(r: Resources, ctx: PlanContext): ResourcePlan {
  const n = r.network;
  if (n === undefined) return empty();
  const b = new Builder(ctx);
  if (n.classID !== undefined && n.classID !== 0) {
    b.warn(fieldPath('network', 'classID'), 'ignored: cgroup v2 has no net_cls controller');
  }
  if ((n.priorities ?? []).length > 0) {
    b.warn(fieldPath('network', 'priorities'), 'ignored: cgroup v2 has no net_prio controller');
  }
  return b.plan;
}

// ------------------------------------------------------------------- rdma --

function rdma(r: Resources, ctx: PlanContext): ResourcePlan {
  const devices = r.rdma;
  if (devices === undefined) return empty();
  const b = new Builder(ctx);
  for (const [dev, lim] of Object.entries(devices)) {
    let value = dev;
    if (lim.hcaHandles !== undefined) value += ` hca_handle=${int(lim.hcaHandles)}`;
    if (lim.hcaObjects !== undefined) value += ` hca_object=${int(lim.hcaObjects)}`;
    if (value === dev) continue;
    b.write('rdma', 'rdma.max', value, fieldPath('rdma', dev));
  }
  return b.plan;
}

// ---------------------------------------------------------------- devices --

function devicesV1(r: Resources, ctx: PlanContext): ResourcePlan {
  const rules = r.devices;
  if (rules === undefined) return empty();
  const b = new Builder(ctx);
  // In listed order (config-linux.md MUST): each rule adds to or removes from
  // the kernel's exception list; a catch-all rule resets the list.
  rules.forEach((rule, i) => {
    const n = normalizeDeviceRule(rule);
    for (const line of v1DeviceLines(n)) {
      b.write('devices', n.allow ? 'devices.allow' : 'devices.deny', line, fieldPath('devices', i));
    }
  });
  return b.plan;
}

function devicesV2(r: Resources): ResourcePlan {
  const plan = empty();
  if (r.devices !== undefined) plan.deviceRules = r.devices;
  return plan;
}

// ---------------------------------------------------------------- unified --

function unifiedV1(r: Resources): ResourcePlan {
  if (r.unified === undefined || Object.keys(r.unified).length === 0) return empty();
  const [key] = Object.keys(r.unified);
  const field = fieldPath('unified', key ?? '');
  throw new CgroupError(
    CGROUP_ERROR_CODES.UNIFIED_ON_V1,
    `${field}: this host has no cgroup v2 hierarchy; unified keys need cgroup v2`,
    { field },
  );
}

/** The controller a unified key belongs to (`io.max` → `io`), or throws. */
export function unifiedKeyController(key: string): string {
  const field = fieldPath('unified', key);
  if (key.includes('/') || key.includes('\0') || key === '.' || key === '..') {
    throw invalid(field, 'a unified key must be a file name (no "/")');
  }
  const dot = key.indexOf('.');
  if (dot <= 0 || dot === key.length - 1) {
    throw invalid(field, 'a unified key must have the form <controller>.<file>');
  }
  return key.slice(0, dot);
}

function unifiedV2(r: Resources, ctx: PlanContext): ResourcePlan {
  const u = r.unified;
  if (u === undefined) return empty();
  const b = new Builder(ctx);
  for (const [key, value] of Object.entries(u)) {
    const controller = unifiedKeyController(key);
    // Multi-line values (io.max for several devices) are one write per line,
    // as the kernel parses one command per write.
    const lines = value.split('\n').filter((l) => l !== '');
    if (lines.length === 0) lines.push(value);
    for (const line of lines) b.write(controller, key, line, fieldPath('unified', key));
  }
  return b.plan;
}

// ------------------------------------------------------------------ table --

export interface VersionEntry {
  /** Controllers the resource needs on this version (documentation and `features`). */
  controllers: readonly string[];
  plan: Planner;
}

/** Every `linux.resources` key, and how each cgroup version implements it. */
export const RESOURCE_TABLE: Readonly<Record<ResourceKey, { v1: VersionEntry; v2: VersionEntry }>> =
  {
    cpu: {
      v1: { controllers: ['cpu', 'cpuset'], plan: cpuV1 },
      v2: { controllers: ['cpu', 'cpuset'], plan: cpuV2 },
    },
    memory: {
      v1: { controllers: ['memory'], plan: memoryV1 },
      v2: { controllers: ['memory'], plan: memoryV2 },
    },
    devices: {
      v1: { controllers: ['devices'], plan: devicesV1 },
      v2: { controllers: [], plan: devicesV2 },
    },
    pids: {
      v1: { controllers: ['pids'], plan: pids },
      v2: { controllers: ['pids'], plan: pids },
    },
    blockIO: {
      v1: { controllers: ['blkio'], plan: blockIoV1 },
      v2: { controllers: ['io'], plan: blockIoV2 },
    },
    hugepageLimits: {
      v1: { controllers: ['hugetlb'], plan: hugetlb(1) },
      v2: { controllers: ['hugetlb'], plan: hugetlb(2) },
    },
    network: {
      v1: { controllers: ['net_cls', 'net_prio'], plan: networkV1 },
      v2: { controllers: [], plan: networkV2 },
    },
    rdma: {
      v1: { controllers: ['rdma'], plan: rdma },
      v2: { controllers: ['rdma'], plan: rdma },
    },
    unified: {
      v1: { controllers: [], plan: unifiedV1 },
      v2: { controllers: [], plan: unifiedV2 },
    },
  };

/** The plan of one resource key on one version. */
export function planResource(
  key: ResourceKey,
  version: CgroupVersion,
  resources: Resources,
  ctx: PlanContext = {},
): ResourcePlan {
  const entry = RESOURCE_TABLE[key];
  return (version === 1 ? entry.v1 : entry.v2).plan(resources, ctx);
}

/** The plan of every key, in the order the managers apply them. */
export function planResources(
  version: CgroupVersion,
  resources: Resources,
  ctx: PlanContext = {},
): ResourcePlan {
  const out = empty();
  for (const key of RESOURCE_KEYS) {
    const p = planResource(key, version, resources, ctx);
    out.writes.push(...p.writes);
    out.warnings.push(...p.warnings);
    out.checks.push(...p.checks);
    if (p.deviceRules !== undefined) out.deviceRules = p.deviceRules;
  }
  return out;
}
