import type { Resources } from '@ts-oci/spec';
import { describe, expect, it } from 'vitest';
import { CGROUP_ERROR_CODES, CgroupError } from '../src/errors.js';
import {
  blkioWeightToIoWeight,
  type CgroupWrite,
  fieldPath,
  memorySwapToV2,
  type PlanContext,
  planResource,
  planResources,
  RESOURCE_KEYS,
  RESOURCE_TABLE,
  sharesToWeight,
  unifiedKeyController,
} from '../src/plan.js';

/** [controller, file, value, field] tuples, for compact expectations. */
function tuples(writes: CgroupWrite[]): [string, string, string, string][] {
  return writes.map((w) => [w.controller, w.file, w.value, w.field]);
}

function files(map: Record<string, string[]>): PlanContext {
  return { hasFile: (c, f) => (c in map ? (map[c] ?? []).includes(f) : undefined) };
}

function thrown(fn: () => unknown): CgroupError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CgroupError) return err;
    throw err;
  }
  throw new Error('expected a CgroupError');
}

describe('conversions', () => {
  it('cpu.shares → cpu.weight follows runc 1.x: 1 + ((shares - 2) * 9999) / 262142', () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(3)).toBe(1);
    expect(sharesToWeight(100)).toBe(4);
    expect(sharesToWeight(512)).toBe(20);
    // Values where a near-miss divisor (262144) would round differently.
    expect(sharesToWeight(2178)).toBe(84);
    expect(sharesToWeight(6530)).toBe(250);
    expect(sharesToWeight(100000)).toBe(3815);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(4096)).toBe(157);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(10 ** 9)).toBe(10000);
  });

  it('blkio weight → io.weight maps 10..1000 onto 1..10000', () => {
    expect(blkioWeightToIoWeight(0)).toBe(0);
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
    expect(blkioWeightToIoWeight(1)).toBe(1);
  });

  it('memory+swap → v2 swap-only follows runc, with errors naming the field', () => {
    const f = fieldPath('memory', 'swap');
    expect(memorySwapToV2(0, -1, f)).toBe(-1);
    expect(memorySwapToV2(-1, 100, f)).toBe(-1);
    expect(memorySwapToV2(0, 100, f)).toBe(0);
    expect(memorySwapToV2(300, -1, f)).toBe(300);
    expect(memorySwapToV2(300, 100, f)).toBe(200);
    expect(memorySwapToV2(100, 100, f)).toBe(0);
    expect(thrown(() => memorySwapToV2(50, 100, f)).message).toBe(
      'linux.resources.memory.swap: memory+swap limit 50 is lower than the memory limit 100',
    );
    expect(thrown(() => memorySwapToV2(50, 0, f)).code).toBe(CGROUP_ERROR_CODES.INVALID_VALUE);
  });
});

describe('fieldPath', () => {
  it('formats JSON paths like @ts-oci/spec', () => {
    expect(fieldPath('cpu', 'cpus')).toBe('linux.resources.cpu.cpus');
    expect(fieldPath('blockIO', 'weightDevice', 2, 'weight')).toBe(
      'linux.resources.blockIO.weightDevice[2].weight',
    );
    expect(fieldPath('unified', 'io.max')).toBe('linux.resources.unified["io.max"]');
    expect(fieldPath('rdma', 'mlx5_1')).toBe('linux.resources.rdma.mlx5_1');
  });
});

describe('memory', () => {
  const r: Resources = {
    memory: {
      limit: 1 << 30,
      reservation: 1 << 29,
      swap: 2 * 2 ** 30,
      swappiness: 10,
      disableOOMKiller: true,
    },
  };

  it('v1: limit before memsw (retried after it on EINVAL), soft limit, swappiness, oom_control', () => {
    const p = planResource('memory', 1, r);
    expect(tuples(p.writes)).toEqual([
      ['memory', 'memory.limit_in_bytes', '1073741824', 'linux.resources.memory.limit'],
      ['memory', 'memory.memsw.limit_in_bytes', '2147483648', 'linux.resources.memory.swap'],
      ['memory', 'memory.soft_limit_in_bytes', '536870912', 'linux.resources.memory.reservation'],
      ['memory', 'memory.swappiness', '10', 'linux.resources.memory.swappiness'],
      ['memory', 'memory.oom_control', '1', 'linux.resources.memory.disableOOMKiller'],
    ]);
    expect(p.writes[0]?.retryAfterRest).toBe(true);
    expect(p.warnings).toEqual([]);
  });

  it('v2: swap.max is swap minus limit, memory.low is the reservation, v1-only knobs warn', () => {
    const p = planResource('memory', 2, {
      memory: {
        ...r.memory,
        kernel: 1 << 20,
        kernelTCP: 1 << 20,
        useHierarchy: false,
        checkBeforeUpdate: true,
      },
    });
    expect(tuples(p.writes)).toEqual([
      ['memory', 'memory.swap.max', '1073741824', 'linux.resources.memory.swap'],
      ['memory', 'memory.max', '1073741824', 'linux.resources.memory.limit'],
      ['memory', 'memory.low', '536870912', 'linux.resources.memory.reservation'],
    ]);
    expect(p.warnings.map((w) => w.field)).toEqual([
      'linux.resources.memory.kernel',
      'linux.resources.memory.kernelTCP',
      'linux.resources.memory.swappiness',
      'linux.resources.memory.disableOOMKiller',
      'linux.resources.memory.useHierarchy',
    ]);
    expect(p.checks).toEqual([{ field: 'linux.resources.memory.limit', limit: 1 << 30 }]);
  });

  it('-1 is unlimited: v1 writes -1 and lifts memsw too when swap accounting exists; v2 writes max', () => {
    const ctx = files({ memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'] });
    expect(tuples(planResource('memory', 1, { memory: { limit: -1 } }, ctx).writes)).toEqual([
      ['memory', 'memory.limit_in_bytes', '-1', 'linux.resources.memory.limit'],
      ['memory', 'memory.memsw.limit_in_bytes', '-1', 'linux.resources.memory.limit'],
    ]);
    const noSwap = files({ memory: ['memory.limit_in_bytes'] });
    expect(planResource('memory', 1, { memory: { limit: -1 } }, noSwap).writes).toHaveLength(1);
    const v2 = planResource('memory', 2, { memory: { limit: -1 } });
    expect(tuples(v2.writes)).toEqual([
      ['memory', 'memory.swap.max', 'max', 'linux.resources.memory.limit'],
      ['memory', 'memory.max', 'max', 'linux.resources.memory.limit'],
    ]);
    expect(v2.writes[0]?.optional).toBe(true);
  });

  it('swap equal to the limit disables swap on v2 ("0")', () => {
    const p = planResource('memory', 2, { memory: { limit: 100, swap: 100 } });
    expect(p.writes[0]).toMatchObject({ file: 'memory.swap.max', value: '0', optional: true });
  });

  it('v1 swap without swap accounting is an error naming the field and file', () => {
    const err = thrown(() =>
      planResource(
        'memory',
        1,
        { memory: { limit: 100, swap: 200 } },
        files({ memory: ['memory.limit_in_bytes'] }),
      ),
    );
    expect(err.code).toBe(CGROUP_ERROR_CODES.UNSUPPORTED);
    expect(err.message).toBe(
      'linux.resources.memory.swap: not supported by this kernel (no memory.memsw.limit_in_bytes; swap accounting is disabled)',
    );
  });

  it('v1 kernel memory is written where the kernel still has the file, warned about where not', () => {
    const withKmem = planResource('memory', 1, { memory: { kernel: 4096, kernelTCP: 8192 } });
    expect(tuples(withKmem.writes).map((t) => t[1])).toEqual([
      'memory.kmem.limit_in_bytes',
      'memory.kmem.tcp.limit_in_bytes',
    ]);
    const without = planResource('memory', 1, { memory: { kernel: 4096 } }, files({ memory: [] }));
    expect(without.writes).toEqual([]);
    expect(without.warnings[0]?.field).toBe('linux.resources.memory.kernel');
  });

  it('v1 swappiness above 100 is refused before any write', () => {
    expect(thrown(() => planResource('memory', 1, { memory: { swappiness: 101 } })).message).toBe(
      'linux.resources.memory.swappiness: 101 is out of range (0-100)',
    );
  });

  it('0 means unset for limit, reservation and swap (runc)', () => {
    expect(
      planResource('memory', 1, { memory: { limit: 0, reservation: 0, swap: 0 } }).writes,
    ).toEqual([]);
    expect(
      planResource('memory', 2, { memory: { limit: 0, reservation: 0, swap: 0 } }).writes,
    ).toEqual([]);
  });

  it('useHierarchy is written on v1 as given (the kernel decides)', () => {
    expect(tuples(planResource('memory', 1, { memory: { useHierarchy: true } }).writes)).toEqual([
      ['memory', 'memory.use_hierarchy', '1', 'linux.resources.memory.useHierarchy'],
    ]);
  });
});

describe('cpu', () => {
  const r: Resources = {
    cpu: {
      shares: 1024,
      quota: 50000,
      period: 100000,
      burst: 10000,
      realtimeRuntime: 950000,
      realtimePeriod: 1000000,
      cpus: '0-1',
      mems: '0',
      idle: 0,
    },
  };

  it('v1: cpuset first, shares verified, period/burst retried after quota, rt period before runtime', () => {
    const p = planResource('cpu', 1, r);
    expect(tuples(p.writes)).toEqual([
      ['cpuset', 'cpuset.cpus', '0-1', 'linux.resources.cpu.cpus'],
      ['cpuset', 'cpuset.mems', '0', 'linux.resources.cpu.mems'],
      ['cpu', 'cpu.shares', '1024', 'linux.resources.cpu.shares'],
      ['cpu', 'cpu.cfs_period_us', '100000', 'linux.resources.cpu.period'],
      ['cpu', 'cpu.cfs_burst_us', '10000', 'linux.resources.cpu.burst'],
      ['cpu', 'cpu.cfs_quota_us', '50000', 'linux.resources.cpu.quota'],
      ['cpu', 'cpu.rt_period_us', '1000000', 'linux.resources.cpu.realtimePeriod'],
      ['cpu', 'cpu.rt_runtime_us', '950000', 'linux.resources.cpu.realtimeRuntime'],
      ['cpu', 'cpu.idle', '0', 'linux.resources.cpu.idle'],
    ]);
    expect(p.writes.filter((w) => w.retryAfterRest).map((w) => w.file)).toEqual([
      'cpu.cfs_period_us',
      'cpu.cfs_burst_us',
      'cpu.rt_period_us',
    ]);
    expect(p.writes.find((w) => w.file === 'cpu.shares')?.verify).toBe(true);
  });

  it('v2: weight from shares, cpu.max "quota period", burst; realtime warns', () => {
    const p = planResource('cpu', 2, r);
    expect(tuples(p.writes)).toEqual([
      ['cpuset', 'cpuset.cpus', '0-1', 'linux.resources.cpu.cpus'],
      ['cpuset', 'cpuset.mems', '0', 'linux.resources.cpu.mems'],
      ['cpu', 'cpu.idle', '0', 'linux.resources.cpu.idle'],
      ['cpu', 'cpu.weight', '39', 'linux.resources.cpu.shares'],
      ['cpu', 'cpu.max.burst', '10000', 'linux.resources.cpu.burst'],
      ['cpu', 'cpu.max', '50000 100000', 'linux.resources.cpu.quota'],
    ]);
    expect(p.warnings.map((w) => w.field)).toEqual([
      'linux.resources.cpu.realtimeRuntime',
      'linux.resources.cpu.realtimePeriod',
    ]);
  });

  it('v2 cpu.max: unlimited quota is "max", a missing period is the kernel default', () => {
    expect(planResource('cpu', 2, { cpu: { quota: -1 } }).writes[0]?.value).toBe('max 100000');
    expect(planResource('cpu', 2, { cpu: { period: 250000 } }).writes[0]).toMatchObject({
      value: 'max 250000',
      field: 'linux.resources.cpu.period',
    });
  });

  it('burst larger than a positive quota is refused (config-linux.md allows the error)', () => {
    for (const v of [1, 2] as const) {
      expect(
        thrown(() => planResource('cpu', v, { cpu: { quota: 1000, burst: 2000 } })).message,
      ).toBe('linux.resources.cpu.burst: 2000 is larger than quota 1000');
    }
  });

  it('v1 knobs the kernel lacks are errors naming field and file', () => {
    const ctx = files({ cpu: ['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us'] });
    expect(thrown(() => planResource('cpu', 1, { cpu: { burst: 5 } }, ctx)).message).toBe(
      'linux.resources.cpu.burst: not supported by this kernel (no cpu.cfs_burst_us)',
    );
    expect(
      thrown(() => planResource('cpu', 1, { cpu: { realtimeRuntime: 5 } }, ctx)).message,
    ).toContain('no cpu.rt_runtime_us; the kernel lacks CONFIG_RT_GROUP_SCHED');
  });

  it('a noprefix cpuset mount uses the bare file names', () => {
    const ctx = files({ cpuset: ['cpus', 'mems'] });
    expect(planResource('cpu', 1, { cpu: { cpus: '1' } }, ctx).writes[0]?.file).toBe('cpus');
  });

  it('empty and zero values are unset', () => {
    expect(
      planResource('cpu', 1, { cpu: { shares: 0, quota: 0, period: 0, cpus: '' } }).writes,
    ).toEqual([]);
    expect(
      planResource('cpu', 2, { cpu: { shares: 0, quota: 0, period: 0, mems: '' } }).writes,
    ).toEqual([]);
  });
});

describe('pids', () => {
  it('limit > 0 as is, 0 as a real limit (config-linux.md), negative as max, both versions', () => {
    for (const v of [1, 2] as const) {
      expect(planResource('pids', v, { pids: { limit: 32 } }).writes[0]?.value).toBe('32');
      expect(planResource('pids', v, { pids: { limit: 0 } }).writes[0]?.value).toBe('0');
      expect(planResource('pids', v, { pids: { limit: -1 } }).writes[0]?.value).toBe('max');
      expect(planResource('pids', v, { pids: { limit: 5 } }).writes[0]?.file).toBe('pids.max');
    }
  });
});

describe('blockIO', () => {
  const r: Resources = {
    blockIO: {
      weight: 500,
      leafWeight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 600, leafWeight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 2048 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    },
  };

  it('v1 (CFQ names): weights, leaf weights, per-device lines, throttles', () => {
    expect(tuples(planResource('blockIO', 1, r).writes)).toEqual([
      ['blkio', 'blkio.weight', '500', 'linux.resources.blockIO.weight'],
      ['blkio', 'blkio.leaf_weight', '300', 'linux.resources.blockIO.leafWeight'],
      ['blkio', 'blkio.weight_device', '8:0 600', 'linux.resources.blockIO.weightDevice[0].weight'],
      [
        'blkio',
        'blkio.leaf_weight_device',
        '8:0 200',
        'linux.resources.blockIO.weightDevice[0].leafWeight',
      ],
      [
        'blkio',
        'blkio.throttle.read_bps_device',
        '8:0 1048576',
        'linux.resources.blockIO.throttleReadBpsDevice[0]',
      ],
      [
        'blkio',
        'blkio.throttle.write_bps_device',
        '8:16 2048',
        'linux.resources.blockIO.throttleWriteBpsDevice[0]',
      ],
      [
        'blkio',
        'blkio.throttle.read_iops_device',
        '8:0 100',
        'linux.resources.blockIO.throttleReadIOPSDevice[0]',
      ],
      [
        'blkio',
        'blkio.throttle.write_iops_device',
        '8:0 50',
        'linux.resources.blockIO.throttleWriteIOPSDevice[0]',
      ],
    ]);
  });

  it('v1 with BFQ uses blkio.bfq.weight*; leaf weights need CFQ', () => {
    const ctx = files({
      blkio: ['blkio.bfq.weight', 'blkio.bfq.weight_device', 'blkio.throttle.read_bps_device'],
    });
    const p = planResource(
      'blockIO',
      1,
      { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 7 }] } },
      ctx,
    );
    expect(tuples(p.writes).map((t) => [t[1], t[2]])).toEqual([
      ['blkio.bfq.weight', '500'],
      ['blkio.bfq.weight_device', '8:0 7'],
    ]);
    expect(
      thrown(() => planResource('blockIO', 1, { blockIO: { leafWeight: 10 } }, ctx)).message,
    ).toBe(
      'linux.resources.blockIO.leafWeight: not supported by this kernel (no blkio.leaf_weight; only CFQ had leaf weights)',
    );
    const none = files({ blkio: ['blkio.throttle.read_bps_device'] });
    expect(
      thrown(() => planResource('blockIO', 1, { blockIO: { weight: 10 } }, none)).message,
    ).toBe(
      'linux.resources.blockIO.weight: not supported by this kernel (no blkio.weight; the I/O scheduler is neither CFQ nor BFQ)',
    );
  });

  it('v2: io.weight converted, io.max per device and kind, leaf weights warn', () => {
    const p = planResource('blockIO', 2, r);
    expect(tuples(p.writes)).toEqual([
      ['io', 'io.weight', '4950', 'linux.resources.blockIO.weight'],
      ['io', 'io.weight', '8:0 5960', 'linux.resources.blockIO.weightDevice[0].weight'],
      ['io', 'io.max', '8:0 rbps=1048576', 'linux.resources.blockIO.throttleReadBpsDevice[0]'],
      ['io', 'io.max', '8:16 wbps=2048', 'linux.resources.blockIO.throttleWriteBpsDevice[0]'],
      ['io', 'io.max', '8:0 riops=100', 'linux.resources.blockIO.throttleReadIOPSDevice[0]'],
      ['io', 'io.max', '8:0 wiops=50', 'linux.resources.blockIO.throttleWriteIOPSDevice[0]'],
    ]);
    expect(p.warnings.map((w) => w.field)).toEqual([
      'linux.resources.blockIO.leafWeight',
      'linux.resources.blockIO.weightDevice[0].leafWeight',
    ]);
  });

  it('v2 with BFQ keeps the 1..1000 scale in io.bfq.weight', () => {
    const ctx = files({ io: ['io.bfq.weight', 'io.weight', 'io.max'] });
    const p = planResource(
      'blockIO',
      2,
      { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 7 }] } },
      ctx,
    );
    expect(tuples(p.writes).map((t) => [t[1], t[2]])).toEqual([
      ['io.bfq.weight', '500'],
      ['io.bfq.weight', '8:0 7'],
    ]);
  });
});

describe('hugepageLimits', () => {
  const r: Resources = { hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }] };

  it('v1 limit_in_bytes and v2 max, plus the reservation file where present', () => {
    expect(tuples(planResource('hugepageLimits', 1, r).writes)).toEqual([
      ['hugetlb', 'hugetlb.2MB.limit_in_bytes', '209715200', 'linux.resources.hugepageLimits[0]'],
    ]);
    const v2 = files({ hugetlb: ['hugetlb.2MB.max', 'hugetlb.2MB.rsvd.max'] });
    expect(tuples(planResource('hugepageLimits', 2, r, v2).writes).map((t) => t[1])).toEqual([
      'hugetlb.2MB.max',
      'hugetlb.2MB.rsvd.max',
    ]);
    const v1 = files({
      hugetlb: ['hugetlb.2MB.limit_in_bytes', 'hugetlb.2MB.rsvd.limit_in_bytes'],
    });
    expect(planResource('hugepageLimits', 1, r, v1).writes.map((w) => w.file)).toEqual([
      'hugetlb.2MB.limit_in_bytes',
      'hugetlb.2MB.rsvd.limit_in_bytes',
    ]);
  });

  it('a page size the kernel does not have is an error', () => {
    const ctx = files({ hugetlb: ['hugetlb.2MB.max'] });
    expect(
      thrown(() =>
        planResource(
          'hugepageLimits',
          2,
          { hugepageLimits: [{ pageSize: '64KB', limit: 1 }] },
          ctx,
        ),
      ).message,
    ).toBe(
      'linux.resources.hugepageLimits[0]: not supported by this kernel (no hugetlb.64KB.max; hugepage size 64KB is not available)',
    );
  });
});

describe('network', () => {
  const r: Resources = {
    network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
  };

  it('v1 net_cls.classid and net_prio.ifpriomap', () => {
    expect(tuples(planResource('network', 1, r).writes)).toEqual([
      ['net_cls', 'net_cls.classid', '1048577', 'linux.resources.network.classID'],
      ['net_prio', 'net_prio.ifpriomap', 'eth0 500', 'linux.resources.network.priorities[0]'],
    ]);
  });

  it('v2 has neither: warnings, no writes', () => {
    const p = planResource('network', 2, r);
    expect(p.writes).toEqual([]);
    expect(p.warnings.map((w) => w.field)).toEqual([
      'linux.resources.network.classID',
      'linux.resources.network.priorities',
    ]);
  });
});

describe('rdma', () => {
  it('one rdma.max line per device with the limits given, both versions', () => {
    const r: Resources = {
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1000 } },
    };
    for (const v of [1, 2] as const) {
      expect(tuples(planResource('rdma', v, r).writes)).toEqual([
        ['rdma', 'rdma.max', 'mlx5_1 hca_handle=3 hca_object=10000', 'linux.resources.rdma.mlx5_1'],
        ['rdma', 'rdma.max', 'mlx4_0 hca_object=1000', 'linux.resources.rdma.mlx4_0'],
      ]);
    }
  });
});

describe('devices', () => {
  it('v1: rules in order to devices.allow / devices.deny', () => {
    const r: Resources = {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
        { allow: true, type: 'c', major: 136, access: 'rwm' },
        { allow: false, type: 'a', major: 8, minor: 0, access: 'w' },
      ],
    };
    expect(tuples(planResource('devices', 1, r).writes)).toEqual([
      ['devices', 'devices.deny', 'a', 'linux.resources.devices[0]'],
      ['devices', 'devices.allow', 'c 1:3 rw', 'linux.resources.devices[1]'],
      ['devices', 'devices.allow', 'c 136:* rwm', 'linux.resources.devices[2]'],
      ['devices', 'devices.deny', 'c 8:0 w', 'linux.resources.devices[3]'],
      ['devices', 'devices.deny', 'b 8:0 w', 'linux.resources.devices[3]'],
    ]);
  });

  it('v2: no file writes, the rules are handed to the manager', () => {
    const p = planResource('devices', 2, { devices: [{ allow: true, access: 'rwm' }] });
    expect(p.writes).toEqual([]);
    expect(p.deviceRules).toEqual([{ allow: true, access: 'rwm' }]);
  });
});

describe('unified', () => {
  it('v2: each key to its file, controller from the prefix, one write per line', () => {
    const p = planResource('unified', 2, {
      unified: {
        'memory.high': '1048576',
        'io.max': '8:0 rbps=1\n8:16 wiops=2\n',
        'cgroup.max.depth': '3',
      },
    });
    expect(tuples(p.writes)).toEqual([
      ['memory', 'memory.high', '1048576', 'linux.resources.unified["memory.high"]'],
      ['io', 'io.max', '8:0 rbps=1', 'linux.resources.unified["io.max"]'],
      ['io', 'io.max', '8:16 wiops=2', 'linux.resources.unified["io.max"]'],
      ['cgroup', 'cgroup.max.depth', '3', 'linux.resources.unified["cgroup.max.depth"]'],
    ]);
  });

  it('keys must be <controller>.<file> without slashes', () => {
    expect(unifiedKeyController('hugetlb.1GB.max')).toBe('hugetlb');
    for (const key of ['../memory.max', 'memory/max', 'max', '.max', 'memory.']) {
      const err = thrown(() => planResource('unified', 2, { unified: { [key]: '1' } }));
      expect(err.code).toBe(CGROUP_ERROR_CODES.INVALID_VALUE);
      expect(err.field).toBe(fieldPath('unified', key));
    }
  });

  it('v1 hosts refuse unified keys', () => {
    const err = thrown(() => planResource('unified', 1, { unified: { 'memory.high': '1' } }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.UNIFIED_ON_V1);
    expect(err.message).toBe(
      'linux.resources.unified["memory.high"]: this host has no cgroup v2 hierarchy; unified keys need cgroup v2',
    );
    expect(planResource('unified', 1, { unified: {} }).writes).toEqual([]);
  });
});

describe('RESOURCE_TABLE', () => {
  it('covers every linux.resources key of runtime-spec 1.3.0 on both versions', () => {
    expect([...RESOURCE_KEYS].sort()).toEqual(
      [
        'blockIO',
        'cpu',
        'devices',
        'hugepageLimits',
        'memory',
        'network',
        'pids',
        'rdma',
        'unified',
      ].sort(),
    );
    for (const key of RESOURCE_KEYS) {
      expect(typeof RESOURCE_TABLE[key].v1.plan).toBe('function');
      expect(typeof RESOURCE_TABLE[key].v2.plan).toBe('function');
    }
    expect(RESOURCE_TABLE.blockIO.v1.controllers).toEqual(['blkio']);
    expect(RESOURCE_TABLE.blockIO.v2.controllers).toEqual(['io']);
  });

  it('planResources concatenates keys in order and ignores unknown resource fields', () => {
    const r = { pids: { limit: 1 }, memory: { limit: 4096 }, futureThing: { x: 1 } } as Resources;
    expect(planResources(1, r).writes.map((w) => w.file)).toEqual([
      'memory.limit_in_bytes',
      'pids.max',
    ]);
    expect(planResources(2, {}).writes).toEqual([]);
  });

  it('huge int64 values are written in full decimal', () => {
    const p = planResource('memory', 1, { memory: { limit: 2 ** 63 } });
    expect(p.writes[0]?.value).toBe('9223372036854775808');
  });
});
