import { describe, expect, it } from 'vitest';
import { MOUNT_ATTR, MOUNT_OPTIONS, MS, UNSUPPORTED_MOUNT_OPTIONS } from '../src/index.js';
import { mountOp, problems, tmpfsWith, withMount } from './helpers.js';

// Written out from include/uapi/linux/mount.h rather than taken from MS, so a
// wrong constant in the package fails here.
const H = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  REC: 16384,
  SILENT: 32768,
  UNBINDABLE: 131072,
  PRIVATE: 262144,
  SLAVE: 524288,
  SHARED: 1048576,
  RELATIME: 2097152,
  I_VERSION: 8388608,
  STRICTATIME: 16777216,
  LAZYTIME: 33554432,
};
const A = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  ATIME_MASK: 0x70,
  RELATIME: 0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
};

/** config.md "Linux mount options", every row. */
// biome-ignore format: a word list reads better filled than one per line
const SPEC_TABLE = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'iversion',
  'lazytime', 'loud', 'mand', 'noatime', 'nodev', 'nodiratime', 'noexec', 'noiversion',
  'nolazytime', 'nomand', 'norelatime', 'nostrictatime', 'nosuid', 'nosymfollow', 'private',
  'ratime', 'rbind', 'rdev', 'rdiratime', 'relatime', 'remount', 'rexec', 'rnoatime', 'rnodiratime',
  'rnoexec', 'rnorelatime', 'rnostrictatime', 'rnosuid', 'rnosymfollow', 'ro', 'rprivate',
  'rrelatime', 'rro', 'rrw', 'rshared', 'rslave', 'rstrictatime', 'rsuid', 'rsymfollow',
  'runbindable', 'rw', 'shared', 'silent', 'slave', 'strictatime', 'suid', 'symfollow', 'sync',
  'tmpcopyup', 'unbindable', 'idmap', 'ridmap',
];

const FLAG_OPTIONS: [string, { flags?: number; clearFlags?: number }][] = [
  ['async', { clearFlags: H.SYNCHRONOUS }],
  ['atime', { clearFlags: H.NOATIME }],
  ['defaults', {}],
  ['dev', { clearFlags: H.NODEV }],
  ['diratime', { clearFlags: H.NODIRATIME }],
  ['dirsync', { flags: H.DIRSYNC }],
  ['exec', { clearFlags: H.NOEXEC }],
  ['iversion', { flags: H.I_VERSION }],
  ['lazytime', { flags: H.LAZYTIME }],
  ['loud', { clearFlags: H.SILENT }],
  ['mand', { flags: H.MANDLOCK }],
  ['noatime', { flags: H.NOATIME }],
  ['nodev', { flags: H.NODEV }],
  ['nodiratime', { flags: H.NODIRATIME }],
  ['noexec', { flags: H.NOEXEC }],
  ['noiversion', { clearFlags: H.I_VERSION }],
  ['nolazytime', { clearFlags: H.LAZYTIME }],
  ['nomand', { clearFlags: H.MANDLOCK }],
  ['norelatime', { clearFlags: H.RELATIME }],
  ['nostrictatime', { clearFlags: H.STRICTATIME }],
  ['nosuid', { flags: H.NOSUID }],
  ['nosymfollow', { flags: H.NOSYMFOLLOW }],
  ['relatime', { flags: H.RELATIME }],
  ['remount', { flags: H.REMOUNT }],
  ['ro', { flags: H.RDONLY }],
  ['rw', { clearFlags: H.RDONLY }],
  ['silent', { flags: H.SILENT }],
  ['strictatime', { flags: H.STRICTATIME }],
  ['suid', { clearFlags: H.NOSUID }],
  ['symfollow', { clearFlags: H.NOSYMFOLLOW }],
  ['sync', { flags: H.SYNCHRONOUS }],
];

const PROPAGATION_OPTIONS: [string, number][] = [
  ['private', H.PRIVATE],
  ['rprivate', H.PRIVATE | H.REC],
  ['shared', H.SHARED],
  ['rshared', H.SHARED | H.REC],
  ['slave', H.SLAVE],
  ['rslave', H.SLAVE | H.REC],
  ['unbindable', H.UNBINDABLE],
  ['runbindable', H.UNBINDABLE | H.REC],
];

const RECURSIVE_OPTIONS: [string, { attrSet?: number; attrClr?: number }][] = [
  ['rro', { attrSet: A.RDONLY }],
  ['rrw', { attrClr: A.RDONLY }],
  ['rnosuid', { attrSet: A.NOSUID }],
  ['rsuid', { attrClr: A.NOSUID }],
  ['rnodev', { attrSet: A.NODEV }],
  ['rdev', { attrClr: A.NODEV }],
  ['rnoexec', { attrSet: A.NOEXEC }],
  ['rexec', { attrClr: A.NOEXEC }],
  ['rnodiratime', { attrSet: A.NODIRATIME }],
  ['rdiratime', { attrClr: A.NODIRATIME }],
  ['rnosymfollow', { attrSet: A.NOSYMFOLLOW }],
  ['rsymfollow', { attrClr: A.NOSYMFOLLOW }],
  // The access-time options always clear the whole mask (mount_setattr(2)
  // rejects a partial one) and set one mode.
  ['rrelatime', { attrSet: A.RELATIME, attrClr: A.ATIME_MASK }],
  ['rnoatime', { attrSet: A.NOATIME, attrClr: A.ATIME_MASK }],
  ['rstrictatime', { attrSet: A.STRICTATIME, attrClr: A.ATIME_MASK }],
  ['ratime', { attrSet: A.RELATIME, attrClr: A.ATIME_MASK }],
  ['rnostrictatime', { attrSet: A.RELATIME, attrClr: A.ATIME_MASK }],
  ['rnorelatime', { attrSet: A.STRICTATIME, attrClr: A.ATIME_MASK }],
];

describe('kernel constants', () => {
  it('MS matches linux/mount.h', () => {
    for (const [name, value] of Object.entries(H)) {
      expect([name, MS[name as keyof typeof MS]]).toEqual([name, value]);
    }
    expect(MS.MOVE).toBe(8192);
    expect(MS.POSIXACL).toBe(65536);
  });

  it('MOUNT_ATTR matches linux/mount.h', () => {
    expect(MOUNT_ATTR).toEqual({
      RDONLY: 1,
      NOSUID: 2,
      NODEV: 4,
      NOEXEC: 8,
      _ATIME: 0x70,
      RELATIME: 0,
      NOATIME: 0x10,
      STRICTATIME: 0x20,
      NODIRATIME: 0x80,
      IDMAP: 0x100000,
      NOSYMFOLLOW: 0x200000,
    });
  });

  it('are frozen', () => {
    expect(Object.isFrozen(MS)).toBe(true);
    expect(Object.isFrozen(MOUNT_ATTR)).toBe(true);
    expect(Object.isFrozen(MOUNT_OPTIONS)).toBe(true);
  });
});

describe('MOUNT_OPTIONS table', () => {
  it('covers every option of config.md, implemented or explicitly unsupported', () => {
    const known = [...Object.keys(MOUNT_OPTIONS), ...Object.keys(UNSUPPORTED_MOUNT_OPTIONS)];
    // The spec's table lists rdev but forgets its opposite rnodev; runc and
    // crun implement it, and so does tsoci.
    expect([...known].sort()).toEqual([...SPEC_TABLE, 'rnodev'].sort());
  });

  it('lists only what is implemented: idmap, ridmap and tmpcopyup are not in it', () => {
    expect(Object.keys(MOUNT_OPTIONS)).not.toContain('idmap');
    expect(Object.keys(MOUNT_OPTIONS)).not.toContain('ridmap');
    expect(Object.keys(MOUNT_OPTIONS)).not.toContain('tmpcopyup');
    expect(Object.keys(MOUNT_OPTIONS)).toHaveLength(59);
  });

  it('has a test case below for every entry', () => {
    const tested = [
      ...FLAG_OPTIONS.map(([n]) => n),
      ...PROPAGATION_OPTIONS.map(([n]) => n),
      ...RECURSIVE_OPTIONS.map(([n]) => n),
      'bind',
      'rbind',
    ];
    expect(tested.sort()).toEqual(Object.keys(MOUNT_OPTIONS).sort());
  });

  it('describes effects as data a features listing can use', () => {
    expect(MOUNT_OPTIONS.ro).toEqual({ kind: 'flag', flag: 1, clear: false });
    expect(MOUNT_OPTIONS.rw).toEqual({ kind: 'flag', flag: 1, clear: true });
    expect(MOUNT_OPTIONS.rbind).toEqual({ kind: 'bind', recursive: true });
    expect(MOUNT_OPTIONS.rslave).toEqual({ kind: 'propagation', flags: H.SLAVE | H.REC });
    expect(MOUNT_OPTIONS.rro).toEqual({ kind: 'attr', attr: 1, clear: false });
    expect(MOUNT_OPTIONS.rnoatime).toEqual({ kind: 'atime', atime: 0x10 });
    expect(MOUNT_OPTIONS.defaults).toEqual({ kind: 'none' });
  });

  it('does not treat inherited object keys as options', () => {
    const op = tmpfsWith('toString', 'constructor', '__proto__');
    expect(op.data).toBe('toString,constructor,__proto__');
    expect(op.flags).toBe(0);
  });
});

describe('each flag option', () => {
  it.each(FLAG_OPTIONS)('%s', (name, expected) => {
    const op = tmpfsWith(name);
    expect(op.flags).toBe(expected.flags ?? 0);
    expect(op.clearFlags).toBe(expected.clearFlags ?? 0);
    expect(op.propagation).toEqual([]);
    expect(op.attrSet).toBe(0);
    expect(op.attrClr).toBe(0);
    expect(op.data).toBe('');
    expect(op.bind).toBe(false);
  });
});

describe('each propagation option', () => {
  it.each(PROPAGATION_OPTIONS)('%s', (name, value) => {
    const op = tmpfsWith(name);
    expect(op.propagation).toEqual([value]);
    expect(op.flags).toBe(0);
    expect(op.clearFlags).toBe(0);
    expect(op.data).toBe('');
  });

  it('keeps propagation changes in option order, repeats included', () => {
    const op = tmpfsWith('shared', 'nosuid', 'rslave', 'private', 'shared');
    expect(op.propagation).toEqual([H.SHARED, H.SLAVE | H.REC, H.PRIVATE, H.SHARED]);
    expect(op.flags).toBe(H.NOSUID);
  });
});

describe('each recursive (mount_setattr) option', () => {
  it.each(RECURSIVE_OPTIONS)('%s', (name, expected) => {
    const op = tmpfsWith(name);
    expect(op.attrSet).toBe(expected.attrSet ?? 0);
    expect(op.attrClr).toBe(expected.attrClr ?? 0);
    expect(op.flags).toBe(0);
    expect(op.clearFlags).toBe(0);
    expect(op.data).toBe('');
  });

  it('a later option undoes an earlier one', () => {
    expect(tmpfsWith('rro', 'rrw')).toMatchObject({ attrSet: 0, attrClr: A.RDONLY });
    expect(tmpfsWith('rrw', 'rro')).toMatchObject({ attrSet: A.RDONLY, attrClr: 0 });
    expect(tmpfsWith('rsuid', 'rnosuid')).toMatchObject({ attrSet: A.NOSUID, attrClr: 0 });
  });

  it('the last access-time option wins and the mask stays cleared', () => {
    expect(tmpfsWith('rnoatime', 'rstrictatime')).toMatchObject({
      attrSet: A.STRICTATIME,
      attrClr: A.ATIME_MASK,
    });
    expect(tmpfsWith('rstrictatime', 'rrelatime')).toMatchObject({
      attrSet: A.RELATIME,
      attrClr: A.ATIME_MASK,
    });
  });

  it('combines independent attributes', () => {
    const op = tmpfsWith('rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnodiratime', 'rnoatime', 'rexec');
    expect(op.attrSet).toBe(A.RDONLY | A.NOSUID | A.NODEV | A.NODIRATIME | A.NOATIME);
    expect(op.attrClr).toBe(A.ATIME_MASK | A.NOEXEC);
  });

  it('never sets an access-time bit without clearing the whole mask', () => {
    for (const [name] of RECURSIVE_OPTIONS) {
      const op = tmpfsWith(name);
      if ((op.attrSet & A.ATIME_MASK) !== 0) expect(op.attrClr & A.ATIME_MASK).toBe(A.ATIME_MASK);
    }
  });
});

describe('flag folding', () => {
  it('a later option overrides an earlier contradicting one', () => {
    expect(tmpfsWith('ro', 'rw')).toMatchObject({ flags: 0, clearFlags: H.RDONLY });
    expect(tmpfsWith('rw', 'ro')).toMatchObject({ flags: H.RDONLY, clearFlags: 0 });
    expect(tmpfsWith('nosuid', 'suid', 'nosuid')).toMatchObject({ flags: H.NOSUID, clearFlags: 0 });
  });

  it('accumulates independent flags', () => {
    const op = tmpfsWith('nosuid', 'nodev', 'noexec', 'ro', 'relatime', 'exec');
    expect(op.flags).toBe(H.NOSUID | H.NODEV | H.RDONLY | H.RELATIME);
    expect(op.clearFlags).toBe(H.NOEXEC);
  });

  it('"defaults" changes nothing, even after other flags', () => {
    expect(tmpfsWith('ro', 'defaults')).toMatchObject({ flags: H.RDONLY, clearFlags: 0, data: '' });
  });
});

describe('filesystem data', () => {
  it('passes unknown options through, in order, comma-joined', () => {
    const op = tmpfsWith('mode=755', 'nosuid', 'size=65536k', 'newinstance', 'uid=0');
    expect(op.data).toBe('mode=755,size=65536k,newinstance,uid=0');
    expect(op.flags).toBe(H.NOSUID);
  });

  it('is empty without data options', () => {
    expect(tmpfsWith().data).toBe('');
    expect(mountOp({ destination: '/proc', type: 'proc', source: 'proc' }).data).toBe('');
  });

  it('is case-sensitive: "RO" is data, as for mount(8)', () => {
    expect(tmpfsWith('RO')).toMatchObject({ flags: 0, data: 'RO' });
  });

  it('keeps an option with commas or quotes whole (SELinux contexts contain commas)', () => {
    const ctx = 'context="system_u:object_r:container_file_t:s0:c1,c2"';
    expect(tmpfsWith(ctx).data).toBe(ctx);
  });
});

describe('option errors', () => {
  it.each([
    ['idmap', 'unsupported option "idmap": id-mapped mounts are not implemented'],
    ['ridmap', 'unsupported option "ridmap": id-mapped mounts are not implemented'],
    [
      'tmpcopyup',
      'unsupported option "tmpcopyup": copying the contents up into a tmpfs is not implemented',
    ],
  ])('%s is rejected, not passed as data', (name, message) => {
    const config = withMount({ destination: '/x', source: '/src', options: ['rbind', name] });
    expect(problems(config)).toEqual([`mounts[0].options[1]: ${message}`]);
  });

  it('rejects empty, non-string and NUL-containing options, each by index', () => {
    const config = withMount({
      destination: '/x',
      type: 'tmpfs',
      options: ['nosuid', '', 7, null, 'mode=7\u000055', 'ro'],
    });
    expect(problems(config)).toEqual([
      'mounts[0].options[1]: must not be empty',
      'mounts[0].options[2]: must be a string, got 7',
      'mounts[0].options[3]: must be a string, got null',
      'mounts[0].options[4]: must not contain a NUL byte',
    ]);
  });

  it('rejects options that are not an array', () => {
    expect(problems(withMount({ destination: '/x', type: 'tmpfs', options: 'ro' }))).toEqual([
      'mounts[0].options: must be an array, got "ro"',
    ]);
  });
});
