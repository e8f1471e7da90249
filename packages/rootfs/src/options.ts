import { MOUNT_ATTR, MS } from './kernel.js';
import { show } from './show.js';

/**
 * What a mount option does to a MountOp.
 *
 * - `flag`: sets (or, with `clear`, clears and records in `clearFlags`) an `MS_*` flag.
 * - `bind`: makes the mount a bind mount (`recursive` for rbind).
 * - `propagation`: appends `MS_SHARED|…` (with `MS_REC` for the r* forms) to the propagation list.
 * - `attr`: sets (or clears) a `MOUNT_ATTR_*` recursively via mount_setattr(2).
 * - `atime`: picks the recursive access-time mode (an enumeration inside `MOUNT_ATTR__ATIME`).
 * - `none`: accepted and does nothing (`defaults`).
 */
export type MountOptionEffect =
  | { readonly kind: 'flag'; readonly flag: number; readonly clear: boolean }
  | { readonly kind: 'bind'; readonly recursive: boolean }
  | { readonly kind: 'propagation'; readonly flags: number }
  | { readonly kind: 'attr'; readonly attr: number; readonly clear: boolean }
  | { readonly kind: 'atime'; readonly atime: number }
  | { readonly kind: 'none' };

const set = (flag: number): MountOptionEffect => ({ kind: 'flag', flag, clear: false });
const clear = (flag: number): MountOptionEffect => ({ kind: 'flag', flag, clear: true });
const rset = (attr: number): MountOptionEffect => ({ kind: 'attr', attr, clear: false });
const rclear = (attr: number): MountOptionEffect => ({ kind: 'attr', attr, clear: true });
const atime = (mode: number): MountOptionEffect => ({ kind: 'atime', atime: mode });
const propagation = (flags: number): MountOptionEffect => ({ kind: 'propagation', flags });

/**
 * Every mount option tsoci implements (config.md "Linux mount options"),
 * name → effect. `tsoci features` lists exactly these keys, so nothing may be
 * added here that the plan builder does not handle. Options that are absent
 * and not in UNSUPPORTED_MOUNT_OPTIONS are filesystem data, as the spec asks.
 */
export const MOUNT_OPTIONS: Readonly<Record<string, MountOptionEffect>> = Object.freeze({
  async: clear(MS.SYNCHRONOUS),
  atime: clear(MS.NOATIME),
  bind: { kind: 'bind', recursive: false },
  // libmount maps "defaults" to no flags at all; runc passes it on as fs data,
  // which filesystems such as tmpfs reject.
  defaults: { kind: 'none' },
  dev: clear(MS.NODEV),
  diratime: clear(MS.NODIRATIME),
  dirsync: set(MS.DIRSYNC),
  exec: clear(MS.NOEXEC),
  iversion: set(MS.I_VERSION),
  lazytime: set(MS.LAZYTIME),
  loud: clear(MS.SILENT),
  mand: set(MS.MANDLOCK),
  noatime: set(MS.NOATIME),
  nodev: set(MS.NODEV),
  nodiratime: set(MS.NODIRATIME),
  noexec: set(MS.NOEXEC),
  noiversion: clear(MS.I_VERSION),
  nolazytime: clear(MS.LAZYTIME),
  nomand: clear(MS.MANDLOCK),
  norelatime: clear(MS.RELATIME),
  nostrictatime: clear(MS.STRICTATIME),
  nosuid: set(MS.NOSUID),
  nosymfollow: set(MS.NOSYMFOLLOW),
  private: propagation(MS.PRIVATE),
  ratime: atime(MOUNT_ATTR.RELATIME),
  rbind: { kind: 'bind', recursive: true },
  rdev: rclear(MOUNT_ATTR.NODEV),
  rdiratime: rclear(MOUNT_ATTR.NODIRATIME),
  relatime: set(MS.RELATIME),
  remount: set(MS.REMOUNT),
  rexec: rclear(MOUNT_ATTR.NOEXEC),
  rnoatime: atime(MOUNT_ATTR.NOATIME),
  rnodev: rset(MOUNT_ATTR.NODEV),
  rnodiratime: rset(MOUNT_ATTR.NODIRATIME),
  rnoexec: rset(MOUNT_ATTR.NOEXEC),
  // The kernel only accepts a whole access-time mode (attr_clr must hold all
  // of MOUNT_ATTR__ATIME), so the "no"-forms pick the mode they leave behind:
  // not-relatime is strictatime, not-strictatime and atime are relatime.
  rnorelatime: atime(MOUNT_ATTR.STRICTATIME),
  rnostrictatime: atime(MOUNT_ATTR.RELATIME),
  rnosuid: rset(MOUNT_ATTR.NOSUID),
  rnosymfollow: rset(MOUNT_ATTR.NOSYMFOLLOW),
  ro: set(MS.RDONLY),
  rprivate: propagation(MS.PRIVATE | MS.REC),
  rrelatime: atime(MOUNT_ATTR.RELATIME),
  rro: rset(MOUNT_ATTR.RDONLY),
  rrw: rclear(MOUNT_ATTR.RDONLY),
  rshared: propagation(MS.SHARED | MS.REC),
  rslave: propagation(MS.SLAVE | MS.REC),
  rstrictatime: atime(MOUNT_ATTR.STRICTATIME),
  rsuid: rclear(MOUNT_ATTR.NOSUID),
  rsymfollow: rclear(MOUNT_ATTR.NOSYMFOLLOW),
  runbindable: propagation(MS.UNBINDABLE | MS.REC),
  rw: clear(MS.RDONLY),
  shared: propagation(MS.SHARED),
  silent: set(MS.SILENT),
  slave: propagation(MS.SLAVE),
  strictatime: set(MS.STRICTATIME),
  suid: clear(MS.NOSUID),
  symfollow: clear(MS.NOSYMFOLLOW),
  sync: set(MS.SYNCHRONOUS),
  unbindable: propagation(MS.UNBINDABLE),
});

/**
 * Options of the spec's table that tsoci recognises but does not implement
 * yet. They must be errors, not fs data: passing "idmap" to mount(2) would
 * either fail obscurely or, worse, mount without the requested id mapping.
 */
export const UNSUPPORTED_MOUNT_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  idmap: 'id-mapped mounts are not implemented',
  ridmap: 'id-mapped mounts are not implemented',
  tmpcopyup: 'copying the contents up into a tmpfs is not implemented',
});

/** The option-derived part of a MountOp. */
export interface ParsedOptions {
  bind: boolean;
  recursive: boolean;
  flags: number;
  clearFlags: number;
  propagation: number[];
  attrSet: number;
  attrClr: number;
  data: string[];
}

export interface OptionProblem {
  index: number;
  message: string;
}

/**
 * Folds the options left to right, so that a later option overrides an
 * earlier contradicting one ("ro" then "rw" is read-write), as mount(8) does.
 */
export function parseMountOptions(options: readonly unknown[]): {
  parsed: ParsedOptions;
  problems: OptionProblem[];
} {
  const parsed: ParsedOptions = {
    bind: false,
    recursive: false,
    flags: 0,
    clearFlags: 0,
    propagation: [],
    attrSet: 0,
    attrClr: 0,
    data: [],
  };
  const problems: OptionProblem[] = [];
  options.forEach((option, index) => {
    if (typeof option !== 'string') {
      problems.push({ index, message: `must be a string, got ${show(option)}` });
      return;
    }
    if (option === '') {
      problems.push({ index, message: 'must not be empty' });
      return;
    }
    if (option.includes('\0')) {
      problems.push({ index, message: 'must not contain a NUL byte' });
      return;
    }
    const unsupported = Object.hasOwn(UNSUPPORTED_MOUNT_OPTIONS, option)
      ? UNSUPPORTED_MOUNT_OPTIONS[option]
      : undefined;
    if (unsupported !== undefined) {
      problems.push({
        index,
        message: `unsupported option ${JSON.stringify(option)}: ${unsupported}`,
      });
      return;
    }
    const effect = Object.hasOwn(MOUNT_OPTIONS, option) ? MOUNT_OPTIONS[option] : undefined;
    if (effect === undefined) {
      parsed.data.push(option);
      return;
    }
    applyEffect(parsed, effect);
  });
  return { parsed, problems };
}

function applyEffect(p: ParsedOptions, effect: MountOptionEffect): void {
  switch (effect.kind) {
    case 'flag':
      if (effect.clear) {
        p.flags &= ~effect.flag;
        p.clearFlags |= effect.flag;
      } else {
        p.flags |= effect.flag;
        p.clearFlags &= ~effect.flag;
      }
      return;
    case 'bind':
      p.bind = true;
      // "bind" after "rbind" does not make the mount non-recursive again (runc agrees).
      p.recursive ||= effect.recursive;
      return;
    case 'propagation':
      p.propagation.push(effect.flags);
      return;
    case 'attr':
      if (effect.clear) {
        p.attrClr |= effect.attr;
        p.attrSet &= ~effect.attr;
      } else {
        p.attrSet |= effect.attr;
        p.attrClr &= ~effect.attr;
      }
      return;
    case 'atime':
      p.attrSet = (p.attrSet & ~MOUNT_ATTR._ATIME) | effect.atime;
      p.attrClr |= MOUNT_ATTR._ATIME;
      return;
    case 'none':
      return;
  }
}
