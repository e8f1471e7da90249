/**
 * Tar headers (POSIX ustar + pax, GNU long names, base-256 numbers), decoded
 * binary-safe: pax values stay bytes so that binary xattrs such as
 * `security.capability` survive, and names must be valid UTF-8 (a name that
 * is not is refused rather than silently mangled).
 *
 * Shared by the streaming parser (`parser.ts`, layers) and the random-access
 * index (`archive.ts`, oci-archive and docker-archive files).
 */
import { ImageError } from '../errors.js';

export const BLOCK = 512;

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char'
  | 'block'
  | 'directory'
  | 'fifo';

export interface TarEntry {
  /** The entry's path exactly as recorded (after pax / GNU long-name overrides). */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow the header (0 for everything but files). */
  size: number;
  /** Seconds since the epoch, possibly fractional (pax). */
  mtime: number;
  /** Symlink target or hard link source path. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from pax `SCHILY.xattr.*` / `LIBARCHIVE.xattr.*` records. */
  xattrs: Map<string, Buffer> | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ImageError(
      'EIMAGE_INVALID',
      `tar ${what} is not valid UTF-8 (${JSON.stringify(Buffer.from(bytes).toString('latin1'))}); such names are not supported`,
    );
  }
}

function cstring(block: Uint8Array, offset: number, length: number): Uint8Array {
  let end = offset;
  const limit = offset + length;
  while (end < limit && block[end] !== 0) end++;
  return block.subarray(offset, end);
}

/** A numeric header field: octal text, or GNU base-256 when the high bit is set. */
export function decodeNumber(block: Uint8Array, offset: number, length: number): number {
  const first = block[offset] as number;
  if (first & 0x80) {
    // Base-256, two's complement; only non-negative values make sense here.
    if (first === 0xff) throw new ImageError('EIMAGE_INVALID', 'negative number in tar header');
    let value = first & 0x7f;
    for (let i = offset + 1; i < offset + length; i++) {
      value = value * 256 + (block[i] as number);
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new ImageError('EIMAGE_INVALID', 'number too large in tar header');
      }
    }
    return value;
  }
  let i = offset;
  const end = offset + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i] as number;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) {
      throw new ImageError('EIMAGE_INVALID', 'invalid octal number in tar header');
    }
    value = value * 8 + (c - 0x30);
    digits++;
  }
  return digits === 0 ? 0 : value;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function checksumOk(block: Uint8Array): boolean {
  const recorded = decodeNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return recorded === unsigned || recorded === signed;
}

/** Parses pax extended header records ("%d %s=%s\n"), keeping values as bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    // A NUL-padded tail is tolerated.
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    if (space === -1) throw new ImageError('EIMAGE_INVALID', 'malformed pax record');
    const length = Number(data.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - pos + 1 || pos + length > data.length) {
      throw new ImageError('EIMAGE_INVALID', 'malformed pax record length');
    }
    const record = data.subarray(space + 1, pos + length);
    if (record[record.length - 1] !== 0x0a) {
      throw new ImageError('EIMAGE_INVALID', 'pax record does not end with a newline');
    }
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new ImageError('EIMAGE_INVALID', 'pax record without "="');
    const key = decodeName(record.subarray(0, eq), 'pax key');
    records.set(key, Buffer.from(record.subarray(eq + 1, record.length - 1)));
    pos += length;
  }
  return records;
}

function paxNumber(value: Buffer, key: string): number {
  const text = value.toString('latin1');
  if (!/^\d+$/.test(text)) throw new ImageError('EIMAGE_INVALID', `invalid pax ${key} ${text}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ImageError('EIMAGE_INVALID', `pax ${key} too large`);
  return n;
}

function paxTime(value: Buffer): number {
  const text = value.toString('latin1');
  if (!/^-?\d+(\.\d+)?$/.test(text))
    throw new ImageError('EIMAGE_INVALID', `invalid pax mtime ${text}`);
  return Number(text);
}

/** The result of feeding one 512-byte header block to a HeaderDecoder. */
export type HeaderResult =
  | { kind: 'entry'; entry: TarEntry }
  /** A metadata header: read `size` bytes (plus padding) and pass them to `meta()`. */
  | { kind: 'meta'; size: number }
  /** A header whose content is to be skipped (volume labels). */
  | { kind: 'skip'; size: number }
  | { kind: 'end' };

/** The limit on the size of one pax / long-name header (xattrs included). */
export const MAX_META_SIZE = 16 * 1024 * 1024;

/**
 * Decodes header blocks one at a time, carrying pax and GNU long-name state
 * from metadata headers to the entry they describe.
 */
export class HeaderDecoder {
  #pending: 'pax' | 'global' | 'longname' | 'longlink' | undefined;
  #pax: Map<string, Buffer> | undefined;
  #global: Map<string, Buffer> | undefined;
  #longName: string | undefined;
  #longLink: string | undefined;

  /**
   * Whether a pax or GNU long-name header has been read whose entry has not
   * followed yet: an archive that stops there lost that entry. (Global pax
   * headers apply to whatever follows, possibly nothing, so they don't count.)
   */
  get awaitingEntry(): boolean {
    return (
      (this.#pending !== undefined && this.#pending !== 'global') ||
      this.#pax !== undefined ||
      this.#longName !== undefined ||
      this.#longLink !== undefined
    );
  }

  header(block: Uint8Array): HeaderResult {
    if (isZeroBlock(block)) return { kind: 'end' };
    if (!checksumOk(block)) {
      throw new ImageError(
        'EIMAGE_INVALID',
        'invalid tar header checksum (not a tar archive, or corrupt)',
      );
    }
    const typeflag = block[156] as number;
    const size = decodeNumber(block, 124, 12);
    const flag = String.fromCharCode(typeflag);
    switch (flag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K':
        if (size > MAX_META_SIZE) {
          throw new ImageError('EIMAGE_INVALID', `tar metadata header too large (${size} bytes)`);
        }
        this.#pending =
          flag === 'x' ? 'pax' : flag === 'g' ? 'global' : flag === 'L' ? 'longname' : 'longlink';
        return { kind: 'meta', size };
      case 'V':
        return { kind: 'skip', size };
      case 'S':
        throw new ImageError('EIMAGE_INVALID', 'GNU sparse tar entries are not supported');
      case 'M':
      case 'N':
        throw new ImageError('EIMAGE_INVALID', `unsupported tar entry type "${flag}"`);
    }
    const entry = this.#entry(block, flag, size);
    return { kind: 'entry', entry };
  }

  /** The content of the metadata header announced by the last `header()` call. */
  meta(data: Buffer): void {
    const kind = this.#pending;
    this.#pending = undefined;
    switch (kind) {
      case 'pax': {
        const records = parsePax(data);
        this.#pax = this.#pax === undefined ? records : new Map([...this.#pax, ...records]);
        break;
      }
      case 'global': {
        const records = parsePax(data);
        this.#global = new Map([...(this.#global ?? []), ...records]);
        break;
      }
      case 'longname':
        this.#longName = decodeName(cstring(data, 0, data.length), 'long name');
        break;
      case 'longlink':
        this.#longLink = decodeName(cstring(data, 0, data.length), 'long link name');
        break;
      default:
        throw new Error('HeaderDecoder.meta() without a metadata header');
    }
  }

  #entry(block: Uint8Array, flag: string, rawSize: number): TarEntry {
    const magic = Buffer.from(block.subarray(257, 263)).toString('latin1');
    let name = decodeName(cstring(block, 0, 100), 'name');
    if (magic === 'ustar\0') {
      const prefix = cstring(block, 345, 155);
      if (prefix.length > 0) name = `${decodeName(prefix, 'name prefix')}/${name}`;
    }
    let linkname = decodeName(cstring(block, 157, 100), 'link name');
    let size = rawSize;
    let uid = decodeNumber(block, 108, 8);
    let gid = decodeNumber(block, 116, 8);
    let mtime = decodeNumber(block, 136, 12);
    const mode = decodeNumber(block, 100, 8) & 0o7777;
    const devmajor = decodeNumber(block, 329, 8);
    const devminor = decodeNumber(block, 337, 8);

    if (this.#longName !== undefined) name = this.#longName;
    if (this.#longLink !== undefined) linkname = this.#longLink;
    this.#longName = undefined;
    this.#longLink = undefined;

    let xattrs: Map<string, Buffer> | undefined;
    const records =
      this.#global === undefined ? this.#pax : new Map([...this.#global, ...(this.#pax ?? [])]);
    this.#pax = undefined;
    if (records !== undefined) {
      for (const [key, value] of records) {
        if (key === 'path') name = decodeName(value, 'pax path');
        else if (key === 'linkpath') linkname = decodeName(value, 'pax linkpath');
        else if (key === 'size') size = paxNumber(value, key);
        else if (key === 'uid') uid = paxNumber(value, key);
        else if (key === 'gid') gid = paxNumber(value, key);
        else if (key === 'mtime') mtime = paxTime(value);
        else if (key.startsWith('SCHILY.xattr.')) {
          xattrs ??= new Map();
          xattrs.set(key.slice('SCHILY.xattr.'.length), value);
        } else if (key.startsWith('LIBARCHIVE.xattr.')) {
          xattrs ??= new Map();
          const xname = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
          xattrs.set(xname, Buffer.from(value.toString('latin1'), 'base64'));
        } else if (key.startsWith('GNU.sparse.')) {
          throw new ImageError('EIMAGE_INVALID', 'GNU sparse tar entries are not supported');
        }
      }
    }

    let type: TarEntryType;
    switch (flag) {
      case '1':
        type = 'hardlink';
        break;
      case '2':
        type = 'symlink';
        break;
      case '3':
        type = 'char';
        break;
      case '4':
        type = 'block';
        break;
      case '5':
        type = 'directory';
        break;
      case '6':
        type = 'fifo';
        break;
      default:
        // '0', '\0', '7' (contiguous) and, as POSIX asks, unknown types: regular files.
        // Old tars mark directories only with a trailing slash.
        type = flag === '\0' && name.endsWith('/') ? 'directory' : 'file';
    }
    // Only regular files carry content (POSIX: readers ignore the size of the
    // header-only types, as Go's archive/tar does).
    if (type !== 'file') size = 0;
    return { name, type, mode, uid, gid, size, mtime, linkname, devmajor, devminor, xattrs };
  }
}

/** Rounds a content size up to whole blocks. */
export function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

// ----- writing (headers only: the batched special-file helper and tests) -----

function writeString(block: Buffer, text: string, offset: number, length: number): boolean {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > length) return false;
  bytes.copy(block, offset);
  return true;
}

function writeOctal(block: Buffer, value: number, offset: number, length: number): void {
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) {
    // base-256
    let v = value;
    for (let i = offset + length - 1; i > offset; i--) {
      block[i] = v % 256;
      v = Math.floor(v / 256);
    }
    block[offset] = 0x80;
    return;
  }
  block.write(`${text}\0`, offset, 'latin1');
}

export interface HeaderSpec {
  name: string;
  type: TarEntryType;
  mode: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra pax records (binary-safe). */
  pax?: Map<string, Buffer>;
}

const TYPEFLAGS: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length)
    length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}

function rawHeader(spec: HeaderSpec, flag: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const mtime = Math.floor(spec.mtime ?? 0);
  writeString(block, spec.name, 0, 100);
  writeOctal(block, spec.mode & 0o7777, 100, 8);
  writeOctal(block, spec.uid ?? 0, 108, 8);
  writeOctal(block, spec.gid ?? 0, 116, 8);
  writeOctal(block, size, 124, 12);
  writeOctal(block, Math.max(0, mtime), 136, 12);
  block.write(flag, 156, 'latin1');
  writeString(block, spec.linkname ?? '', 157, 100);
  block.write('ustar\x0000', 257, 'latin1');
  writeOctal(block, spec.devmajor ?? 0, 329, 8);
  writeOctal(block, spec.devminor ?? 0, 337, 8);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] as number;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** The header block(s) of one entry (a pax header first when names are long or extras are given). */
export function encodeHeader(spec: HeaderSpec): Buffer {
  const size = spec.size ?? 0;
  const records: Buffer[] = [];
  const nameFits = Buffer.byteLength(spec.name) <= 100 && /^[\x20-\x7e]*$/.test(spec.name);
  const link = spec.linkname ?? '';
  const linkFits = Buffer.byteLength(link) <= 100 && /^[\x20-\x7e]*$/.test(link);
  if (!nameFits) records.push(paxRecord('path', Buffer.from(spec.name, 'utf8')));
  if (!linkFits) records.push(paxRecord('linkpath', Buffer.from(link, 'utf8')));
  if (spec.mtime !== undefined && !Number.isInteger(spec.mtime)) {
    records.push(paxRecord('mtime', Buffer.from(spec.mtime.toFixed(9), 'latin1')));
  }
  for (const [k, v] of spec.pax ?? []) records.push(paxRecord(k, v));
  const main = rawHeader(
    {
      ...spec,
      name: nameFits ? spec.name : 'pax-long-name',
      linkname: linkFits ? link : 'pax-long-link',
    },
    TYPEFLAGS[spec.type],
    size,
  );
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const paxHeader = rawHeader({ name: 'PaxHeader', type: 'file', mode: 0o644 }, 'x', data.length);
  return Buffer.concat([paxHeader, data, Buffer.alloc(padded(data.length) - data.length), main]);
}

/** The end-of-archive marker (two zero blocks). */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);
