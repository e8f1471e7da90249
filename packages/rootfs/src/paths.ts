import { posix } from 'node:path';
import { show } from './show.js';

export type PathCheck =
  | { ok: true; path: string; relative: boolean }
  | { ok: false; message: string };

/**
 * Lexically normalises a path inside the container ("//a/./b/../c/" → "/a/c").
 * A relative path is read relative to "/". A ".." that would climb above "/"
 * is an error rather than being clamped as posix.normalize does: the init
 * resolves paths with RESOLVE_IN_ROOT, so it could not escape anyway, but a
 * config that says "../etc" almost certainly means something else than "/etc".
 */
export function containerPath(value: unknown): PathCheck {
  if (typeof value !== 'string')
    return { ok: false, message: `must be a string, got ${show(value)}` };
  if (value === '') return { ok: false, message: 'must not be empty' };
  if (value.includes('\0')) return { ok: false, message: 'must not contain a NUL byte' };
  const parts: string[] = [];
  for (const part of value.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) {
        return { ok: false, message: `".." climbs above the container root in ${show(value)}` };
      }
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return { ok: true, path: `/${parts.join('/')}`, relative: !value.startsWith('/') };
}

/**
 * Makes a host path absolute against the bundle directory, as runc does by
 * running with the bundle as its cwd. Cleaning is lexical (no symlinks are
 * read): this package does no I/O, and the init opens the result safely.
 */
export function hostPath(bundleDir: string, value: string): string {
  return posix.resolve(bundleDir, value);
}

/** Whether `path` (normalised, absolute) is `dir` or below it. */
export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}
