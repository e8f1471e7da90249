import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUSYBOX } from './bundle.js';
import { basePath, runtimeEnv } from './runtime.js';

/**
 * What the tests that drive the runtime through an engine (podman,
 * containerd, dockerd) share: a minimal busybox rootfs, a private containerd,
 * and the clean-up of what the engine leaves below the test's own dir and
 * cgroup parent.
 */

/** A rootfs with busybox and the given applets in /bin. */
export function busyboxRootfs(rootfs: string, applets: readonly string[]): void {
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
}

/** Mount points at or below `dir`, from this process's mountinfo. */
export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mnt) => mnt === dir || mnt.startsWith(`${dir}/`));
}

/** Lazily unmounts every mount below `dir`, deepest first. */
export function unmountBelow(dir: string): void {
  for (const mnt of mountsBelow(dir).reverse()) {
    if (mnt !== dir) spawnSync('umount', ['-l', mnt]);
  }
}

/**
 * Removes `d` and the directories below it with rmdir only: a directory that
 * holds a file stays (with its parents). Works for cgroups too, whose
 * directories hold only the kernel's control files.
 */
function rmdirTree(d: string): void {
  let subs: string[];
  try {
    subs = readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const s of subs) rmdirTree(path.join(d, s));
  try {
    rmdirSync(d);
  } catch {
    // not empty (a file, or a cgroup with a process): left for the caller's check
  }
}

/** The directories of the cgroup `name` (a parent of the test's own), one per hierarchy. */
export function cgroupParentDirs(name: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((h) => path.join('/sys/fs/cgroup', h, name))
    .filter((d) => existsSync(d));
}

/**
 * Removes the cgroup `name` (a parent of the test's own) in every hierarchy;
 * throws, naming them, when some cannot be removed (a process still inside).
 */
export function removeCgroupParent(name: string): void {
  for (const d of cgroupParentDirs(name)) rmdirTree(d);
  const left = cgroupParentDirs(name);
  if (left.length > 0) throw new Error(`cgroups left behind: ${left.join(', ')}`);
}

/**
 * Notes which of `dirs` (fixed paths an engine creates outside the test's dir,
 * such as containerd's `/run/containerd/s` for shim sockets) do not exist yet.
 * The returned function removes those of them that now exist and hold nothing
 * but empty directories, so the machine is left as it was found.
 */
export function removeIfCreatedLater(dirs: readonly string[]): () => void {
  const absent = dirs.filter((d) => !existsSync(d));
  // Deepest first, so a parent is empty when its turn comes.
  return () => {
    for (const d of [...absent].sort((a, b) => b.length - a.length)) rmdirTree(d);
  };
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';

export const hasContainerd = (): boolean =>
  spawnSync(CONTAINERD, ['--version']).status === 0 && spawnSync(CTR, ['--version']).status === 0;

// containerd 1.6 puts every shim's socket in /run/containerd/s whatever its
// state dir; ctr's default fifo dir and the runc shim's default runtime root
// are below /run/containerd too.
const CONTAINERD_FIXED_DIRS = [
  '/run/containerd',
  '/run/containerd/s',
  '/run/containerd/fifo',
  '/run/containerd/runc',
];

export interface Containerd {
  /** The grpc socket. */
  address: string;
  /** The state dir: a task's bundle is `<state>/io.containerd.runtime.v2.task/<namespace>/<id>`. */
  state: string;
  /** The daemon's pid. */
  pid: number;
  /** `ctr --address <ours> [-n namespace] …`; throws on a non-zero exit unless allowed. */
  ctr(
    args: readonly string[],
    opts?: { namespace?: string; allowFailure?: boolean },
  ): SpawnSyncReturns<string>;
  /** Kills and deletes every task and container in every namespace, stops the daemon and
   * removes what it created outside `dir`. */
  stop(): Promise<void>;
}

/**
 * Starts a containerd of our own: root, state, sockets and log in `dir`, the
 * CRI plugin off. Its environment is the runtime's (`runtimeEnv`): the shim
 * inherits containerd's and runs the runtime with its own, so this is how
 * `TSOCI_FAST_PATH` reaches tsoci through containerd (and dockerd above it).
 */
export async function startContainerd(dir: string): Promise<Containerd> {
  mkdirSync(dir, { recursive: true });
  const address = path.join(dir, 'containerd.sock');
  const state = path.join(dir, 'state');
  const config = path.join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${state}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const removeFixedDirs = removeIfCreatedLater(CONTAINERD_FIXED_DIRS);
  const log = openSync(path.join(dir, 'containerd.log'), 'a');
  const daemon = spawn(CONTAINERD, ['--config', config], {
    env: { ...runtimeEnv },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const ctr: Containerd['ctr'] = (args, opts = {}) => {
    const ns = opts.namespace === undefined ? [] : ['--namespace', opts.namespace];
    const r = spawnSync(CTR, ['--address', address, ...ns, ...args], {
      encoding: 'utf8',
      env: { PATH: basePath },
      timeout: 60_000,
    });
    if (r.status !== 0 && !opts.allowFailure) {
      throw new Error(`ctr ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    }
    return r;
  };
  const lines = (s: string | undefined) => (s ?? '').split('\n').filter((l) => l.trim() !== '');
  const stop = async () => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      for (const namespace of lines(
        ctr(['namespaces', 'ls', '--quiet'], { allowFailure: true }).stdout,
      )) {
        const opts = { namespace, allowFailure: true };
        for (const id of lines(ctr(['task', 'ls', '--quiet'], opts).stdout)) {
          ctr(['task', 'kill', '--signal', 'SIGKILL', id], opts);
          ctr(['task', 'delete', '--force', id], opts);
        }
        for (const id of lines(ctr(['container', 'ls', '--quiet'], opts).stdout)) {
          ctr(['container', 'delete', id], opts);
        }
      }
    }
    await stopProcess(daemon);
    removeFixedDirs();
  };
  for (let i = 0; i < 200; i++) {
    if (daemon.exitCode !== null) break;
    if (existsSync(address) && ctr(['version'], { allowFailure: true }).status === 0) {
      return { address, state, pid: daemon.pid ?? 0, ctr, stop };
    }
    await sleep(50);
  }
  await stop();
  throw new Error(
    `containerd did not come up within 10 s:\n${readFileSync(path.join(dir, 'containerd.log'), 'utf8').slice(-2000)}`,
  );
}

/**
 * The host's network configuration as text: links, addresses, routes (v4 and
 * v6), the forwarding sysctls, and the iptables/ip6tables rules when those
 * tools exist (packet counters, comment lines and lifetimes, which change by
 * themselves, are left out). Read-only: nothing is created or loaded.
 */
export function hostNetworkConfig(): string {
  const run = (file: string, args: string[]) => {
    const r = spawnSync(file, args, { encoding: 'utf8', env: { PATH: basePath } });
    if (r.error) return `${file}: ${(r.error as NodeJS.ErrnoException).code}\n`;
    return `${r.stdout}${r.stderr}`;
  };
  const sysctl = (p: string) => {
    try {
      return `${p}=${readFileSync(p, 'utf8').trim()}\n`;
    } catch {
      return `${p}: absent\n`;
    }
  };
  const rules = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[]'))
      .join('\n');
  // Address lifetimes and route expiry count down by themselves (DHCP, RA).
  const timeless = (text: string) => text.replace(/(valid_lft|preferred_lft|expires) \S+/g, '$1 _');
  return [
    run('ip', ['-o', 'link', 'show']),
    timeless(run('ip', ['-o', 'address', 'show'])),
    run('ip', ['route', 'show', 'table', 'all']),
    timeless(run('ip', ['-6', 'route', 'show', 'table', 'all'])),
    sysctl('/proc/sys/net/ipv4/ip_forward'),
    sysctl('/proc/sys/net/ipv6/conf/all/forwarding'),
    rules(run('iptables-save', [])),
    rules(run('ip6tables-save', [])),
  ].join('---\n');
}

/** The pid of the runc v2 shim that serves container `id`, or undefined. */
export function shimPid(id: string): number | undefined {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith('containerd-shim-runc-v2')) continue;
    const i = argv.indexOf('-id');
    if (i >= 0 && argv[i + 1] === id) return Number(p);
  }
  return undefined;
}

/** The environment of process `pid` as a map. */
export function processEnv(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** Processes whose command line mentions `s` (a test's temp dir), as "pid cmdline". */
export function processesMentioning(s: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(s)) found.push(`${p} ${cmdline.trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
