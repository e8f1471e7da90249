/**
 * Image config → runtime config.json (image-spec conversion.md), starting
 * from @ts-oci/spec's `defaultConfig()` (runc's defaults).
 *
 * - Verbatim: WorkingDir → process.cwd, Env → process.env, Entrypoint + Cmd →
 *   process.args.
 * - Annotations: os, architecture, variant, os.version, os.features, author,
 *   created, StopSignal → org.opencontainers.image.*; Config.Labels are copied
 *   and win over every implicit annotation.
 * - Parsed: Config.User resolved against the rootfs's /etc/passwd and
 *   /etc/group (read inside the rootfs, never through a symlink out of it).
 * - Optional: ExposedPorts → org.opencontainers.image.exposedPorts;
 *   Volumes → `io.tsoci.image.volumes` (comma-separated, a tsoci annotation)
 *   and, when asked, tmpfs mounts.
 *
 * Implementation-defined choices: an image without User runs as uid 0 (gid
 * and HOME from /etc/passwd's entry for uid 0, else 0 and "/"); PATH
 * (runc's default), HOME (from /etc/passwd, else "/") and, with a terminal,
 * TERM are added only when the image's Env does not set them; the
 * process has no terminal unless asked; the root filesystem is writable
 * unless asked otherwise.
 */
import { readFileSync } from 'node:fs';
import { type Config, defaultConfig, type ImageConfig, type Mount } from '@ts-oci/spec';
import { ImageError } from './errors.js';
import { RootFs } from './fs/secure.js';

export const ANNOTATIONS = {
  os: 'org.opencontainers.image.os',
  architecture: 'org.opencontainers.image.architecture',
  variant: 'org.opencontainers.image.variant',
  osVersion: 'org.opencontainers.image.os.version',
  osFeatures: 'org.opencontainers.image.os.features',
  author: 'org.opencontainers.image.author',
  created: 'org.opencontainers.image.created',
  stopSignal: 'org.opencontainers.image.stopSignal',
  exposedPorts: 'org.opencontainers.image.exposedPorts',
  /** Not an OCI key: conversion.md has none for volumes. */
  volumes: 'io.tsoci.image.volumes',
} as const;

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ConvertOptions {
  /** The `runc spec --rootless` base (user namespace, no network namespace). */
  rootless?: boolean;
  /** Replaces the image's Cmd (as `docker run IMAGE ARGS…` does); the Entrypoint stays. */
  args?: string[];
  /** Replaces the image's Entrypoint. */
  entrypoint?: string[];
  /** Extra environment (NAME=value), overriding the image's entries of the same name. */
  env?: string[];
  /** Overrides Config.User ("user", "uid", "user:group", …). */
  user?: string;
  /** Overrides Config.WorkingDir. */
  cwd?: string;
  /** process.terminal (default false). */
  terminal?: boolean;
  /** root.readonly (default false). */
  readonlyRootfs?: boolean;
  /** root.path (default "rootfs"). */
  rootPath?: string;
  hostname?: string;
  /** Volumes as tmpfs mounts ('tmpfs') or only as an annotation ('annotation', default). */
  volumes?: 'annotation' | 'tmpfs';
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Reads a file of the rootfs (resolved inside it); undefined when missing. */
function readRootfsFile(rootfs: string, path: string): string | undefined {
  const fsroot = new RootFs(rootfs);
  let rel: string;
  try {
    rel = fsroot.resolve(path, true);
  } catch {
    return undefined;
  }
  const st = fsroot.lstat(rel);
  if (st === undefined || !st.isFile()) return undefined;
  return readFileSync(fsroot.abs(rel), 'utf8');
}

const isNumeric = (s: string) => /^\d+$/.test(s);

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4 || !isNumeric(f[2] as string) || !isNumeric(f[3] as string)) continue;
    out.push({ name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !isNumeric(f[2] as string)) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0] as string, gid: Number(f[2]), members });
  }
  return out;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
  home?: string;
}

/**
 * Resolves Config.User (config.md: `user`, `uid`, `user:group`, `uid:gid`,
 * `uid:group`, `user:gid`) as conversion.md asks: numbers are taken
 * verbatim; names are looked up in the rootfs's /etc/passwd and /etc/group
 * (EIMAGE_USER when absent). Without a group, the user's primary group comes
 * from /etc/passwd (0 for an unknown numeric uid) and, for a user name, the
 * supplementary groups from /etc/group.
 */
export function resolveImageUser(
  user: string | undefined | null,
  rootfs: string | undefined,
): ResolvedUser {
  // No user: root, with root's group and home from /etc/passwd when it lists them.
  const spec = (user ?? '').trim() || '0';
  const colon = spec.indexOf(':');
  const userPart = colon === -1 ? spec : spec.slice(0, colon);
  const groupPart = colon === -1 ? undefined : spec.slice(colon + 1);
  if (userPart === '')
    throw new ImageError('EIMAGE_USER', `invalid user ${JSON.stringify(spec)}: no user`);
  if (groupPart === '')
    throw new ImageError('EIMAGE_USER', `invalid user ${JSON.stringify(spec)}: empty group`);

  const passwd = rootfs !== undefined ? parsePasswd(readRootfsFile(rootfs, 'etc/passwd')) : [];
  const groups =
    rootfs !== undefined && (groupPart === undefined ? !isNumeric(userPart) : !isNumeric(groupPart))
      ? parseGroup(readRootfsFile(rootfs, 'etc/group'))
      : [];

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isNumeric(userPart)) {
    uid = Number(userPart);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (entry === undefined) {
      throw new ImageError(
        'EIMAGE_USER',
        `user ${JSON.stringify(userPart)} is not in the image's /etc/passwd${rootfs === undefined ? ' (no rootfs to look in)' : ''}`,
      );
    }
    uid = entry.uid;
  }

  const out: ResolvedUser = { uid, gid: entry?.gid ?? 0 };
  if (entry?.home) out.home = entry.home;
  if (groupPart !== undefined) {
    if (isNumeric(groupPart)) out.gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (g === undefined) {
        throw new ImageError(
          'EIMAGE_USER',
          `group ${JSON.stringify(groupPart)} is not in the image's /etc/group`,
        );
      }
      out.gid = g.gid;
    }
    return out;
  }
  if (!isNumeric(userPart)) {
    const extra: number[] = [];
    for (const g of groups) {
      if (g.members.includes(userPart) && !extra.includes(g.gid)) extra.push(g.gid);
    }
    if (extra.length > 0) out.additionalGids = extra;
  }
  return out;
}

function envName(entry: string): string {
  const eq = entry.indexOf('=');
  return eq === -1 ? entry : entry.slice(0, eq);
}

/**
 * The runtime config for an image. `rootfs` is the unpacked root filesystem
 * (for /etc/passwd and /etc/group); without it only numeric users resolve.
 */
export function imageConfigToRuntimeConfig(
  image: ImageConfig,
  rootfs: string | undefined,
  options: ConvertOptions = {},
): Config {
  const config = defaultConfig({ rootless: options.rootless === true });
  const exec = image.config ?? {};
  const proc = config.process ?? { cwd: '/', user: { uid: 0, gid: 0 } };
  config.process = proc;

  // Entrypoint + Cmd (conversion.md: Cmd appended to Entrypoint).
  const entrypoint = options.entrypoint ?? exec.Entrypoint ?? [];
  const cmd = options.args ?? exec.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new ImageError(
      'EIMAGE_INVALID',
      'the image has neither Entrypoint nor Cmd: give the command to run',
    );
  }
  proc.args = args;

  // User.
  const user = resolveImageUser(options.user ?? exec.User, rootfs);
  proc.user = { uid: user.uid, gid: user.gid };
  if (user.additionalGids !== undefined) proc.user.additionalGids = user.additionalGids;

  // Env: the image's verbatim; defaults only for names it lacks; caller's entries override.
  const env = [...(exec.Env ?? [])];
  const names = new Set(env.map(envName));
  const terminal = options.terminal ?? false;
  if (!names.has('PATH')) env.push(DEFAULT_PATH);
  if (!names.has('HOME')) env.push(`HOME=${user.home || '/'}`);
  if (terminal && !names.has('TERM')) env.push('TERM=xterm');
  for (const extra of options.env ?? []) {
    const name = envName(extra);
    const i = env.findIndex((e) => envName(e) === name);
    if (i === -1) env.push(extra);
    else env[i] = extra;
  }
  proc.env = env;
  proc.terminal = terminal;

  // WorkingDir (absolute; a relative one is taken from /).
  const cwd = options.cwd ?? exec.WorkingDir ?? '';
  proc.cwd = cwd === '' ? '/' : cwd.startsWith('/') ? cwd : `/${cwd}`;

  config.root = { path: options.rootPath ?? 'rootfs', readonly: options.readonlyRootfs ?? false };
  if (options.hostname !== undefined) config.hostname = options.hostname;

  // Annotations: implicit ones, then Labels (which win).
  const annotations: Record<string, string> = {};
  const implicit: [string, string | undefined | null][] = [
    [ANNOTATIONS.os, image.os],
    [ANNOTATIONS.architecture, image.architecture],
    [ANNOTATIONS.variant, image.variant],
    [ANNOTATIONS.osVersion, image['os.version']],
    [ANNOTATIONS.osFeatures, image['os.features']?.join(',')],
    [ANNOTATIONS.author, image.author],
    [ANNOTATIONS.created, image.created],
    [ANNOTATIONS.stopSignal, exec.StopSignal],
  ];
  const ports = Object.keys(exec.ExposedPorts ?? {});
  if (ports.length > 0) implicit.push([ANNOTATIONS.exposedPorts, ports.join(',')]);
  const volumes = Object.keys(exec.Volumes ?? {});
  if (volumes.length > 0) implicit.push([ANNOTATIONS.volumes, volumes.join(',')]);
  for (const [key, value] of implicit) {
    if (value !== undefined && value !== null && value !== '') annotations[key] = value;
  }
  Object.assign(annotations, exec.Labels ?? {});
  if (Object.keys(annotations).length > 0) config.annotations = annotations;

  if (options.volumes === 'tmpfs' && volumes.length > 0) {
    const mounts: Mount[] = config.mounts ?? [];
    for (const destination of volumes) {
      if (!destination.startsWith('/')) continue;
      mounts.push({
        destination,
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', 'mode=755'],
      });
    }
    config.mounts = mounts;
  }
  return config;
}
