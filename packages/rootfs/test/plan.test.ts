import { readFileSync } from 'node:fs';
import { TsociError } from '@ts-oci/spec';
import { describe, expect, it } from 'vitest';
import {
  buildRootfsPlan,
  DEFAULT_ROOTFS_PROPAGATION,
  ROOTFS_PROPAGATIONS,
  type RootfsConfig,
  RootfsPlanError,
  validateRootfs,
} from '../src/index.js';
import {
  BUNDLE,
  fixture,
  issues,
  minimal,
  plan,
  planError,
  problems,
  warnings,
} from './helpers.js';

const withLinux = (linux: Record<string, unknown>) =>
  minimal({ linux: { namespaces: [{ type: 'mount' }], ...linux } });

describe('root', () => {
  it('resolves a relative root.path against the bundle', () => {
    expect(plan(minimal()).root).toBe(`${BUNDLE}/rootfs`);
    expect(plan(minimal({ root: { path: './a/../rootfs/' } })).root).toBe(`${BUNDLE}/rootfs`);
    expect(plan(minimal({ root: { path: '../other/rootfs' } })).root).toBe(
      '/run/bundles/other/rootfs',
    );
  });

  it('keeps an absolute root.path, cleaned', () => {
    expect(plan(minimal({ root: { path: '/var/lib/c1/rootfs' } })).root).toBe('/var/lib/c1/rootfs');
    expect(plan(minimal({ root: { path: '/var//lib/./c1/rootfs/' } })).root).toBe(
      '/var/lib/c1/rootfs',
    );
  });

  it('normalises the bundle directory too', () => {
    expect(plan(minimal(), { bundleDir: '/run//bundles/c1/' }).root).toBe(`${BUNDLE}/rootfs`);
  });

  it('copies root.readonly, default false', () => {
    expect(plan(minimal()).readonly).toBe(false);
    expect(plan(minimal({ root: { path: 'rootfs', readonly: true } })).readonly).toBe(true);
    expect(plan(minimal({ root: { path: 'rootfs', readonly: false } })).readonly).toBe(false);
  });

  it.each([
    [{ root: undefined }, 'root: is required'],
    [{ root: 'rootfs' }, 'root: must be an object, got "rootfs"'],
    [{ root: {} }, 'root.path: is required'],
    [{ root: { path: 1 } }, 'root.path: must be a string, got 1'],
    [{ root: { path: '' } }, 'root.path: must not be empty'],
    [{ root: { path: 'a\u0000' } }, 'root.path: must not contain a NUL byte'],
    [{ root: { path: 'rootfs', readonly: 'yes' } }, 'root.readonly: must be a boolean, got "yes"'],
  ])('%j is rejected', (extra, message) => {
    expect(problems(minimal(extra))).toEqual([message]);
  });
});

describe('bundleDir', () => {
  it.each([
    ['bundle', 'bundleDir: must be an absolute path, got "bundle"'],
    ['', 'bundleDir: must be an absolute path, got ""'],
    [undefined, 'bundleDir: must be an absolute path, got nothing'],
    ['/b\u0000', 'bundleDir: must not contain a NUL byte'],
  ])('%j is rejected', (bundleDir, message) => {
    expect(problems(minimal(), { bundleDir: bundleDir as string })).toEqual([message]);
  });

  it('being wrong does not hide the config problems', () => {
    expect(problems(minimal({ root: { path: '' } }), { bundleDir: 'rel' })).toEqual([
      'bundleDir: must be an absolute path, got "rel"',
      'root.path: must not be empty',
    ]);
  });
});

describe('rootfsPropagation', () => {
  it(`defaults to ${DEFAULT_ROOTFS_PROPAGATION} like runc`, () => {
    expect(DEFAULT_ROOTFS_PROPAGATION).toBe('rslave');
    expect(plan(minimal()).propagation).toBe('rslave');
  });

  it('accepts the spec values and the recursive forms runc accepts', () => {
    expect(ROOTFS_PROPAGATIONS).toEqual([
      'private',
      'rprivate',
      'slave',
      'rslave',
      'shared',
      'rshared',
      'unbindable',
      'runbindable',
    ]);
    for (const value of ROOTFS_PROPAGATIONS) {
      expect(plan(withLinux({ rootfsPropagation: value })).propagation).toBe(value);
    }
  });

  it.each(['', 'Private', 'rec-private', 'none'])('rejects %j', (value) => {
    expect(problems(withLinux({ rootfsPropagation: value }))).toEqual([
      `linux.rootfsPropagation: must be one of "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable", got ${JSON.stringify(value)}`,
    ]);
  });

  it('rejects a non-string', () => {
    expect(problems(withLinux({ rootfsPropagation: 1 }))[0]).toMatch(/got 1$/);
  });

  it.each(['private', 'rprivate'])('refuses %s with noPivot (runc)', (value) => {
    expect(problems(withLinux({ rootfsPropagation: value }), { noPivot: true })).toEqual([
      `linux.rootfsPropagation: "${value}" is not safe without pivot_root (noPivot); use "slave" or "rslave"`,
    ]);
    expect(problems(withLinux({ rootfsPropagation: value }))).toEqual([]);
  });

  it.each(['slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'])(
    'allows %s with noPivot',
    (value) => {
      expect(plan(withLinux({ rootfsPropagation: value }), { noPivot: true })).toMatchObject({
        propagation: value,
        noPivot: true,
      });
    },
  );
});

describe('/dev symlinks', () => {
  const fdLinks = [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
  ];

  it('always include fd, stdin, stdout, stderr (runtime-linux.md), and no /dev/core', () => {
    expect(plan(minimal()).symlinks).toEqual(fdLinks);
  });

  it('add /dev/ptmx -> pts/ptmx when something is mounted at /dev/pts', () => {
    const p = plan(minimal({ mounts: [{ destination: '/dev/pts/', type: 'devpts' }] }));
    expect(p.symlinks).toEqual([...fdLinks, ['pts/ptmx', '/dev/ptmx']]);
  });

  it('leave out a path that a device or a mount already claims', () => {
    const p = plan(
      minimal({
        mounts: [
          { destination: '/dev/pts', type: 'devpts' },
          { destination: '/dev/stdin', source: '/tmp/in', options: ['bind'] },
        ],
        linux: {
          namespaces: [{ type: 'mount' }],
          devices: [{ path: '/dev/ptmx', type: 'c', major: 5, minor: 2 }],
        },
      }),
    );
    expect(p.symlinks.map((l) => l[1])).toEqual(['/dev/fd', '/dev/stdout', '/dev/stderr']);
  });
});

describe('maskedPaths and readonlyPaths', () => {
  it('pass through, normalised and without duplicates, in order', () => {
    const p = plan(
      withLinux({
        maskedPaths: ['/proc/kcore', '/proc//keys/', '/proc/kcore', '/sys/firmware'],
        readonlyPaths: ['/proc/sys', '/proc/./bus'],
      }),
    );
    expect(p.maskedPaths).toEqual(['/proc/kcore', '/proc/keys', '/sys/firmware']);
    expect(p.readonlyPaths).toEqual(['/proc/sys', '/proc/bus']);
  });

  it('default to empty lists', () => {
    expect(plan(minimal())).toMatchObject({ maskedPaths: [], readonlyPaths: [] });
  });

  it('must be absolute (config-linux.md) and stay inside the root', () => {
    const config = withLinux({
      maskedPaths: ['proc/kcore', '/ok', '/../x', ''],
      readonlyPaths: ['sys', 5],
    });
    expect(problems(config)).toEqual([
      'linux.maskedPaths[0]: must be an absolute path, got "proc/kcore"',
      'linux.maskedPaths[2]: ".." climbs above the container root in "/../x"',
      'linux.maskedPaths[3]: must not be empty',
      'linux.readonlyPaths[0]: must be an absolute path, got "sys"',
      'linux.readonlyPaths[1]: must be a string, got 5',
    ]);
  });

  it('must be arrays', () => {
    expect(problems(withLinux({ maskedPaths: '/proc/kcore', readonlyPaths: {} }))).toEqual([
      'linux.maskedPaths: must be an array, got "/proc/kcore"',
      'linux.readonlyPaths: must be an array, got an object',
    ]);
  });
});

describe('namespaces', () => {
  it('a mount namespace is required (new or joined)', () => {
    const message =
      'linux.namespaces: must include a "mount" namespace: the root filesystem is set up inside the container\'s mount namespace';
    expect(problems({ root: { path: 'rootfs' } })).toEqual([message]);
    expect(
      problems({ root: { path: 'rootfs' }, linux: { namespaces: [{ type: 'pid' }] } }),
    ).toEqual([message]);
    expect(
      problems({
        root: { path: 'rootfs' },
        linux: { namespaces: [{ type: 'mount', path: '/proc/1/ns/mnt' }] },
      }),
    ).toEqual([]);
  });

  it('linux must be an object', () => {
    expect(problems({ root: { path: 'rootfs' }, linux: [] })).toEqual([
      'linux: must be an object, got an array',
      'linux.namespaces: must include a "mount" namespace: the root filesystem is set up inside the container\'s mount namespace',
    ]);
  });
});

describe('mountLabel', () => {
  it('is refused (no SELinux support), unless empty', () => {
    const config = withLinux({ mountLabel: 'system_u:object_r:container_file_t:s0' });
    expect(problems(config)).toEqual([
      'linux.mountLabel: cannot be applied: tsoci does not support SELinux labels',
    ]);
    expect(problems(withLinux({ mountLabel: '' }))).toEqual([]);
    expect(warnings(withLinux({ mountLabel: '' }))).toEqual([]);
  });
});

describe('validateRootfs', () => {
  it('returns every problem at once, in config order', () => {
    const config = {
      root: { path: '' },
      mounts: [
        { destination: '/proc', type: 'proc' },
        { destination: '/x', type: 'tmpfs' },
        { destination: '/../proc', type: 'proc' },
        { destination: '/ok', type: 'tmpfs' },
        { destination: '/d', source: '/s', options: ['rbind', 'idmap'] },
      ],
      linux: {
        namespaces: [{ type: 'mount' }],
        devices: [{ path: '/dev/fuse', type: 'x', major: 10, minor: 229 }],
        rootfsPropagation: 'sideways',
        maskedPaths: ['proc/kcore'],
      },
    };
    expect(problems(config, { strictDestinations: true })).toEqual([
      'root.path: must not be empty',
      'mounts[2].destination: ".." climbs above the container root in "/../proc"',
      'mounts[4].options[1]: unsupported option "idmap": id-mapped mounts are not implemented',
      'linux.devices[0].type: must be one of "c", "b", "u", "p", got "x"',
      'linux.maskedPaths[0]: must be an absolute path, got "proc/kcore"',
      'linux.rootfsPropagation: must be one of "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable", got "sideways"',
    ]);
  });

  it('returns an empty list for a good config', () => {
    expect(issues(fixture('runc-spec.json'))).toEqual([]);
  });

  it('never puts warnings in the result, only through onWarning', () => {
    const config = minimal({ mounts: [{ destination: 'tmp', type: 'tmpfs' }] });
    expect(issues(config)).toEqual([]);
    expect(warnings(config)).toHaveLength(1);
  });

  it('does not throw on a non-object config', () => {
    expect(issues(null)).toEqual([
      { path: '', message: 'must be an object, got null' },
      { path: 'root', message: 'is required' },
      {
        path: 'linux.namespaces',
        message:
          'must include a "mount" namespace: the root filesystem is set up inside the container\'s mount namespace',
      },
    ]);
  });

  it('does not throw without options', () => {
    expect(validateRootfs(minimal(), undefined as never)).toEqual([
      { path: 'bundleDir', message: 'must be an absolute path, got nothing' },
    ]);
  });

  it('agrees with buildRootfsPlan: issues iff it throws', () => {
    const configs: unknown[] = [
      fixture('runc-spec.json'),
      fixture('runc-spec-rootless.json'),
      minimal({ mounts: [{ destination: '/x' }] }),
      minimal({ root: { path: '' } }),
      withLinux({ rootfsPropagation: 'x' }),
    ];
    for (const config of configs) {
      const found = issues(config);
      if (found.length === 0) expect(() => plan(config)).not.toThrow();
      else expect(planError(config).issues).toEqual(found);
    }
  });
});

describe('RootfsPlanError', () => {
  it('is a TsociError with code EROOTFS_PLAN and the issues', () => {
    const error = planError(minimal({ root: { path: '' } }));
    expect(error).toBeInstanceOf(TsociError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RootfsPlanError');
    expect(error.code).toBe('EROOTFS_PLAN');
    expect(RootfsPlanError.CODE).toBe('EROOTFS_PLAN');
    expect(error.issues).toEqual([{ path: 'root.path', message: 'must not be empty' }]);
    expect(error.message).toBe(
      'invalid root filesystem configuration: root.path: must not be empty',
    );
  });

  it('lists several problems one per line', () => {
    const error = planError(
      minimal({
        root: { path: '' },
        mounts: [{ destination: '/a', type: 'tmpfs', options: ['idmap'] }],
      }),
    );
    expect(error.message).toBe(
      [
        'invalid root filesystem configuration (2 problems):',
        '  root.path: must not be empty',
        '  mounts[0].options[0]: unsupported option "idmap": id-mapped mounts are not implemented',
      ].join('\n'),
    );
  });

  it('does not report warnings when it throws', () => {
    const seen: unknown[] = [];
    expect(() =>
      buildRootfsPlan(
        minimal({ root: { path: '' }, mounts: [{ destination: 'x', type: 'tmpfs' }] }),
        {
          bundleDir: BUNDLE,
          onWarning: (w) => seen.push(w),
        },
      ),
    ).toThrow(RootfsPlanError);
    expect(seen).toEqual([]);
  });
});

describe('buildRootfsPlan', () => {
  it('reports warnings of a successful build through onWarning', () => {
    const seen: unknown[] = [];
    buildRootfsPlan(minimal({ mounts: [{ destination: 'x', type: 'tmpfs' }] }), {
      bundleDir: BUNDLE,
      onWarning: (w) => seen.push(w),
    });
    expect(seen).toEqual([
      {
        path: 'mounts[0].destination',
        message: 'relative destination "x" is deprecated; using "/x"',
      },
    ]);
  });

  it('does not modify the config it is given', () => {
    const config = fixture('runc-spec.json');
    const before = JSON.stringify(config);
    const p = plan(config);
    p.mounts[0]?.propagation.push(1);
    if (p.devices[0]) p.devices[0].major = 99;
    expect(JSON.stringify(config)).toBe(before);
    expect(plan(config).devices[0]?.major).toBe(1);
  });

  it('returns fresh arrays each time', () => {
    const config = minimal({ mounts: [{ destination: '/x', type: 'tmpfs', options: ['shared'] }] });
    const a = plan(config);
    const b = plan(config);
    expect(a).toEqual(b);
    expect(a.mounts[0]?.propagation).not.toBe(b.mounts[0]?.propagation);
    expect(a.symlinks[0]).not.toBe(b.symlinks[0]);
  });

  it('accepts a config typed by its own interface', () => {
    const config: RootfsConfig = {
      root: { path: 'rootfs', readonly: true },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
      linux: {
        namespaces: [{ type: 'mount' }],
        devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }],
        rootfsPropagation: 'rshared',
        maskedPaths: ['/proc/kcore'],
        readonlyPaths: ['/proc/sys'],
      },
    };
    expect(validateRootfs(config, { bundleDir: BUNDLE })).toEqual([]);
  });
});

/** The field names of one ```jsonc block of PROTOCOL.md that follows `heading`. */
function protocolFields(heading: string, blockIndex = 0): string[] {
  const text = readFileSync(
    new URL('../../../crates/tsoci-init/PROTOCOL.md', import.meta.url),
    'utf8',
  );
  const start = text.indexOf(heading);
  expect(start).toBeGreaterThan(-1);
  const blocks = text.slice(start).split('```jsonc').slice(1);
  const block = blocks[blockIndex]?.split('```')[0] ?? '';
  const withoutComments = block.replace(/\/\/.*$/gm, '');
  return [...withoutComments.matchAll(/"(\w+)"\s*:/g)].map((m) => m[1] ?? '');
}

describe('JSON serialisation', () => {
  const p = plan(
    minimal({
      mounts: [
        { destination: '/dev/pts', type: 'devpts', options: ['nosuid', 'newinstance'] },
        { destination: '/d', source: 'vol', options: ['rbind', 'rro', 'rshared'] },
      ],
    }),
  );
  const json = JSON.parse(JSON.stringify(p));

  it('uses exactly the RootfsPlan field names of PROTOCOL.md, in its order', () => {
    const fields = protocolFields('### RootfsPlan');
    const devicesAt = fields.indexOf('devices');
    // The example device's own fields sit inline in the RootfsPlan block.
    const planFields = fields.filter((_, i) => i <= devicesAt || i > devicesAt + 7);
    expect(Object.keys(json)).toEqual(planFields);
  });

  it('uses exactly the DeviceNode field names of PROTOCOL.md', () => {
    const fields = protocolFields('### RootfsPlan');
    const devicesAt = fields.indexOf('devices');
    expect(Object.keys(json.devices[0])).toEqual(fields.slice(devicesAt + 1, devicesAt + 8));
  });

  it('uses exactly the MountOp field names of PROTOCOL.md, in its order', () => {
    const fields = protocolFields('`MountOp`:');
    expect(Object.keys(json.mounts[0])).toEqual(fields);
    expect(Object.keys(json.mounts[1])).toEqual(fields);
  });

  it('round-trips without loss (plain data: numbers, strings, booleans, arrays)', () => {
    expect(json).toEqual(p);
    expect(json.symlinks[0]).toEqual(['/proc/self/fd', '/dev/fd']);
    expect(json.mounts[1]).toEqual({
      destination: '/d',
      type: 'bind',
      source: `${BUNDLE}/vol`,
      bind: true,
      recursive: true,
      flags: 0,
      clearFlags: 0,
      propagation: [(1 << 20) | (1 << 14)],
      attrSet: 1,
      attrClr: 0,
      data: '',
    });
  });

  it('has only non-negative integers for the numeric fields', () => {
    for (const m of json.mounts) {
      for (const n of [m.flags, m.clearFlags, m.attrSet, m.attrClr, ...m.propagation]) {
        expect(Number.isInteger(n) && n >= 0).toBe(true);
      }
    }
  });
});
