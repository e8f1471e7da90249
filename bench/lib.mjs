// What the bench scripts share: the environment runtimes get, finding
// programs, a busybox bundle, medians. Plain .mjs with no dependencies.

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/** Every runtime is started with only PATH in its environment. */
export const PATH_ONLY = {
  PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};

export const BUSYBOX = '/bin/busybox';

// crun 1.8 refuses a hybrid cgroup host; it runs as
// `unshare -m sh -c HIDE_UNIFIED crun ...`, which hides the cgroup2 mount.
export const UNSHARE = '/usr/bin/unshare';
export const HIDE_UNIFIED = 'umount /sys/fs/cgroup/unified && exec "$0" "$@"';

/** Whether /sys/fs/cgroup/unified is a cgroup2 mount (v1 controllers plus v2). */
export function isHybridCgroupHost() {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.includes(' /sys/fs/cgroup/unified ') && l.includes(' - cgroup2 '));
  } catch {
    return false;
  }
}

/** The absolute path of `name` on PATH, or null. */
export function which(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8', env: PATH_ONLY });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : null;
}

/** Whether process `pid` is gone or a zombie (its program has ended). */
export function exited(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

export function median(xs) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmt(x, digits = 1) {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

/**
 * Fills `dir` with a bundle: a copy of busybox with every applet linked in
 * /bin, and the config.json that `specRuntime` (`{ name, file, prefix }`)
 * writes with `spec`, made non-interactive, running `args`, with
 * `linux.resources` extended by `resources`.
 */
export function makeBusyboxBundle(dir, specRuntime, { args = ['/bin/true'], resources } = {}) {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) {
    mkdirSync(path.join(rootfs, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const a of spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n')) {
    const name = a.trim();
    if (name !== '' && name !== 'busybox') symlinkSync('busybox', path.join(rootfs, 'bin', name));
  }
  writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\n');
  const r = spawnSync(specRuntime.file, [...specRuntime.prefix, 'spec'], {
    cwd: dir,
    env: PATH_ONLY,
    encoding: 'utf8',
  });
  if (r.status !== 0)
    throw new Error(`${specRuntime.name ?? specRuntime.file} spec failed: ${r.stderr}`);
  const configPath = path.join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  config.process.terminal = false;
  config.process.args = args;
  if (resources) {
    config.linux ??= {};
    config.linux.resources = { ...(config.linux.resources ?? {}), ...resources };
  }
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  return dir;
}
