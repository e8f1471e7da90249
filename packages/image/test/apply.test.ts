import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { END_OF_ARCHIVE, encodeHeader, padded } from '../src/tar/header.js';
import { type ApplyOptions, applyLayer } from '../src/unpack/apply.js';
import { isRoot, standardLayers, tarDir, tarLayer, tempDir, tools } from './helpers.js';

async function apply(root: string, tar: Buffer, options: ApplyOptions = {}) {
  return applyLayer(Readable.from([tar]), root, options);
}

function getxattr(path: string, name: string): string | undefined {
  try {
    const out = execFileSync('getfattr', ['-h', '-n', name, '-e', 'hex', path], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    return /=(0x[0-9a-f]*)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

describe('applyLayer (rootfs mode)', () => {
  it('applies layers in order with whiteouts and opaque directories', async () => {
    const root = tempDir();
    const [l0, l1, l2] = await standardLayers();
    const s0 = await apply(root, l0 as Buffer);
    expect(s0.files).toBeGreaterThan(3);
    expect(readFileSync(join(root, 'data/a'), 'utf8')).toBe('a');
    const s1 = await apply(root, l1 as Buffer);
    expect(s1.whiteouts).toBe(2);
    expect(existsSync(join(root, 'data/a'))).toBe(false);
    expect(existsSync(join(root, 'data/.wh.a'))).toBe(false);
    expect(readFileSync(join(root, 'data/b'), 'utf8')).toBe('b');
    expect(readFileSync(join(root, 'data/keep/x'), 'utf8')).toBe('x');
    // opaque after its sibling: the sibling of the same layer survives, lower content goes
    expect(readdirSync(join(root, 'opq')).sort()).toEqual(['new']);
    expect(statSync(join(root, 'opq')).mode & 0o7777).toBe(0o750);
    const motd = statSync(join(root, 'etc/motd'));
    expect(motd.mode & 0o7777).toBe(0o600);
    if (isRoot) expect([motd.uid, motd.gid]).toEqual([1000, 1000]);
    expect(motd.mtimeMs).toBe(1_600_000_000_000);
    await apply(root, l2 as Buffer);
    expect(statSync(join(root, 'replace-me')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'replace-me/inside'), 'utf8')).toBe('in');
    expect(statSync(join(root, 'etc/motd-link')).ino).toBe(motd.ino);
    expect(readlinkSync(join(root, 'bin/sh'))).toBe('busybox');
    expect(lstatSync(join(root, 'bin/sh')).isSymbolicLink()).toBe(true);
    expect(statSync(join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it('applies the opaque marker first whatever its position, and whiteouts only to lower layers', async () => {
    const root = tempDir();
    await apply(
      root,
      await tarLayer([
        { name: 'a/b/c/bar', content: 'bar' },
        { name: 'w/x', content: 'lower x' },
        { name: 'w/y/z', content: 'z' },
      ]),
    );
    // layer.md's example: opaque after the new content
    await apply(
      root,
      await tarLayer([
        { name: 'a/', type: 'directory' },
        { name: 'a/b/', type: 'directory' },
        { name: 'a/b/c/', type: 'directory' },
        { name: 'a/b/c/foo', content: 'foo' },
        { name: 'a/.wh..wh..opq', content: '' },
        // a new file and then its whiteout in the same layer: the file stays
        { name: 'w/x', content: 'new x' },
        { name: 'w/.wh.x', content: '' },
        // a whiteout of a directory recreated in the same layer: lower content goes
        { name: 'w/.wh.y', content: '' },
        { name: 'w/y/', type: 'directory' },
        { name: 'w/y/new', content: 'n' },
      ]),
    );
    expect(readdirSync(join(root, 'a/b/c'))).toEqual(['foo']);
    expect(readFileSync(join(root, 'w/x'), 'utf8')).toBe('new x');
    expect(readdirSync(join(root, 'w/y'))).toEqual(['new']);
  });

  it('replaces existing paths without following them', async () => {
    const root = tempDir();
    await apply(
      root,
      await tarLayer([
        { name: 'dir/f', content: 'f' },
        { name: 'file', content: 'file' },
        { name: 'link', type: 'symlink', linkname: 'file' },
      ]),
    );
    await apply(
      root,
      await tarLayer([
        { name: 'dir', type: 'symlink', linkname: '/file' },
        { name: 'file/', type: 'directory' },
        { name: 'link', content: 'now a file' },
      ]),
    );
    expect(readlinkSync(join(root, 'dir'))).toBe('/file');
    expect(statSync(join(root, 'file')).isDirectory()).toBe(true);
    expect(lstatSync(join(root, 'link')).isFile()).toBe(true);
    expect(readFileSync(join(root, 'link'), 'utf8')).toBe('now a file');
  });

  it('follows symlinked parents inside the root (usrmerge layouts)', async () => {
    const root = tempDir();
    await apply(
      root,
      await tarLayer([
        { name: 'usr/lib/', type: 'directory' },
        { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
        { name: 'abs', type: 'symlink', linkname: '/usr' },
      ]),
    );
    await apply(
      root,
      await tarLayer([
        { name: 'lib/libx.so', content: 'x' },
        { name: 'abs/lib/liby.so', content: 'y' },
        { name: 'lib/.wh.libx.so', content: '' },
      ]),
    );
    expect(readdirSync(join(root, 'usr/lib'))).toEqual(['libx.so', 'liby.so']);
    await apply(root, await tarLayer([{ name: 'abs/lib/.wh.libx.so', content: '' }]));
    expect(readdirSync(join(root, 'usr/lib'))).toEqual(['liby.so']);
  });

  it('gives every file its exact mode, owner and content, whatever the umask', async () => {
    // Created with their final mode, or private and chmod-ed after the chown
    // (special bits, bits the umask strips): the result must not differ.
    const modes = [
      0o644, 0o755, 0o600, 0o444, 0o400, 0o000, 0o666, 0o777, 0o4755, 0o2755, 0o6711, 0o1644,
    ];
    // Our own header writer: tar-stream turns mode 0 into 0o644.
    const tar = Buffer.concat([
      ...modes.flatMap((mode, i) => {
        const content = Buffer.from(`file ${i}\n`);
        const name = `f${mode.toString(8)}`;
        const header = encodeHeader({
          name,
          type: 'file',
          mode,
          uid: 1000 + i,
          gid: 2000 + i,
          size: content.length,
        });
        return [header, content, Buffer.alloc(padded(content.length) - content.length)];
      }),
      END_OF_ARCHIVE,
    ]);
    const before = process.umask(0o022);
    try {
      // Each leaves the owner rwx, so a non-root run can still create the files.
      for (const umask of [0o022, 0o077, 0o000, 0o027]) {
        process.umask(umask);
        const root = tempDir();
        await apply(root, tar);
        for (const [i, mode] of modes.entries()) {
          const file = join(root, `f${mode.toString(8)}`);
          const st = statSync(file);
          expect({ umask, mode: st.mode & 0o7777 }).toEqual({ umask, mode });
          if (isRoot) expect([st.uid, st.gid]).toEqual([1000 + i, 2000 + i]);
          expect(readFileSync(file, 'utf8')).toBe(`file ${i}\n`);
        }
      }
    } finally {
      process.umask(before);
    }
  });

  it('keeps setuid bits, sets directory mtimes last, creates FIFOs', async () => {
    const root = tempDir();
    const stats = await apply(
      root,
      await tarLayer([
        { name: 'd/', type: 'directory', mode: 0o555, mtime: new Date(1_000_000_000_000) },
        { name: 'd/suid', content: '#!/bin/sh\n', mode: 0o4755, uid: 1, gid: 1 },
        { name: 'd/fifo', type: 'fifo', mode: 0o640 },
      ]),
    );
    expect(stats.specials).toBe(1);
    const suid = statSync(join(root, 'd/suid'));
    expect(suid.mode & 0o7777).toBe(0o4755);
    if (isRoot) expect(suid.uid).toBe(1);
    expect(lstatSync(join(root, 'd/fifo')).isFIFO()).toBe(true);
    expect(lstatSync(join(root, 'd/fifo')).mode & 0o777).toBe(0o640);
    const d = statSync(join(root, 'd'));
    expect(d.mode & 0o7777).toBe(0o555);
    expect(d.mtimeMs).toBe(1_000_000_000_000);
  });

  it.skipIf(!isRoot)('creates device nodes as root', async () => {
    const root = tempDir();
    const stats = await apply(
      root,
      await tarLayer([
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
      ]),
    );
    expect(stats.specials).toBe(2);
    const nul = lstatSync(join(root, 'dev/null'));
    expect(nul.isCharacterDevice()).toBe(true);
    expect(nul.rdev).toBe(0x103);
    const loop = lstatSync(join(root, 'dev/loop9'));
    expect(loop.isBlockDevice()).toBe(true);
    expect(loop.gid).toBe(6);
  });

  it('skips device nodes when told not to create them', async () => {
    const root = tempDir();
    const stats = await apply(
      root,
      await tarLayer([{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 }]),
      { devices: false },
    );
    expect(stats.skippedDevices).toBe(1);
    expect(existsSync(join(root, 'dev/null'))).toBe(false);
  });

  it.skipIf(!tools.setfattr)(
    'sets xattrs (binary values) and drops overlay xattrs from archives',
    async () => {
      const src = tempDir();
      writeFileSync(join(src, 'f'), 'f');
      mkdirSync(join(src, 'd'));
      execFileSync('setfattr', ['-n', 'user.bin', '-v', '0x00ff0a3d', join(src, 'f')]);
      execFileSync('setfattr', ['-n', 'user.dir', '-v', 'hello', join(src, 'd')]);
      if (isRoot) {
        // security.capability: cap_net_raw+ep, as ping has it
        execFileSync('setfattr', [
          '-n',
          'security.capability',
          '-v',
          '0x0100000200200000000000000000000000000000',
          join(src, 'f'),
        ]);
      }
      const root = tempDir();
      await apply(root, tarDir(src));
      expect(getxattr(join(root, 'f'), 'user.bin')).toBe('0x00ff0a3d');
      expect(getxattr(join(root, 'd'), 'user.dir')).toBe('0x68656c6c6f');
      if (isRoot) {
        expect(getxattr(join(root, 'f'), 'security.capability')).toBe(
          '0x0100000200200000000000000000000000000000',
        );
      }
      const root2 = tempDir();
      await apply(
        root2,
        await tarLayer([
          { name: 'o/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
        ]),
      );
      expect(getxattr(join(root2, 'o'), 'trusted.overlay.opaque')).toBeUndefined();
    },
  );
});
