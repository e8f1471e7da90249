import { describe, expect, it } from 'vitest';
import type { DeviceNode, MountOp } from '../src/index.js';
import { BUNDLE, fixture, plan, problems, warnings } from './helpers.js';

// MS_* values written out (linux/mount.h) so the expectations are independent of the package.
const RDONLY = 1;
const NOSUID = 2;
const NODEV = 4;
const NOEXEC = 8;
const RELATIME = 1 << 21;
const STRICTATIME = 1 << 24;

const op = (
  fields: Partial<MountOp> & Pick<MountOp, 'destination' | 'type' | 'source'>,
): MountOp => ({
  bind: false,
  recursive: false,
  flags: 0,
  clearFlags: 0,
  propagation: [],
  attrSet: 0,
  attrClr: 0,
  data: '',
  ...fields,
});

const chr = (path: string, major: number, minor: number): DeviceNode => ({
  path,
  type: 'c',
  major,
  minor,
  fileMode: 0o666,
  uid: 0,
  gid: 0,
});

const DEFAULT_DEVICES = [
  chr('/dev/null', 1, 3),
  chr('/dev/zero', 1, 5),
  chr('/dev/full', 1, 7),
  chr('/dev/random', 1, 8),
  chr('/dev/urandom', 1, 9),
  chr('/dev/tty', 5, 0),
];

const RUNC_MASKED = [
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
];
const RUNC_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const SYMLINKS = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
];

describe('the config of `runc spec` (runc 1.1.5)', () => {
  const config = fixture('runc-spec.json');

  it('is valid, without warnings', () => {
    expect(problems(config)).toEqual([]);
    expect(warnings(config)).toEqual([]);
  });

  it('produces the whole expected plan', () => {
    expect(plan(config)).toEqual({
      root: `${BUNDLE}/rootfs`,
      readonly: true,
      propagation: 'rslave',
      noPivot: false,
      mounts: [
        op({ destination: '/proc', type: 'proc', source: 'proc' }),
        op({
          destination: '/dev',
          type: 'tmpfs',
          source: 'tmpfs',
          flags: NOSUID | STRICTATIME,
          data: 'mode=755,size=65536k',
        }),
        op({
          destination: '/dev/pts',
          type: 'devpts',
          source: 'devpts',
          flags: NOSUID | NOEXEC,
          data: 'newinstance,ptmxmode=0666,mode=0620,gid=5',
        }),
        op({
          destination: '/dev/shm',
          type: 'tmpfs',
          source: 'shm',
          flags: NOSUID | NOEXEC | NODEV,
          data: 'mode=1777,size=65536k',
        }),
        op({
          destination: '/dev/mqueue',
          type: 'mqueue',
          source: 'mqueue',
          flags: NOSUID | NOEXEC | NODEV,
        }),
        op({
          destination: '/sys',
          type: 'sysfs',
          source: 'sysfs',
          flags: NOSUID | NOEXEC | NODEV | RDONLY,
        }),
        op({
          destination: '/sys/fs/cgroup',
          type: 'cgroup',
          source: 'cgroup',
          flags: NOSUID | NOEXEC | NODEV | RELATIME | RDONLY,
        }),
      ],
      devices: DEFAULT_DEVICES,
      bindDevices: false,
      symlinks: SYMLINKS,
      maskedPaths: RUNC_MASKED,
      readonlyPaths: RUNC_READONLY,
    });
  });

  it('has the numeric flags one would compute by hand', () => {
    const mounts = plan(config).mounts;
    expect(mounts.map((m) => [m.destination, m.flags])).toEqual([
      ['/proc', 0],
      ['/dev', 16777218],
      ['/dev/pts', 10],
      ['/dev/shm', 14],
      ['/dev/mqueue', 14],
      ['/sys', 15],
      ['/sys/fs/cgroup', 2097167],
    ]);
  });

  it('honours --no-pivot with the default (rslave) propagation', () => {
    expect(plan(config, { noPivot: true })).toMatchObject({ noPivot: true, propagation: 'rslave' });
  });
});

describe('the config of `runc spec --rootless` (runc 1.1.5)', () => {
  const config = fixture('runc-spec-rootless.json');

  it('binds devices because a user namespace is created', () => {
    const p = plan(config);
    expect(p.bindDevices).toBe(true);
    expect(p.devices).toEqual(DEFAULT_DEVICES);
  });

  it('turns the /sys rbind into a recursive bind of the host /sys', () => {
    const sys = plan(config).mounts.find((m) => m.destination === '/sys');
    expect(sys).toEqual(
      op({
        destination: '/sys',
        type: 'bind',
        source: '/sys',
        bind: true,
        recursive: true,
        flags: NOSUID | NOEXEC | NODEV | RDONLY,
      }),
    );
  });

  it('keeps devpts data without gid=5', () => {
    const pts = plan(config).mounts.find((m) => m.destination === '/dev/pts');
    expect(pts?.data).toBe('newinstance,ptmxmode=0666,mode=0620');
  });
});
