/**
 * Root-confined path resolution for unpacking (a "secure join").
 *
 * Every path an archive names is resolved component by component against the
 * root with lstat: a symlink met on the way is expanded *inside* the root
 * (absolute targets restart at the root, `..` stops at the root), so no
 * intermediate component can lead outside. The final component is never
 * followed when writing: callers replace what is there.
 *
 * This is safe against hostile archives but not against a concurrent writer
 * renaming directories under us: nothing else runs in a rootfs while it is
 * being unpacked (the image is not running), which is the design assumption.
 * A directory cache avoids repeating lstat for parents already verified; it
 * is invalidated whenever a path is removed or replaced.
 */
import { lstatSync, mkdirSync, readlinkSync, type Stats } from 'node:fs';
import { ImageError } from '../errors.js';

export type UnsafePathPolicy = 'reject' | 'confine';

const MAX_SYMLINKS = 255;

/**
 * Lexically cleans an archive entry name to a root-relative path ('' is the
 * root itself): a leading '/' is dropped (absolute names are taken relative
 * to the root, as GNU tar and Docker do) and `.`/`..` are folded. A name whose
 * `..` would climb above the root is EIMAGE_UNSAFE_PATH under 'reject' and is
 * clamped at the root under 'confine'.
 */
export function cleanEntryName(name: string, policy: UnsafePathPolicy, what = 'entry'): string {
  if (name.includes('\0')) {
    throw new ImageError('EIMAGE_INVALID', `${what} ${JSON.stringify(name)} contains a NUL byte`);
  }
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) {
        if (policy === 'reject') {
          throw new ImageError(
            'EIMAGE_UNSAFE_PATH',
            `${what} ${JSON.stringify(name)} points outside the root filesystem`,
          );
        }
        continue;
      }
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join('/');
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function join(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Paths inside one root directory, resolved without ever leaving it. */
export class RootFs {
  /** The root: an absolute path without a trailing slash. */
  readonly root: string;
  /** Root-relative paths known to be real directories (no symlink on their way). */
  readonly #dirs = new Set<string>(['']);

  constructor(root: string) {
    this.root = root.replace(/\/+$/, '') || '/';
  }

  /** The absolute path of a root-relative one (only meaningful for resolved paths). */
  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  lstat(rel: string): Stats | undefined {
    try {
      return lstatSync(this.abs(rel));
    } catch (error) {
      if (code(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Remembers that `rel` is a real directory (just created, or verified). */
  knowDir(rel: string): void {
    this.#dirs.add(rel);
  }

  isKnownDir(rel: string): boolean {
    return this.#dirs.has(rel);
  }

  /** Forgets `rel` and everything under it (after removing or replacing it). */
  forget(rel: string): void {
    if (rel === '') {
      this.#dirs.clear();
      this.#dirs.add('');
      return;
    }
    this.#dirs.delete(rel);
    const prefix = `${rel}/`;
    for (const d of this.#dirs) if (d.startsWith(prefix)) this.#dirs.delete(d);
  }

  /**
   * Resolves a clean root-relative path through symlinks inside the root.
   * Returns the real root-relative path: every existing component on it is a
   * real directory, except the last (which is returned unfollowed unless
   * `followFinal`); a missing tail is returned as is. A non-directory in the
   * middle is EIMAGE_INVALID (ENOTDIR); a symlink loop is EIMAGE_INVALID.
   */
  resolve(rel: string, followFinal: boolean): string {
    if (this.#dirs.has(rel)) return rel;
    if (!followFinal && this.#dirs.has(parentOf(rel))) return rel;
    const pending = rel.split('/').filter((c) => c !== '' && c !== '.');
    pending.reverse(); // a stack: next component at the end
    const cur: string[] = [];
    let missing = false;
    let links = 0;
    while (pending.length > 0) {
      const c = pending.pop() as string;
      if (c === '..') {
        cur.pop();
        missing = false;
        continue;
      }
      const next = cur.length === 0 ? c : `${cur.join('/')}/${c}`;
      const last = pending.length === 0;
      if (missing || this.#dirs.has(next)) {
        cur.push(c);
        continue;
      }
      let st: Stats | undefined;
      try {
        st = lstatSync(this.abs(next));
      } catch (error) {
        if (code(error) !== 'ENOENT') throw error;
      }
      if (st === undefined) {
        missing = true;
        cur.push(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (last && !followFinal) {
          cur.push(c);
          continue;
        }
        if (++links > MAX_SYMLINKS) {
          throw new ImageError(
            'EIMAGE_INVALID',
            `too many levels of symbolic links resolving /${rel}`,
          );
        }
        const target = readlinkSync(this.abs(next));
        if (target.startsWith('/')) cur.length = 0;
        const parts = target.split('/').filter((p) => p !== '' && p !== '.');
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i] as string);
        continue;
      }
      if (st.isDirectory()) {
        this.#dirs.add(next);
        cur.push(c);
        continue;
      }
      if (!last) {
        throw new ImageError(
          'EIMAGE_INVALID',
          `cannot resolve /${rel}: /${next} is not a directory`,
        );
      }
      cur.push(c);
    }
    return cur.join('/');
  }

  /**
   * Makes sure the resolved path `rel` is a directory, creating missing
   * components (mode 0755, as tar does for implicit parents). `onCreate` is
   * told about each directory created.
   */
  mkdirAll(rel: string, onCreate?: (rel: string) => void): void {
    if (this.#dirs.has(rel)) return;
    const parts = rel.split('/');
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.#dirs.has(cur)) continue;
      const st = this.lstat(cur);
      if (st === undefined) {
        mkdirSync(this.abs(cur), 0o755);
        this.#dirs.add(cur);
        onCreate?.(cur);
        continue;
      }
      if (!st.isDirectory()) {
        throw new ImageError('EIMAGE_INVALID', `cannot create /${rel}: /${cur} is not a directory`);
      }
      this.#dirs.add(cur);
    }
  }
}
