import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type Config, defaultConfig } from '@ts-oci/spec';

export const BUSYBOX = '/bin/busybox';

/** A bundle with a busybox rootfs and the default config, edited by `edit`. */
export function busyboxBundle(edit: (c: Config) => void = () => {}): {
  dir: string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'tsoci-rt-'));
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root'])
    mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  for (const applet of [
    'sh',
    'echo',
    'cat',
    'ls',
    'sleep',
    'true',
    'false',
    'hostname',
    'id',
    'mkdir',
  ]) {
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  const config = defaultConfig({ rootless: false });
  config.root = { path: 'rootfs', readonly: false };
  if (config.process) {
    config.process.terminal = false;
    config.process.args = ['sh', '-c', 'exit 0'];
  }
  edit(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tempRoot(): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'tsoci-state-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

let n = 0;
export function uniqueId(prefix = 'rt'): string {
  n += 1;
  return `${prefix}-${process.pid}-${n}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Children of this process that exited and were never reaped. */
export function zombieChildren(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === process.pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** All of a stream as UTF-8 text, once it ends. */
export function readAll(stream: Readable | null): Promise<string> {
  if (!stream) throw new Error('no stream');
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      text += d;
    });
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}
