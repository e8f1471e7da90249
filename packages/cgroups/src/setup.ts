import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { CGROUP_ERROR_CODES, CgroupError } from './errors.js';

/** One cgroup v1 hierarchy (a mount of fstype `cgroup`). */
export interface V1Hierarchy {
  /** Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`. */
  mountpoint: string;
  /** The mount's root inside the hierarchy (`/` unless bind-mounted or namespaced). */
  mountRoot: string;
  /** Controllers bound to it (`cpu`, `cpuacct`), or a name (`name=systemd`). */
  controllers: string[];
}

/** The cgroup v2 (unified) mount. */
export interface UnifiedHierarchy {
  mountpoint: string;
  mountRoot: string;
  /** Controllers listed in the mount's `cgroup.controllers`. */
  controllers: string[];
}

/**
 * What the host mounts: `v2` is a pure unified host, `v1` has only legacy
 * hierarchies, `hybrid` has v1 controllers plus a (mostly empty) cgroup2 mount.
 */
export interface CgroupSetup {
  mode: 'v1' | 'v2' | 'hybrid';
  /** The directory the mounts were looked for under. */
  root: string;
  /** v1 hierarchies (empty on a v2 host), one per distinct set of controllers. */
  v1: V1Hierarchy[];
  unified: UnifiedHierarchy | undefined;
}

export interface MountinfoEntry {
  mountRoot: string;
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

/** Parses /proc/<pid>/mountinfo (proc(5)); lines that do not parse are skipped. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    // Optional fields (shared:N, master:N) sit between field 6 and the lone "-".
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 4) continue;
    const root = fields[3];
    const mountpoint = fields[4];
    const fstype = fields[sep + 1];
    const superOptions = fields[sep + 3];
    if (root === undefined || mountpoint === undefined || fstype === undefined) continue;
    out.push({
      mountRoot: unescapeMountinfo(root),
      mountpoint: unescapeMountinfo(mountpoint),
      fstype,
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return out;
}

// Super options of a v1 cgroup mount that are not controllers.
const V1_NON_CONTROLLER_OPTIONS = new Set([
  'rw',
  'ro',
  'noprefix',
  'clone_children',
  'xattr',
  'cpuset_v2_mode',
  'all',
  'none',
  'favordynmods',
  'nofavordynmods',
]);

function v1Controllers(superOptions: string[]): string[] {
  return superOptions.filter(
    (o) =>
      o !== '' && !V1_NON_CONTROLLER_OPTIONS.has(o) && (!o.includes('=') || o.startsWith('name=')),
  );
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/**
 * Detects the cgroup layout from mountinfo. Mounts under `root` are preferred;
 * when there are none (cgroupfs mounted somewhere unusual) every cgroup mount
 * counts. Tests pass a fake root and fake mountinfo text.
 */
export async function getCgroupSetup(
  root = '/sys/fs/cgroup',
  mountinfo?: string,
): Promise<CgroupSetup> {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const all = parseMountinfo(text).filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2');
  const normRoot = posix.normalize(root);
  const under = all.filter((m) => isUnder(m.mountpoint, normRoot));
  const mounts = under.length > 0 ? under : all;

  const v1: V1Hierarchy[] = [];
  const seen = new Set<string>();
  let unifiedMount: MountinfoEntry | undefined;
  for (const m of mounts) {
    if (m.fstype === 'cgroup2') {
      // The first one wins; a second cgroup2 mount is the same hierarchy again.
      unifiedMount ??= m;
      continue;
    }
    const controllers = v1Controllers(m.superOptions);
    if (controllers.length === 0) continue;
    const key = [...controllers].sort().join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    v1.push({ mountpoint: m.mountpoint, mountRoot: m.mountRoot, controllers });
  }

  let unified: UnifiedHierarchy | undefined;
  if (unifiedMount !== undefined) {
    let controllers: string[] = [];
    try {
      const raw = readFileSync(posix.join(unifiedMount.mountpoint, 'cgroup.controllers'), 'utf8');
      controllers = raw.split(/\s+/).filter((c) => c !== '');
    } catch {
      // An unreadable cgroup.controllers means no usable controllers, not a broken host.
    }
    unified = {
      mountpoint: unifiedMount.mountpoint,
      mountRoot: unifiedMount.mountRoot,
      controllers,
    };
  }

  const hasV1Controllers = v1.some((h) => h.controllers.some((c) => !c.startsWith('name=')));
  if (!hasV1Controllers && unified === undefined) {
    throw new CgroupError(
      CGROUP_ERROR_CODES.NO_CGROUPFS,
      `no cgroup filesystem is mounted (looked under ${normRoot} in mountinfo)`,
    );
  }
  const mode = !hasV1Controllers ? 'v2' : unified === undefined ? 'v1' : 'hybrid';
  return { mode, root: normRoot, v1: mode === 'v2' ? [] : v1, unified };
}

/** The calling process's cgroups, from /proc/self/cgroup. */
export interface ProcCgroups {
  /** v1 controller (or `name=…`) → path inside its hierarchy. */
  v1: Map<string, string>;
  /** The `0::` line's path, when there is one. */
  unified: string | undefined;
}

export function parseProcCgroup(text: string): ProcCgroups {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && controllers === '') {
      unified = path;
      continue;
    }
    for (const c of controllers.split(',')) if (c !== '') v1.set(c, path);
  }
  return { v1, unified };
}

/**
 * runc's path cleaning: an absolute path is normalised; a relative one is
 * normalised as if rooted at `/` so `..` can never climb above its base.
 */
export function cleanCgroupPath(path: string): string {
  if (path === '') return '';
  const trim = (p: string) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);
  if (path.startsWith('/')) return trim(posix.normalize(path));
  return trim(posix.normalize(`/${path}`)).slice(1);
}

/** Where the container's cgroup lives, before choosing hierarchies. */
export interface CgroupLocation {
  /** true: relative to each mount point; false: relative to the runtime's own cgroup. */
  absolute: boolean;
  /** Cleaned path, without a leading `/` when relative. */
  inner: string;
}

/**
 * The rule (runc's, `libcontainer/specconv` + `cgroups/fs` + `fs2`):
 * - absolute `cgroupsPath` (`/a/b`): `<mountpoint>/a/b` in every hierarchy;
 * - relative `cgroupsPath` (`a/b`): below the calling process's own cgroup of
 *   each v1 hierarchy; on a pure v2 host below the *parent* of its own cgroup
 *   (its own one holds processes, so controllers could not be enabled below it);
 * - none: the relative path `<id>`.
 * A path that cleans to the hierarchy root or to the caller's own cgroup is
 * refused: destroying it would remove something tsoci did not create.
 */
export function cgroupLocation(cgroupsPath: string | undefined, id: string): CgroupLocation {
  if (cgroupsPath === undefined || cgroupsPath === '') {
    if (id === '' || id === '.' || id === '..' || id.includes('/') || id.includes('\0')) {
      throw new CgroupError(
        CGROUP_ERROR_CODES.INVALID_PATH,
        `container id ${JSON.stringify(id)} cannot name a cgroup (linux.cgroupsPath is not set)`,
        { field: 'linux.cgroupsPath' },
      );
    }
    return { absolute: false, inner: id };
  }
  if (cgroupsPath.includes('\0')) {
    throw new CgroupError(
      CGROUP_ERROR_CODES.INVALID_PATH,
      'linux.cgroupsPath: must not contain NUL bytes',
      { field: 'linux.cgroupsPath' },
    );
  }
  const cleaned = cleanCgroupPath(cgroupsPath);
  const absolute = cleaned.startsWith('/');
  const inner = cleaned;
  if (inner === '/' || inner === '' || inner === '.') {
    throw new CgroupError(
      CGROUP_ERROR_CODES.INVALID_PATH,
      `linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} names the ${absolute ? 'root cgroup' : "runtime's own cgroup"}, not a cgroup of its own`,
      { field: 'linux.cgroupsPath' },
    );
  }
  return { absolute, inner };
}

/** Maps a path in hierarchy coordinates (from /proc/self/cgroup) into the mount. */
function mountedPath(mountpoint: string, mountRoot: string, hierarchyPath: string): string {
  const rel = posix.relative(mountRoot, hierarchyPath);
  // Our own cgroup lies outside the mounted subtree (a cgroup namespace or a
  // bind mount of a sub-tree): the mount point is the closest place we can use.
  if (rel.startsWith('..')) return mountpoint;
  return posix.join(mountpoint, rel);
}

/** The directory of the container's cgroup in one v1 hierarchy. */
export function v1CgroupDir(h: V1Hierarchy, loc: CgroupLocation, self: ProcCgroups): string {
  if (loc.absolute) return posix.join(h.mountpoint, loc.inner);
  const own = h.controllers.map((c) => self.v1.get(c)).find((p) => p !== undefined) ?? '/';
  return posix.join(mountedPath(h.mountpoint, h.mountRoot, own), loc.inner);
}

/**
 * The directory of the container's cgroup in the unified hierarchy. `pure`
 * selects the v2-host rule (parent of our own cgroup); on hybrid hosts runc
 * uses our own cgroup, as for v1 hierarchies.
 */
export function unifiedCgroupDir(
  u: UnifiedHierarchy,
  loc: CgroupLocation,
  self: ProcCgroups,
  pure: boolean,
): string {
  if (loc.absolute) return posix.join(u.mountpoint, loc.inner);
  let own = self.unified ?? '/';
  if (pure) own = posix.dirname(own);
  return posix.join(mountedPath(u.mountpoint, u.mountRoot, own), loc.inner);
}

export async function readProcSelfCgroup(text?: string): Promise<ProcCgroups> {
  return parseProcCgroup(text ?? readFileSync('/proc/self/cgroup', 'utf8'));
}
