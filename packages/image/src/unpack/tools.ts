/**
 * What Node cannot do by itself, done in batches by standard tools:
 *
 * - device nodes and FIFOs (no mknod/mkfifo in node:fs): GNU `tar -x` of a
 *   generated header-only archive, one process per batch;
 * - extended attributes (no setxattr in node:fs), including the overlayfs
 *   opaque marker `trusted.overlay.opaque`: `setfattr -h --restore=-` (Debian
 *   package `attr`), one process per batch.
 *
 * Both run with the root as working directory on root-relative paths. The
 * unpacker flushes a batch before it removes any directory or replaces a path
 * with pending work, so every parent on a batched path is, when the tool
 * runs, the real directory the secure resolver checked: the tools never meet
 * a symlink on the way (and `-h` keeps setfattr off a final symlink).
 */
import { spawn } from 'node:child_process';
import { ImageError } from '../errors.js';
import { END_OF_ARCHIVE, encodeHeader, type HeaderSpec } from '../tar/header.js';

interface RunResult {
  code: number | null;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, input: Buffer): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(
          new ImageError(
            'EIMAGE_IO',
            `${command} is not installed${command === 'setfattr' ? ' (Debian/Ubuntu package "attr"); it is needed to set extended attributes' : ''}`,
            { cause: error },
          ),
        );
      } else reject(error);
    });
    child.stdin.on('error', () => {
      // The tool failed before reading everything; its exit status says why.
    });
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

/** Device nodes and FIFOs, created by GNU tar. */
export class SpecialFiles {
  #headers: Buffer[] = [];
  readonly #owners: boolean;

  constructor(owners: boolean) {
    this.#owners = owners;
  }

  get size(): number {
    return this.#headers.length;
  }

  add(spec: HeaderSpec & { type: 'char' | 'block' | 'fifo' }): void {
    this.#headers.push(encodeHeader(spec));
  }

  async flush(root: string): Promise<void> {
    if (this.#headers.length === 0) return;
    const input = Buffer.concat([...this.#headers, END_OF_ARCHIVE]);
    const count = this.#headers.length;
    this.#headers = [];
    const args = ['-x', '-f', '-', '--numeric-owner', '-p', '--no-recursion'];
    args.push(this.#owners ? '--same-owner' : '--no-same-owner');
    const { code, stderr } = await run('tar', args, root, input);
    if (code !== 0) {
      throw new ImageError(
        'EIMAGE_IO',
        `creating ${count} device/FIFO node(s) in ${root} failed: ${stderr.trim() || `tar exited with ${code}`}`,
      );
    }
  }
}

/** getfattr/setfattr dump quoting: every byte outside printable ASCII, '\\' and '=' as \ooo. */
function quote(value: string): string {
  let out = '';
  for (const b of Buffer.from(value, 'utf8')) {
    if (b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d)
      out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/** Extended attributes, set by setfattr --restore. */
export class Xattrs {
  #dump: string[] = [];
  #count = 0;

  get size(): number {
    return this.#count;
  }

  add(rel: string, attrs: Iterable<[string, Buffer]>): void {
    const lines = [`# file: ${quote(rel === '' ? '.' : rel)}`];
    for (const [name, value] of attrs) {
      lines.push(`${quote(name)}=0s${value.toString('base64')}`);
      this.#count++;
    }
    if (lines.length > 1) this.#dump.push(`${lines.join('\n')}\n`);
  }

  async flush(root: string, bestEffort: boolean): Promise<void> {
    if (this.#dump.length === 0) return;
    const input = Buffer.from(this.#dump.join('\n'));
    const count = this.#count;
    this.#dump = [];
    this.#count = 0;
    const { code, stderr } = await run('setfattr', ['-h', '--restore=-'], root, input);
    if (code !== 0 && !bestEffort) {
      throw new ImageError(
        'EIMAGE_IO',
        `setting ${count} extended attribute(s) in ${root} failed: ${stderr.trim() || `setfattr exited with ${code}`}`,
      );
    }
  }
}

/** Whether `setfattr` can be run (for callers that want to check up front). */
export async function haveSetfattr(): Promise<boolean> {
  try {
    const { code } = await run('setfattr', ['--version'], '/', Buffer.alloc(0));
    return code === 0;
  } catch {
    return false;
  }
}
