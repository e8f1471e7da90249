/**
 * Applying one layer changeset (layer.md) to a directory.
 *
 * Two modes:
 * - 'rootfs': the layer is applied on top of what is already there; whiteouts
 *   (`.wh.<name>`) remove lower content, opaque whiteouts (`.wh..wh..opq`)
 *   empty a directory of lower content. Whiteouts only hide lower layers:
 *   entries of the same layer survive them, whatever the entry order.
 * - 'overlay': the layer is unpacked alone into an empty directory that will
 *   be an overlayfs lower dir; whiteouts become overlayfs whiteouts (a 0:0
 *   character device) and opaque markers (`trusted.overlay.opaque=y`).
 *
 * Every path is resolved inside the root (see fs/secure.ts); the final
 * component is never followed (replaced instead). Metadata: modes, owners
 * (when allowed), mtimes (directories at the end, children change them),
 * xattrs, hard links, symlinks, device nodes (root only) and FIFOs.
 *
 * File-system calls are synchronous on purpose: one layer is a long sequence
 * of small metadata calls, and going through the libuv pool for each one
 * costs more than the call. The event loop is yielded between input chunks.
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, ImageError } from '../errors.js';
import {
  baseOf,
  cleanEntryName,
  join,
  parentOf,
  RootFs,
  type UnsafePathPolicy,
} from '../fs/secure.js';
import type { TarEntry } from '../tar/header.js';
import { type TarHandler, TarParser } from '../tar/parser.js';
import { SpecialFiles, Xattrs } from './tools.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface ApplyOptions {
  /** 'rootfs' (default) or 'overlay' (see the module comment). */
  mode?: 'rootfs' | 'overlay';
  /** Set owners from the archive (needs root). Default: when running as root. */
  owners?: boolean;
  /** Create block and character devices (needs root). Default: when running as root; skipped otherwise. */
  devices?: boolean;
  /**
   * Extended attributes: true (default) sets them with setfattr and fails if
   * that fails; 'best-effort' ignores failures; false skips them. Without
   * root only `user.*` attributes are attempted. `trusted.overlay.*` and
   * `user.overlay.*` from an archive are always dropped (they would steer
   * overlayfs).
   */
  xattrs?: boolean | 'best-effort';
  /** Entry names whose `..` climbs above the root: 'reject' (default) or 'confine' (clamp at the root). */
  unsafePaths?: UnsafePathPolicy;
  /**
   * Overlay mode: the lower layers' directories, top-most first. Used for
   * the metadata of implicitly created parent directories and for hard links
   * to files of lower layers (copied up, as overlayfs would).
   */
  lowerDirs?: readonly string[];
  /**
   * Stops the unpacking, also in the middle of a layer: the call rejects
   * with the signal's reason, and what it had written is removed as after
   * any failure.
   */
  signal?: AbortSignal;
}

export interface ApplyStats {
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  /** Devices and FIFOs created. */
  specials: number;
  whiteouts: number;
  /** Device nodes skipped because we may not create them. */
  skippedDevices: number;
  /** Bytes of file content written. */
  bytes: number;
}

interface DirMeta {
  mode: number;
  mtime: number;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The process's umask, read from /proc/self/status: `process.umask()`
 * without an argument sets it to 0 and back, which races with other threads
 * creating files. 0o777 (nothing is created with its final mode) when it
 * cannot be read.
 */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m?.[1] !== undefined ? Number.parseInt(m[1], 8) : 0o777;
  } catch {
    return 0o777;
  }
}

const O_CREATE_FILE =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Applies tar entries to a root directory. One instance per layer. */
export class LayerApplier implements TarHandler {
  readonly fs: RootFs;
  readonly stats: ApplyStats = {
    entries: 0,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    specials: 0,
    whiteouts: 0,
    skippedDevices: 0,
    bytes: 0,
  };
  readonly #overlay: boolean;
  readonly #owners: boolean;
  readonly #devices: boolean;
  readonly #xattrMode: boolean | 'best-effort';
  readonly #allXattrs: boolean;
  readonly #policy: UnsafePathPolicy;
  readonly #lowers: RootFs[];

  /** Paths written by this layer (resolved, root-relative). */
  readonly #written = new Set<string>();
  /** Ancestors of written paths. */
  readonly #ancestors = new Set<string>();
  /** Overlay mode: whiteout devices made by this layer. */
  readonly #whiteouts = new Set<string>();
  /** Directories whose mode and mtime are set at the end. */
  readonly #dirMeta = new Map<string, DirMeta>();
  /** Paths with batched work (special files, xattrs) not yet done. */
  readonly #pending = new Set<string>();
  readonly #specials: SpecialFiles;
  readonly #xattrs = new Xattrs();

  /** The regular file being written; `chmod`: its mode is still to be set. */
  #fd: number | undefined;
  #file: { rel: string; entry: TarEntry; chmod: boolean } | undefined;
  readonly #umask = currentUmask();

  constructor(root: string, options: ApplyOptions = {}) {
    this.fs = new RootFs(root);
    this.#overlay = options.mode === 'overlay';
    const root_ = isRoot();
    this.#owners = options.owners ?? root_;
    this.#devices = options.devices ?? root_;
    this.#xattrMode = options.xattrs ?? true;
    this.#allXattrs = root_;
    this.#policy = options.unsafePaths ?? 'reject';
    this.#lowers = (options.lowerDirs ?? []).map((d) => new RootFs(d));
    this.#specials = new SpecialFiles(this.#owners);
    if (this.#overlay && !root_) {
      throw new ImageError(
        'EIMAGE_OVERLAY',
        'overlay-mode unpacking needs root (whiteouts are 0:0 device nodes and trusted.* xattrs)',
      );
    }
  }

  // ----- TarHandler -----

  entry(entry: TarEntry): void | Promise<void> {
    this.stats.entries++;
    try {
      return this.#entry(entry);
    } catch (error) {
      throw this.#wrap(error, entry.name);
    }
  }

  data(chunk: Buffer): void {
    if (this.#fd === undefined) return;
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(this.#fd, chunk, off, chunk.length - off);
      this.stats.bytes += chunk.length;
    } catch (error) {
      throw this.#wrap(error, this.#file?.entry.name ?? '?');
    }
  }

  entryEnd(): void {
    const file = this.#file;
    const fd = this.#fd;
    if (file === undefined || fd === undefined) return;
    this.#file = undefined;
    this.#fd = undefined;
    try {
      const { entry } = file;
      // fchown before fchmod: a chown clears setuid and setgid bits.
      if (this.#owners) fchownSync(fd, entry.uid, entry.gid);
      if (file.chmod) fchmodSync(fd, entry.mode);
      futimesSync(fd, entry.mtime, entry.mtime);
    } catch (error) {
      closeSync(fd);
      throw this.#wrap(error, file.entry.name);
    }
    closeSync(fd);
    this.#queueXattrs(file.rel, file.entry);
  }

  /** Completes the layer: batched nodes and xattrs, then directory modes and mtimes. */
  async finish(): Promise<ApplyStats> {
    await this.#flush();
    // Deepest first does not matter for mtimes (setting one does not touch the
    // parent), but modes must be relaxed last-to-first to keep traversal possible.
    const dirs = [...this.#dirMeta.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [rel, meta] of dirs) {
      const st = this.fs.lstat(rel);
      if (st === undefined || !st.isDirectory()) continue;
      const abs = this.fs.abs(rel);
      chmodSync(abs, meta.mode);
      utimesSync(abs, meta.mtime, meta.mtime);
    }
    this.#dirMeta.clear();
    return this.stats;
  }

  /** Releases what an interrupted layer holds open. */
  abort(): void {
    if (this.#fd !== undefined) {
      try {
        closeSync(this.#fd);
      } catch {
        // already closed
      }
    }
    this.#fd = undefined;
    this.#file = undefined;
  }

  // ----- entries -----

  #wrap(error: unknown, name: string): Error {
    if (error instanceof ImageError) return error;
    return new ImageError(
      'EIMAGE_IO',
      `unpacking ${JSON.stringify(name)} into ${this.fs.root}: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }

  #entry(entry: TarEntry): void | Promise<void> {
    const rel = cleanEntryName(entry.name, this.#policy, 'tar entry');
    const base = baseOf(rel);
    if (base.startsWith(WHITEOUT_PREFIX)) return this.#whiteout(rel, entry);
    if (rel === '') {
      if (entry.type !== 'directory') {
        throw new ImageError(
          'EIMAGE_INVALID',
          `tar entry ${JSON.stringify(entry.name)} would replace the root directory`,
        );
      }
      this.#directoryMeta('', entry);
      this.#queueXattrs('', entry);
      return;
    }
    const parent = this.fs.resolve(parentOf(rel), true);
    const target = join(parent, base);
    if (this.#pending.size > 0 && this.#touchesPending(target)) {
      return this.#flush().then(() => this.#write(parent, target, entry));
    }
    return this.#write(parent, target, entry);
  }

  #write(parent: string, target: string, entry: TarEntry): void | Promise<void> {
    if (parent !== '') this.fs.mkdirAll(parent, (d) => this.#implicitDir(d));
    switch (entry.type) {
      case 'directory':
        return this.#directory(target, entry);
      case 'file':
        return this.#regular(target, entry);
      case 'symlink':
        return this.#symlink(target, entry);
      case 'hardlink':
        return this.#hardlink(target, entry);
      case 'char':
      case 'block':
      case 'fifo':
        return this.#special(target, entry);
    }
  }

  /** Whether `target` or one of its parents has batched work pending. */
  #touchesPending(target: string): boolean {
    let p = target;
    for (;;) {
      if (this.#pending.has(p)) return true;
      if (p === '') return false;
      p = parentOf(p);
    }
  }

  async #flush(): Promise<void> {
    if (this.#pending.size === 0 && this.#specials.size === 0 && this.#xattrs.size === 0) return;
    const root = this.fs.root;
    await this.#specials.flush(root);
    await this.#xattrs.flush(root, this.#xattrMode === 'best-effort');
    this.#pending.clear();
  }

  #markWritten(rel: string): void {
    this.#written.add(rel);
    let p = parentOf(rel);
    while (p !== '' && !this.#ancestors.has(p)) {
      this.#ancestors.add(p);
      p = parentOf(p);
    }
  }

  /**
   * Removes whatever is at `rel` (never following it). Batches are flushed
   * first when the removal could pull a directory from under them.
   */
  #remove(rel: string, st: Stats): void | Promise<void> {
    if (this.#pending.size > 0 && (st.isDirectory() || this.#pending.has(rel))) {
      return this.#flush().then(() => this.#removeNow(rel, st));
    }
    this.#removeNow(rel, st);
  }

  #removeNow(rel: string, st: Stats): void {
    const abs = this.fs.abs(rel);
    if (st.isDirectory()) {
      rmSync(abs, { recursive: true, force: true });
      this.fs.forget(rel);
      this.#dirMeta.delete(rel);
      const prefix = `${rel}/`;
      for (const k of this.#dirMeta.keys()) if (k.startsWith(prefix)) this.#dirMeta.delete(k);
    } else {
      unlinkSync(abs);
    }
  }

  /**
   * Creates `target` with `create`; if something is in the way, removes it
   * (unless `keep` accepts it) and tries once more.
   */
  #create(target: string, create: () => void, keep?: (st: Stats) => boolean): void | Promise<void> {
    try {
      create();
      return;
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
    }
    const st = this.fs.lstat(target);
    if (st === undefined) {
      create();
      return;
    }
    if (keep?.(st)) return;
    const removed = this.#remove(target, st);
    if (removed instanceof Promise) return removed.then(create);
    create();
  }

  #directory(target: string, entry: TarEntry): void | Promise<void> {
    const done = () => {
      this.fs.knowDir(target);
      this.stats.directories++;
      if (this.#overlay && this.#whiteouts.has(target)) {
        // A directory replacing a lower one (whiteout + new dir in one layer)
        // must not merge with it.
        this.#whiteouts.delete(target);
        this.#queueXattrs(target, undefined, [[OVERLAY_OPAQUE_XATTR, Buffer.from('y')]]);
      }
      this.#directoryMeta(target, entry);
      this.#queueXattrs(target, entry);
      this.#markWritten(target);
    };
    const r = this.#create(
      target,
      () => mkdirSync(this.fs.abs(target), 0o700),
      (st) => st.isDirectory(),
    );
    if (r instanceof Promise) return r.then(done);
    done();
  }

  #directoryMeta(rel: string, entry: TarEntry): void {
    if (this.#owners) lchownSync(this.fs.abs(rel), entry.uid, entry.gid);
    this.#dirMeta.set(rel, { mode: entry.mode, mtime: entry.mtime });
  }

  #regular(target: string, entry: TarEntry): void | Promise<void> {
    // Most files are created with their final mode, which saves an fchmod
    // each (one call in six per file). The others (setuid, setgid, sticky,
    // or bits the umask would strip) start private and get their mode
    // after the chown. An O_CREAT descriptor is writable whatever the mode.
    const final = (entry.mode & 0o7000) === 0 && (entry.mode & this.#umask) === 0;
    const open = () => {
      this.#fd = openSync(this.fs.abs(target), O_CREATE_FILE, final ? entry.mode : 0o600);
      this.#file = { rel: target, entry, chmod: !final };
      this.#whiteouts.delete(target);
      this.stats.files++;
      this.#markWritten(target);
    };
    return this.#create(target, open);
  }

  #symlink(target: string, entry: TarEntry): void | Promise<void> {
    const done = () => {
      const abs = this.fs.abs(target);
      if (this.#owners) lchownSync(abs, entry.uid, entry.gid);
      lutimesSync(abs, entry.mtime, entry.mtime);
      this.#whiteouts.delete(target);
      this.stats.symlinks++;
      this.#queueXattrs(target, entry);
      this.#markWritten(target);
    };
    const r = this.#create(target, () => symlinkSync(entry.linkname, this.fs.abs(target)));
    if (r instanceof Promise) return r.then(done);
    done();
  }

  #hardlink(target: string, entry: TarEntry): void | Promise<void> {
    const linkRel = cleanEntryName(
      entry.linkname,
      this.#policy,
      `hard link target of ${JSON.stringify(entry.name)}`,
    );
    if (linkRel === '') {
      throw new ImageError(
        'EIMAGE_INVALID',
        `hard link ${JSON.stringify(entry.name)} points at the root directory`,
      );
    }
    const source = this.fs.resolve(linkRel, false);
    if (this.#pending.has(source)) {
      // The source is a device/FIFO still in a batch: create it first.
      return this.#flush().then(() => this.#hardlink(target, entry));
    }
    const st = this.fs.lstat(source);
    if (st === undefined) {
      if (this.#overlay) return this.#copyUp(target, linkRel, entry);
      throw new ImageError(
        'EIMAGE_INVALID',
        `hard link ${JSON.stringify(entry.name)} → ${JSON.stringify(entry.linkname)}: the target does not exist in the root filesystem`,
      );
    }
    if (st.isDirectory()) {
      throw new ImageError(
        'EIMAGE_INVALID',
        `hard link ${JSON.stringify(entry.name)} points at a directory`,
      );
    }
    if (source === target) {
      this.#markWritten(target);
      return;
    }
    const done = () => {
      this.#whiteouts.delete(target);
      this.stats.hardlinks++;
      this.#markWritten(target);
    };
    const r = this.#create(target, () => linkSync(this.fs.abs(source), this.fs.abs(target)));
    if (r instanceof Promise) return r.then(done);
    done();
  }

  /**
   * Overlay mode: a hard link to a file of a lower layer cannot be a link
   * (the layers are separate directories); the file is copied up instead.
   */
  #copyUp(target: string, linkRel: string, entry: TarEntry): void | Promise<void> {
    for (const lower of this.#lowers) {
      const resolved = lower.resolve(linkRel, false);
      const st = lower.lstat(resolved);
      if (st === undefined) continue;
      if (!st.isFile()) break;
      const done = () => {
        const abs = this.fs.abs(target);
        if (this.#owners) lchownSync(abs, st.uid, st.gid);
        chmodSync(abs, st.mode & 0o7777);
        utimesSync(abs, st.atime, st.mtime);
        this.stats.hardlinks++;
        this.#markWritten(target);
      };
      const r = this.#create(target, () =>
        copyFileSync(lower.abs(resolved), this.fs.abs(target), constants.COPYFILE_EXCL),
      );
      if (r instanceof Promise) return r.then(done);
      done();
      return;
    }
    throw new ImageError(
      'EIMAGE_INVALID',
      `hard link ${JSON.stringify(entry.name)} → ${JSON.stringify(entry.linkname)}: the target is not in this or a lower layer`,
    );
  }

  #special(target: string, entry: TarEntry): void | Promise<void> {
    if (entry.type !== 'fifo' && !this.#devices) {
      this.stats.skippedDevices++;
      return;
    }
    const queue = () => {
      this.#specials.add({
        name: target,
        type: entry.type as 'char' | 'block' | 'fifo',
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        mtime: Math.floor(entry.mtime),
        devmajor: entry.devmajor,
        devminor: entry.devminor,
      });
      this.#pending.add(target);
      this.#whiteouts.delete(target);
      this.stats.specials++;
      this.#queueXattrs(target, entry);
      this.#markWritten(target);
    };
    const st = this.fs.lstat(target);
    if (st !== undefined) {
      const r = this.#remove(target, st);
      if (r instanceof Promise) return r.then(queue);
    }
    queue();
  }

  #queueXattrs(rel: string, entry: TarEntry | undefined, extra?: [string, Buffer][]): void {
    const attrs: [string, Buffer][] = extra ? [...extra] : [];
    if (entry?.xattrs !== undefined && this.#xattrMode !== false) {
      for (const [name, value] of entry.xattrs) {
        if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) continue;
        if (!this.#allXattrs && !name.startsWith('user.')) continue;
        attrs.push([name, value]);
      }
    }
    if (attrs.length === 0) return;
    this.#xattrs.add(rel, attrs);
    this.#pending.add(rel);
  }

  /** Metadata for a parent directory the archive did not list. */
  #implicitDir(rel: string): void {
    this.stats.directories++;
    for (const lower of this.#lowers) {
      if (lower.resolve(rel, false) !== rel) continue;
      const st = lower.lstat(rel);
      if (st === undefined) continue;
      if (st.isDirectory()) {
        if (this.#owners) lchownSync(this.fs.abs(rel), st.uid, st.gid);
        this.#dirMeta.set(rel, { mode: st.mode & 0o7777, mtime: st.mtimeMs / 1000 });
      }
      return;
    }
  }

  // ----- whiteouts -----

  #whiteout(rel: string, entry: TarEntry): void | Promise<void> {
    const base = baseOf(rel);
    const dirRel = parentOf(rel);
    if (entry.type === 'directory') {
      throw new ImageError(
        'EIMAGE_INVALID',
        `whiteout ${JSON.stringify(entry.name)} is a directory`,
      );
    }
    if (base === OPAQUE_WHITEOUT) {
      this.stats.whiteouts++;
      const dir = this.fs.resolve(dirRel, true);
      if (this.#pending.size > 0 && this.#touchesPending(dir)) {
        return this.#flush().then(() => this.#opaque(dir));
      }
      return this.#opaque(dir);
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
      // Other `.wh..wh.*` names are aufs bookkeeping (e.g. `.wh..wh.plnk`): not content.
      return;
    }
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') {
      throw new ImageError('EIMAGE_INVALID', `invalid whiteout ${JSON.stringify(entry.name)}`);
    }
    this.stats.whiteouts++;
    const dir = this.fs.resolve(dirRel, true);
    const target = join(dir, name);
    if (this.#overlay) return this.#overlayWhiteout(dir, target);
    if (this.#written.has(target) || this.#ancestors.has(target)) {
      // Written by this layer: a whiteout hides lower content only.
      const st = this.fs.lstat(target);
      if (st?.isDirectory()) return this.#purge(target);
      return;
    }
    if (dir !== '' && !this.fs.isKnownDir(dir)) {
      const dst = this.fs.lstat(dir);
      if (dst === undefined || !dst.isDirectory()) return;
      this.fs.knowDir(dir);
    }
    const st = this.fs.lstat(target);
    if (st === undefined) return;
    return this.#remove(target, st);
  }

  #opaque(dir: string): void | Promise<void> {
    if (dir !== '') this.fs.mkdirAll(dir, (d) => this.#implicitDir(d));
    if (this.#overlay) {
      this.#queueXattrs(dir, undefined, [[OVERLAY_OPAQUE_XATTR, Buffer.from('y')]]);
      return;
    }
    return this.#purge(dir);
  }

  /** Removes everything under `dir` that this layer did not write. */
  #purge(dir: string): void | Promise<void> {
    const names = readdirSync(this.fs.abs(dir));
    const work: (() => void | Promise<void>)[] = [];
    for (const name of names) {
      const child = join(dir, name);
      const st = this.fs.lstat(child);
      if (st === undefined) continue;
      if (this.#written.has(child) || this.#ancestors.has(child)) {
        if (st.isDirectory()) work.push(() => this.#purge(child));
        continue;
      }
      work.push(() => this.#remove(child, st));
    }
    return runAll(work);
  }

  #overlayWhiteout(dir: string, target: string): void | Promise<void> {
    if (dir !== '') this.fs.mkdirAll(dir, (d) => this.#implicitDir(d));
    const st = this.fs.lstat(target);
    if (this.#written.has(target) || this.#ancestors.has(target)) {
      // This layer's own entry stays; as a directory it must stop merging with lower ones.
      if (st?.isDirectory())
        this.#queueXattrs(target, undefined, [[OVERLAY_OPAQUE_XATTR, Buffer.from('y')]]);
      return;
    }
    const queue = () => {
      this.#specials.add({
        name: target,
        type: 'char',
        mode: 0,
        uid: 0,
        gid: 0,
        devmajor: 0,
        devminor: 0,
      });
      this.#pending.add(target);
      this.#whiteouts.add(target);
    };
    if (st !== undefined) {
      const r = this.#remove(target, st);
      if (r instanceof Promise) return r.then(queue);
    }
    queue();
  }
}

/** Runs steps in order, going asynchronous only when a step does. */
function runAll(steps: (() => void | Promise<void>)[]): void | Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const r = (steps[i] as () => void | Promise<void>)();
    if (r instanceof Promise) {
      return r.then(() => runAll(steps.slice(i + 1)));
    }
  }
}

/**
 * Applies an uncompressed tar stream to `root` (which must exist). Rejects
 * on the first error; what was written until then stays (callers unpack into
 * directories they can discard).
 */
export async function applyLayer(
  tar: Readable,
  root: string,
  options: ApplyOptions = {},
): Promise<ApplyStats> {
  const applier = new LayerApplier(root, options);
  try {
    options.signal?.throwIfAborted();
    const parser = new TarParser(applier);
    if (options.signal) await pipeline(tar, parser, { signal: options.signal });
    else await pipeline(tar, parser);
    return await applier.finish();
  } catch (error) {
    applier.abort();
    if (options.signal?.aborted) throw options.signal.reason;
    throw error;
  }
}
