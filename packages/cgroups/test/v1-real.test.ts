/**
 * Integration: the v1 manager on this machine's real cgroupfs (root, v1 or
 * hybrid host). Every cgroup is created under a unique tsoci-test-<pid>-<hex>
 * name and removed in afterEach, after killing the processes the test
 * started; nothing else is written. A controller the host lacks is named in
 * the skip note of the test that needs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '@ts-oci/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { CGROUP_ERROR_CODES, CgroupError } from '../src/errors.js';
import { cgroupManagerFromPaths, createCgroupManager } from '../src/factory.js';
import type { CgroupManager } from '../src/manager.js';
import { type CgroupSetup, getCgroupSetup } from '../src/setup.js';
import { V1Manager } from '../src/v1.js';

const PREFIX = `tsoci-test-${process.pid}-${randomBytes(4).toString('hex')}`;
const isRoot = process.getuid?.() === 0;
const setup: CgroupSetup | undefined = await getCgroupSetup().catch(() => undefined);
const usable = isRoot && setup !== undefined && setup.mode !== 'v2';
const reason = !isRoot
  ? 'needs root'
  : setup === undefined
    ? 'no cgroupfs'
    : 'host has no cgroup v1 hierarchies';
const has = (c: string) => setup?.v1.some((h) => h.controllers.includes(c)) ?? false;

const managers: CgroupManager[] = [];
const children: ChildProcess[] = [];
let seq = 0;

function name(): string {
  seq += 1;
  return `${PREFIX}-${seq}`;
}

async function manager(
  opts: { cgroupsPath?: string; resources?: Resources } = {},
): Promise<CgroupManager> {
  const m = await createCgroupManager({ id: name(), ...opts });
  expect(m).toBeInstanceOf(V1Manager);
  managers.push(m);
  return m;
}

/** A child that waits for a line on stdin before running `script`, so it can join first. */
async function child(script = 'exec sleep 300'): Promise<ChildProcess & { pid: number }> {
  const c = spawn('sh', ['-c', `read _go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(c);
  await new Promise((resolve, reject) => {
    c.once('spawn', resolve);
    c.once('error', reject);
  });
  return c as ChildProcess & { pid: number };
}

function release(c: ChildProcess): void {
  c.stdin?.write('go\n');
}

function exited(c: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (c.exitCode !== null || c.signalCode !== null)
    return Promise.resolve(c.signalCode ?? c.exitCode);
  return new Promise((resolve) => c.once('exit', (code, sig) => resolve(sig ?? code)));
}

function read(dir: string | undefined, file: string): string {
  if (dir === undefined) throw new Error(`no directory for ${file}`);
  return readFileSync(join(dir, file), 'utf8').trim();
}

async function until(check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Last-resort cleanup: rmdir (deepest first) only directories carrying our prefix. */
function forceRemove(dir: string): void {
  if (!dir.includes(PREFIX) || !existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) forceRemove(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // Reported by the assertion below.
  }
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
  const leftovers: string[] = [];
  for (const m of managers.splice(0)) {
    const p = m.paths();
    const freezer = p.paths.freezer;
    // Thaw our own cgroup so nothing stays stuck in it.
    if (freezer !== undefined && existsSync(freezer)) await m.freeze(false).catch(() => undefined);
    await m.destroy({ timeoutMs: 5000 }).catch(() => undefined);
    for (const d of [...Object.values(p.paths), ...p.created]) {
      forceRemove(d);
      if (existsSync(d)) leftovers.push(d);
    }
  }
  expect(leftovers).toEqual([]);
});

describe.skipIf(!usable)(`cgroup v1 on this machine (${setup?.mode ?? 'none'})`, () => {
  it('creates the cgroup in every hierarchy and writes memory, pids, cpu, cpuset and devices', async (ctx) => {
    ctx.skip(
      !has('memory') || !has('pids') || !has('cpu') || !has('cpuset'),
      'needs memory, pids, cpu and cpuset',
    );
    const m = await manager({
      resources: {
        memory: { limit: 64 << 20, reservation: 32 << 20, swappiness: 10 },
        pids: { limit: 32 },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' },
        ],
      },
    });
    await m.apply();
    const p = m.paths().paths;
    for (const c of setup?.v1.flatMap((h) => h.controllers) ?? []) {
      expect(existsSync(join(p[c] ?? '/nonexistent', 'cgroup.procs'))).toBe(true);
      expect(p[c]).toContain(PREFIX);
    }
    expect(read(p.memory, 'memory.limit_in_bytes')).toBe(String(64 << 20));
    expect(read(p.memory, 'memory.soft_limit_in_bytes')).toBe(String(32 << 20));
    expect(read(p.memory, 'memory.swappiness')).toBe('10');
    expect(read(p.pids, 'pids.max')).toBe('32');
    expect(read(p.cpu, 'cpu.shares')).toBe('512');
    expect(read(p.cpu, 'cpu.cfs_quota_us')).toBe('50000');
    expect(read(p.cpu, 'cpu.cfs_period_us')).toBe('100000');
    expect(read(p.cpuset, 'cpuset.cpus')).toBe('0');
    expect(read(p.cpuset, 'cpuset.mems')).toBe('0');
    if (has('devices'))
      expect(read(p.devices, 'devices.list').split('\n')).toEqual(['c 1:3 rwm', 'c 1:5 rw']);

    // update: lower the pids limit, lift the memory limit.
    await m.set({ pids: { limit: -1 }, memory: { limit: -1 } });
    expect(read(p.pids, 'pids.max')).toBe('max');
    expect(Number(read(p.memory, 'memory.limit_in_bytes'))).toBeGreaterThan(2 ** 62);
  });

  it('moves a process in; pids() and /proc/<pid>/cgroup agree', async () => {
    const m = await manager({ resources: { pids: { limit: 16 } } });
    const c = await child();
    await m.apply(c.pid);
    expect(await m.pids()).toEqual([c.pid]);
    const procCgroup = readFileSync(`/proc/${c.pid}/cgroup`, 'utf8');
    const p = m.paths();
    const key = Object.keys(p.paths).find((k) => k !== 'unified') ?? '';
    const rel = (p.paths[key] ?? '').slice((p.mounts[key] ?? '').length);
    expect(procCgroup).toContain(`:${rel}\n`);
    if (p.paths.unified !== undefined) {
      expect(procCgroup).toContain(
        `0::${(p.paths.unified ?? '').slice((p.mounts.unified ?? '').length)}\n`,
      );
    }
  });

  it('freezes and thaws through freezer.state', async (ctx) => {
    ctx.skip(!has('freezer'), 'freezer: no v1 freezer hierarchy');
    const m = await manager();
    const c = await child();
    await m.apply(c.pid);
    await m.freeze(true);
    expect(read(m.paths().paths.freezer, 'freezer.state')).toBe('FROZEN');
    expect(await m.isFrozen()).toBe(true);
    await m.freeze(false);
    expect(read(m.paths().paths.freezer, 'freezer.state')).toBe('THAWED');
    expect(await m.isFrozen()).toBe(false);
    expect(c.exitCode).toBe(null);
  });

  it('stats report the limits and the process', async () => {
    const m = await manager({ resources: { memory: { limit: 32 << 20 }, pids: { limit: 8 } } });
    const c = await child();
    await m.apply(c.pid);
    const st = await m.stats();
    if (has('pids')) expect(st.pids).toEqual({ current: 1, limit: 8 });
    if (has('memory')) {
      expect(st.memory.usage.limit).toBe(32 << 20);
      expect(st.memory.usage.usage).toBeGreaterThanOrEqual(0);
      expect(Object.keys(st.memory.raw)).toContain('rss');
    }
    if (has('cpuacct')) expect(st.cpu.usage.percpu.length).toBeGreaterThan(0);
    if (has('cpuset')) expect(st.cpuset.cpus.length).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(st))).toEqual(st);
  });

  it('killAll signals every process, including ones forked after joining', async () => {
    const m = await manager();
    const c = await child('sleep 300 & sleep 300 & wait');
    await m.apply(c.pid);
    release(c);
    await until(async () => (await m.pids()).length === 3);
    await m.killAll('SIGTERM');
    await until(async () => (await m.pids()).length === 0);
    expect(await exited(c)).toBe('SIGTERM');
    await m.destroy();
    for (const d of Object.values(m.paths().paths)) expect(existsSync(d)).toBe(false);
  });

  it('killAll(SIGKILL) of a paused cgroup thaws it so the kill completes', async (ctx) => {
    ctx.skip(!has('freezer'), 'freezer: no v1 freezer hierarchy');
    const m = await manager();
    const c = await child();
    await m.apply(c.pid);
    await m.freeze(true);
    await m.killAll();
    expect(await exited(c)).toBe('SIGKILL');
    expect(await m.isFrozen()).toBe(false);
  });

  it('destroy waits for processes to exit and then removes every directory', async () => {
    const m = await manager();
    const c = await child('exec sleep 0.3');
    await m.apply(c.pid);
    release(c);
    await m.destroy({ timeoutMs: 5000 });
    for (const d of Object.values(m.paths().paths)) expect(existsSync(d)).toBe(false);
    expect(await m.exists()).toBe(false);
  });

  it('destroy of a cgroup that never empties names it', async () => {
    const m = await manager();
    const c = await child();
    await m.apply(c.pid);
    const err = await m.destroy({ timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CgroupError);
    expect((err as CgroupError).code).toBe(CGROUP_ERROR_CODES.NOT_EMPTY);
    expect((err as CgroupError).message).toMatch(
      new RegExp(
        `^cannot remove cgroup /sys/fs/cgroup/\\S+${PREFIX}-\\d+: processes ${c.pid} still in it \\(device or resource busy\\)$`,
      ),
    );
  });

  it('a value the kernel rejects names the field, the value, the file and the reason', async (ctx) => {
    ctx.skip(!has('cpuset'), 'cpuset: no v1 cpuset hierarchy');
    const m = await manager();
    await m.apply();
    // The 2-cpu machine: 9-12 is out of the cpumask (ERANGE); a kernel with a
    // wider cpumask reports EINVAL instead. 1-0 is malformed everywhere.
    const err = (await m.set({ cpu: { cpus: '9-12' } }).catch((e: unknown) => e)) as CgroupError;
    expect(err).toBeInstanceOf(CgroupError);
    expect(err.code).toBe(CGROUP_ERROR_CODES.WRITE_REJECTED);
    expect(['ERANGE', 'EINVAL']).toContain(err.errno);
    const why = err.errno === 'ERANGE' ? 'numerical result out of range' : 'invalid argument';
    expect(err.message).toBe(`linux.resources.cpu.cpus: "9-12" rejected by cpuset.cpus: ${why}`);
    expect(err.path).toBe(join(m.paths().paths.cpuset ?? '', 'cpuset.cpus'));
    const einval = (await m.set({ cpu: { cpus: '1-0' } }).catch((e: unknown) => e)) as CgroupError;
    expect(einval.message).toBe(
      'linux.resources.cpu.cpus: "1-0" rejected by cpuset.cpus: invalid argument',
    );
  });

  it('cpu.shares outside the kernel range is reported, not silently clamped', async (ctx) => {
    ctx.skip(!has('cpu'), 'cpu: no v1 cpu hierarchy');
    const m = await manager();
    await m.apply();
    const err = (await m.set({ cpu: { shares: 1 } }).catch((e: unknown) => e)) as CgroupError;
    expect(err.code).toBe(CGROUP_ERROR_CODES.VALUE_CLAMPED);
    expect(err.message).toBe(
      'linux.resources.cpu.shares: "1" was stored as "2" by cpu.shares (outside the kernel\'s range)',
    );
  });

  it('a failed apply() leaves no directory behind and the process where it was', async (ctx) => {
    ctx.skip(!has('cpuset'), 'cpuset: no v1 cpuset hierarchy');
    const m = await manager({ resources: { pids: { limit: 4 }, cpu: { cpus: '1-0' } } });
    const c = await child();
    const before = readFileSync(`/proc/${c.pid}/cgroup`, 'utf8');
    await expect(m.apply(c.pid)).rejects.toThrow(
      'linux.resources.cpu.cpus: "1-0" rejected by cpuset.cpus: invalid argument',
    );
    for (const d of Object.values(m.paths().paths)) expect(existsSync(d)).toBe(false);
    expect(readFileSync(`/proc/${c.pid}/cgroup`, 'utf8')).toBe(before);
  });

  it('an absolute nested cgroupsPath is created under each mount point and fully removed', async () => {
    const top = name();
    const m = await manager({ cgroupsPath: `/${top}/inner` });
    await m.apply();
    const p = m.paths();
    for (const [key, dir] of Object.entries(p.paths))
      expect(dir).toBe(join(p.mounts[key] ?? '', top, 'inner'));
    expect(p.created.length).toBe(new Set(Object.values(p.paths)).size);
    await m.destroy();
    for (const d of [...Object.values(p.paths), ...p.created]) expect(existsSync(d)).toBe(false);
  });

  it('a manager rebuilt from the stored paths updates and destroys the same cgroup', async (ctx) => {
    ctx.skip(!has('pids'), 'pids: no v1 pids hierarchy');
    const m = await manager({ resources: { pids: { limit: 10 } } });
    await m.apply();
    const again = cgroupManagerFromPaths(JSON.parse(JSON.stringify(m.paths())));
    await again.set({ pids: { limit: 20 } });
    expect(read(m.paths().paths.pids, 'pids.max')).toBe('20');
    await again.destroy();
    expect(await m.exists()).toBe(false);
  });

  it('OOM kills are seen by oomEvents()', { timeout: 30000 }, async (ctx) => {
    ctx.skip(!has('memory'), 'memory: no v1 memory hierarchy');
    const memoryMount = setup?.v1.find((h) => h.controllers.includes('memory'))?.mountpoint ?? '';
    // Without swap accounting there is no memsw limit to set; swap then
    // cannot absorb the allocation only if there is no swap at all.
    const memsw = existsSync(join(memoryMount, 'memory.memsw.limit_in_bytes'));
    const m = await manager({
      resources: { memory: { limit: 16 << 20, ...(memsw ? { swap: 16 << 20 } : {}) } },
    });
    const c = await child('exec dd if=/dev/zero of=/dev/null bs=64M count=1');
    await m.apply(c.pid);
    const events = m.oomEvents({ intervalMs: 20 });
    const first = events.next();
    release(c);
    const ev = await first;
    expect(ev.done).toBe(false);
    expect(ev.value).toMatchObject({ type: 'oom' });
    expect(ev.value?.count).toBeGreaterThanOrEqual(1);
    expect(await exited(c)).toBe('SIGKILL');
    expect(await m.oomKillCount()).toBeGreaterThanOrEqual(1);
    await events.return?.();
  });

  it('hybrid: the process also joins the cgroup2 side, and SIGKILL goes through cgroup.kill', async (ctx) => {
    ctx.skip(setup?.unified === undefined, 'unified: this host has no cgroup2 mount');
    const m = await manager();
    const c = await child();
    await m.apply(c.pid);
    const u = m.paths().paths.unified ?? '';
    expect(read(u, 'cgroup.procs')).toBe(String(c.pid));
    ctx.skip(!existsSync(join(u, 'cgroup.kill')), 'cgroup.kill: kernel older than 5.14');
    await m.killAll('SIGKILL');
    expect(await exited(c)).toBe('SIGKILL');
  });

  it('blkio: weight and throttling', async (ctx) => {
    ctx.skip(!has('blkio'), 'blkio: no v1 blkio hierarchy');
    const m = await manager();
    await m.apply();
    const dir = m.paths().paths.blkio ?? '';
    const dev = readFileSync('/sys/block/vda/dev', 'utf8').trim().split(':').map(Number);
    const [major = 0, minor = 0] = dev;
    await m.set({ blockIO: { throttleReadBpsDevice: [{ major, minor, rate: 1048576 }] } });
    expect(read(dir, 'blkio.throttle.read_bps_device')).toBe(`${major}:${minor} 1048576`);
    const weightFile = ['blkio.weight', 'blkio.bfq.weight'].find((f) => existsSync(join(dir, f)));
    ctx.skip(
      weightFile === undefined,
      'blkio weight: neither blkio.weight (CFQ) nor blkio.bfq.weight (BFQ) exists',
    );
    await m.set({ blockIO: { weight: 500 } });
    expect(read(dir, weightFile ?? '')).toMatch(/(^|default )500$/);
  });

  it('hugepageLimits', async (ctx) => {
    ctx.skip(
      !has('hugetlb'),
      'hugetlb: no v1 hugetlb hierarchy; the cgroup2 side has it, but enabling it there means writing the cgroup2 root cgroup.subtree_control, which tests must not touch (hybrid routing is covered by hybrid-fake.test.ts)',
    );
    const m = await manager();
    await m.apply();
    const size = readdirSync(m.paths().paths.hugetlb ?? '')
      .map((f) => /^hugetlb\.(\w+)\.limit_in_bytes$/.exec(f)?.[1])
      .find((s) => s !== undefined);
    ctx.skip(size === undefined, 'hugetlb: no hugepage size');
    await m.set({ hugepageLimits: [{ pageSize: size ?? '', limit: 2 << 21 }] });
    expect(read(m.paths().paths.hugetlb, `hugetlb.${size}.limit_in_bytes`)).toBe(String(2 << 21));
  });

  it('network: net_cls/net_prio values, or a clear error where they are not mounted', async () => {
    const m = await manager();
    await m.apply();
    const res: Resources = {
      network: { classID: 0x100001, priorities: [{ name: 'lo', priority: 5 }] },
    };
    if (has('net_cls') && has('net_prio')) {
      await m.set(res);
      expect(read(m.paths().paths.net_cls, 'net_cls.classid')).toBe(String(0x100001));
      expect(read(m.paths().paths.net_prio, 'net_prio.ifpriomap')).toContain('lo 5');
    } else {
      const err = (await m.set(res).catch((e: unknown) => e)) as CgroupError;
      expect(err.code).toBe(CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE);
      expect(err.message).toMatch(
        /^linux\.resources\.network\.classID: the net_cls cgroup controller (is not mounted|is neither mounted)/,
      );
    }
  });

  it('rdma: rdma.max, or a clear error where rdma is not mounted', async () => {
    const m = await manager();
    await m.apply();
    if (has('rdma')) {
      // No RDMA device on a test VM: the kernel refuses the name, which is the
      // error path this test can check.
      const err = (await m
        .set({ rdma: { tsoci_none: { hcaHandles: 1 } } })
        .catch((e: unknown) => e)) as CgroupError;
      expect(err.message).toMatch(
        /^linux\.resources\.rdma\.tsoci_none: "tsoci_none hca_handle=1" rejected by rdma\.max: /,
      );
    } else {
      const err = (await m
        .set({ rdma: { mlx5_1: { hcaHandles: 1 } } })
        .catch((e: unknown) => e)) as CgroupError;
      expect(err.code).toBe(CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE);
      expect(err.field).toBe('linux.resources.rdma.mlx5_1');
    }
  });
});

describe.skipIf(usable)('cgroup v1 on this machine', () => {
  it.skip(`skipped: ${reason}`, () => undefined);
});
