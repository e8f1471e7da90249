import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
} from 'node:fs';
import path from 'node:path';
import { BUSYBOX } from './bundle.js';

/**
 * What the tests that drive the runtime through an engine (podman,
 * containerd) share: a minimal busybox rootfs, and the clean-up of what the
 * engine leaves below the test's own dir and cgroup parent.
 */

/** A rootfs with busybox and the given applets in /bin. */
export function busyboxRootfs(rootfs: string, applets: readonly string[]): void {
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
}

/** Lazily unmounts every mount below `dir`, deepest first. */
export function unmountBelow(dir: string): void {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
    const mnt = line.split(' ')[4];
    if (mnt?.startsWith(`${dir}/`)) spawnSync('umount', ['-l', mnt]);
  }
}

function removeCgroupTree(d: string): void {
  let subs: string[];
  try {
    subs = readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const s of subs) removeCgroupTree(path.join(d, s));
  rmdirSync(d);
}

/** Removes the cgroup `name` (a parent of the test's own) in every hierarchy. */
export function removeCgroupParent(name: string): void {
  for (const h of readdirSync('/sys/fs/cgroup'))
    removeCgroupTree(path.join('/sys/fs/cgroup', h, name));
}
