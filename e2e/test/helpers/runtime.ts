import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Result } from 'execa';

export type RuntimeName = 'tsoci' | 'runc' | 'crun' | 'unknown';

/** How to start the runtime under test: `file ...prefix <runtime args>`. */
export interface RuntimeCommand {
  /** What TSOCI_RUNTIME (or the default) named: an executable or a node script. */
  target: string;
  file: string;
  prefix: readonly string[];
  name: RuntimeName;
  /** From the first line of `--version`, e.g. "1.1.5+ds1"; "" when unknown. */
  version: string;
  /** True when crun is wrapped in a mount namespace without the cgroup2 mount. */
  wrapped: boolean;
  /** The binaries that would be targets of a CVE-2019-5736 style overwrite. */
  hostBinaries: readonly string[];
}

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The `tsoci` executable: the native front end, handing most commands to Node. */
export const defaultRuntimePath = path.join(repoRoot, 'packages/cli/native/tsoci');

/** Only PATH crosses into the runtime: tests must not depend on the caller's environment. */
export const basePath =
  process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The runtime's whole environment: PATH, plus TSOCI_FAST_PATH when the suite
 * runs with it (`TSOCI_FAST_PATH=0` sends every tsoci command to Node; the
 * suite runs both ways and must give the same results).
 */
export const runtimeEnv: Readonly<Record<string, string>> = {
  PATH: basePath,
  ...(process.env.TSOCI_FAST_PATH === undefined
    ? {}
    : { TSOCI_FAST_PATH: process.env.TSOCI_FAST_PATH }),
};

const UNSHARE = '/usr/bin/unshare';

// crun 1.8 refuses a hybrid cgroup host ("cgroups in hybrid mode not supported")
// as long as the cgroup2 hierarchy is mounted. Hiding it in a private mount
// namespace makes crun see a pure v1 host; `$0` carries crun's own path.
const HIDE_UNIFIED = 'umount /sys/fs/cgroup/unified && exec "$0" "$@"';

export function isHybridCgroupHost(): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((line) => line.includes(' /sys/fs/cgroup/unified ') && line.includes(' - cgroup2 '));
  } catch {
    return false;
  }
}

function isNodeScript(p: string): boolean {
  return /\.(c|m)?js$/.test(p);
}

function identify(file: string, prefix: readonly string[]): { name: RuntimeName; version: string } {
  try {
    const out = execFileSync(file, [...prefix, '--version'], {
      encoding: 'utf8',
      env: runtimeEnv,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    });
    const first = out.split('\n')[0] ?? '';
    const m = /^(tsoci|runc|crun) version (\S+)/.exec(first);
    return { name: (m?.[1] as RuntimeName | undefined) ?? 'unknown', version: m?.[2] ?? '' };
  } catch {
    return { name: 'unknown', version: '' };
  }
}

function tsociInitBinaries(): string[] {
  const out: string[] = [];
  for (const profile of ['release', 'debug']) {
    for (const base of [
      path.join(repoRoot, 'crates/target', profile),
      path.join(repoRoot, 'crates/target/x86_64-unknown-linux-gnu', profile),
    ]) {
      const p = path.join(base, 'tsoci-init');
      if (existsSync(p)) out.push(p);
    }
  }
  return out;
}

export function resolveRuntime(): RuntimeCommand {
  const target = process.env.TSOCI_RUNTIME || defaultRuntimePath;
  const wrapMode = process.env.TSOCI_RUNTIME_WRAP ?? 'auto';
  if (isNodeScript(target)) {
    const prefix = [target];
    return {
      target,
      file: process.execPath,
      prefix,
      ...identify(process.execPath, prefix),
      wrapped: false,
      hostBinaries: [realpathSync(process.execPath), ...tsociInitBinaries()],
    };
  }
  const { name, version } = identify(target, []);
  const real = existsSync(target) ? realpathSync(target) : target;
  // The native tsoci execs node for most commands: node is a host binary too.
  const hostBinaries =
    name === 'tsoci' ? [real, realpathSync(process.execPath), ...tsociInitBinaries()] : [real];
  const wrap =
    wrapMode === 'unshare' || (wrapMode === 'auto' && name === 'crun' && isHybridCgroupHost());
  if (wrap) {
    return {
      target,
      file: UNSHARE,
      prefix: ['-m', 'sh', '-c', HIDE_UNIFIED, target],
      name,
      version,
      wrapped: true,
      hostBinaries,
    };
  }
  return { target, file: target, prefix: [], name, version, wrapped: false, hostBinaries };
}

export const rt: RuntimeCommand = resolveRuntime();

export const isRunc = (r: RuntimeCommand = rt): boolean => r.name === 'runc';
export const isCrun = (r: RuntimeCommand = rt): boolean => r.name === 'crun';

/** True when the runtime's version is below `min` (numeric dotted compare; "" counts as new). */
export function versionBelow(min: string, r: RuntimeCommand = rt): boolean {
  if (r.version === '') return false;
  const a = r.version
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < b.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** One entry of the child's stdio array: execa/Node accepts names, fds and files. */
export type StdioItem = 'pipe' | 'ignore' | 'inherit' | number | { file: string };

export interface RuntimeOptions {
  /** Added to `{ PATH }`; nothing else from the test process leaks in. */
  env?: Record<string, string>;
  stdin?: StdioItem;
  stdout?: StdioItem;
  stderr?: StdioItem;
  /** Placed at fd 3, 4, ... of the runtime process (null leaves the slot closed). */
  extraFds?: ReadonlyArray<number | null>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

export type RuntimeResult = Result<{ reject: false }>;

/**
 * Runs the runtime under test with `args` (global flags first). It never throws
 * on a non-zero exit: tests assert on `exitCode`, `stdout` and `stderr`.
 */
export async function runtime(
  args: readonly string[],
  opts: RuntimeOptions = {},
): Promise<RuntimeResult> {
  const opened: number[] = [];
  // Files are opened here and handed over as plain fds: execa would otherwise
  // relay them through a pipe, which a detached container keeps open.
  const toStdio = (item: StdioItem, flags: string): 'pipe' | 'ignore' | 'inherit' | number => {
    if (typeof item !== 'object') return item;
    const fd = openSync(item.file, flags, 0o644);
    opened.push(fd);
    return fd;
  };
  const extra = (opts.extraFds ?? []).map((fd) => (fd === null ? 'ignore' : fd));
  const stdin = opts.input !== undefined ? 'pipe' : toStdio(opts.stdin ?? 'ignore', 'r');
  const stdio = [
    stdin,
    toStdio(opts.stdout ?? 'pipe', 'a'),
    toStdio(opts.stderr ?? 'pipe', 'a'),
    ...extra,
  ];
  try {
    return await runStdio(args, stdio, opts);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

function runStdio(
  args: readonly string[],
  stdio: ReadonlyArray<'pipe' | 'ignore' | 'inherit' | number>,
  opts: RuntimeOptions,
): Promise<RuntimeResult> {
  return execa(rt.file, [...rt.prefix, ...args], {
    env: { ...runtimeEnv, ...opts.env },
    extendEnv: false,
    reject: false,
    // biome-ignore lint/suspicious/noExplicitAny: execa's stdio tuple type does not accept a built array
    stdio: stdio as any,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    cwd: opts.cwd,
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
    stripFinalNewline: false,
  }) as unknown as Promise<RuntimeResult>;
}

/** A short description for failure messages. */
export function describeResult(r: {
  exitCode?: number | undefined;
  signal?: string | undefined;
  stdout?: unknown;
  stderr?: unknown;
}): string {
  return `exit=${r.exitCode} signal=${r.signal ?? '-'}\nstdout: ${String(r.stdout ?? '')}\nstderr: ${String(r.stderr ?? '')}`;
}
