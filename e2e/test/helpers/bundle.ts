import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { runtime } from './runtime.js';

export const BUSYBOX = '/bin/busybox';

/** The parts of config.json the tests touch; everything else passes through untouched. */
export interface OciConfig {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  hooks?: Partial<Record<HookKind, OciHook[]>>;
  annotations?: Record<string, string>;
  linux?: OciLinux;
  [key: string]: unknown;
}

export interface OciProcess {
  terminal?: boolean;
  user: { uid: number; gid: number; additionalGids?: number[]; [key: string]: unknown };
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: Partial<Record<CapSet, string[]>>;
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  [key: string]: unknown;
}

export type CapSet = 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient';

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export type HookKind =
  | 'prestart'
  | 'createRuntime'
  | 'createContainer'
  | 'startContainer'
  | 'poststart'
  | 'poststop';

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface OciNamespace {
  type: string;
  path?: string;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciLinux {
  namespaces?: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: unknown;
  [key: string]: unknown;
}

export interface Bundle {
  dir: string;
  rootfs: string;
  configPath: string;
  /** The config as last written; edit() keeps it and the file in step. */
  config: OciConfig;
  edit(fn: (config: OciConfig) => void): void;
  /** Writes a file into the rootfs (parents created), e.g. a script or a marker. */
  writeRootfsFile(rel: string, content: string, mode?: number): string;
}

export interface BusyboxBundleOptions {
  /** An existing, empty directory to fill (the test context creates and removes it). */
  dir: string;
  /** process.args; defaults to the spec default. */
  args?: string[];
  /** Applied after `spec` and the defaults below. */
  edit?: (config: OciConfig) => void;
}

function applets(): string[] {
  const out = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && !s.includes('/'));
}

let cachedApplets: string[] | undefined;

/** Lays out a minimal root filesystem: a static busybox with its applets linked into /bin. */
export function makeBusyboxRootfs(rootfs: string): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/user']) {
    mkdirSync(path.join(rootfs, d), { recursive: true });
  }
  chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  // A copy, not a link: a container that manages to write its binary must not
  // change the host's busybox.
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  cachedApplets ??= applets();
  for (const name of cachedApplets) {
    symlinkSync('busybox', path.join(rootfs, 'bin', name));
  }
  writeFileSync(
    path.join(rootfs, 'etc/passwd'),
    [
      'root:x:0:0:root:/root:/bin/sh',
      'user:x:1000:1000:user:/home/user:/bin/sh',
      'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(rootfs, 'etc/group'),
    ['root:x:0:', 'user:x:1000:', 'nogroup:x:65534:', ''].join('\n'),
  );
  writeFileSync(path.join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n');
}

/**
 * Builds a bundle from Debian's busybox-static and a config.json written by the
 * runtime's own `spec`, so every runtime starts from its own defaults; the
 * tests then change only what they check.
 */
export async function makeBusyboxBundle(opts: BusyboxBundleOptions): Promise<Bundle> {
  const dir = opts.dir;
  // Traversable by a remapped root (user namespace tests) and by hooks.
  chmodSync(dir, 0o755);
  const rootfs = path.join(dir, 'rootfs');
  makeBusyboxRootfs(rootfs);

  const configPath = path.join(dir, 'config.json');
  const spec = await runtime(['spec'], { cwd: dir });
  if (spec.exitCode !== 0) {
    throw new Error(`'spec' failed (exit ${spec.exitCode}): ${String(spec.stderr)}`);
  }
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as OciConfig;
  if (!config.process) throw new Error('spec wrote no process section');
  config.process.terminal = false;
  // Writable unless a test says otherwise, so that a denied write is the
  // feature under test and not a read-only root.
  config.root = { path: 'rootfs', readonly: false };
  if (opts.args) config.process.args = opts.args;
  opts.edit?.(config);
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const bundle: Bundle = {
    dir,
    rootfs,
    configPath,
    config,
    edit(fn) {
      fn(bundle.config);
      writeFileSync(configPath, `${JSON.stringify(bundle.config, null, 2)}\n`);
    },
    writeRootfsFile(rel, content, mode = 0o644) {
      const p = path.join(rootfs, rel);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
      chmodSync(p, mode);
      return p;
    },
  };
  return bundle;
}

/** The process section, which `spec` always writes. */
export function proc(config: OciConfig): OciProcess {
  if (!config.process) throw new Error('config has no process');
  return config.process;
}

export function linux(config: OciConfig): OciLinux {
  config.linux ??= {};
  return config.linux;
}

export function setNamespace(config: OciConfig, ns: OciNamespace): void {
  const l = linux(config);
  l.namespaces = [...(l.namespaces ?? []).filter((n) => n.type !== ns.type), ns];
}

export function removeNamespace(config: OciConfig, type: string): void {
  const l = linux(config);
  l.namespaces = (l.namespaces ?? []).filter((n) => n.type !== type);
}
