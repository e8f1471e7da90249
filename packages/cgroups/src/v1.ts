import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Resources } from '@ts-oci/spec';
import { CGROUP_ERROR_CODES, CgroupError, errnoOf, ioError } from './errors.js';
import type { CgroupIo } from './io.js';
import {
  BaseManager,
  type CgroupJoin,
  type CgroupManager,
  type CgroupPaths,
  collectPids,
  type DestroyOptions,
  type DirWrite,
  isSigkill,
  type ManagerCommonOptions,
  makeCgroupDirs,
  readOptional,
  removeCgroupTree,
  removeQuietly,
  runWrites,
  type SetResult,
  signalPids,
} from './manager.js';
import {
  type CgroupWrite,
  type PlanWarning,
  planResource,
  RESOURCE_KEYS,
  type ResourceKey,
} from './plan.js';
import {
  type CgroupStats,
  emptyStats,
  hugepageSizes,
  type MemoryEntry,
  parseBlkioV1,
  parseCpuList,
  parseKeyValues,
  parseNumber,
  parseNumberList,
} from './stats.js';
import {
  availableControllers,
  enableControllers,
  freezeUnified,
  isUnifiedFrozen,
  listFiles,
  readUnifiedStats,
  unifiedContext,
} from './v2.js';

/** One v1 hierarchy as the manager uses it. */
export interface V1Dir {
  /** Controllers of the hierarchy (`cpu`, `cpuacct`), or its name (`name=systemd`). */
  controllers: string[];
  /** The container's cgroup directory in this hierarchy. */
  dir: string;
  mountpoint: string;
}

export interface V1ManagerOptions extends ManagerCommonOptions {
  hierarchies: readonly V1Dir[];
  /**
   * Hybrid hosts: the container's directory in the cgroup2 mount. It is
   * created and joined (so cgroup.kill and the v2 freezer work on the whole
   * container) and hosts the controllers v1 does not mount (e.g. hugetlb).
   */
  unified?: { dir: string; mountpoint: string };
  created?: readonly string[];
}

// v2 names of the v1 controllers a hybrid host may offer only on cgroup2.
const V2_NAME: Readonly<Record<string, string>> = { blkio: 'io' };

// Clock ticks per second of cpuacct.stat (USER_HZ, 100 on every Linux ABI).
const USER_HZ = 100;

// Knob files of v1 hierarchies, per io and hierarchy (see knobFiles).
const knobCache = new WeakMap<CgroupIo, Map<string, Set<string>>>();

/**
 * The files of `h.dir`. Every non-root cgroup of a v1 hierarchy has the same
 * ones (its controllers' interface, fixed for the boot), so the first
 * listing serves every later container: a readdir of a cgroup costs about
 * 50 µs and `set()` needs one per hierarchy (nine here).
 */
async function knobFiles(io: CgroupIo, h: V1Dir): Promise<Set<string>> {
  let byHierarchy = knobCache.get(io);
  if (byHierarchy === undefined) {
    byHierarchy = new Map();
    knobCache.set(io, byHierarchy);
  }
  const key = `${h.mountpoint}\0${[...h.controllers].sort().join(',')}`;
  let files = byHierarchy.get(key);
  if (files === undefined) {
    files = await listFiles(io, h.dir);
    byHierarchy.set(key, files);
  }
  return files;
}

/**
 * The cgroup v1 manager: one directory per hierarchy. On hybrid hosts it also
 * manages a directory in the cgroup2 mount (see `unified`).
 */
export class V1Manager extends BaseManager implements CgroupManager {
  readonly version = 1 as const;
  readonly hierarchies: readonly V1Dir[];
  private unifiedSide: { dir: string; mountpoint: string } | undefined;
  private created: string[];

  constructor(options: V1ManagerOptions) {
    super(options);
    this.hierarchies = options.hierarchies.map((h) => ({ ...h, controllers: [...h.controllers] }));
    this.unifiedSide = options.unified;
    this.created = [...(options.created ?? [])];
  }

  /** The cgroup2 side of a hybrid host, if used. */
  get unified(): { dir: string; mountpoint: string } | undefined {
    return this.unifiedSide;
  }

  /** The directory of a v1 controller, if its hierarchy is mounted. */
  dirOf(controller: string): string | undefined {
    return this.hierarchies.find((h) => h.controllers.includes(controller))?.dir;
  }

  private allDirs(): string[] {
    const dirs = this.hierarchies.map((h) => h.dir);
    if (this.unified !== undefined) dirs.push(this.unified.dir);
    return dirs;
  }

  paths(): CgroupPaths {
    const paths: Record<string, string> = {};
    const mounts: Record<string, string> = {};
    for (const h of this.hierarchies) {
      for (const c of h.controllers) {
        paths[c] = h.dir;
        mounts[c] = h.mountpoint;
      }
    }
    if (this.unified !== undefined) {
      paths.unified = this.unified.dir;
      mounts.unified = this.unified.mountpoint;
    }
    return { driver: 'cgroupfs', version: 1, paths, mounts, created: [...this.created] };
  }

  async apply(pid?: number): Promise<void> {
    const made: string[] = [];
    try {
      for (const h of this.hierarchies) {
        const created = await makeCgroupDirs(this.io, h.mountpoint, h.dir);
        made.push(...created);
        // A new v1 cpuset has empty cpus/mems and refuses tasks until filled.
        if (h.controllers.includes('cpuset')) for (const d of created) await this.inheritCpuset(d);
      }
      if (this.unified !== undefined) {
        try {
          made.push(...(await makeCgroupDirs(this.io, this.unified.mountpoint, this.unified.dir)));
        } catch (err) {
          // A read-only or foreign cgroup2 mount must not stop a container
          // the v1 hierarchies can run: go on without the cgroup2 side.
          const errno = err instanceof CgroupError ? err.errno : undefined;
          if (errno !== 'EROFS' && errno !== 'EACCES' && errno !== 'EPERM') throw err;
          this.unifiedSide = undefined;
        }
      }
      if (this.resources !== undefined) await this.set(this.resources);
      if (pid !== undefined) await this.addProcess(pid);
    } catch (err) {
      await removeQuietly(this.io, made);
      throw err;
    }
    const leaves = new Set(this.allDirs());
    for (const d of made) if (!leaves.has(d) && !this.created.includes(d)) this.created.push(d);
  }

  joinTargets(): CgroupJoin {
    const freezer = this.dirOf('freezer');
    const dirs = this.hierarchies.map((h) => h.dir).filter((d) => d !== freezer);
    if (freezer !== undefined) dirs.push(freezer);
    return {
      selfMove: [...new Set(dirs)],
      ...(this.unified === undefined ? {} : { cloneInto: this.unified.dir }),
    };
  }

  async addProcess(pid: number, dirs: readonly string[] = this.allDirs()): Promise<void> {
    // The hierarchies are independent: the moves go out together on the
    // thread pool instead of one round trip after another.
    await Promise.all(
      dirs.map((dir) => {
        const procs = posix.join(dir, 'cgroup.procs');
        return this.io.write(procs, String(pid)).catch((err: unknown) => {
          throw ioError(`add process ${pid} to`, procs, err);
        });
      }),
    );
  }

  private async inheritCpuset(dir: string): Promise<void> {
    const parent = posix.dirname(dir);
    for (const key of ['cpus', 'mems']) {
      const file = `cpuset.${key}`;
      const own = await readOptional(this.io, posix.join(dir, file));
      if (own === undefined || own.trim() !== '') continue;
      const inherited = ((await readOptional(this.io, posix.join(parent, file))) ?? '').trim();
      if (inherited === '') continue;
      await this.io.write(posix.join(dir, file), inherited).catch((err: unknown) => {
        throw ioError('write', posix.join(dir, file), err);
      });
    }
  }

  async set(resources: Resources): Promise<SetResult> {
    const v1Files = new Map<string, Set<string>>();
    for (const h of this.hierarchies) {
      const files = await knobFiles(this.io, h);
      for (const c of h.controllers) v1Files.set(c, files);
    }
    const ctx = { hasFile: (c: string, f: string) => v1Files.get(c)?.has(f) };
    const writes: DirWrite[] = [];
    const warnings: PlanWarning[] = [];
    for (const key of RESOURCE_KEYS) {
      if (key === 'unified') {
        if (resources.unified !== undefined && Object.keys(resources.unified).length > 0) {
          if (this.unified === undefined) planResource('unified', 1, resources); // throws
          writes.push(...(await this.unifiedWrites(key, resources, null)));
        }
        continue;
      }
      const plan = planResource(key, 1, resources, ctx);
      warnings.push(...plan.warnings);
      const missing = new Set(
        plan.writes.filter((w) => this.dirOf(w.controller) === undefined).map((w) => w.controller),
      );
      for (const w of plan.writes) {
        const dir = this.dirOf(w.controller);
        if (dir !== undefined) writes.push({ ...w, dir });
      }
      if (missing.size === 0) continue;
      const first = plan.writes.find((w) => missing.has(w.controller)) as CgroupWrite;
      if (this.unified === undefined) throw this.unavailable(first);
      // Hybrid host: what v1 does not mount may be on the cgroup2 side.
      writes.push(...(await this.unifiedWrites(key, resources, { missing, first })));
    }
    await runWrites(this.io, writes);
    return this.report(warnings);
  }

  private unavailable(w: CgroupWrite, unifiedControllers?: string[]): CgroupError {
    const where =
      unifiedControllers === undefined
        ? 'is not mounted on this host'
        : `is neither mounted as cgroup v1 nor available in the cgroup2 hierarchy (cgroup.controllers: ${unifiedControllers.join(' ') || 'none'})`;
    return new CgroupError(
      CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE,
      `${w.field}: the ${w.controller} cgroup controller ${where}`,
      {
        field: w.field,
      },
    );
  }

  /**
   * Writes of `key` that go to the cgroup2 directory of a hybrid host: all of
   * them for `unified`, else those of the v1 controllers this host lacks.
   */
  private async unifiedWrites(
    key: ResourceKey,
    resources: Resources,
    fallback: { missing: Set<string>; first: CgroupWrite } | null,
  ): Promise<DirWrite[]> {
    const u = this.unified as { dir: string; mountpoint: string };
    const pick = (writes: CgroupWrite[]) =>
      fallback === null
        ? writes
        : writes.filter(
            (w) =>
              fallback.missing.has(w.controller) ||
              [...fallback.missing].some((m) => V2_NAME[m] === w.controller),
          );
    let available = await availableControllers(this.io, u.dir);
    let plan = planResource(
      key,
      2,
      resources,
      unifiedContext(await listFiles(this.io, u.dir), available),
    );
    let chosen = pick(plan.writes);
    const needed = [...new Set(chosen.map((w) => w.controller).filter((c) => c !== 'cgroup'))];
    if (needed.some((c) => !available.includes(c))) {
      // Enable only what this container needs: the cgroup2 side of a hybrid
      // host is shared with the system and mostly unused.
      await enableControllers(this.io, u.mountpoint, u.dir, needed);
      available = await availableControllers(this.io, u.dir);
      plan = planResource(
        key,
        2,
        resources,
        unifiedContext(await listFiles(this.io, u.dir), available),
      );
      chosen = pick(plan.writes);
    }
    if (fallback !== null && chosen.length === 0) throw this.unavailable(fallback.first, available);
    for (const w of chosen) {
      if (w.controller === 'cgroup' || available.includes(w.controller)) continue;
      if (fallback !== null) throw this.unavailable(fallback.first, available);
      throw new CgroupError(
        CGROUP_ERROR_CODES.UNIFIED_ON_V1,
        `${w.field}: the ${w.controller} controller is not available in the cgroup2 hierarchy of this hybrid host (cgroup.controllers: ${available.join(' ') || 'none'}); unified keys only reach cgroup v2 controllers`,
        { field: w.field, path: u.dir },
      );
    }
    return chosen.map((w) => ({ ...w, dir: u.dir }));
  }

  async freeze(frozen: boolean): Promise<void> {
    const dir = this.dirOf('freezer');
    if (dir === undefined) {
      if (this.unified !== undefined)
        return freezeUnified(this.io, this.unified.dir, frozen, this.freezeMs);
      throw new CgroupError(
        CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE,
        'cannot freeze: the freezer cgroup controller is not mounted on this host',
      );
    }
    const file = posix.join(dir, 'freezer.state');
    const write = (v: string) =>
      this.io.write(file, v).catch((err: unknown) => {
        throw ioError('write', file, err);
      });
    const state = async () => (await this.io.read(file)).trim();
    if (!frozen) {
      await write('THAWED');
      return;
    }
    // The v1 freezer can stay in FREEZING while tasks keep forking; runc's
    // remedy is to re-request FROZEN, thawing briefly now and then.
    const deadline = Date.now() + this.freezeMs;
    for (let i = 0; ; i++) {
      if (i % 50 === 49) {
        await write('THAWED');
        await sleep(10);
      }
      await write('FROZEN');
      const s = await state().catch((err: unknown) => {
        throw ioError('read', file, err);
      });
      if (s === 'FROZEN') return;
      if (Date.now() >= deadline) break;
      await sleep(i < 10 ? 1 : 5);
    }
    await write('THAWED').catch(() => undefined);
    throw new CgroupError(
      CGROUP_ERROR_CODES.FREEZE_TIMEOUT,
      `cgroup ${dir} did not become FROZEN within ${this.freezeMs} ms (freezer.state stayed FREEZING)`,
      { path: file },
    );
  }

  async isFrozen(): Promise<boolean> {
    const dir = this.dirOf('freezer');
    if (dir === undefined)
      return this.unified !== undefined && isUnifiedFrozen(this.io, this.unified.dir);
    const s = await readOptional(this.io, posix.join(dir, 'freezer.state'));
    return s?.trim() === 'FROZEN';
  }

  /** The directory pids and kill sweeps look at: one every process joined. */
  private primaryDir(): string | undefined {
    for (const c of ['freezer', 'pids', 'memory', 'cpu', 'devices']) {
      const d = this.dirOf(c);
      if (d !== undefined) return d;
    }
    return this.hierarchies[0]?.dir ?? this.unified?.dir;
  }

  async pids(): Promise<number[]> {
    const dir = this.primaryDir();
    const out = new Set<number>();
    if (dir !== undefined) await collectPids(this.io, dir, out);
    return [...out].sort((a, b) => a - b);
  }

  async killAll(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    if (!(await this.exists())) return;
    if (isSigkill(signal) && this.unified !== undefined) {
      // Processes that joined the cgroup2 side die at once; the sweep below
      // catches any that only joined v1 hierarchies.
      await this.io
        .write(posix.join(this.unified.dir, 'cgroup.kill'), '1')
        .catch((err: unknown) => {
          const errno = errnoOf(err);
          if (errno !== 'ENOENT' && errno !== 'EINVAL')
            throw ioError('write', posix.join(this.unified?.dir ?? '', 'cgroup.kill'), err);
        });
    }
    // Nobody left (a stopped container, the usual delete): no process can
    // fork into the cgroup either, so there is nothing to freeze or signal.
    if ((await this.pids()).length === 0) return;
    const canFreeze = this.dirOf('freezer') !== undefined || this.unified !== undefined;
    const wasFrozen = canFreeze && (await this.isFrozen());
    let froze = false;
    if (canFreeze && !wasFrozen) {
      await this.freeze(true);
      froze = true;
    }
    try {
      signalPids(await this.pids(), signal);
    } finally {
      // A paused container stays paused, except that SIGKILL must finish:
      // v1-frozen tasks cannot die until thawed.
      if (froze || (wasFrozen && isSigkill(signal))) await this.freeze(false);
    }
  }

  async destroy(options: DestroyOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? this.destroyMs);
    // Every hierarchy gets its chance even when one fails, so one stuck
    // controller does not leave the others behind; they are independent, so
    // their removals go out together.
    const results = await Promise.allSettled(
      this.allDirs().map((dir) => removeCgroupTree(this.io, dir, deadline)),
    );
    this.created = await removeQuietly(this.io, this.created);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  async exists(): Promise<boolean> {
    for (const dir of this.allDirs()) {
      if ((await readOptional(this.io, posix.join(dir, 'cgroup.procs'))) !== undefined) return true;
    }
    return false;
  }

  async stats(): Promise<CgroupStats> {
    const st = emptyStats();
    const reader = (controller: string) => {
      const dir = this.dirOf(controller);
      return (f: string) =>
        dir === undefined ? Promise.resolve(undefined) : readOptional(this.io, posix.join(dir, f));
    };

    const cpuacct = reader('cpuacct');
    const total = await cpuacct('cpuacct.usage');
    if (total !== undefined) st.cpu.usage.total = parseNumber(total);
    st.cpu.usage.percpu = parseNumberList((await cpuacct('cpuacct.usage_percpu')) ?? '');
    st.cpu.usage.percpu_user = parseNumberList((await cpuacct('cpuacct.usage_percpu_user')) ?? '');
    st.cpu.usage.percpu_kernel = parseNumberList((await cpuacct('cpuacct.usage_percpu_sys')) ?? '');
    const user = await cpuacct('cpuacct.usage_user');
    const sys = await cpuacct('cpuacct.usage_sys');
    if (user !== undefined && sys !== undefined) {
      st.cpu.usage.user = parseNumber(user);
      st.cpu.usage.kernel = parseNumber(sys);
    } else {
      const kv = parseKeyValues((await cpuacct('cpuacct.stat')) ?? '');
      st.cpu.usage.user = ((kv.user ?? 0) * 1e9) / USER_HZ;
      st.cpu.usage.kernel = ((kv.system ?? 0) * 1e9) / USER_HZ;
    }
    const cpuStat = await reader('cpu')('cpu.stat');
    if (cpuStat !== undefined) {
      const kv = parseKeyValues(cpuStat);
      st.cpu.throttling = {
        periods: kv.nr_periods ?? 0,
        throttledPeriods: kv.nr_throttled ?? 0,
        throttledTime: kv.throttled_time ?? 0,
      };
    }

    const cpuset = reader('cpuset');
    st.cpuset.cpus = parseCpuList((await cpuset('cpuset.cpus')) ?? '');
    st.cpuset.mems = parseCpuList((await cpuset('cpuset.mems')) ?? '');

    const memory = reader('memory');
    const memStat = await memory('memory.stat');
    if (memStat !== undefined) {
      st.memory.raw = parseKeyValues(memStat);
      st.memory.cache = st.memory.raw.cache ?? 0;
    }
    const entry = async (prefix: string): Promise<MemoryEntry> => ({
      usage: parseNumber((await memory(`${prefix}.usage_in_bytes`)) ?? '0'),
      max: parseNumber((await memory(`${prefix}.max_usage_in_bytes`)) ?? '0'),
      limit: parseNumber((await memory(`${prefix}.limit_in_bytes`)) ?? '0'),
      failcnt: parseNumber((await memory(`${prefix}.failcnt`)) ?? '0'),
    });
    if (this.dirOf('memory') !== undefined) {
      st.memory.usage = await entry('memory');
      st.memory.swap = await entry('memory.memsw');
      st.memory.kernel = await entry('memory.kmem');
      st.memory.kernelTCP = await entry('memory.kmem.tcp');
    }

    const pids = reader('pids');
    const current = await pids('pids.current');
    if (current !== undefined) {
      const max = ((await pids('pids.max')) ?? 'max').trim();
      st.pids = { current: parseNumber(current), limit: max === 'max' ? 0 : parseNumber(max) };
    }

    const blkio = reader('blkio');
    // CFQ's own stats, then BFQ's, then the throttling layer's (always there).
    for (const prefix of ['blkio.', 'blkio.bfq.', 'blkio.throttle.']) {
      const bytes = await blkio(`${prefix}io_service_bytes_recursive`);
      if (bytes === undefined) continue;
      st.blkio.ioServiceBytesRecursive = parseBlkioV1(bytes);
      st.blkio.ioServicedRecursive = parseBlkioV1(
        (await blkio(`${prefix}io_serviced_recursive`)) ?? '',
      );
      break;
    }

    const hugetlbDir = this.dirOf('hugetlb');
    if (hugetlbDir !== undefined) {
      const files = [...(await listFiles(this.io, hugetlbDir).catch(() => new Set<string>()))];
      const hugetlb = reader('hugetlb');
      for (const size of hugepageSizes(files, 'limit_in_bytes')) {
        st.hugetlb[size] = {
          usage: parseNumber((await hugetlb(`hugetlb.${size}.usage_in_bytes`)) ?? '0'),
          max: parseNumber((await hugetlb(`hugetlb.${size}.max_usage_in_bytes`)) ?? '0'),
          failcnt: parseNumber((await hugetlb(`hugetlb.${size}.failcnt`)) ?? '0'),
        };
      }
    } else if (this.unified !== undefined) {
      // Hybrid: hugetlb (and anything else v1 lacks) is accounted on cgroup2.
      const v2 = emptyStats();
      await readUnifiedStats(this.io, this.unified.dir, v2);
      st.hugetlb = v2.hugetlb;
    }
    return st;
  }

  async oomKillCount(): Promise<number> {
    return (await this.oomCounter()) ?? 0;
  }

  protected async oomCounter(): Promise<number | undefined> {
    const dir = this.dirOf('memory');
    if (dir === undefined) {
      if (this.unified === undefined) return 0;
      const events = await readOptional(this.io, posix.join(this.unified.dir, 'memory.events'));
      if (!(await this.exists())) return undefined;
      return parseKeyValues(events ?? '').oom_kill ?? 0;
    }
    const oom = await readOptional(this.io, posix.join(dir, 'memory.oom_control'));
    if (oom === undefined) return (await this.exists()) ? 0 : undefined;
    // oom_kill appeared in Linux 4.13; before that only under_oom exists.
    const kv = parseKeyValues(oom);
    return kv.oom_kill ?? kv.under_oom ?? 0;
  }
}
