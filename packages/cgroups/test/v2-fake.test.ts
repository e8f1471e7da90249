/**
 * The cgroup v2 manager against a fake cgroupfs tree (unit: no root needed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '@ts-oci/spec';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CGROUP_ERROR_CODES, CgroupError } from '../src/errors.js';
import { cgroupManagerFromPaths, createCgroupManager } from '../src/factory.js';
import type { CgroupManager } from '../src/manager.js';
import { getCgroupSetup } from '../src/setup.js';
import { UNLIMITED } from '../src/stats.js';
import { V2Manager } from '../src/v2.js';
import { FakeCgroupfs, type FakeOptions } from './fake-cgroupfs.js';

const SELF = '0::/user.slice/session-1.scope\n';

let fake: FakeCgroupfs;
const children: ChildProcess[] = [];

async function setup(opts: FakeOptions = {}): Promise<void> {
  fake = await FakeCgroupfs.create(opts);
}

async function manager(
  extra: Partial<Parameters<typeof createCgroupManager>[0]> = {},
): Promise<V2Manager> {
  const m = await createCgroupManager({
    id: 'c1',
    root: fake.root,
    mountinfo: fake.mountinfo(),
    procSelfCgroup: SELF,
    io: fake,
    ...extra,
  });
  expect(m).toBeInstanceOf(V2Manager);
  return m as V2Manager;
}

async function caught(p: Promise<unknown>): Promise<CgroupError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof CgroupError) return err;
  throw new Error(`expected a CgroupError, got ${String(err)}`);
}

function spawnSleep(): ChildProcess {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

beforeEach(async () => {
  await setup();
});

afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await fake.cleanup();
});

describe('detection on a fake tree', () => {
  it('sees a pure v2 host and its controllers', async () => {
    const s = await getCgroupSetup(fake.root, fake.mountinfo());
    expect(s.mode).toBe('v2');
    expect(s.unified?.controllers).toEqual([
      'cpuset',
      'cpu',
      'io',
      'memory',
      'hugetlb',
      'pids',
      'rdma',
    ]);
  });
});

describe('apply and set', () => {
  const resources: Resources = {
    memory: { limit: 1048576, reservation: 524288, swap: 3145728 },
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
    pids: { limit: 64 },
    blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
    rdma: { mlx5_1: { hcaHandles: 3 } },
    unified: { 'memory.high': '2097152', 'io.max': '8:16 wiops=5\n8:32 riops=7' },
  };

  it('creates the path, enables controllers top-down, writes every value, then adds the pid', async () => {
    const m = await manager({ resources });
    const dir = join(fake.root, 'user.slice/c1');
    expect(m.paths().paths.unified).toBe(dir);
    await m.apply(4242);

    const all = 'cpu cpuset hugetlb io memory pids rdma';
    expect(fake.file(join(fake.root, 'cgroup.subtree_control')).trim()).toBe(all);
    expect(fake.file(join(fake.root, 'user.slice/cgroup.subtree_control')).trim()).toBe(all);
    expect(fake.file(join(dir, 'cgroup.controllers')).trim()).toBe(all);
    // Leaf cgroups keep subtree_control empty: processes live there.
    expect(fake.file(join(dir, 'cgroup.subtree_control')).trim()).toBe('');

    const read = (f: string) => fake.file(join(dir, f)).trim();
    expect(read('memory.max')).toBe('1048576');
    expect(read('memory.low')).toBe('524288');
    expect(read('memory.swap.max')).toBe('2097152');
    expect(read('memory.high')).toBe('2097152');
    expect(read('cpu.weight')).toBe('39');
    expect(read('cpu.max')).toBe('50000 100000');
    expect(read('cpuset.cpus')).toBe('0-1');
    expect(read('cpuset.mems')).toBe('0');
    expect(read('pids.max')).toBe('64');
    expect(read('io.weight')).toBe('default 4950');
    expect(read('io.max').split('\n')).toEqual(['8:0 rbps=1024', '8:16 wiops=5', '8:32 riops=7']);
    expect(read('hugetlb.2MB.max')).toBe('4194304');
    expect(read('hugetlb.2MB.rsvd.max')).toBe('4194304');
    expect(read('rdma.max')).toBe('mlx5_1 hca_handle=3');
    expect(read('cgroup.procs')).toBe('4242');

    const order = fake.writes.map((w) => w.path.slice(fake.root.length));
    const lastControl = order.lastIndexOf('/user.slice/cgroup.subtree_control');
    const firstLeaf = order.findIndex((p) => p.startsWith('/user.slice/c1/'));
    expect(lastControl).toBeGreaterThanOrEqual(0);
    expect(lastControl).toBeLessThan(firstLeaf);
    expect(order.at(-1)).toBe('/user.slice/c1/cgroup.procs');
    expect(m.paths().created).toEqual([join(fake.root, 'user.slice')]);
  });

  it("converts shares to weight with runc's formula", async () => {
    const m = await manager();
    await m.apply();
    const dir = join(fake.root, 'user.slice/c1');
    for (const [shares, weight] of [
      [2, '1'],
      [512, '20'],
      [1024, '39'],
      [262144, '10000'],
    ] as const) {
      await m.set({ cpu: { shares } });
      expect(fake.file(join(dir, 'cpu.weight')).trim()).toBe(weight);
    }
  });

  it('unified keys are written after the converted values and win over them', async () => {
    const m = await manager();
    await m.apply();
    await m.set({ cpu: { shares: 1024 }, unified: { 'cpu.weight': '77' } });
    expect(fake.file(join(fake.root, 'user.slice/c1/cpu.weight')).trim()).toBe('77');
  });

  it('an unknown unified file is an error naming the key and the directory', async () => {
    const m = await manager();
    await m.apply();
    const dir = join(fake.root, 'user.slice/c1');
    const err = await caught(m.set({ unified: { 'memory.nonexistent': '1' } }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.UNSUPPORTED);
    expect(err.message).toBe(
      `linux.resources.unified["memory.nonexistent"]: cannot set "1": there is no memory.nonexistent in ${dir}`,
    );
  });

  it('a unified key of an absent controller is an error, as the spec requires', async () => {
    const m = await manager();
    await m.apply();
    const err = await caught(m.set({ unified: { 'misc.max': 'x 1' } }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE);
    expect(err.message).toMatch(
      /^linux\.resources\.unified\["misc\.max"\]: the misc controller is not available in /,
    );
    expect(fake.writes.some((w) => w.path.endsWith('misc.max'))).toBe(false);
  });

  it('a resource whose controller the host lacks fails before any write of the set', async () => {
    await fake.cleanup();
    await setup({ controllers: ['cpu', 'memory', 'pids'] });
    const m = await manager();
    await m.apply();
    const before = fake.writes.length;
    const err = await caught(m.set({ pids: { limit: 5 }, rdma: { mlx5_1: { hcaObjects: 1 } } }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE);
    expect(err.field).toBe('linux.resources.rdma.mlx5_1');
    expect(err.message).toContain('the rdma controller is not available');
    // It tried to enable rdma where it is offered, but wrote no value.
    expect(fake.writes.slice(before).every((w) => w.path.endsWith('cgroup.subtree_control'))).toBe(
      true,
    );
  });

  it('a value the kernel rejects names field, value, file and errno', async () => {
    const m = await manager();
    await m.apply();
    let err = await caught(m.set({ cpu: { cpus: '9-12' } }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.WRITE_REJECTED);
    expect(err.message).toBe(
      'linux.resources.cpu.cpus: "9-12" rejected by cpuset.cpus: numerical result out of range',
    );
    err = await caught(m.set({ cpu: { cpus: '1-0' } }));
    expect(err.message).toBe(
      'linux.resources.cpu.cpus: "1-0" rejected by cpuset.cpus: invalid argument',
    );
    expect(err.errno).toBe('EINVAL');
    expect(err.path).toBe(join(fake.root, 'user.slice/c1/cpuset.cpus'));
  });

  it('apply() that fails removes what it created', async () => {
    const m = await manager({ resources: { pids: { limit: 1 }, cpu: { cpus: '7' } } });
    await expect(m.apply(1)).rejects.toThrow(
      'linux.resources.cpu.cpus: "7" rejected by cpuset.cpus',
    );
    expect(existsSync(join(fake.root, 'user.slice/c1'))).toBe(false);
    expect(existsSync(join(fake.root, 'user.slice'))).toBe(false);
    expect(await m.exists()).toBe(false);
  });

  it('cpu.max.burst is retried after cpu.max when the kernel refuses it first', async () => {
    const m = await manager();
    await m.apply();
    let maxWritten = false;
    fake.reject = (path) => {
      if (path.endsWith('/cpu.max')) maxWritten = true;
      if (path.endsWith('cpu.max.burst') && !maxWritten) return 'EINVAL';
      return undefined;
    };
    await m.set({ cpu: { quota: 20000, burst: 10000 } });
    const dir = join(fake.root, 'user.slice/c1');
    expect(fake.file(join(dir, 'cpu.max.burst')).trim()).toBe('10000');
    expect(fake.writes.filter((w) => w.path.endsWith('cpu.max.burst')).length).toBe(2);
  });

  it('memory: -1 is max; swap on a host without swap is refused unless it means "no swap"', async () => {
    await fake.cleanup();
    await setup({ swap: false });
    const m = await manager();
    await m.apply();
    await m.set({ memory: { limit: -1 } });
    expect(fake.file(join(fake.root, 'user.slice/c1/memory.max')).trim()).toBe('max');
    await m.set({ memory: { limit: 1000, swap: 1000 } });
    const err = await caught(m.set({ memory: { limit: 1000, swap: 5000 } }));
    expect(err.message).toBe(
      `linux.resources.memory.swap: cannot set "4000": there is no memory.swap.max in ${join(fake.root, 'user.slice/c1')}`,
    );
  });

  it('checkBeforeUpdate refuses a limit below memory.current', async () => {
    const m = await manager();
    await m.apply();
    fake.setFile(join(fake.root, 'user.slice/c1/memory.current'), '5000000\n');
    const err = await caught(m.set({ memory: { limit: 1000000, checkBeforeUpdate: true } }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.MEMORY_IN_USE);
    expect(err.message).toBe(
      'linux.resources.memory.limit: 1000000 is below the current usage of 5000000 bytes (memory.checkBeforeUpdate)',
    );
    await m.set({ memory: { limit: 1000000 } });
    expect(fake.file(join(fake.root, 'user.slice/c1/memory.max')).trim()).toBe('1000000');
  });

  it('fields without a v2 knob are returned as warnings and reported to onWarning', async () => {
    const seen: string[] = [];
    const m = await manager({ onWarning: (w) => seen.push(w.field) });
    await m.apply();
    const { warnings } = await m.set({
      memory: { kernel: 1 << 20, swappiness: 3 },
      cpu: { realtimeRuntime: 1000 },
      network: { classID: 1 },
    });
    const fields = [
      'linux.resources.cpu.realtimeRuntime',
      'linux.resources.memory.kernel',
      'linux.resources.memory.swappiness',
      'linux.resources.network.classID',
    ];
    expect(warnings.map((w) => w.field)).toEqual(fields);
    expect(seen).toEqual(fields);
  });

  it('io uses io.bfq.weight unchanged when BFQ is the scheduler', async () => {
    await fake.cleanup();
    await setup({ bfq: true });
    const m = await manager();
    await m.apply();
    await m.set({ blockIO: { weight: 500 } });
    const dir = join(fake.root, 'user.slice/c1');
    expect(fake.file(join(dir, 'io.bfq.weight')).trim()).toBe('default 500');
    expect(fake.file(join(dir, 'io.weight')).trim()).toBe('default 100');
  });

  it('absolute cgroupsPath lands under the mount point', async () => {
    const m = await manager({ cgroupsPath: '/tsoci/pod1/c1' });
    await m.apply();
    expect(existsSync(join(fake.root, 'tsoci/pod1/c1/cgroup.procs'))).toBe(true);
    expect(m.paths().created).toEqual([join(fake.root, 'tsoci'), join(fake.root, 'tsoci/pod1')]);
  });
});

describe('devices on v2', () => {
  const denyAll = { allow: false, access: 'rwm' };

  it('the default set is accepted with a warning saying it is not enforced', async () => {
    const m = await manager();
    await m.apply();
    const { warnings } = await m.set({
      devices: [denyAll, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.field).toBe('linux.resources.devices');
    expect(warnings[0]?.message).toMatch(/^not enforced on cgroup v2/);
  });

  it('other rules fail clearly', async () => {
    const m = await manager();
    await m.apply();
    const err = await caught(
      m.set({ devices: [denyAll, { allow: true, type: 'b', major: 8, minor: 0, access: 'rw' }] }),
    );
    expect(err.code).toBe(CGROUP_ERROR_CODES.DEVICES_UNSUPPORTED);
    expect(err.message).toBe(
      'linux.resources.devices: device rules other than the default set cannot be enforced on cgroup v2 (needs an eBPF device filter, which tsoci does not implement)',
    );
  });

  it('allow-all needs no filter; a device filter, when given, receives normalised rules', async () => {
    const m = await manager();
    await m.apply();
    expect((await m.set({ devices: [{ allow: true, access: 'rwm' }] })).warnings).toEqual([]);
    const got: unknown[] = [];
    const filtered = await manager({
      deviceFilter: async (dir, rules) => {
        got.push(dir, rules);
      },
    });
    await filtered.set({ devices: [{ allow: true, type: 'b', major: 8, minor: 0, access: 'r' }] });
    expect(got).toEqual([
      join(fake.root, 'user.slice/c1'),
      [{ allow: true, type: 'b', major: 8, minor: 0, access: 'r' }],
    ]);
  });
});

describe('freeze, pids, kill, destroy', () => {
  it('freeze writes cgroup.freeze and waits for cgroup.events; thaw undoes it', async () => {
    const m = await manager();
    await m.apply();
    await m.freeze(true);
    expect(await m.isFrozen()).toBe(true);
    expect(fake.file(join(fake.root, 'user.slice/c1/cgroup.freeze')).trim()).toBe('1');
    await m.freeze(false);
    expect(await m.isFrozen()).toBe(false);
  });

  it('a freezer that never reports frozen times out and is thawed back', async () => {
    const m = await manager({ timeouts: { freezeMs: 30 } });
    await m.apply();
    fake.stuckFreezer = true;
    const err = await caught(m.freeze(true));
    expect(err.code).toBe(CGROUP_ERROR_CODES.FREEZE_TIMEOUT);
    expect(err.message).toBe(
      `cgroup ${join(fake.root, 'user.slice/c1')} did not become frozen within 30 ms`,
    );
    expect(fake.file(join(fake.root, 'user.slice/c1/cgroup.freeze')).trim()).toBe('0');
  });

  it('joinTargets: nothing to move into by hand; the process is born in the directory', async () => {
    const m = await manager();
    await m.apply();
    expect(m.joinTargets()).toEqual({ selfMove: [], cloneInto: m.paths().paths.unified });
  });

  it('pids() lists the cgroup and its sub-cgroups', async () => {
    const m = await manager();
    await m.apply(30);
    const sub = join(fake.root, 'user.slice/c1/sub');
    await fake.mkdir(sub);
    await fake.write(join(sub, 'cgroup.procs'), '7');
    expect(await m.pids()).toEqual([7, 30]);
  });

  it('killAll on a cgroup that is gone does nothing', async () => {
    const m = await manager();
    await m.killAll();
    await m.killAll('SIGTERM');
    expect(fake.writes).toEqual([]);
  });

  it('killAll(SIGKILL) uses cgroup.kill', async () => {
    const m = await manager();
    await m.apply(4242);
    await m.killAll();
    expect(fake.writes.at(-1)).toEqual({
      path: join(fake.root, 'user.slice/c1/cgroup.kill'),
      value: '1',
    });
    expect(await m.pids()).toEqual([]);
  });

  it('without cgroup.kill it freezes, signals every pid, thaws', async () => {
    await fake.cleanup();
    await setup({ noKill: true });
    const child = spawnSleep();
    const exited = new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
    const m = await manager();
    await m.apply(child.pid);
    await m.killAll('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    const freezes = fake.writes.filter((w) => w.path.endsWith('cgroup.freeze')).map((w) => w.value);
    expect(freezes).toEqual(['1', '0']);
  });

  it('a paused cgroup stays paused after a non-fatal signal', async () => {
    await fake.cleanup();
    await setup({ noKill: true });
    const m = await manager();
    await m.apply();
    await m.freeze(true);
    await m.killAll('SIGCONT');
    expect(await m.isFrozen()).toBe(true);
  });

  it('destroy waits for the cgroup to empty, then names it if it never does', async () => {
    const m = await manager();
    await m.apply(4242);
    const dir = join(fake.root, 'user.slice/c1');
    const err = await caught(m.destroy({ timeoutMs: 30 }));
    expect(err.code).toBe(CGROUP_ERROR_CODES.NOT_EMPTY);
    expect(err.message).toBe(
      `cannot remove cgroup ${dir}: processes 4242 still in it (device or resource busy)`,
    );
    setTimeout(() => fake.setFile(join(dir, 'cgroup.procs'), ''), 20);
    await m.destroy({ timeoutMs: 2000 });
    expect(existsSync(dir)).toBe(false);
    // The parent it created went too; the root was never touched.
    expect(existsSync(join(fake.root, 'user.slice'))).toBe(false);
    expect(existsSync(join(fake.root, 'cgroup.procs'))).toBe(true);
    expect(await m.exists()).toBe(false);
    await m.destroy(); // idempotent
  });

  it('destroy removes sub-cgroups first; a parent goes with the container that created it', async () => {
    const a = await manager({ cgroupsPath: '/pod/a' });
    const b = await manager({ cgroupsPath: '/pod/b' });
    await a.apply();
    await b.apply();
    expect(a.paths().created).toEqual([join(fake.root, 'pod')]);
    expect(b.paths().created).toEqual([]);
    await fake.mkdir(join(fake.root, 'pod/b/inner'));
    await b.destroy();
    expect(existsSync(join(fake.root, 'pod/b'))).toBe(false);
    expect(existsSync(join(fake.root, 'pod/a'))).toBe(true);
    await a.destroy();
    expect(existsSync(join(fake.root, 'pod'))).toBe(false);
  });
});

describe('paths round trip, stats, OOM', () => {
  it('a manager rebuilt from JSON paths manages the same cgroup', async () => {
    const m = await manager();
    await m.apply();
    const stored = JSON.parse(JSON.stringify(m.paths()));
    const again: CgroupManager = cgroupManagerFromPaths(stored, { io: fake });
    expect(again.version).toBe(2);
    await again.set({ pids: { limit: 9 } });
    expect(fake.file(join(fake.root, 'user.slice/c1/pids.max')).trim()).toBe('9');
    await again.destroy();
    expect(existsSync(join(fake.root, 'user.slice'))).toBe(false);
  });

  it('stats read cpu, memory, pids, io and hugetlb files', async () => {
    const m = await manager();
    await m.apply();
    const dir = join(fake.root, 'user.slice/c1');
    fake.setFile(
      join(dir, 'cpu.stat'),
      'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 30\n',
    );
    fake.setFile(join(dir, 'memory.current'), '4096\n');
    fake.setFile(join(dir, 'memory.peak'), '8192\n');
    fake.setFile(join(dir, 'memory.max'), '1048576\n');
    fake.setFile(join(dir, 'memory.stat'), 'anon 100\nfile 300\n');
    fake.setFile(join(dir, 'memory.events'), 'max 5\noom 1\noom_kill 1\n');
    fake.setFile(join(dir, 'memory.swap.current'), '100\n');
    fake.setFile(join(dir, 'pids.current'), '3\n');
    fake.setFile(join(dir, 'io.stat'), '8:0 rbytes=10 wbytes=20 rios=1 wios=2\n');
    fake.setFile(join(dir, 'hugetlb.2MB.rsvd.current'), '2097152\n');
    fake.setFile(join(dir, 'hugetlb.2MB.events'), 'max 1\n');
    const st = await m.stats();
    expect(st.cpu.usage).toMatchObject({ total: 1500000, user: 1000000, kernel: 500000 });
    expect(st.cpu.throttling).toEqual({ periods: 4, throttledPeriods: 2, throttledTime: 30000 });
    expect(st.memory.usage).toEqual({ usage: 4096, max: 8192, limit: 1048576, failcnt: 5 });
    expect(st.memory.swap).toMatchObject({ usage: 4196, limit: UNLIMITED });
    expect(st.memory.cache).toBe(300);
    expect(st.memory.raw).toEqual({ anon: 100, file: 300 });
    expect(st.pids).toEqual({ current: 3, limit: 0 });
    expect(st.blkio.ioServiceBytesRecursive).toHaveLength(2);
    expect(st.hugetlb['2MB']).toEqual({ usage: 2097152, max: 0, failcnt: 1 });
    expect(st.hugetlb['1GB']).toEqual({ usage: 0, max: 0, failcnt: 0 });
    expect(st.cpuset.cpus).toEqual([0, 1]);
  });

  it('oomEvents yields when memory.events oom_kill grows and ends when the cgroup goes', async () => {
    const m = await manager();
    await m.apply();
    const events = join(fake.root, 'user.slice/c1/memory.events');
    const it = m.oomEvents({ intervalMs: 5 });
    const first = it.next();
    setTimeout(() => fake.setFile(events, 'oom 2\noom_kill 2\n'), 20);
    const ev = await first;
    expect(ev.done).toBe(false);
    expect(ev.value).toMatchObject({ type: 'oom', count: 2, delta: 2 });
    expect(await m.oomKillCount()).toBe(2);
    const next = it.next();
    setTimeout(() => void m.destroy(), 20);
    expect((await next).done).toBe(true);
  });

  it('oomEvents stops on abort', async () => {
    const m = await manager();
    await m.apply();
    const ac = new AbortController();
    const it = m.oomEvents({ intervalMs: 1000, signal: ac.signal });
    const next = it.next();
    setTimeout(() => ac.abort(), 10);
    expect((await next).done).toBe(true);
  });
});
