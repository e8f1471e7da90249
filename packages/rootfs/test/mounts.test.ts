import { describe, expect, it } from 'vitest';
import { BUNDLE, minimal, mountOp, plan, problems, warnings, withMount } from './helpers.js';

const NOSUID = 2;
const RDONLY = 1;
const REMOUNT = 32;

describe('bind mounts', () => {
  it('"bind" makes a non-recursive bind with type "bind", whatever type was given', () => {
    expect(
      mountOp({ destination: '/data', type: 'none', source: '/srv/data', options: ['bind'] }),
    ).toMatchObject({ type: 'bind', source: '/srv/data', bind: true, recursive: false, flags: 0 });
  });

  it('"rbind" makes a recursive bind', () => {
    expect(
      mountOp({ destination: '/data', source: '/srv/data', options: ['rbind'] }),
    ).toMatchObject({
      type: 'bind',
      bind: true,
      recursive: true,
    });
  });

  it('"bind" after "rbind" stays recursive, "rbind" after "bind" becomes recursive', () => {
    expect(mountOp({ destination: '/d', source: '/s', options: ['rbind', 'bind'] }).recursive).toBe(
      true,
    );
    expect(mountOp({ destination: '/d', source: '/s', options: ['bind', 'rbind'] }).recursive).toBe(
      true,
    );
  });

  it('type "bind" alone is a non-recursive bind', () => {
    expect(mountOp({ destination: '/d', type: 'bind', source: '/s' })).toMatchObject({
      type: 'bind',
      bind: true,
      recursive: false,
    });
  });

  it('keeps MS_BIND and MS_REC out of flags; other options stay flags for the remount', () => {
    const op = mountOp({
      destination: '/d',
      source: '/s',
      options: ['rbind', 'ro', 'nosuid', 'rw', 'rprivate'],
    });
    expect(op).toMatchObject({
      flags: NOSUID,
      clearFlags: RDONLY,
      propagation: [(1 << 18) | (1 << 14)],
    });
  });

  it('resolves a relative source against the bundle directory', () => {
    expect(mountOp({ destination: '/d', source: 'volumes/data', options: ['bind'] }).source).toBe(
      `${BUNDLE}/volumes/data`,
    );
    expect(mountOp({ destination: '/d', source: './x/../y/', options: ['bind'] }).source).toBe(
      `${BUNDLE}/y`,
    );
    expect(mountOp({ destination: '/d', source: '../shared', options: ['bind'] }).source).toBe(
      '/run/bundles/shared',
    );
  });

  it('leaves an absolute source exactly as written (the host resolves it)', () => {
    expect(mountOp({ destination: '/d', source: '/a/link/../b/', options: ['bind'] }).source).toBe(
      '/a/link/../b/',
    );
  });

  it('keeps data options (the init ignores them for binds, like the kernel)', () => {
    expect(mountOp({ destination: '/d', source: '/s', options: ['bind', 'x=1'] }).data).toBe('x=1');
  });

  it('requires a source', () => {
    expect(problems(withMount({ destination: '/d', options: ['rbind'] }))).toEqual([
      'mounts[0].source: is required for a bind mount',
    ]);
    expect(problems(withMount({ destination: '/d', type: 'bind', source: '' }))).toEqual([
      'mounts[0].source: must not be empty for a bind mount',
    ]);
  });
});

describe('other mounts', () => {
  it('keep type and source as written, relative sources included (they are not paths)', () => {
    expect(mountOp({ destination: '/mnt', type: 'overlay', source: 'overlay' })).toMatchObject({
      type: 'overlay',
      source: 'overlay',
      bind: false,
    });
    expect(mountOp({ destination: '/mnt', type: 'ext4', source: 'dev/sda1' }).source).toBe(
      'dev/sda1',
    );
  });

  it('use the type as source when the source is missing or empty', () => {
    expect(mountOp({ destination: '/tmp', type: 'tmpfs' }).source).toBe('tmpfs');
    expect(mountOp({ destination: '/tmp', type: 'tmpfs', source: '' }).source).toBe('tmpfs');
  });

  it('require a type, unless they are remounts', () => {
    expect(problems(withMount({ destination: '/tmp', source: 'tmpfs' }))).toEqual([
      'mounts[0].type: is required unless the mount is a bind mount ("bind" or "rbind" in options) or a remount',
    ]);
    expect(problems(withMount({ destination: '/tmp', type: '' }))).toEqual([
      'mounts[0].type: is required unless the mount is a bind mount ("bind" or "rbind" in options) or a remount',
    ]);
    expect(mountOp({ destination: '/proc/sys', options: ['remount', 'ro'] })).toMatchObject({
      type: 'none',
      source: 'none',
      flags: REMOUNT | RDONLY,
    });
  });

  it('reject type "none" without bind or rbind (mount(2) would fail with ENODEV)', () => {
    expect(problems(withMount({ destination: '/d', type: 'none', source: '/s' }))).toEqual([
      'mounts[0].type: "none" is a placeholder for bind mounts: add "bind" or "rbind" to options',
    ]);
    expect(
      problems(withMount({ destination: '/d', type: 'none', options: ['remount', 'ro'] })),
    ).toEqual([]);
  });

  it('keep config order', () => {
    const p = plan(
      minimal({
        mounts: [
          { destination: '/b', type: 'tmpfs' },
          { destination: '/a', type: 'tmpfs' },
          { destination: '/b/c', type: 'tmpfs' },
          { destination: '/a', type: 'proc' },
        ],
      }),
    );
    expect(p.mounts.map((m) => `${m.destination}:${m.type}`)).toEqual([
      '/b:tmpfs',
      '/a:tmpfs',
      '/b/c:tmpfs',
      '/a:proc',
    ]);
  });

  it('may be absent: no mounts, empty list', () => {
    expect(plan(minimal()).mounts).toEqual([]);
    expect(plan(minimal({ mounts: [] })).mounts).toEqual([]);
  });
});

describe('destinations', () => {
  it.each([
    ['/proc', '/proc'],
    ['/', '/'],
    ['//dev//pts/', '/dev/pts'],
    ['/a/./b/.', '/a/b'],
    ['/a/b/../c', '/a/c'],
    ['/a/..', '/'],
    ['/a/b/../../c/..', '/'],
  ])('%s is normalised to %s', (destination, expected) => {
    expect(mountOp({ destination, type: 'tmpfs' }).destination).toBe(expected);
  });

  it('reads a relative destination relative to "/" (config.md), with a deprecation warning', () => {
    const config = withMount({ destination: 'proc', type: 'proc' });
    expect(plan(config).mounts[0]?.destination).toBe('/proc');
    expect(problems(config)).toEqual([]);
    expect(warnings(config)).toEqual([
      'mounts[0].destination: relative destination "proc" is deprecated; using "/proc"',
    ]);
  });

  it('rejects a relative destination with strictDestinations', () => {
    expect(
      problems(withMount({ destination: 'proc', type: 'proc' }), { strictDestinations: true }),
    ).toEqual(['mounts[0].destination: must be an absolute path, got "proc"']);
  });

  it.each([
    ['/..', '".." climbs above the container root in "/.."'],
    ['/../etc', '".." climbs above the container root in "/../etc"'],
    ['/a/../../etc', '".." climbs above the container root in "/a/../../etc"'],
    ['../etc', '".." climbs above the container root in "../etc"'],
    ['a/../..', '".." climbs above the container root in "a/../.."'],
  ])('%s is reported as an escape', (destination, message) => {
    expect(problems(withMount({ destination, type: 'tmpfs' }))).toEqual([
      `mounts[0].destination: ${message}`,
    ]);
  });

  it('rejects missing, empty, non-string and NUL-containing destinations', () => {
    const config = minimal({
      mounts: [
        { type: 'tmpfs' },
        { destination: '', type: 'tmpfs' },
        { destination: 5, type: 'tmpfs' },
        { destination: '/a\u0000b', type: 'tmpfs' },
      ],
    });
    expect(problems(config)).toEqual([
      'mounts[0].destination: is required',
      'mounts[1].destination: must not be empty',
      'mounts[2].destination: must be a string, got 5',
      'mounts[3].destination: must not contain a NUL byte',
    ]);
  });
});

describe('mount shape errors', () => {
  it('reports every bad mount of the list with its index', () => {
    const config = minimal({
      mounts: [
        { destination: '/ok', type: 'tmpfs' },
        'proc',
        null,
        { destination: '/x', type: 7, source: ['a'] },
        { destination: '/y', type: 'tmpfs\u0000' },
      ],
    });
    expect(problems(config)).toEqual([
      'mounts[1]: must be an object, got "proc"',
      'mounts[2]: must be an object, got null',
      'mounts[3].type: must be a string, got 7',
      'mounts[3].source: must be a string, got an array',
      'mounts[4].type: must not contain a NUL byte',
    ]);
  });

  it('rejects mounts that is not an array', () => {
    expect(problems(minimal({ mounts: { destination: '/x' } }))).toEqual([
      'mounts: must be an array, got an object',
    ]);
  });

  it('rejects id-mapped mounts (uidMappings/gidMappings), not silently ignoring them', () => {
    const mapping = [{ containerID: 0, hostID: 1000, size: 1 }];
    const config = withMount({
      destination: '/d',
      source: '/s',
      options: ['rbind'],
      uidMappings: mapping,
      gidMappings: mapping,
    });
    expect(problems(config)).toEqual([
      'mounts[0].uidMappings: id-mapped mounts are not implemented (uidMappings/gidMappings)',
      'mounts[0].gidMappings: id-mapped mounts are not implemented (uidMappings/gidMappings)',
    ]);
  });

  it('collects several problems of one mount', () => {
    const config = withMount({ destination: '../x', source: '', options: ['bind', 'idmap', ''] });
    expect(problems(config)).toEqual([
      'mounts[0].destination: ".." climbs above the container root in "../x"',
      'mounts[0].options[1]: unsupported option "idmap": id-mapped mounts are not implemented',
      'mounts[0].options[2]: must not be empty',
      'mounts[0].source: must not be empty for a bind mount',
    ]);
  });
});
