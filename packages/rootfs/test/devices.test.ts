import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICES } from '../src/index.js';
import { minimal, plan, problems, warnings } from './helpers.js';

const withDevices = (devices: unknown[], extra: Record<string, unknown> = {}) =>
  minimal({ linux: { namespaces: [{ type: 'mount' }], devices, ...extra } });

const fuse = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 };

describe('default devices', () => {
  it('are the six of config-linux.md, character devices 0666 owned by root', () => {
    expect(DEFAULT_DEVICES.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`)).toEqual([
      '/dev/null c 1:3',
      '/dev/zero c 1:5',
      '/dev/full c 1:7',
      '/dev/random c 1:8',
      '/dev/urandom c 1:9',
      '/dev/tty c 5:0',
    ]);
    for (const d of DEFAULT_DEVICES) expect(d).toMatchObject({ fileMode: 438, uid: 0, gid: 0 });
    expect(Object.isFrozen(DEFAULT_DEVICES)).toBe(true);
  });

  it('are always in the plan', () => {
    expect(plan(minimal()).devices).toEqual(DEFAULT_DEVICES);
  });

  it('come first, config devices after them in config order', () => {
    const sda = { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 432 };
    const devices = plan(withDevices([fuse, sda])).devices;
    expect(devices.map((d) => d.path)).toEqual([
      '/dev/null',
      '/dev/zero',
      '/dev/full',
      '/dev/random',
      '/dev/urandom',
      '/dev/tty',
      '/dev/fuse',
      '/dev/sda',
    ]);
    expect(devices[7]).toEqual({ ...sda, uid: 0, gid: 0 });
  });

  it('are overridden by a config device at the same path', () => {
    const myNull = {
      path: '/dev/null',
      type: 'c',
      major: 1,
      minor: 3,
      fileMode: 0o600,
      uid: 5,
      gid: 6,
    };
    const devices = plan(withDevices([myNull])).devices;
    expect(devices.filter((d) => d.path === '/dev/null')).toEqual([myNull]);
    expect(devices).toHaveLength(6);
    expect(devices.at(-1)).toEqual(myNull);
  });

  it('are not mutated by an override', () => {
    plan(withDevices([{ path: '/dev/tty', type: 'c', major: 4, minor: 1, uid: 9 }]));
    expect(DEFAULT_DEVICES[5]).toEqual({
      path: '/dev/tty',
      type: 'c',
      major: 5,
      minor: 0,
      fileMode: 438,
      uid: 0,
      gid: 0,
    });
  });
});

describe('config devices', () => {
  it('default fileMode to 0666 and uid/gid to 0 (runc)', () => {
    const devices = plan(
      withDevices([{ path: '/dev/kvm', type: 'c', major: 10, minor: 232 }]),
    ).devices;
    expect(devices.at(-1)).toEqual({
      path: '/dev/kvm',
      type: 'c',
      major: 10,
      minor: 232,
      fileMode: 438,
      uid: 0,
      gid: 0,
    });
  });

  it('accept "u" (unbuffered character) and keep it as "u"', () => {
    const d = plan(withDevices([{ path: '/dev/u0', type: 'u', major: 4, minor: 64 }])).devices.at(
      -1,
    );
    expect(d).toMatchObject({ type: 'u', major: 4, minor: 64 });
  });

  it('accept FIFOs without numbers and ignore numbers if given', () => {
    const devices = plan(
      withDevices([
        { path: '/run/fifo', type: 'p' },
        { path: '/run/fifo2', type: 'p', major: 99, minor: -1, fileMode: 0o620 },
      ]),
    ).devices;
    expect(devices.slice(-2)).toEqual([
      { path: '/run/fifo', type: 'p', major: 0, minor: 0, fileMode: 438, uid: 0, gid: 0 },
      { path: '/run/fifo2', type: 'p', major: 0, minor: 0, fileMode: 0o620, uid: 0, gid: 0 },
    ]);
  });

  it('may live outside /dev and are normalised', () => {
    const d = plan(withDevices([{ ...fuse, path: '//opt/./dev//fuse/' }])).devices.at(-1);
    expect(d?.path).toBe('/opt/dev/fuse');
  });

  it('strip file-type bits from fileMode when they match the type', () => {
    const devices = plan(
      withDevices([
        { ...fuse, fileMode: 0o020666 },
        { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 0o060660 },
        { path: '/dev/ttyU', type: 'u', major: 4, minor: 1, fileMode: 0o020620 },
        { path: '/f', type: 'p', fileMode: 0o010644 },
        { path: '/dev/sticky', type: 'c', major: 1, minor: 1, fileMode: 0o7777 },
      ]),
    ).devices;
    expect(devices.slice(-5).map((d) => d.fileMode)).toEqual([0o666, 0o660, 0o620, 0o644, 0o7777]);
  });

  it('accept the largest device numbers dev_t can hold', () => {
    const d = plan(
      withDevices([{ path: '/dev/big', type: 'b', major: 4095, minor: 1048575 }]),
    ).devices.at(-1);
    expect(d).toMatchObject({ major: 4095, minor: 1048575 });
  });

  it('accept uid/gid up to 2^32-1', () => {
    const d = plan(withDevices([{ ...fuse, uid: 4294967295, gid: 1000 }])).devices.at(-1);
    expect(d).toMatchObject({ uid: 4294967295, gid: 1000 });
  });
});

describe('duplicates', () => {
  it('a later config device at the same path wins, with a warning', () => {
    const config = withDevices([fuse, { ...fuse, major: 10, minor: 230, fileMode: 0o600 }]);
    const devices = plan(config).devices.filter((d) => d.path === '/dev/fuse');
    expect(devices).toEqual([{ ...fuse, minor: 230, fileMode: 0o600 }]);
    expect(warnings(config)).toEqual([
      'linux.devices[1].path: "/dev/fuse" is also linux.devices[0].path; this entry wins',
    ]);
  });

  it('the same type and numbers at two paths is a warning (config-linux.md SHOULD NOT)', () => {
    const config = withDevices([
      fuse,
      { ...fuse, path: '/dev/fuse2' },
      { ...fuse, type: 'u', path: '/u' },
    ]);
    expect(problems(config)).toEqual([]);
    expect(warnings(config)).toEqual([
      'linux.devices[1]: same type and numbers (c 10:229) as linux.devices[0]',
      'linux.devices[2]: same type and numbers (c 10:229) as linux.devices[1]',
    ]);
    expect(plan(config).devices).toHaveLength(9);
  });

  it('block and character devices with the same numbers are different devices', () => {
    expect(warnings(withDevices([fuse, { ...fuse, type: 'b', path: '/dev/b' }]))).toEqual([]);
  });
});

describe('bindDevices', () => {
  it('is false without a user namespace', () => {
    expect(plan(minimal()).bindDevices).toBe(false);
  });

  it('is true when a user namespace is created', () => {
    const config = minimal({ linux: { namespaces: [{ type: 'mount' }, { type: 'user' }] } });
    expect(plan(config).bindDevices).toBe(true);
  });

  it('is true when a user namespace is joined (mknod is refused there too)', () => {
    const config = minimal({
      linux: { namespaces: [{ type: 'mount' }, { type: 'user', path: '/proc/42/ns/user' }] },
    });
    expect(plan(config).bindDevices).toBe(true);
  });

  it('is true when tsoci itself runs in a user namespace (rootless)', () => {
    expect(plan(minimal(), { inUserNamespace: true }).bindDevices).toBe(true);
  });

  it('does not change the device list', () => {
    const config = withDevices([fuse], { namespaces: [{ type: 'mount' }, { type: 'user' }] });
    expect(plan(config).devices).toEqual(plan(withDevices([fuse])).devices);
  });
});

describe('a bind-mounted /dev', () => {
  const devBind = { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] };

  it('gets no device nodes and no symlinks: it is the host /dev', () => {
    const p = plan(minimal({ mounts: [devBind, { destination: '/dev/pts', type: 'devpts' }] }));
    expect(p.devices).toEqual([]);
    expect(p.symlinks).toEqual([]);
  });

  it('still gets config devices outside /dev; those inside are skipped with a warning', () => {
    const config = minimal({
      mounts: [{ destination: '/proc', type: 'proc' }, devBind],
      linux: {
        namespaces: [{ type: 'mount' }],
        devices: [fuse, { path: '/opt/fuse', type: 'c', major: 10, minor: 229 }],
      },
    });
    expect(plan(config).devices.map((d) => d.path)).toEqual(['/opt/fuse']);
    expect(warnings(config)).toEqual([
      'linux.devices[0].path: "/dev/fuse" is not created because /dev is a bind mount (mounts[1])',
    ]);
  });

  it('only counts when the last mount at /dev is the bind', () => {
    const p = plan(minimal({ mounts: [devBind, { destination: '/dev', type: 'tmpfs' }] }));
    expect(p.devices).toEqual(DEFAULT_DEVICES);
    expect(p.symlinks).toHaveLength(4);
  });

  it('does not include a bind below /dev or a tmpfs at /dev', () => {
    const p = plan(
      minimal({
        mounts: [
          { destination: '/dev', type: 'tmpfs' },
          { destination: '/dev/fuse', source: '/dev/fuse', options: ['bind'] },
        ],
      }),
    );
    expect(p.devices).toEqual(DEFAULT_DEVICES);
  });
});

describe('device errors', () => {
  it.each([
    [{ type: 'c', major: 1, minor: 3 }, 'linux.devices[0].path: is required'],
    [
      { ...fuse, path: 'dev/fuse' },
      'linux.devices[0].path: must be an absolute path, got "dev/fuse"',
    ],
    [{ ...fuse, path: '' }, 'linux.devices[0].path: must not be empty'],
    [{ ...fuse, path: 12 }, 'linux.devices[0].path: must be a string, got 12'],
    [
      { ...fuse, path: '/dev/../../x' },
      'linux.devices[0].path: ".." climbs above the container root in "/dev/../../x"',
    ],
    [{ ...fuse, path: '/dev/\u0000' }, 'linux.devices[0].path: must not contain a NUL byte'],
    [{ path: '/dev/x', major: 1, minor: 1 }, 'linux.devices[0].type: is required'],
    [{ ...fuse, type: 'x' }, 'linux.devices[0].type: must be one of "c", "b", "u", "p", got "x"'],
    [{ ...fuse, type: 'C' }, 'linux.devices[0].type: must be one of "c", "b", "u", "p", got "C"'],
    [{ ...fuse, major: undefined }, 'linux.devices[0].major: is required for type "c"'],
    [{ path: '/dev/sda', type: 'b', major: 8 }, 'linux.devices[0].minor: is required for type "b"'],
    [
      { ...fuse, major: -1 },
      'linux.devices[0].major: must be an integer between 0 and 4095, got -1',
    ],
    [
      { ...fuse, major: 4096 },
      'linux.devices[0].major: must be an integer between 0 and 4095, got 4096',
    ],
    [
      { ...fuse, major: 1.5 },
      'linux.devices[0].major: must be an integer between 0 and 4095, got 1.5',
    ],
    [
      { ...fuse, major: '10' },
      'linux.devices[0].major: must be an integer between 0 and 4095, got "10"',
    ],
    [
      { ...fuse, minor: 1048576 },
      'linux.devices[0].minor: must be an integer between 0 and 1048575, got 1048576',
    ],
    [
      { ...fuse, fileMode: -1 },
      'linux.devices[0].fileMode: must be a permission mode between 0 and 4095 (0o7777), in decimal, got -1',
    ],
    [
      { ...fuse, fileMode: 0o200000 },
      'linux.devices[0].fileMode: must be a permission mode between 0 and 4095 (0o7777), in decimal, got 65536',
    ],
    [
      { ...fuse, fileMode: '0666' },
      'linux.devices[0].fileMode: must be a permission mode between 0 and 4095 (0o7777), in decimal, got "0666"',
    ],
    [
      { ...fuse, fileMode: 0o060666 },
      'linux.devices[0].fileMode: file type bits 0o60000 do not match device type "c" (0o20000)',
    ],
    [
      { path: '/f', type: 'p', fileMode: 0o020666 },
      'linux.devices[0].fileMode: file type bits 0o20000 do not match device type "p" (0o10000)',
    ],
    [
      { ...fuse, uid: -1 },
      'linux.devices[0].uid: must be an integer between 0 and 4294967295, got -1',
    ],
    [
      { ...fuse, gid: 4294967296 },
      'linux.devices[0].gid: must be an integer between 0 and 4294967295, got 4294967296',
    ],
    ['fuse', 'linux.devices[0]: must be an object, got "fuse"'],
  ])('%j', (device, message) => {
    expect(problems(withDevices([device]))).toEqual([message]);
  });

  it('reports every problem of every device', () => {
    const config = withDevices([
      fuse,
      { path: 'x', type: 'z' },
      { ...fuse, major: -1, uid: 'root' },
    ]);
    expect(problems(config)).toEqual([
      'linux.devices[1].path: must be an absolute path, got "x"',
      'linux.devices[1].type: must be one of "c", "b", "u", "p", got "z"',
      'linux.devices[2].major: must be an integer between 0 and 4095, got -1',
      'linux.devices[2].uid: must be an integer between 0 and 4294967295, got "root"',
    ]);
  });

  it('rejects devices that is not an array', () => {
    expect(problems(withDevices(undefined as never, { devices: {} }))).toEqual([
      'linux.devices: must be an array, got an object',
    ]);
  });
});
