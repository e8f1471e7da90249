import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { CGROUP_ERROR_CODES, CgroupError, systemdCgroupUnsupported } from './errors.js';
import type { CgroupManager, CgroupPaths, ManagerCommonOptions } from './manager.js';
import {
  type CgroupSetup,
  cgroupLocation,
  getCgroupSetup,
  readProcSelfCgroup,
  unifiedCgroupDir,
  v1CgroupDir,
} from './setup.js';
import { type V1Dir, V1Manager } from './v1.js';
import { type DeviceFilter, V2Manager } from './v2.js';

/**
 * v1 hierarchies a container joins: every controller runc knows, plus the
 * name=systemd tracking hierarchy. Unknown named hierarchies are left alone.
 */
const V1_JOINED = new Set([
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
  'name=systemd',
]);

export interface CreateCgroupManagerOptions extends ManagerCommonOptions {
  /** `linux.cgroupsPath`; see the README for the absolute/relative/default rule. */
  cgroupsPath?: string | undefined;
  /** Container id: the default cgroup name when cgroupsPath is unset. */
  id: string;
  /** Where cgroupfs is mounted (default `/sys/fs/cgroup`). */
  root?: string;
  /** mountinfo text instead of /proc/self/mountinfo (tests). */
  mountinfo?: string;
  /** /proc/self/cgroup text instead of the real one (tests). */
  procSelfCgroup?: string;
  /** An already detected setup (skips detection). */
  setup?: CgroupSetup;
  /** `--systemd-cgroup`: refused with ECGROUP_SYSTEMD_UNSUPPORTED. */
  systemd?: boolean;
  /** cgroup v2 device-rule enforcement (see V2Manager). */
  deviceFilter?: DeviceFilter;
}

// The last layout detected from this process's own mountinfo, by its text.
let lastSetup: { root: string | undefined; mountinfo: string; setup: CgroupSetup } | undefined;

/**
 * The host's layout. Detection reads mountinfo and the cgroup2 root's
 * controllers (~100 µs); the same mountinfo text gives the same mounts, so
 * only the read is repeated per container.
 */
async function hostSetup(
  root: string | undefined,
  mountinfo: string | undefined,
): Promise<CgroupSetup> {
  if (mountinfo !== undefined) return getCgroupSetup(root, mountinfo);
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  if (lastSetup !== undefined && lastSetup.root === root && lastSetup.mountinfo === text) {
    return lastSetup.setup;
  }
  const setup = await getCgroupSetup(root, text);
  lastSetup = { root, mountinfo: text, setup };
  return setup;
}

/**
 * Builds the manager for a container: detects the host's cgroup layout and
 * resolves `cgroupsPath` into a directory per hierarchy. Creates nothing
 * until `apply()`.
 */
export async function createCgroupManager(
  options: CreateCgroupManagerOptions,
): Promise<CgroupManager> {
  if (options.systemd === true) throw systemdCgroupUnsupported();
  const loc = cgroupLocation(options.cgroupsPath, options.id);
  const setup = options.setup ?? (await hostSetup(options.root, options.mountinfo));
  const self = await readProcSelfCgroup(options.procSelfCgroup);
  const common: ManagerCommonOptions = {
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.io === undefined ? {} : { io: options.io }),
    ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
  };
  if (setup.mode === 'v2') {
    const u = setup.unified;
    if (u === undefined) {
      throw new CgroupError(CGROUP_ERROR_CODES.NO_CGROUPFS, 'no cgroup2 mount found');
    }
    return new V2Manager({
      ...common,
      dir: unifiedCgroupDir(u, loc, self, true),
      mountpoint: u.mountpoint,
      ...(options.deviceFilter === undefined ? {} : { deviceFilter: options.deviceFilter }),
    });
  }
  const hierarchies: V1Dir[] = setup.v1
    .filter((h) => h.controllers.some((c) => V1_JOINED.has(c)))
    .map((h) => ({
      controllers: h.controllers,
      dir: v1CgroupDir(h, loc, self),
      mountpoint: h.mountpoint,
    }));
  const u = setup.unified;
  return new V1Manager({
    ...common,
    hierarchies,
    ...(u === undefined
      ? {}
      : { unified: { dir: unifiedCgroupDir(u, loc, self, false), mountpoint: u.mountpoint } }),
  });
}

export interface FromPathsOptions extends Omit<ManagerCommonOptions, 'resources'> {
  deviceFilter?: DeviceFilter;
}

function badPaths(message: string): CgroupError {
  return new CgroupError(CGROUP_ERROR_CODES.BAD_PATHS, `cgroup paths: ${message}`);
}

function checkedDir(
  key: string,
  dir: unknown,
  mount: unknown,
): { dir: string; mountpoint: string } {
  if (typeof dir !== 'string' || typeof mount !== 'string') {
    throw badPaths(`${JSON.stringify(key)} needs a directory and a mount point`);
  }
  const rel = posix.relative(mount, dir);
  // A state file must not be able to point destroy() at the hierarchy root or
  // anywhere outside cgroupfs.
  if (
    !posix.isAbsolute(dir) ||
    posix.normalize(dir) !== dir ||
    rel === '' ||
    rel.startsWith('..')
  ) {
    throw badPaths(
      `${JSON.stringify(key)}: ${JSON.stringify(dir)} is not a cgroup below ${JSON.stringify(mount)}`,
    );
  }
  return { dir, mountpoint: mount };
}

/**
 * Rebuilds a manager from `paths()` saved in the container state, for kill,
 * pause, update, stats and delete without the config.
 */
export function cgroupManagerFromPaths(
  doc: CgroupPaths,
  options: FromPathsOptions = {},
): CgroupManager {
  if (typeof doc !== 'object' || doc === null) throw badPaths('not an object');
  const driver = (doc as { driver?: unknown }).driver;
  if (driver === 'systemd') throw systemdCgroupUnsupported();
  if (driver !== 'cgroupfs') throw badPaths(`unknown driver ${JSON.stringify(driver)}`);
  const paths = doc.paths ?? {};
  const mounts = doc.mounts ?? {};
  const created = Array.isArray(doc.created)
    ? doc.created.filter((d): d is string => typeof d === 'string')
    : [];
  const common = {
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    ...(options.io === undefined ? {} : { io: options.io }),
    ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
    created,
  };
  if (doc.version === 2) {
    const u = checkedDir('unified', paths.unified, mounts.unified);
    return new V2Manager({
      ...common,
      ...u,
      ...(options.deviceFilter === undefined ? {} : { deviceFilter: options.deviceFilter }),
    });
  }
  if (doc.version !== 1) throw badPaths(`unknown version ${JSON.stringify(doc.version)}`);
  const byDir = new Map<string, V1Dir>();
  for (const [key, dir] of Object.entries(paths)) {
    if (key === 'unified') continue;
    const checked = checkedDir(key, dir, mounts[key]);
    const h = byDir.get(checked.dir);
    if (h === undefined) byDir.set(checked.dir, { controllers: [key], ...checked });
    else h.controllers.push(key);
  }
  const unified =
    paths.unified === undefined ? undefined : checkedDir('unified', paths.unified, mounts.unified);
  return new V1Manager({
    ...common,
    hierarchies: [...byDir.values()],
    ...(unified === undefined ? {} : { unified }),
  });
}
