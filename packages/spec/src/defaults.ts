/**
 * The default config.json of `tsoci spec`: the same content as `runc spec`
 * (runc 1.1's libcontainer/specconv.Example and ToRootless), so that scripts
 * and tutorials written for runc produce the same bundle with tsoci. Only
 * `ociVersion` differs: it is the spec version tsoci implements.
 */
import type { Config } from './runtime/config.js';
import { OCI_RUNTIME_SPEC_VERSION } from './tables.js';

export interface DefaultConfigOptions {
  /**
   * The `runc spec --rootless` variant: a user namespace mapping the caller
   * to root, no network namespace (an unprivileged user cannot configure one),
   * /sys bind-mounted instead of a new sysfs, no devpts `gid=5` (group 5 is
   * not mapped), and no cgroup device rules.
   */
  rootless?: boolean;
  /** Host uid mapped to root in rootless mode; defaults to the effective uid of this process. */
  uid?: number;
  /** Host gid mapped to root in rootless mode; defaults to the effective gid of this process. */
  gid?: number;
}

const CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** Returns a new default config each call; callers may mutate it freely. */
export function defaultConfig(options: DefaultConfigOptions = {}): Config {
  const rootless = options.rootless === true;
  const devptsOptions = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'];
  if (!rootless) devptsOptions.push('gid=5');

  const config: Config = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...CAPABILITIES],
        effective: [...CAPABILITIES],
        permitted: [...CAPABILITIES],
        ambient: [...CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: devptsOptions },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      rootless
        ? {
            destination: '/sys',
            type: 'none',
            source: '/sys',
            options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
          }
        : {
            destination: '/sys',
            type: 'sysfs',
            source: 'sysfs',
            options: ['nosuid', 'noexec', 'nodev', 'ro'],
          },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    linux: {
      namespaces: rootless
        ? [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }]
        : [
            { type: 'pid' },
            { type: 'network' },
            { type: 'ipc' },
            { type: 'uts' },
            { type: 'mount' },
          ],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };

  if (config.linux === undefined) return config;
  if (rootless) {
    const uid = options.uid ?? process.geteuid?.() ?? 0;
    const gid = options.gid ?? process.getegid?.() ?? 0;
    config.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    config.linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  } else {
    // Deny every device; runtimes add the default devices (config-linux.md) on top.
    config.linux.resources = { devices: [{ allow: false, access: 'rwm' }] };
  }
  return config;
}
