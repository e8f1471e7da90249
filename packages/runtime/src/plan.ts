import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { buildRootfsPlan, type RootfsPlan, validateRootfs } from '@ts-oci/rootfs';
import { type Config, type SpecIssue, SpecValidationError, validateConfig } from '@ts-oci/spec';
import { ContainerError } from './errors.js';
import {
  CAPABILITY_NUMBERS,
  hostLastCap,
  PERSONALITY_DOMAINS,
  RLIMIT_NUMBERS,
} from './kernel-tables.js';
import { compileSeccomp } from './native.js';

/** The process part of the init plan (crates/tsoci-init/PROTOCOL.md). */
export interface ProcessPlan {
  args: string[];
  env: string[];
  cwd: string;
  terminal: boolean;
  consoleSize: { height: number; width: number } | null;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask: number | null;
  capabilities: {
    bounding: number[];
    effective: number[];
    inheritable: number[];
    permitted: number[];
    ambient: number[];
  } | null;
  rlimits: { resource: number; soft: string; hard: string }[];
  noNewPrivileges: boolean;
  seccomp: { filter: string; flags: number } | null;
  personality: number | null;
}

export interface NamespacePlan {
  type: string;
  path: string | null;
}

/** Everything tsoci-init needs, resolved: absolute paths, numbers, no names. */
export interface InitPlan {
  version: 1;
  mode: 'create' | 'exec';
  /** exec mode: stage 0 waits for the process and exits with its status. */
  wait?: boolean;
  id: string;
  namespaces: NamespacePlan[];
  timeOffsets: Record<string, { secs: number; nanosecs: number }> | null;
  noNewKeyring: boolean;
  consoleSocket: string | null;
  execFifo: string | null;
  preserveFds: number;
  rootfs: RootfsPlan | null;
  hostname: string | null;
  domainname: string | null;
  sysctl: [string, string][];
  oomScoreAdj: number | null;
  /**
   * cgroup v1 directories stage 0 moves itself into (writing `0` to their
   * `tasks`) before anything else; set by the runtime after the planner.
   */
  joinCgroups?: string[];
  /**
   * create mode: the container stops after its mounts (`mounted`, waits for
   * `continue`) so the parent can run the prestart, createRuntime and
   * createContainer hooks. Absent means true.
   */
  stopAfterMounts?: boolean;
  process: ProcessPlan;
}

export interface PlanOptions {
  id: string;
  /** Absolute bundle directory. */
  bundleDir: string;
  consoleSocket?: string;
  execFifo?: string;
  preserveFds?: number;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** The last capability this kernel knows (/proc/sys/kernel/cap_last_cap). */
  capLastCap?: number;
  /** Receives problems that do not stop the container (runc logs them as warnings). */
  onWarning?: (message: string) => void;
}

const CAPABILITY_NAMES: readonly string[] = Object.keys(CAPABILITY_NUMBERS);

type Issue = SpecIssue;

const NEEDS_NS: ReadonlyArray<readonly [RegExp, string]> = [
  // Per-namespace sysctls (runc's validation): these only make sense when the
  // container has its own namespace of that kind.
  [/^net\./, 'network'],
  [
    /^(kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)|fs\.mqueue\.)/,
    'ipc',
  ],
  [/^kernel\.(hostname|domainname)$/, 'uts'],
];

function isOwnMountNamespace(path: string): boolean {
  try {
    const target = statSync(path);
    const own = statSync('/proc/self/ns/mnt');
    return target.dev === own.dev && target.ino === own.ino;
  } catch {
    // Unreadable: the init checks again before joining.
    return false;
  }
}

/**
 * Every problem that would stop `config` from running, schema and semantic,
 * without any side effect (this is `tsoci validate`). An empty list means
 * runnable. Paths are JSON paths into config.json.
 */
export function validatePlan(config: unknown, opts: PlanOptions): Issue[] {
  const schema = validateConfig(config);
  if (schema.length > 0) return [...schema];
  const cfg = config as Config;
  const issues: Issue[] = [];
  try {
    computePlan(cfg, opts, issues);
  } catch (err) {
    if (err instanceof SpecValidationError) issues.push(...err.issues);
    else if (err instanceof ContainerError) issues.push({ path: '', message: err.message });
    else throw err;
  }
  return issues;
}

/** The init plan for `config`, or one ECONTAINER_PLAN error listing every problem. */
export function buildInitPlan(config: Config, opts: PlanOptions): InitPlan {
  const issues: Issue[] = [];
  const plan = computePlan(config, opts, issues);
  if (issues.length > 0 || !plan) {
    const lines = issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`);
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      issues.length === 1
        ? (lines[0] ?? '')
        : `invalid container configuration:\n  ${lines.join('\n  ')}`,
      { id: opts.id },
    );
  }
  return plan;
}

function computePlan(config: Config, opts: PlanOptions, issues: Issue[]): InitPlan | undefined {
  const add = (path: string, message: string) => issues.push({ path, message });
  if (!isAbsolute(opts.bundleDir))
    add('', `bundle directory must be absolute, got ${opts.bundleDir}`);
  const linux = config.linux ?? {};
  const proc = config.process;
  if (!proc) add('process', 'is required to create a container');
  if (!config.root) add('root', 'is required on Linux');

  // Namespaces: no duplicates, user mappings only with a user namespace.
  const namespaces: NamespacePlan[] = [];
  const seen = new Set<string>();
  (linux.namespaces ?? []).forEach((ns, i) => {
    if (seen.has(ns.type)) add(`linux.namespaces[${i}].type`, `duplicate namespace "${ns.type}"`);
    seen.add(ns.type);
    const path = ns.path ?? null;
    if (path !== null) {
      if (!isAbsolute(path)) add(`linux.namespaces[${i}].path`, `must be absolute, got "${path}"`);
      else if (!exists(path)) add(`linux.namespaces[${i}].path`, `${path} does not exist`);
      else if (ns.type === 'mount' && isOwnMountNamespace(path)) {
        // The rootfs is set up in the container's mount namespace: in ours it
        // would stack mounts on the host, change its propagation and pivot its root.
        add(
          `linux.namespaces[${i}].path`,
          `${path} is the runtime's own mount namespace: the root filesystem would be set up on the host (omit the path for a new one)`,
        );
      }
    }
    namespaces.push({ type: ns.type, path });
  });
  const creates = (t: string) => namespaces.some((n) => n.type === t && n.path === null);
  const hasNs = (t: string) => namespaces.some((n) => n.type === t);
  const uidMaps = linux.uidMappings ?? [];
  const gidMaps = linux.gidMappings ?? [];
  if (creates('user')) {
    if (uidMaps.length === 0) add('linux.uidMappings', 'a new user namespace needs uid mappings');
    if (gidMaps.length === 0) add('linux.gidMappings', 'a new user namespace needs gid mappings');
  } else if (uidMaps.length > 0 || gidMaps.length > 0) {
    add(
      'linux.uidMappings',
      'uid/gid mappings need a new user namespace ("user" in linux.namespaces)',
    );
  }
  // A uts namespace joined by path is the container's too (config.md): the
  // name is set there, as runc does. Without one it would be the host's.
  if (config.hostname !== undefined && config.hostname !== '' && !hasNs('uts')) {
    add('hostname', 'setting the hostname needs a uts namespace (new or joined)');
  }
  if (config.domainname !== undefined && config.domainname !== '' && !hasNs('uts')) {
    add('domainname', 'setting the domainname needs a uts namespace (new or joined)');
  }
  if (linux.timeOffsets && !creates('time')) {
    add('linux.timeOffsets', 'time offsets need a new time namespace');
  }
  const sysctl: [string, string][] = [];
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    for (const [re, kind] of NEEDS_NS) {
      if (re.test(key) && !hasNs(kind)) {
        add(`linux.sysctl.${key}`, `needs the container's own ${kind} namespace`);
      }
    }
    if (!/^[a-z0-9_.\-/]+$/i.test(key) || key.split(/[./]/).includes('..')) {
      add(`linux.sysctl.${key}`, 'is not a valid sysctl name');
    }
    sysctl.push([key, value]);
  }

  // Terminal and console socket go together (runc's rule).
  const terminal = proc?.terminal === true;
  if (terminal && !opts.consoleSocket) {
    add('process.terminal', 'a terminal needs --console-socket to send the pty master to');
  }
  if (!terminal && opts.consoleSocket) {
    add('process.terminal', '--console-socket was given but process.terminal is false');
  }

  let rootfs: RootfsPlan | null = null;
  const rootIssues = validateRootfs(config, { bundleDir: opts.bundleDir, noPivot: opts.noPivot });
  issues.push(...rootIssues);
  if (rootIssues.length === 0 && config.root) {
    rootfs = buildRootfsPlan(config, { bundleDir: opts.bundleDir, noPivot: opts.noPivot });
    const st = statOrUndefined(rootfs.root);
    if (!st) add('root.path', `${rootfs.root} does not exist`);
    else if (!st.isDirectory()) add('root.path', `${rootfs.root} is not a directory`);
  }

  const process = proc ? processPlan(config, opts, add) : undefined;
  if (issues.length > 0 || !process) return undefined;
  return {
    version: 1,
    mode: 'create',
    id: opts.id,
    namespaces,
    timeOffsets: linux.timeOffsets
      ? Object.fromEntries(
          (['monotonic', 'boottime'] as const).flatMap((clock) => {
            const o = linux.timeOffsets?.[clock];
            return o ? [[clock, { secs: o.secs ?? 0, nanosecs: o.nanosecs ?? 0 }]] : [];
          }),
        )
      : null,
    noNewKeyring: opts.noNewKeyring === true,
    consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : null,
    execFifo: opts.execFifo ?? null,
    preserveFds: opts.preserveFds ?? 0,
    rootfs,
    hostname: config.hostname || null,
    domainname: config.domainname || null,
    sysctl,
    oomScoreAdj: proc?.oomScoreAdj ?? null,
    // The parent runs these three kinds while the container waits after its
    // mounts; without any, the container need not stop for the parent.
    stopAfterMounts: (['prestart', 'createRuntime', 'createContainer'] as const).some(
      (kind) => (config.hooks?.[kind]?.length ?? 0) > 0,
    ),
    process,
  };
}

function processPlan(
  config: Config,
  opts: PlanOptions,
  add: (path: string, message: string) => void,
): ProcessPlan | undefined {
  const proc = config.process;
  if (!proc) return undefined;
  const args = proc.args ?? [];
  if (args.length === 0) add('process.args', 'must name the program to run');
  if (!isAbsolute(proc.cwd)) add('process.cwd', `must be an absolute path, got "${proc.cwd}"`);
  if (proc.oomScoreAdj !== undefined && (proc.oomScoreAdj < -1000 || proc.oomScoreAdj > 1000)) {
    add('process.oomScoreAdj', `must be between -1000 and 1000, got ${proc.oomScoreAdj}`);
  }
  // Dropping a confinement the config asks for would run the process less
  // confined than intended: refused (features says apparmor/selinux: off).
  if (proc.apparmorProfile !== undefined && proc.apparmorProfile !== '') {
    add('process.apparmorProfile', 'cannot be applied: tsoci does not support AppArmor profiles');
  }
  if (proc.selinuxLabel !== undefined && proc.selinuxLabel !== '') {
    add('process.selinuxLabel', 'cannot be applied: tsoci does not support SELinux labels');
  }

  const lastCap = opts.capLastCap ?? hostLastCap();
  let capabilities: ProcessPlan['capabilities'] = null;
  if (proc.capabilities) {
    const sets = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;
    const out = {
      bounding: [],
      effective: [],
      inheritable: [],
      permitted: [],
      ambient: [],
    } as NonNullable<ProcessPlan['capabilities']>;
    for (const set of sets) {
      (proc.capabilities[set] ?? []).forEach((name, i) => {
        const n = CAPABILITY_NUMBERS[name];
        if (n === undefined)
          add(`process.capabilities.${set}[${i}]`, `unknown capability "${name}"`);
        // Known to us but not to this kernel: skipped, as runc does.
        else if (n <= lastCap && !out[set].includes(n)) out[set].push(n);
      });
    }
    // The kernel raises an ambient capability only if it is also permitted and
    // inheritable. `runc spec`'s default lists ambient caps with an empty
    // inheritable set; runc warns and goes on, and so do we.
    const unraisable = out.ambient.filter(
      (n) => !out.permitted.includes(n) || !out.inheritable.includes(n),
    );
    if (unraisable.length > 0) {
      const names = unraisable.map((n) => CAPABILITY_NAMES[n] ?? String(n)).join(', ');
      opts.onWarning?.(
        `process.capabilities.ambient: not raising ${names}: an ambient capability must also be permitted and inheritable`,
      );
      out.ambient = out.ambient.filter((n) => !unraisable.includes(n));
    }
    capabilities = out;
  }

  const rlimits: ProcessPlan['rlimits'] = [];
  const seenRlimit = new Set<string>();
  (proc.rlimits ?? []).forEach((r, i) => {
    const n = RLIMIT_NUMBERS[r.type];
    if (n === undefined) add(`process.rlimits[${i}].type`, `unknown rlimit "${r.type}"`);
    else if (seenRlimit.has(r.type))
      add(`process.rlimits[${i}].type`, `duplicate rlimit "${r.type}"`);
    else if (u64(r.soft) > u64(r.hard)) {
      add(`process.rlimits[${i}]`, `soft limit ${r.soft} is above the hard limit ${r.hard}`);
    } else
      rlimits.push({ resource: n, soft: u64(r.soft).toString(), hard: u64(r.hard).toString() });
    seenRlimit.add(r.type);
  });

  let personality: number | null = null;
  const pers = config.linux?.personality;
  if (pers) {
    const d = pers.domain === undefined ? undefined : PERSONALITY_DOMAINS[pers.domain];
    if (d === undefined) add('linux.personality.domain', `unsupported domain "${pers.domain}"`);
    else personality = d;
    if ((pers.flags ?? []).length > 0)
      add('linux.personality.flags', 'personality flags are not supported');
  }

  let seccomp: ProcessPlan['seccomp'] = null;
  if (config.linux?.seccomp) {
    try {
      const compiled = compileSeccomp(JSON.stringify(config.linux.seccomp));
      seccomp = { filter: compiled.filter.toString('base64'), flags: compiled.flags };
    } catch (err) {
      add('linux.seccomp', err instanceof Error ? err.message : String(err));
    }
  }

  // The schema requires process.user.uid/gid on Linux (validateConfig ran first).
  const user = proc.user ?? { uid: 0, gid: 0 };
  return {
    args,
    env: proc.env ?? [],
    cwd: proc.cwd,
    terminal: proc.terminal === true,
    consoleSize: proc.consoleSize
      ? { height: proc.consoleSize.height, width: proc.consoleSize.width }
      : null,
    uid: user.uid ?? 0,
    gid: user.gid ?? 0,
    additionalGids: user.additionalGids ?? [],
    umask: user.umask ?? null,
    capabilities,
    rlimits,
    noNewPrivileges: proc.noNewPrivileges === true,
    seccomp,
    personality,
  };
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * rlimits are uint64 but JSON numbers are doubles: RLIM_INFINITY
 * (18446744073709551615) parses as 2^64. Anything at or above it is infinity.
 */
function u64(v: number): bigint {
  const b = BigInt(Math.trunc(v));
  return b > U64_MAX ? U64_MAX : b;
}

function exists(path: string): boolean {
  return statOrUndefined(path) !== undefined;
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** /proc/<pid>/ns names of the OCI namespace types. */
const PROC_NS: Readonly<Record<string, string>> = { mount: 'mnt', network: 'net' };

export interface ExecPlanOptions {
  id: string;
  /** Host pid of the container process whose namespaces the new process joins. */
  containerPid: number;
  consoleSocket?: string;
  preserveFds?: number;
  /** Stage 0 waits and exits with the process's status (a non-detached exec). */
  wait: boolean;
  capLastCap?: number;
  onWarning?: (message: string) => void;
}

/**
 * The plan for `exec`: `process` run in every namespace of the container
 * (joined through /proc/<pid>/ns), with the container config's seccomp and
 * personality. Every problem is reported at once, as for create.
 */
export function buildExecPlan(
  config: Config,
  process: NonNullable<Config['process']>,
  opts: ExecPlanOptions,
): InitPlan {
  const issues: Issue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  if (process.terminal === true && !opts.consoleSocket) {
    add('process.terminal', 'a terminal needs --console-socket to send the pty master to');
  }
  if (process.terminal !== true && opts.consoleSocket) {
    add('process.terminal', '--console-socket was given but process.terminal is false');
  }
  const proc = processPlan(
    { ...config, process },
    { id: opts.id, bundleDir: '/', capLastCap: opts.capLastCap, onWarning: opts.onWarning },
    add,
  );
  if (issues.length > 0 || !proc) {
    const lines = issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`);
    throw new ContainerError(
      ContainerError.INVALID_PLAN,
      lines.length === 1 ? (lines[0] ?? '') : `invalid process:\n  ${lines.join('\n  ')}`,
      {
        id: opts.id,
      },
    );
  }
  return {
    version: 1,
    mode: 'exec',
    wait: opts.wait,
    id: opts.id,
    namespaces: (config.linux?.namespaces ?? []).map((ns) => ({
      type: ns.type,
      path: `/proc/${opts.containerPid}/ns/${PROC_NS[ns.type] ?? ns.type}`,
    })),
    timeOffsets: null,
    noNewKeyring: true,
    consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : null,
    execFifo: null,
    preserveFds: opts.preserveFds ?? 0,
    rootfs: null,
    hostname: null,
    domainname: null,
    sysctl: [],
    oomScoreAdj: process.oomScoreAdj ?? null,
    process: proc,
  };
}
