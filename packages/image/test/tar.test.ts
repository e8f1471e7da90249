import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  END_OF_ARCHIVE,
  encodeHeader,
  HeaderDecoder,
  parsePax,
  type TarEntry,
} from '../src/tar/header.js';
import { TarParser } from '../src/tar/parser.js';
import { tarLayer, tempDir, tools } from './helpers.js';

async function entries(
  tar: Buffer,
  chunk = 1 << 20,
  { async = false } = {},
): Promise<(TarEntry & { data: string })[]> {
  const out: (TarEntry & { data: string })[] = [];
  let current: (TarEntry & { data: string }) | undefined;
  // Asynchronous handlers take the parser's other code path (resuming after a promise).
  const later = (): void | Promise<void> =>
    async ? new Promise((r) => setImmediate(r)) : undefined;
  const parser = new TarParser({
    entry: (e) => {
      current = { ...e, data: '' };
      out.push(current);
      return later();
    },
    data: (c) => {
      if (current) current.data += c.toString('latin1');
    },
    entryEnd: later,
  });
  const pieces: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) pieces.push(tar.subarray(i, i + chunk));
  await pipeline(Readable.from(pieces), parser);
  return out;
}

describe('tar parser', () => {
  it('reads what tar-stream writes, whatever the chunking', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const tar = await tarLayer([
      { name: 'dir/', type: 'directory', mode: 0o750, uid: 7, gid: 8 },
      { name: 'dir/file', content: 'hello world', mode: 0o4755 },
      { name: long, content: 'x'.repeat(1000) },
      { name: 'sym', type: 'symlink', linkname: 'dir/file' },
      { name: 'hard', type: 'link', linkname: 'dir/file' },
      { name: 'fifo', type: 'fifo' },
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
    ]);
    for (const chunk of [1, 7, 511, 512, 513, 100000]) {
      const got = await entries(tar, chunk);
      expect(got.map((e) => [e.name, e.type])).toEqual([
        ['dir/', 'directory'],
        ['dir/file', 'file'],
        [long, 'file'],
        ['sym', 'symlink'],
        ['hard', 'hardlink'],
        ['fifo', 'fifo'],
        ['null', 'char'],
      ]);
      expect(got[0]).toMatchObject({ mode: 0o750, uid: 7, gid: 8 });
      expect(got[1]).toMatchObject({ data: 'hello world', mode: 0o4755, size: 11 });
      expect(got[2]?.data).toBe('x'.repeat(1000));
      expect(got[3]?.linkname).toBe('dir/file');
      expect(got[6]).toMatchObject({ devmajor: 1, devminor: 3 });
    }
  });

  it('reads GNU long names and binary xattrs written by GNU tar', async () => {
    if (!tools.setfattr) return;
    const dir = tempDir();
    const deep = join(dir, 'a'.repeat(90), 'b'.repeat(90));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'c'.repeat(80)), 'deep');
    writeFileSync(join(dir, 'x'), 'x');
    execFileSync('setfattr', ['-n', 'user.bin', '-v', '0x00ff10', join(dir, 'x')]);
    const gnu = execFileSync('tar', ['-C', dir, '--format=gnu', '-cf', '-', '.']);
    const names = (await entries(gnu)).map((e) => e.name);
    expect(names).toContain(`./${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(80)}`);
    const pax = execFileSync('tar', [
      '-C',
      dir,
      '--format=posix',
      '--xattrs',
      '--xattrs-include=*',
      '-cf',
      '-',
      './x',
    ]);
    const [x] = (await entries(pax)).filter((e) => e.name === './x');
    expect(x?.xattrs?.get('user.bin')).toEqual(Buffer.from([0x00, 0xff, 0x10]));
  });

  it('reads base-256 numbers and fractional pax mtimes', () => {
    const block = encodeHeader({
      name: 'big',
      type: 'file',
      mode: 0o644,
      uid: 0o77777777 + 1,
      mtime: 1.5,
    });
    const d = new HeaderDecoder();
    const first = d.header(block.subarray(0, 512));
    expect(first.kind).toBe('meta');
    if (first.kind !== 'meta') return;
    d.meta(block.subarray(512, 512 + first.size));
    const r = d.header(block.subarray(block.length - 512));
    expect(r.kind).toBe('entry');
    if (r.kind === 'entry') expect(r.entry).toMatchObject({ uid: 0o77777777 + 1, mtime: 1.5 });
  });

  it('writes headers GNU tar reads (long and non-ASCII names, devices)', () => {
    const name = `ü/${'n'.repeat(150)}`;
    const tar = Buffer.concat([
      encodeHeader({ name, type: 'fifo', mode: 0o600 }),
      encodeHeader({ name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }),
      END_OF_ARCHIVE,
    ]);
    const listing = execFileSync('tar', ['-tvf', '-'], { input: tar }).toString();
    expect(listing).toContain(name);
    expect(listing).toMatch(/^crw-rw-rw- 0\/0 +1,3 .* dev\/null$/m);
  });

  it('rejects corrupt headers, truncation and missing end markers', async () => {
    const tar = await tarLayer([{ name: 'a', content: 'abc' }]);
    const corrupt = Buffer.from(tar);
    corrupt[10] = 0x41; // name byte: checksum no longer matches
    await expect(entries(corrupt)).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
      message: /checksum/,
    });
    await expect(entries(tar.subarray(0, 514))).rejects.toThrow(/truncated/);
    await expect(entries(Buffer.alloc(0))).rejects.toThrow(/not a tar archive/);
    await expect(
      entries(Buffer.from('this is not a tar archive at all'.repeat(20))),
    ).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
    });
  });

  it('accepts archives that end at an entry boundary without the end-of-archive marker', async () => {
    const files = [
      { name: 'dir/', type: 'directory' as const },
      { name: 'dir/a', content: 'abc' },
      { name: 'dir/block', content: 'b'.repeat(1024) },
    ];
    const marked = await tarLayer(files);
    // what tar-stream writes, minus its two zero blocks: the last entry's padding is the end
    const bare = await tarLayer(files, { end: false });
    expect(bare.length).toBe(marked.length - 1024);
    const lastIsDir = await tarLayer([...files, { name: 'empty/', type: 'directory' }], {
      end: false,
    });
    const oneZeroBlock = marked.subarray(0, marked.length - 512);
    const expected = [
      ['dir/', ''],
      ['dir/a', 'abc'],
      ['dir/block', 'b'.repeat(1024)],
    ];
    for (const chunk of [1, 100, 512, 1 << 20]) {
      for (const async of [false, true]) {
        for (const tar of [bare, oneZeroBlock]) {
          const got = await entries(tar, chunk, { async });
          expect(got.map((e) => [e.name, e.data])).toEqual(expected);
        }
        const dirs = await entries(lastIsDir, chunk, { async });
        expect(dirs.map((e) => e.name)).toEqual(['dir/', 'dir/a', 'dir/block', 'empty/']);
      }
    }
    // GNU tar agrees
    expect(execFileSync('tar', ['-tf', '-'], { input: bare }).toString()).toBe(
      'dir/\ndir/a\ndir/block\n',
    );
  });

  it('accepts archives that end after an entry’s content, before or inside its padding (unclosed Go writers)', async () => {
    const tar = await tarLayer([
      { name: 'first', content: 'x'.repeat(700) },
      { name: 'second', content: 'hello' },
    ]);
    // second: content 2048..2053, padding to 2560
    for (const length of [2053, 2300, 2559]) {
      for (const chunk of [1, 512, 1 << 20]) {
        const got = await entries(tar.subarray(0, length), chunk);
        expect(got.map((e) => [e.name, e.data])).toEqual([
          ['first', 'x'.repeat(700)],
          ['second', 'hello'],
        ]);
      }
    }
  });

  it('reports archives that stop inside a header, content or before a pax entry', async () => {
    const tar = await tarLayer([
      { name: 'first', content: 'x'.repeat(700) },
      { name: 'second', content: 'hello' },
    ]);
    // first: header 0..512, content 512..1212, padding to 1536; second: header 1536..2048,
    // content 2048..2053, padding to 2560
    const cases: [number, RegExp][] = [
      [
        100,
        /^truncated tar archive: stream ended inside the header of entry 1 \(100 of 512 bytes\)$/,
      ],
      [1000, /inside the content of entry 1 \("first", 700 bytes\), 212 bytes short$/],
      [1536 + 511, /inside the header of entry 2 \(511 of 512 bytes\) \(after "first"\)$/],
      [2050, /inside the content of entry 2 \("second", 5 bytes\), 3 bytes short$/],
    ];
    for (const chunk of [1, 512, 1 << 20]) {
      for (const async of [false, true]) {
        for (const [length, message] of cases) {
          await expect(entries(tar.subarray(0, length), chunk, { async })).rejects.toMatchObject({
            code: 'EIMAGE_INVALID',
            message,
          });
        }
      }
    }
    // a pax header whose entry is missing: the long name would be lost silently
    const long = `${'l'.repeat(150)}/file`;
    const paxed = Buffer.concat([
      encodeHeader({ name: 'ok', type: 'file', mode: 0o644 }),
      encodeHeader({ name: long, type: 'file', mode: 0o644 }),
    ]);
    const withoutEntry = paxed.subarray(0, paxed.length - 512);
    await expect(entries(withoutEntry)).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
      message:
        /between the pax or GNU long-name header of entry 2 and the entry itself \(after "ok"\)/,
    });
    expect((await entries(paxed)).map((e) => e.name)).toEqual(['ok', long]);
    // 'ok' is one block, the pax header another, then the pax records
    await expect(entries(withoutEntry.subarray(0, 1024 + 100))).rejects.toThrow(
      /inside the pax or GNU long-name header of entry 2 \(after "ok"\)/,
    );
    await expect(entries(withoutEntry.subarray(512))).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
      message: /between the pax or GNU long-name header of entry 1 and the entry itself$/,
    });
  });

  it('refuses non-UTF-8 names and sparse files', async () => {
    const tar = Buffer.concat([
      encodeHeader({ name: 'x', type: 'file', mode: 0o644 }),
      END_OF_ARCHIVE,
    ]);
    tar[0] = 0xff;
    // fix the checksum after changing the name byte
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i] as number;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await expect(entries(tar)).rejects.toThrow(/UTF-8/);
    const sparse = Buffer.concat([
      encodeHeader({
        name: 's',
        type: 'file',
        mode: 0o644,
        pax: new Map([['GNU.sparse.major', Buffer.from('1')]]),
      }),
      END_OF_ARCHIVE,
    ]);
    await expect(entries(sparse)).rejects.toThrow(/sparse/);
  });

  it('parses pax records binary-safe', () => {
    const value = Buffer.from([0, 10, 255, 61, 32]);
    const body = Buffer.concat([Buffer.from(' SCHILY.xattr.user.a='), value, Buffer.from('\n')]);
    const record = Buffer.concat([Buffer.from(String(body.length + 2)), body]);
    expect(parsePax(record).get('SCHILY.xattr.user.a')).toEqual(value);
    expect(() => parsePax(Buffer.from('99 path=x\n'))).toThrow(/length/);
  });
});

describe('tar parser scheduling', () => {
  const handlerLog = () => {
    const seen: string[] = [];
    const parser = new TarParser({
      entry: (e) => {
        seen.push(e.name);
      },
      data: () => {},
      entryEnd: () => {},
    });
    return { seen, parser };
  };

  it('handles a chunk after the write that brought it has returned', async () => {
    const tar = await tarLayer([{ name: 'a', content: 'x' }]);
    const { seen, parser } = handlerLog();
    let calledBack = false;
    parser.write(tar, () => {
      calledBack = true;
    });
    // A decompressor writing here gets control back before any file work is done.
    expect(seen).toEqual([]);
    expect(calledBack).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['a']);
    expect(calledBack).toBe(true);
  });

  it('drops a chunk still pending when it is destroyed, and still calls back', async () => {
    const tar = await tarLayer([{ name: 'a', content: 'x' }]);
    const { seen, parser } = handlerLog();
    parser.on('error', () => {});
    const calledBack = new Promise<unknown>((r) => parser.write(tar, r));
    parser.destroy();
    await calledBack;
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
  });
});
