import { checkDevice, DEFAULT_DEVICES } from './devices.js';
import { type RootfsIssue, RootfsPlanError } from './errors.js';
import { MS } from './kernel.js';
import { parseMountOptions } from './options.js';
import { containerPath, hostPath, isUnder } from './paths.js';
import { show } from './show.js';
import type {
  DeviceNode,
  MountOp,
  RootfsConfig,
  RootfsPlan,
  RootfsPlanOptions,
  RootfsPropagation,
  Symlink,
} from './types.js';

/** Accepted values of `linux.rootfsPropagation`, in the order error messages list them. */
export const ROOTFS_PROPAGATIONS: readonly RootfsPropagation[] = Object.freeze([
  'private',
  'rprivate',
  'slave',
  'rslave',
  'shared',
  'rshared',
  'unbindable',
  'runbindable',
]);

/**
 * runc's choice when `rootfsPropagation` is unset (prepareRoot: MS_SLAVE|MS_REC
 * on "/"): the container still sees host mounts appear below bind-mounted
 * volumes, but nothing it mounts leaks back to the host.
 */
export const DEFAULT_ROOTFS_PROPAGATION: RootfsPropagation = 'rslave';

/**
 * The /dev symlinks of runtime-linux.md. runc also links /dev/core to
 * /proc/kcore when the host has one; tsoci does not: it is not in the spec,
 * it would need a host probe (this package does no I/O), and the default
 * configs mask /proc/kcore anyway, so the link would lead to an empty file.
 */
const DEV_SYMLINKS: readonly Symlink[] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

/** Relative so that it stays right whichever devpts instance ends up at /dev/pts (config-linux.md, devpts). */
const PTMX_SYMLINK: Symlink = ['pts/ptmx', '/dev/ptmx'];

interface Analysis {
  issues: RootfsIssue[];
  warnings: RootfsIssue[];
  plan: RootfsPlan | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One pass over the config that both validates and builds, so the two entry points cannot disagree. */
function analyse(config: RootfsConfig, options: RootfsPlanOptions): Analysis {
  const opts: Partial<RootfsPlanOptions> = isObject(options) ? options : {};
  const issues: RootfsIssue[] = [];
  const warnings: RootfsIssue[] = [];
  const report = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  const warn = (path: string, message: string): void => {
    warnings.push({ path, message });
  };
  const cfg: Record<string, unknown> = isObject(config) ? config : {};
  if (!isObject(config)) report('', `must be an object, got ${show(config)}`);

  // Without a usable bundle dir nothing relative can be resolved; the other
  // checks still run so that the caller sees every problem at once.
  let bundleDir: string | undefined;
  if (typeof opts.bundleDir !== 'string' || !opts.bundleDir.startsWith('/')) {
    report('bundleDir', `must be an absolute path, got ${show(opts.bundleDir)}`);
  } else if (opts.bundleDir.includes('\0')) {
    report('bundleDir', 'must not contain a NUL byte');
  } else {
    bundleDir = hostPath('/', opts.bundleDir);
  }
  const resolveHost = (value: string): string => (bundleDir ? hostPath(bundleDir, value) : value);
  const noPivot = opts.noPivot === true;

  let root = '';
  let readonly = false;
  if (cfg.root === undefined) report('root', 'is required');
  else if (!isObject(cfg.root)) report('root', `must be an object, got ${show(cfg.root)}`);
  else {
    const { path, readonly: ro } = cfg.root;
    if (path === undefined) report('root.path', 'is required');
    else if (typeof path !== 'string') report('root.path', `must be a string, got ${show(path)}`);
    else if (path === '') report('root.path', 'must not be empty');
    else if (path.includes('\0')) report('root.path', 'must not contain a NUL byte');
    else root = resolveHost(path);
    if (ro !== undefined && typeof ro !== 'boolean') {
      report('root.readonly', `must be a boolean, got ${show(ro)}`);
    } else readonly = ro === true;
  }

  const linux: Record<string, unknown> = isObject(cfg.linux) ? cfg.linux : {};
  if (cfg.linux !== undefined && !isObject(cfg.linux)) {
    report('linux', `must be an object, got ${show(cfg.linux)}`);
  }

  // namespaces: only read here (their own validation belongs to @ts-oci/namespaces).
  const namespaceTypes = new Set<string>();
  if (Array.isArray(linux.namespaces)) {
    for (const ns of linux.namespaces) {
      if (isObject(ns) && typeof ns.type === 'string') namespaceTypes.add(ns.type);
    }
  }
  if (!namespaceTypes.has('mount')) {
    // Without its own mount namespace the plan would remount the host's "/"
    // (rslave), stack mounts on the host and pivot the host's root.
    report(
      'linux.namespaces',
      'must include a "mount" namespace: the root filesystem is set up inside the container\'s mount namespace',
    );
  }

  const mounts: MountOp[] = [];
  if (cfg.mounts !== undefined && !Array.isArray(cfg.mounts)) {
    report('mounts', `must be an array, got ${show(cfg.mounts)}`);
  }
  const rawMounts: readonly unknown[] = Array.isArray(cfg.mounts) ? cfg.mounts : [];
  rawMounts.forEach((raw, i) => {
    const at = `mounts[${i}]`;
    const op = checkMount(raw, at, report, warn, resolveHost, opts.strictDestinations === true);
    if (op) mounts.push(op);
  });

  // A bind-mounted /dev is the host's (or a volume's) /dev: creating nodes or
  // symlinks there would modify it, and it already has them (runc skips too).
  let devMount: number | undefined;
  mounts.forEach((m, i) => {
    if (m.destination === '/dev') devMount = m.bind ? i : undefined;
  });
  const devIsBind = devMount !== undefined;

  // devices: defaults first, then the config's in config order; a config
  // device replaces the default (or earlier config device) at its path.
  const devices = new Map<string, DeviceNode>();
  const devicesAt = new Map<string, number>();
  if (!devIsBind) for (const d of DEFAULT_DEVICES) devices.set(d.path, { ...d });
  if (linux.devices !== undefined && !Array.isArray(linux.devices)) {
    report('linux.devices', `must be an array, got ${show(linux.devices)}`);
  }
  const rawDevices: readonly unknown[] = Array.isArray(linux.devices) ? linux.devices : [];
  const numbersAt = new Map<string, number>();
  rawDevices.forEach((raw, i) => {
    const at = `linux.devices[${i}]`;
    const dev = checkDevice(raw, at, report);
    if (!dev) return;
    if (devIsBind && isUnder(dev.path, '/dev')) {
      warn(
        `${at}.path`,
        `${show(dev.path)} is not created because /dev is a bind mount (mounts[${devMount}])`,
      );
      return;
    }
    const earlier = devicesAt.get(dev.path);
    if (earlier !== undefined) {
      warn(
        `${at}.path`,
        `${show(dev.path)} is also linux.devices[${earlier}].path; this entry wins`,
      );
    }
    if (dev.type !== 'p') {
      // config-linux.md: the same type, major and minor SHOULD NOT be used twice.
      const key = `${dev.type === 'u' ? 'c' : dev.type} ${dev.major}:${dev.minor}`;
      const twin = numbersAt.get(key);
      if (twin !== undefined && earlier !== twin) {
        warn(at, `same type and numbers (${key}) as linux.devices[${twin}]`);
      }
      numbersAt.set(key, i);
    }
    devices.delete(dev.path);
    devices.set(dev.path, dev);
    devicesAt.set(dev.path, i);
  });

  // bindDevices: mknod(2) of real devices needs CAP_MKNOD in the initial user namespace.
  const bindDevices = namespaceTypes.has('user') || opts.inUserNamespace === true;

  // /dev symlinks, skipping any path a device or a mount already claims.
  const symlinks: Symlink[] = [];
  if (!devIsBind) {
    const taken = new Set<string>([...devices.keys(), ...mounts.map((m) => m.destination)]);
    const hasPts = mounts.some((m) => m.destination === '/dev/pts');
    for (const link of hasPts ? [...DEV_SYMLINKS, PTMX_SYMLINK] : DEV_SYMLINKS) {
      if (!taken.has(link[1])) symlinks.push([link[0], link[1]]);
    }
  }

  const maskedPaths = checkPathList(linux.maskedPaths, 'linux.maskedPaths', report);
  const readonlyPaths = checkPathList(linux.readonlyPaths, 'linux.readonlyPaths', report);

  let propagation = DEFAULT_ROOTFS_PROPAGATION;
  const rp = linux.rootfsPropagation;
  if (rp !== undefined) {
    if (typeof rp !== 'string' || !(ROOTFS_PROPAGATIONS as readonly string[]).includes(rp)) {
      report(
        'linux.rootfsPropagation',
        `must be one of ${ROOTFS_PROPAGATIONS.map((p) => JSON.stringify(p)).join(', ')}, got ${show(rp)}`,
      );
    } else if (noPivot && (rp === 'private' || rp === 'rprivate')) {
      // runc's rule: without pivot_root the host's whole mount tree stays in
      // the container's namespace; made private, it would stop seeing host
      // unmounts and keep every host mount busy for the container's lifetime.
      report(
        'linux.rootfsPropagation',
        `${show(rp)} is not safe without pivot_root (noPivot); use "slave" or "rslave"`,
      );
    } else propagation = rp as RootfsPropagation;
  }

  // A label that is silently dropped leaves the container less confined than
  // asked: refused, like every other setting tsoci cannot apply.
  if (linux.mountLabel !== undefined && linux.mountLabel !== '') {
    report('linux.mountLabel', 'cannot be applied: tsoci does not support SELinux labels');
  }

  const plan: RootfsPlan | undefined =
    issues.length === 0
      ? {
          root,
          readonly,
          propagation,
          noPivot,
          mounts,
          devices: [...devices.values()],
          bindDevices,
          symlinks,
          maskedPaths,
          readonlyPaths,
        }
      : undefined;
  return { issues, warnings, plan };
}

function checkMount(
  raw: unknown,
  at: string,
  report: (path: string, message: string) => void,
  warn: (path: string, message: string) => void,
  resolveHost: (value: string) => string,
  strictDestinations: boolean,
): MountOp | undefined {
  if (!isObject(raw)) {
    report(at, `must be an object, got ${show(raw)}`);
    return undefined;
  }
  let ok = true;
  const fail = (field: string, message: string): void => {
    report(field === '' ? at : `${at}.${field}`, message);
    ok = false;
  };

  let destination = '';
  if (raw.destination === undefined) fail('destination', 'is required');
  else {
    const checked = containerPath(raw.destination);
    if (!checked.ok) fail('destination', checked.message);
    else if (checked.relative && strictDestinations) {
      fail('destination', `must be an absolute path, got ${show(raw.destination)}`);
    } else {
      if (checked.relative) {
        // config.md: relative destinations are deprecated but MUST be read relative to "/".
        warn(
          `${at}.destination`,
          `relative destination ${show(raw.destination)} is deprecated; using ${show(checked.path)}`,
        );
      }
      destination = checked.path;
    }
  }

  let options: readonly unknown[] = [];
  if (raw.options !== undefined) {
    if (Array.isArray(raw.options)) options = raw.options;
    else fail('options', `must be an array, got ${show(raw.options)}`);
  }
  const { parsed, problems } = parseMountOptions(options);
  for (const p of problems) fail(`options[${p.index}]`, p.message);

  for (const field of ['type', 'source'] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') fail(field, `must be a string, got ${show(value)}`);
    else if (value.includes('\0')) fail(field, 'must not contain a NUL byte');
  }
  const type = typeof raw.type === 'string' ? raw.type : undefined;
  const source = typeof raw.source === 'string' ? raw.source : undefined;

  for (const field of ['uidMappings', 'gidMappings'] as const) {
    if (raw[field] !== undefined) {
      fail(field, 'id-mapped mounts are not implemented (uidMappings/gidMappings)');
    }
  }

  // config.md makes options bind/rbind the mark of a bind mount; runc and crun
  // also honour type "bind" alone, and configs in the wild rely on it.
  const bind = parsed.bind || type === 'bind';
  let opType: string;
  let opSource: string;
  if (bind) {
    opType = 'bind';
    opSource = '';
    if (source === undefined) {
      if (raw.source === undefined) fail('source', 'is required for a bind mount');
    } else if (source === '') fail('source', 'must not be empty for a bind mount');
    // Absolute sources stay verbatim: the init resolves them on the host, and
    // lexical cleaning could change what a path through a symlink means.
    else opSource = source.startsWith('/') ? source : resolveHost(source);
  } else {
    const remount = (parsed.flags & MS.REMOUNT) !== 0;
    if (type === 'none' && !remount) {
      // config.md's dummy type for binds; on its own mount(2) fails with ENODEV.
      fail('type', '"none" is a placeholder for bind mounts: add "bind" or "rbind" to options');
      opType = '';
    } else if (type !== undefined && type !== '') opType = type;
    // A remount changes an existing mount, so the kernel ignores the type.
    else if (remount) opType = 'none';
    else {
      if (raw.type === undefined || raw.type === '') {
        fail(
          'type',
          'is required unless the mount is a bind mount ("bind" or "rbind" in options) or a remount',
        );
      }
      opType = '';
    }
    // mount(2) needs some source string even where the filesystem ignores it;
    // the type is what mount(8) and /proc/self/mountinfo would show.
    opSource = source === undefined || source === '' ? opType : source;
  }

  if (!ok) return undefined;
  return {
    destination,
    type: opType,
    source: opSource,
    bind,
    recursive: parsed.recursive,
    flags: parsed.flags,
    clearFlags: parsed.clearFlags,
    propagation: parsed.propagation,
    attrSet: parsed.attrSet,
    attrClr: parsed.attrClr,
    data: parsed.data.join(','),
  };
}

/** maskedPaths / readonlyPaths: absolute (config-linux.md MUST), normalised, duplicates dropped. */
function checkPathList(
  raw: unknown,
  at: string,
  report: (path: string, message: string) => void,
): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report(at, `must be an array, got ${show(raw)}`);
    return [];
  }
  const out: string[] = [];
  raw.forEach((value: unknown, i) => {
    const checked = containerPath(value);
    if (!checked.ok) report(`${at}[${i}]`, checked.message);
    else if (checked.relative)
      report(`${at}[${i}]`, `must be an absolute path, got ${show(value)}`);
    else if (!out.includes(checked.path)) out.push(checked.path);
  });
  return out;
}

function emitWarnings(analysis: Analysis, opts: RootfsPlanOptions): void {
  if (typeof opts?.onWarning !== 'function') return;
  for (const w of analysis.warnings) opts.onWarning(w);
}

/**
 * Every problem that would stop `buildRootfsPlan`, as `{ path, message }`
 * with config.json paths (`mounts[2].destination`). Empty means the plan can
 * be built. Warnings go to `opts.onWarning`, never into the result.
 */
export function validateRootfs(config: RootfsConfig, opts: RootfsPlanOptions): RootfsIssue[] {
  const analysis = analyse(config, opts);
  emitWarnings(analysis, opts);
  return analysis.issues;
}

/**
 * Turns `root`, `mounts` and the rootfs-related `linux` fields into the
 * RootfsPlan that tsoci-init executes (crates/tsoci-init/PROTOCOL.md).
 * Pure: reads nothing from disk. Throws one RootfsPlanError listing every
 * problem.
 */
export function buildRootfsPlan(config: RootfsConfig, opts: RootfsPlanOptions): RootfsPlan {
  const analysis = analyse(config, opts);
  if (analysis.plan === undefined) throw new RootfsPlanError(analysis.issues);
  emitWarnings(analysis, opts);
  return analysis.plan;
}
