import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rt, runtimeEnv } from './runtime.js';

/**
 * Runtime-agnostic views of the kernel's cgroup files, read from the host:
 * which hierarchies are mounted, which cgroup a process is in (from
 * /proc/<pid>/cgroup, mapped through the mount's root), and the handful of
 * files the cgroup tests check, for cgroup v1 and v2 alike.
 */

export interface CgroupMount {
  mountpoint: string;
  /** The cgroup path that the mount shows at its mountpoint (usually "/"). */
  root: string;
  version: 1 | 2;
  /** v1: the controllers (and `name=...`) of the hierarchy; v2: cgroup.controllers of its root. */
  controllers: string[];
}

/** Every cgroup and cgroup2 mount of this mount namespace (first mount of a hierarchy wins). */
export function cgroupMounts(
  mountinfo = readFileSync('/proc/self/mountinfo', 'utf8'),
): CgroupMount[] {
  const out: CgroupMount[] = [];
  const seen = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescapeMount(pre[3] ?? '/');
    const mountpoint = unescapeMount(pre[4] ?? '');
    let controllers: string[];
    if (fstype === 'cgroup') {
      controllers = superOpts
        .split(',')
        .filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
    } else {
      const f = path.join(mountpoint, 'cgroup.controllers');
      controllers = existsSync(f)
        ? readFileSync(f, 'utf8').trim().split(/\s+/).filter(Boolean)
        : [];
    }
    const key = `${fstype}:${controllers.join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ mountpoint, root, version: fstype === 'cgroup' ? 1 : 2, controllers });
  }
  return out;
}

const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
]);

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** True when the host has no v1 hierarchy at all (a pure cgroup2 host). */
export function isPureV2(mounts = cgroupMounts()): boolean {
  return mounts.every((m) => m.version === 2);
}

/**
 * Whether `controller` can be used on this host: a v1 hierarchy with it, or
 * on a pure cgroup2 host the root's cgroup.controllers (the freezer and cpu
 * accounting are built into cgroup2).
 */
export function hostHasController(controller: string, mounts = cgroupMounts()): boolean {
  if (isPureV2(mounts)) {
    if (controller === 'freezer' || controller === 'cpuacct') return mounts.length > 0;
    return mounts.some((m) => m.controllers.includes(controller));
  }
  return mounts.some((m) => m.version === 1 && m.controllers.includes(controller));
}

/** The controllers of `wanted` that this host lacks (empty when all are there). */
export function missingControllers(...wanted: string[]): string[] {
  const mounts = cgroupMounts();
  return wanted.filter((c) => !hostHasController(c, mounts));
}

/** A title suffix that names what is missing, so a skipped test says why. */
export function skipNote(missing: readonly string[]): string {
  return missing.length === 0
    ? ''
    : ` [skipped: no ${missing.join(', ')} controller${missing.length > 1 ? 's' : ''} on this host]`;
}

export interface ProcCgroupLine {
  /** The hierarchy id (0 for cgroup2). */
  hierarchy: number;
  /** v1 controllers (and `name=...`); empty for cgroup2. */
  controllers: string[];
  /** The path as the kernel prints it, relative to the reader's cgroup namespace root. */
  path: string;
}

export function readProcCgroup(pid: number | 'self'): ProcCgroupLine[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const a = line.indexOf(':');
      const b = line.indexOf(':', a + 1);
      const ctl = line.slice(a + 1, b);
      return {
        hierarchy: Number(line.slice(0, a)),
        controllers: ctl === '' ? [] : ctl.split(','),
        path: line.slice(b + 1),
      };
    });
}

/** The mount that shows the hierarchy of one /proc/<pid>/cgroup line. */
export function mountFor(line: ProcCgroupLine, mounts = cgroupMounts()): CgroupMount | undefined {
  if (line.hierarchy === 0 && line.controllers.length === 0) {
    return mounts.find((m) => m.version === 2);
  }
  const want = [...line.controllers].sort().join(',');
  return mounts.find((m) => m.version === 1 && [...m.controllers].sort().join(',') === want);
}

/** The directory of a cgroup path seen through a mount (undefined when the mount does not show it). */
export function dirOf(mount: CgroupMount, cgPath: string): string | undefined {
  const rel = path.posix.relative(mount.root, cgPath);
  if (rel.startsWith('..')) return undefined;
  return path.join(mount.mountpoint, rel);
}

export interface HierarchyPlacement {
  mount: CgroupMount;
  /** The cgroup path of the container process in this hierarchy. */
  path: string;
  /** Its directory on the host. */
  dir: string;
  /** The caller's own cgroup path in this hierarchy. */
  ownPath: string;
  /** False when the process merely inherited the caller's cgroup here. */
  own: boolean;
}

/**
 * Where the process `pid` sits, hierarchy by hierarchy, and whether that is a
 * cgroup of its own or the one it inherited from us (the test process, which
 * also started the runtime).
 */
export class ContainerCgroups {
  readonly placements: HierarchyPlacement[];

  constructor(readonly pid: number) {
    const mounts = cgroupMounts();
    const self = readProcCgroup('self');
    this.placements = [];
    for (const line of readProcCgroup(pid)) {
      const mount = mountFor(line, mounts);
      if (!mount) continue;
      const dir = dirOf(mount, line.path);
      if (!dir) continue;
      const ownLine = self.find(
        (l) => l.hierarchy === line.hierarchy && l.controllers.join() === line.controllers.join(),
      );
      const ownPath = ownLine?.path ?? '/';
      this.placements.push({ mount, path: line.path, dir, ownPath, own: line.path !== ownPath });
    }
  }

  /** The directory that holds `controller`'s files for the container, if it has its own there. */
  dir(controller: string): string | undefined {
    const v1 = this.placements.find(
      (p) => p.mount.version === 1 && p.mount.controllers.includes(controller),
    );
    if (v1) return v1.own ? v1.dir : undefined;
    const v2 = this.placements.find((p) => p.mount.version === 2);
    if (v2?.own && isPureV2(this.placements.map((p) => p.mount))) return v2.dir;
    return undefined;
  }

  /** Like dir(), but throws with the whole placement when the container has no cgroup there. */
  need(controller: string): string {
    const d = this.dir(controller);
    if (!d) {
      throw new Error(
        `process ${this.pid} has no cgroup of its own for ${controller}: ${JSON.stringify(this.placements.map((p) => ({ ctl: p.mount.controllers.join(','), path: p.path, own: p.own })))}`,
      );
    }
    return d;
  }

  get v2(): boolean {
    return isPureV2(this.placements.map((p) => p.mount));
  }

  /** Every directory created for the container (the hierarchies where it has a cgroup of its own). */
  ownDirs(): string[] {
    return this.placements.filter((p) => p.own).map((p) => p.dir);
  }

  /** Its distinct own cgroup paths (they may differ per hierarchy, e.g. below the caller's cgroup). */
  ownPaths(): string[] {
    return [...new Set(this.placements.filter((p) => p.own).map((p) => p.path))];
  }

  /**
   * Every directory under any cgroup mount that would be the container's: each
   * own path seen through each mount. After delete none of them may exist.
   */
  candidateDirs(mounts = cgroupMounts()): string[] {
    const out = new Set(this.ownDirs());
    for (const m of mounts) {
      for (const p of this.ownPaths()) {
        const d = dirOf(m, p);
        if (d) out.add(d);
      }
    }
    return [...out];
  }
}

export function readCg(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8').trim();
}

/** A `key value` file (memory.stat, memory.oom_control, cpu.stat, memory.events). */
export function readKeyed(dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readCg(dir, file).split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

const V2_MAX = -1;

function v2Number(s: string): number {
  return s === 'max' ? V2_MAX : Number(s);
}

/** The memory limit in bytes (v1 memory.limit_in_bytes, v2 memory.max; v2 "max" → -1). */
export function memoryLimit(cg: ContainerCgroups): number {
  const d = cg.need('memory');
  return cg.v2 ? v2Number(readCg(d, 'memory.max')) : Number(readCg(d, 'memory.limit_in_bytes'));
}

/** The OOM kill counter (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`). */
export function oomKills(cg: ContainerCgroups): number | undefined {
  const d = cg.need('memory');
  const k = cg.v2 ? readKeyed(d, 'memory.events') : readKeyed(d, 'memory.oom_control');
  return k.oom_kill;
}

/** pids.max as a number ("max" → -1). */
export function pidsMax(cg: ContainerCgroups): number {
  return v2Number(readCg(cg.need('pids'), 'pids.max'));
}

export function pidsCurrent(cg: ContainerCgroups): number {
  return Number(readCg(cg.need('pids'), 'pids.current'));
}

/** CFS quota and period in µs (quota -1 = unlimited). */
export function cpuMax(cg: ContainerCgroups): { quota: number; period: number } {
  const d = cg.need('cpu');
  if (cg.v2) {
    const [q = 'max', p = '100000'] = readCg(d, 'cpu.max').split(/\s+/);
    return { quota: v2Number(q), period: Number(p) };
  }
  return {
    quota: Number(readCg(d, 'cpu.cfs_quota_us')),
    period: Number(readCg(d, 'cpu.cfs_period_us')),
  };
}

/** Total CPU time of the cgroup in ns (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
export function cpuUsageNs(cg: ContainerCgroups): number {
  if (cg.v2) return (readKeyed(cg.need('cpu'), 'cpu.stat').usage_usec ?? Number.NaN) * 1000;
  return Number(readCg(cg.need('cpuacct'), 'cpuacct.usage'));
}

/** How many CFS periods the cgroup was throttled in (cpu.stat `nr_throttled`, v1 and v2). */
export function cpuThrottledPeriods(cg: ContainerCgroups): number {
  return readKeyed(cg.need('cpu'), 'cpu.stat').nr_throttled ?? Number.NaN;
}

/** v1 cpu.shares (v2 has cpu.weight instead). */
export function cpuShares(cg: ContainerCgroups): number | undefined {
  return cg.v2 ? undefined : Number(readCg(cg.need('cpu'), 'cpu.shares'));
}

/** Whether the kernel says the cgroup is frozen (v1 freezer.state, v2 cgroup.events). */
export function isFrozen(cg: ContainerCgroups): boolean {
  if (cg.v2) return readKeyed(cg.need('freezer'), 'cgroup.events').frozen === 1;
  return readCg(cg.need('freezer'), 'freezer.state') === 'FROZEN';
}

/** The pids in the container's cgroup (cgroup.procs of the pids/memory hierarchy and its children). */
export function cgroupProcs(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    for (const s of readCg(d, 'cgroup.procs').split('\n')) if (s) out.push(Number(s));
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  walk(dir);
  return out.sort((a, b) => a - b);
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Removes cgroup directories a failed test left behind (children first; rmdir
 * only, so a cgroup with processes stays). A hierarchy's root is never touched.
 */
export function removeCgroupDirs(dirs: Iterable<string>): string[] {
  const left: string[] = [];
  const roots = new Set(cgroupMounts().map((m) => path.resolve(m.mountpoint)));
  const rm = (d: string): void => {
    if (!isDir(d) || roots.has(path.resolve(d))) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) rm(path.join(d, e.name));
    }
    try {
      rmdirSync(d);
    } catch {
      left.push(d);
    }
  };
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) rm(d);
  return left;
}

/** The pid as the process's own (innermost) pid namespace sees it: the last NSpid field. */
export function nsPid(hostPid: number): number | undefined {
  try {
    const m = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'));
    const last = m?.[1]?.trim().split(/\s+/).pop();
    return last === undefined ? undefined : Number(last);
  } catch {
    return undefined;
  }
}

/**
 * The runtime under test as a long-running background process (`events`),
 * with only PATH in its environment, as `runtime()` does. Its stdout is
 * collected line by line.
 */
export class BackgroundRuntime {
  readonly lines: string[] = [];
  stderr = '';
  exitCode: number | null | undefined = undefined;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private partial = '';

  constructor(args: readonly string[]) {
    this.child = spawn(rt.file, [...rt.prefix, ...args], {
      env: runtimeEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stderr?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        if (this.partial !== '') this.lines.push(this.partial);
        this.partial = '';
        this.exitCode = code ?? (signal ? -1 : null);
        resolve();
      });
      this.child.once('error', () => resolve());
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Output lines parsed as JSON (lines that are not JSON are kept as strings). */
  json(): unknown[] {
    return this.lines.map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return l;
      }
    });
  }

  async waitForLine(
    pred: (parsed: unknown) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.json().find(pred);
      if (hit !== undefined) return hit;
      await sleep(25);
    }
    // Stats lines are long: show each line's start only.
    const shown = this.lines.map((l) => (l.length > 120 ? `${l.slice(0, 120)}…` : l));
    throw new Error(
      `timed out waiting for ${what}; running=${this.running} exit=${this.exitCode}\nstdout (${this.lines.length} lines):\n${shown.join('\n')}\nstderr:\n${this.stderr}`,
    );
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}
