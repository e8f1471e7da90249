import { posix } from 'node:path';
import type { Resources } from '@ts-oci/spec';
import { classifyDeviceRules, type DeviceRule, normalizeDeviceRule } from './devices.js';
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
  waitUntil,
} from './manager.js';
import {
  fieldPath,
  type PlanContext,
  type PlanWarning,
  planResources,
  type ResourcePlan,
} from './plan.js';
import {
  type CgroupStats,
  emptyStats,
  hugepageSizes,
  parseCpuList,
  parseIoStat,
  parseKeyValues,
  parseNumber,
  UNLIMITED,
} from './stats.js';

/**
 * Installs device rules on a cgroup v2 directory (an eBPF
 * BPF_PROG_TYPE_CGROUP_DEVICE program, as runc and crun do). tsoci has no
 * native loader yet; a caller that has one passes it here.
 */
export type DeviceFilter = (cgroupDir: string, rules: readonly DeviceRule[]) => Promise<void>;

function words(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((w) => w !== '');
}

/** Controllers listed in `<dir>/cgroup.controllers`. */
export async function availableControllers(io: CgroupIo, dir: string): Promise<string[]> {
  return words(await readOptional(io, posix.join(dir, 'cgroup.controllers')));
}

/**
 * Enables controllers in `cgroup.subtree_control` of every directory from
 * `mountpoint` down to `leaf`'s parent, so they appear in `leaf`. `needed`
 * undefined means every controller each level offers (runc's behaviour, so
 * that stats and later updates find their files). A controller that cannot
 * be enabled is left out; the caller notices it missing in the leaf.
 */
export async function enableControllers(
  io: CgroupIo,
  mountpoint: string,
  leaf: string,
  needed?: readonly string[],
): Promise<void> {
  const rel = posix.relative(mountpoint, leaf);
  if (rel === '' || rel.startsWith('..')) return;
  let cur = mountpoint;
  for (const part of rel.split('/')) {
    const available = await availableControllers(io, cur);
    const enabled = words(await readOptional(io, posix.join(cur, 'cgroup.subtree_control')));
    const want = (needed ?? available).filter((c) => available.includes(c) && !enabled.includes(c));
    if (want.length > 0) {
      const file = posix.join(cur, 'cgroup.subtree_control');
      try {
        await io.write(file, want.map((c) => `+${c}`).join(' '));
      } catch {
        // All at once failed (one controller is busy or threaded-only):
        // enable what can be enabled, one by one.
        for (const c of want) await io.write(file, `+${c}`).catch(() => undefined);
      }
    }
    cur = posix.join(cur, part);
  }
}

export async function listFiles(io: CgroupIo, dir: string): Promise<Set<string>> {
  try {
    return new Set((await io.list(dir)).files);
  } catch (err) {
    throw ioError('list', dir, err);
  }
}

/**
 * What planners may assume about a v2 directory: the files of enabled
 * controllers are known; those of controllers not enabled yet are unknown
 * (the planner then assumes the usual file, and the caller enables them).
 */
export function unifiedContext(
  files: ReadonlySet<string>,
  available: readonly string[],
): PlanContext {
  return {
    hasFile: (c, f) => (c === 'cgroup' || available.includes(c) ? files.has(f) : undefined),
  };
}

/** cgroup v2 freezer: cgroup.freeze, then wait for `frozen` in cgroup.events. */
export async function freezeUnified(
  io: CgroupIo,
  dir: string,
  frozen: boolean,
  timeoutMs: number,
): Promise<void> {
  const file = posix.join(dir, 'cgroup.freeze');
  try {
    await io.write(file, frozen ? '1' : '0');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') {
      const exists = (await readOptional(io, posix.join(dir, 'cgroup.procs'))) !== undefined;
      if (!exists) throw ioError('freeze', dir, err);
      throw new CgroupError(
        CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE,
        `cannot ${frozen ? 'freeze' : 'thaw'} ${dir}: no cgroup.freeze (the kernel predates the cgroup v2 freezer)`,
        { path: file, errno: 'ENOENT', cause: err },
      );
    }
    throw ioError('write', file, err);
  }
  const want = frozen ? 1 : 0;
  const ok = await waitUntil(async () => {
    const events = parseKeyValues((await readOptional(io, posix.join(dir, 'cgroup.events'))) ?? '');
    return events.frozen === want;
  }, timeoutMs);
  if (!ok) {
    // A half-frozen cgroup is worse than a running one.
    if (frozen) await io.write(file, '0').catch(() => undefined);
    throw new CgroupError(
      CGROUP_ERROR_CODES.FREEZE_TIMEOUT,
      `cgroup ${dir} did not become ${frozen ? 'frozen' : 'thawed'} within ${timeoutMs} ms`,
      { path: dir },
    );
  }
}

export async function isUnifiedFrozen(io: CgroupIo, dir: string): Promise<boolean> {
  const events = parseKeyValues((await readOptional(io, posix.join(dir, 'cgroup.events'))) ?? '');
  return events.frozen === 1;
}

/** Reads the v2 stats files of `dir` into `st` (missing files leave zeros). */
export async function readUnifiedStats(io: CgroupIo, dir: string, st: CgroupStats): Promise<void> {
  const read = (f: string) => readOptional(io, posix.join(dir, f));
  const cpu = await read('cpu.stat');
  if (cpu !== undefined) {
    const kv = parseKeyValues(cpu);
    st.cpu.usage.total = (kv.usage_usec ?? 0) * 1000;
    st.cpu.usage.user = (kv.user_usec ?? 0) * 1000;
    st.cpu.usage.kernel = (kv.system_usec ?? 0) * 1000;
    st.cpu.throttling = {
      periods: kv.nr_periods ?? 0,
      throttledPeriods: kv.nr_throttled ?? 0,
      throttledTime: (kv.throttled_usec ?? 0) * 1000,
    };
  }
  const cpus = await read('cpuset.cpus.effective');
  if (cpus !== undefined) st.cpuset.cpus = parseCpuList(cpus);
  const mems = await read('cpuset.mems.effective');
  if (mems !== undefined) st.cpuset.mems = parseCpuList(mems);

  const memStat = await read('memory.stat');
  if (memStat !== undefined) {
    st.memory.raw = parseKeyValues(memStat);
    st.memory.cache = st.memory.raw.file ?? 0;
  }
  const current = await read('memory.current');
  if (current !== undefined) {
    const events = parseKeyValues((await read('memory.events')) ?? '');
    st.memory.usage = {
      usage: parseNumber(current),
      limit: parseNumber((await read('memory.max')) ?? 'max'),
      max: parseNumber((await read('memory.peak')) ?? '0'),
      failcnt: events.max ?? 0,
    };
    const swapCurrent = await read('memory.swap.current');
    if (swapCurrent !== undefined) {
      // runc reports v2 swap like v1's memsw: memory plus swap.
      const swapMax = parseNumber((await read('memory.swap.max')) ?? 'max');
      const memMax = st.memory.usage.limit;
      st.memory.swap = {
        usage: st.memory.usage.usage + parseNumber(swapCurrent),
        limit: swapMax === UNLIMITED || memMax === UNLIMITED ? UNLIMITED : swapMax + memMax,
        max: 0,
        failcnt: parseKeyValues((await read('memory.swap.events')) ?? '').max ?? 0,
      };
    }
  }

  const pidsCurrent = await read('pids.current');
  if (pidsCurrent !== undefined) {
    const max = (await read('pids.max')) ?? 'max';
    // runc reports an unlimited pids.max as 0.
    st.pids = {
      current: parseNumber(pidsCurrent),
      limit: max.trim() === 'max' ? 0 : parseNumber(max),
    };
  }

  const io2 = await read('io.stat');
  if (io2 !== undefined) Object.assign(st.blkio, parseIoStat(io2));

  let files: string[] = [];
  try {
    files = (await io.list(dir)).files;
  } catch {
    // Stats of a vanished cgroup: whatever was read so far.
  }
  for (const size of hugepageSizes(files, 'current')) {
    const rsvd = await read(`hugetlb.${size}.rsvd.current`);
    const usage = parseNumber(rsvd ?? (await read(`hugetlb.${size}.current`)) ?? '0');
    const failcnt = parseKeyValues((await read(`hugetlb.${size}.events`)) ?? '').max ?? 0;
    st.hugetlb[size] = { usage, max: 0, failcnt };
  }
}

export interface V2ManagerOptions extends ManagerCommonOptions {
  /** The container's cgroup directory. */
  dir: string;
  /** Mount point of the unified hierarchy `dir` lives in. */
  mountpoint: string;
  /** Directories created above `dir` by an earlier apply() (from CgroupPaths). */
  created?: readonly string[];
  /** Enforces device rules; without it only rule sets that need no enforcement are accepted. */
  deviceFilter?: DeviceFilter;
}

/** The cgroup v2 (unified hierarchy) manager. */
export class V2Manager extends BaseManager implements CgroupManager {
  readonly version = 2 as const;
  readonly dir: string;
  readonly mountpoint: string;
  private created: string[];
  private readonly deviceFilter: DeviceFilter | undefined;

  constructor(options: V2ManagerOptions) {
    super(options);
    this.dir = options.dir;
    this.mountpoint = options.mountpoint;
    this.created = [...(options.created ?? [])];
    this.deviceFilter = options.deviceFilter;
  }

  paths(): CgroupPaths {
    return {
      driver: 'cgroupfs',
      version: 2,
      paths: { unified: this.dir },
      mounts: { unified: this.mountpoint },
      created: [...this.created],
    };
  }

  async apply(pid?: number): Promise<void> {
    const made = await makeCgroupDirs(this.io, this.mountpoint, this.dir);
    try {
      await enableControllers(this.io, this.mountpoint, this.dir);
      if (this.resources !== undefined) await this.set(this.resources);
      if (pid !== undefined) await this.addProcess(pid);
    } catch (err) {
      await removeQuietly(this.io, made);
      throw err;
    }
    for (const d of made) if (d !== this.dir && !this.created.includes(d)) this.created.push(d);
  }

  joinTargets(): CgroupJoin {
    return { selfMove: [], cloneInto: this.dir };
  }

  async addProcess(pid: number, dirs: readonly string[] = [this.dir]): Promise<void> {
    for (const dir of dirs) {
      const procs = posix.join(dir, 'cgroup.procs');
      await this.io.write(procs, String(pid)).catch((err: unknown) => {
        throw ioError(`add process ${pid} to`, procs, err);
      });
    }
  }

  private async plan(resources: Resources, available: readonly string[]): Promise<ResourcePlan> {
    const files = await listFiles(this.io, this.dir);
    return planResources(2, resources, unifiedContext(files, available));
  }

  async set(resources: Resources): Promise<SetResult> {
    let available = await availableControllers(this.io, this.dir);
    let plan = await this.plan(resources, available);
    const needed = [...new Set(plan.writes.map((w) => w.controller).filter((c) => c !== 'cgroup'))];
    if (needed.some((c) => !available.includes(c))) {
      await enableControllers(this.io, this.mountpoint, this.dir, needed);
      available = await availableControllers(this.io, this.dir);
      // Newly enabled controllers bring their files: plan again with them.
      plan = await this.plan(resources, available);
    }
    for (const w of plan.writes) {
      if (w.controller !== 'cgroup' && !available.includes(w.controller)) {
        throw new CgroupError(
          CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE,
          `${w.field}: the ${w.controller} controller is not available in ${this.dir} (cgroup.controllers: ${available.join(' ') || 'none'})`,
          { field: w.field, path: this.dir },
        );
      }
    }
    for (const check of plan.checks) {
      const current = await readOptional(this.io, posix.join(this.dir, 'memory.current'));
      if (current !== undefined && check.limit < parseNumber(current)) {
        throw new CgroupError(
          CGROUP_ERROR_CODES.MEMORY_IN_USE,
          `${check.field}: ${check.limit} is below the current usage of ${current.trim()} bytes (memory.checkBeforeUpdate)`,
          { field: check.field, path: posix.join(this.dir, 'memory.current') },
        );
      }
    }
    const warnings: PlanWarning[] = [...plan.warnings];
    if (plan.deviceRules !== undefined) await this.setDevices(plan.deviceRules, warnings);
    const writes: DirWrite[] = plan.writes.map((w) => ({ ...w, dir: this.dir }));
    await runWrites(this.io, writes);
    return this.report(warnings);
  }

  private async setDevices(
    rules: NonNullable<ResourcePlan['deviceRules']>,
    warnings: PlanWarning[],
  ): Promise<void> {
    if (this.deviceFilter !== undefined) {
      await this.deviceFilter(this.dir, rules.map(normalizeDeviceRule));
      return;
    }
    const kind = classifyDeviceRules(rules);
    const field = fieldPath('devices');
    if (kind === 'default') {
      warnings.push({
        field,
        message:
          'not enforced on cgroup v2 (tsoci has no eBPF device filter): device access is limited only by the nodes in the container /dev and CAP_MKNOD',
      });
    } else if (kind === 'custom') {
      throw new CgroupError(
        CGROUP_ERROR_CODES.DEVICES_UNSUPPORTED,
        `${field}: device rules other than the default set cannot be enforced on cgroup v2 (needs an eBPF device filter, which tsoci does not implement)`,
        { field },
      );
    }
  }

  async freeze(frozen: boolean): Promise<void> {
    await freezeUnified(this.io, this.dir, frozen, this.freezeMs);
  }

  async isFrozen(): Promise<boolean> {
    return isUnifiedFrozen(this.io, this.dir);
  }

  async pids(): Promise<number[]> {
    const out = new Set<number>();
    await collectPids(this.io, this.dir, out);
    return [...out].sort((a, b) => a - b);
  }

  async killAll(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    if (!(await this.exists())) return;
    if (isSigkill(signal)) {
      try {
        await this.io.write(posix.join(this.dir, 'cgroup.kill'), '1');
        return;
      } catch (err) {
        // No cgroup.kill before Linux 5.14: fall back to the sweep.
        if (errnoOf(err) !== 'ENOENT')
          throw ioError('write', posix.join(this.dir, 'cgroup.kill'), err);
      }
    }
    const wasFrozen = await this.isFrozen();
    let froze = false;
    if (!wasFrozen) {
      try {
        await this.freeze(true);
        froze = true;
      } catch (err) {
        // Without a freezer, signal anyway: racing forks is better than nothing.
        if (!(err instanceof CgroupError) || err.code !== CGROUP_ERROR_CODES.CONTROLLER_UNAVAILABLE)
          throw err;
      }
    }
    try {
      signalPids(await this.pids(), signal);
    } finally {
      // Thaw what we froze; a paused container stays paused, except that
      // SIGKILL must be able to finish its work.
      if (froze || (wasFrozen && isSigkill(signal))) await this.freeze(false);
    }
  }

  async destroy(options: DestroyOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? this.destroyMs);
    await removeCgroupTree(this.io, this.dir, deadline);
    this.created = await removeQuietly(this.io, this.created);
  }

  async exists(): Promise<boolean> {
    return (await readOptional(this.io, posix.join(this.dir, 'cgroup.procs'))) !== undefined;
  }

  async stats(): Promise<CgroupStats> {
    const st = emptyStats();
    await readUnifiedStats(this.io, this.dir, st);
    return st;
  }

  async oomKillCount(): Promise<number> {
    return (await this.oomCounter()) ?? 0;
  }

  protected async oomCounter(): Promise<number | undefined> {
    if (!(await this.exists())) return undefined;
    const events = await readOptional(this.io, posix.join(this.dir, 'memory.events'));
    return parseKeyValues(events ?? '').oom_kill ?? 0;
  }
}
