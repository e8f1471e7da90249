/**
 * The v1 manager on a fake hybrid host: v1 hierarchies in a temp dir plus the
 * fake cgroup2 tree. Checks the routing between the two (what v1 lacks goes
 * to cgroup2), which the real machine cannot show without enabling a
 * controller in the cgroup2 root — a cgroup the tests did not create.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CGROUP_ERROR_CODES, CgroupError } from '../src/errors.js';
import { cgroupManagerFromPaths, createCgroupManager } from '../src/factory.js';
import { type CgroupIo, NodeCgroupIo } from '../src/io.js';
import { V1Manager } from '../src/v1.js';
import { FakeCgroupfs, type RecordedWrite } from './fake-cgroupfs.js';

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712\n',
    'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory.soft_limit_in_bytes': '9223372036854771712\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.usage_in_bytes': '0\n',
  },
  pids: { 'pids.max': 'max\n', 'pids.current': '0\n' },
  cpuset: { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' },
  freezer: { 'freezer.state': 'THAWED\n' },
};

/** Plain files for the v1 side (mkdir populates the hierarchy's files), the fake for cgroup2. */
class HybridIo implements CgroupIo {
  readonly writes: RecordedWrite[] = [];
  /** mkdir on the cgroup2 side fails with EROFS (a read-only cgroup2 mount). */
  unifiedReadOnly = false;
  private readonly node = new NodeCgroupIo();
  constructor(
    private readonly v2: FakeCgroupfs,
    private readonly v1Root: string,
  ) {}

  private isV2(path: string): boolean {
    return path.startsWith(this.v2.root);
  }

  read(path: string) {
    return this.isV2(path) ? this.v2.read(path) : this.node.read(path);
  }

  list(dir: string) {
    return this.isV2(dir) ? this.v2.list(dir) : this.node.list(dir);
  }

  async mkdir(path: string): Promise<boolean> {
    if (this.isV2(path) && this.unifiedReadOnly) {
      throw Object.assign(new Error(`EROFS: mkdir ${path}`), { code: 'EROFS' });
    }
    if (this.isV2(path)) return this.v2.mkdir(path);
    if (!(await this.node.mkdir(path))) return false;
    const controller = relative(this.v1Root, path).split('/')[0] ?? '';
    writeFileSync(join(path, 'cgroup.procs'), '');
    for (const [f, v] of Object.entries(V1_FILES[controller] ?? {}))
      writeFileSync(join(path, f), v);
    return true;
  }

  async rmdir(path: string): Promise<void> {
    if (this.isV2(path)) return this.v2.rmdir(path);
    await rm(path, { recursive: true });
  }

  async write(path: string, value: string): Promise<void> {
    this.writes.push({ path, value });
    if (this.isV2(path)) return this.v2.write(path, value);
    if (path.endsWith('cgroup.procs')) {
      writeFileSync(path, `${readFileSync(path, 'utf8')}${value}\n`);
      return;
    }
    return this.node.write(path, value);
  }
}

let fake: FakeCgroupfs;
let v1Root: string;
let io: HybridIo;

function mountinfo(): string {
  const v1 = ['memory', 'pids', 'cpuset', 'freezer'];
  return [
    ...v1.map((c, i) => `${40 + i} 30 0:${40 + i} / ${v1Root}/${c} rw - cgroup cgroup rw,${c}`),
    `61 30 0:61 / ${fake.root} rw - cgroup2 cgroup2 rw`,
    '',
  ].join('\n');
}

async function manager(): Promise<V1Manager> {
  const m = await createCgroupManager({
    id: 'c1',
    cgroupsPath: '/tsoci/c1',
    root: tmpdir(),
    mountinfo: mountinfo(),
    procSelfCgroup: '0::/\n',
    io,
  });
  expect(m).toBeInstanceOf(V1Manager);
  return m as V1Manager;
}

beforeEach(async () => {
  fake = await FakeCgroupfs.create({ controllers: ['hugetlb', 'misc'] });
  v1Root = await mkdtemp(join(tmpdir(), 'tsoci-cgv1fake-'));
  for (const c of ['memory', 'pids', 'cpuset', 'freezer']) await mkdir(join(v1Root, c));
  writeFileSync(join(v1Root, 'cpuset', 'cpuset.cpus'), '0-1\n');
  writeFileSync(join(v1Root, 'cpuset', 'cpuset.mems'), '0\n');
  io = new HybridIo(fake, v1Root);
});

afterEach(async () => {
  await fake.cleanup();
  await rm(v1Root, { recursive: true, force: true });
});

describe('hybrid routing', () => {
  it('v1 controllers get v1 files; hugetlb, absent from v1, goes to cgroup2 with only hugetlb enabled', async () => {
    const m = await manager();
    const paths = m.paths();
    expect(paths.version).toBe(1);
    expect(paths.paths).toEqual({
      memory: join(v1Root, 'memory/tsoci/c1'),
      pids: join(v1Root, 'pids/tsoci/c1'),
      cpuset: join(v1Root, 'cpuset/tsoci/c1'),
      freezer: join(v1Root, 'freezer/tsoci/c1'),
      unified: join(fake.root, 'tsoci/c1'),
    });
    await m.apply(4242);
    await m.set({
      memory: { limit: 1 << 20 },
      pids: { limit: 10 },
      hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }],
      unified: { 'hugetlb.1GB.max': '0' },
    });
    expect(readFileSync(join(v1Root, 'memory/tsoci/c1/memory.limit_in_bytes'), 'utf8').trim()).toBe(
      '1048576',
    );
    expect(readFileSync(join(v1Root, 'pids/tsoci/c1/pids.max'), 'utf8').trim()).toBe('10');
    const u = join(fake.root, 'tsoci/c1');
    expect(fake.file(join(u, 'hugetlb.2MB.max')).trim()).toBe('2097152');
    expect(fake.file(join(u, 'hugetlb.1GB.max')).trim()).toBe('0');
    // Only what the container needed was enabled on the shared cgroup2 side.
    expect(fake.file(join(fake.root, 'cgroup.subtree_control')).trim()).toBe('hugetlb');
    // The process joined every hierarchy, cgroup2 included.
    for (const dir of Object.values(paths.paths)) {
      expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim()).toBe('4242');
    }
  });

  it('a new v1 cpuset inherits cpus and mems from its parent before tasks join', async () => {
    const m = await manager();
    await m.apply(1);
    expect(readFileSync(join(v1Root, 'cpuset/tsoci/cpuset.cpus'), 'utf8').trim()).toBe('0-1');
    expect(readFileSync(join(v1Root, 'cpuset/tsoci/c1/cpuset.mems'), 'utf8').trim()).toBe('0');
    const cpusetWrite = io.writes.findIndex(
      (w) => w.path === join(v1Root, 'cpuset/tsoci/c1/cpuset.cpus'),
    );
    const join_ = io.writes.findIndex(
      (w) => w.path === join(v1Root, 'cpuset/tsoci/c1/cgroup.procs'),
    );
    expect(cpusetWrite).toBeGreaterThanOrEqual(0);
    expect(cpusetWrite).toBeLessThan(join_);
  });

  it('unified keys of controllers only v1 has are refused', async () => {
    const m = await manager();
    await m.apply();
    const err = await m.set({ unified: { 'memory.high': '1' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CgroupError);
    expect((err as CgroupError).code).toBe(CGROUP_ERROR_CODES.UNIFIED_ON_V1);
    expect((err as CgroupError).message).toBe(
      'linux.resources.unified["memory.high"]: the memory controller is not available in the cgroup2 hierarchy of this hybrid host (cgroup.controllers: none); unified keys only reach cgroup v2 controllers',
    );
  });

  it('a controller on neither side is named in the error', async () => {
    const m = await manager();
    await m.apply();
    const err = await m.set({ network: { classID: 7 } }).catch((e: unknown) => e);
    expect((err as CgroupError).code).toBe(CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE);
    expect((err as CgroupError).message).toBe(
      'linux.resources.network.classID: the net_cls cgroup controller is neither mounted as cgroup v1 nor available in the cgroup2 hierarchy (cgroup.controllers: none)',
    );
    const rdma = await m.set({ rdma: { mlx4_0: { hcaObjects: 1 } } }).catch((e: unknown) => e);
    expect((rdma as CgroupError).field).toBe('linux.resources.rdma.mlx4_0');
  });

  it('SIGKILL goes through cgroup2 cgroup.kill, then the v1 sweep freezes and thaws', async () => {
    const m = await manager();
    await m.apply();
    // A real child of ours as the fake cgroup's member: the sweep signals it.
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const gone = new Promise((r) => child.once('exit', r));
    await io.write(join(v1Root, 'freezer/tsoci/c1/cgroup.procs'), String(child.pid));
    await m.killAll('SIGKILL');
    const rel = io.writes.map((w) => [
      w.path.startsWith(fake.root) ? relative(fake.root, w.path) : relative(v1Root, w.path),
      w.value,
    ]);
    expect(rel.slice(-3)).toEqual([
      ['tsoci/c1/cgroup.kill', '1'],
      ['freezer/tsoci/c1/freezer.state', 'FROZEN'],
      ['freezer/tsoci/c1/freezer.state', 'THAWED'],
    ]);
    await gone;
    expect(child.signalCode).toBe('SIGKILL');
  });

  it('joinTargets: the v1 directories (freezer last) to move into, the cgroup2 one to be born in', async () => {
    const m = await manager();
    await m.apply();
    expect(m.joinTargets()).toEqual({
      selfMove: ['memory', 'pids', 'cpuset', 'freezer'].map((c) => join(v1Root, c, 'tsoci/c1')),
      cloneInto: join(fake.root, 'tsoci/c1'),
    });
    // The fallback where the kernel would not start the process there.
    await m.addProcess(4242, [join(fake.root, 'tsoci/c1')]);
    expect(io.writes.at(-1)).toEqual({
      path: join(fake.root, 'tsoci/c1/cgroup.procs'),
      value: '4242',
    });
  });

  it('an empty cgroup is not frozen: cgroup.kill only', async () => {
    const m = await manager();
    await m.apply();
    const before = io.writes.length;
    await m.killAll('SIGKILL');
    const rel = io.writes
      .slice(before)
      .map((w) => [
        w.path.startsWith(fake.root) ? relative(fake.root, w.path) : relative(v1Root, w.path),
        w.value,
      ]);
    expect(rel).toEqual([['tsoci/c1/cgroup.kill', '1']]);
  });

  it('paths survive JSON; destroy removes every hierarchy and the parents it created', async () => {
    const m = await manager();
    await m.apply();
    const again = cgroupManagerFromPaths(JSON.parse(JSON.stringify(m.paths())), { io });
    expect(again.version).toBe(1);
    expect(await again.exists()).toBe(true);
    await again.destroy();
    for (const c of ['memory', 'pids', 'cpuset', 'freezer']) {
      expect(existsSync(join(v1Root, c, 'tsoci'))).toBe(false);
      expect(existsSync(join(v1Root, c))).toBe(true);
    }
    expect(existsSync(join(fake.root, 'tsoci'))).toBe(false);
    expect(await again.exists()).toBe(false);
  });

  it('OOM kills are read from memory.oom_control', async () => {
    const m = await manager();
    await m.apply();
    writeFileSync(
      join(v1Root, 'memory/tsoci/c1/memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 4\n',
    );
    expect(await m.oomKillCount()).toBe(4);
  });

  it('a read-only cgroup2 mount is skipped: the container runs on v1 alone', async () => {
    io.unifiedReadOnly = true;
    const m = await manager();
    await m.apply(77);
    expect(m.paths().paths.unified).toBeUndefined();
    expect(readFileSync(join(v1Root, 'pids/tsoci/c1/cgroup.procs'), 'utf8').trim()).toBe('77');
    const err = await m
      .set({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] })
      .catch((e: unknown) => e);
    expect((err as CgroupError).message).toBe(
      'linux.resources.hugepageLimits[0]: the hugetlb cgroup controller is not mounted on this host',
    );
  });
});
