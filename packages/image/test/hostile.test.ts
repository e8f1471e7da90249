/**
 * Hostile layers, built at test time: nothing may be written outside the
 * rootfs. Each test has a sentinel directory beside the rootfs (and the
 * rootfs's parent) that must stay exactly as it was.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type ApplyOptions, applyLayer } from '../src/unpack/apply.js';
import { type LayerEntry, tarLayer, tempDir } from './helpers.js';

interface Arena {
  base: string;
  root: string;
  sentinel: string;
}

/** base/{rootfs, sentinel/}; the sentinel holds one file and must not change. */
function arena(): Arena {
  const base = tempDir('tsoci-hostile-');
  const root = join(base, 'rootfs');
  const sentinel = join(base, 'sentinel');
  mkdirSync(root);
  mkdirSync(sentinel);
  writeFileSync(join(sentinel, 'passwd'), 'sentinel');
  return { base, root, sentinel };
}

function assertUntouched(a: Arena): void {
  expect(readdirSync(a.sentinel)).toEqual(['passwd']);
  expect(readFileSync(join(a.sentinel, 'passwd'), 'utf8')).toBe('sentinel');
  expect(readdirSync(a.base).sort()).toEqual(['rootfs', 'sentinel']);
}

async function applyEntries(a: Arena, entries: LayerEntry[], options: ApplyOptions = {}) {
  return applyLayer(Readable.from([await tarLayer(entries)]), a.root, options);
}

describe('hostile layers', () => {
  it('rejects ../ entries (and confines them on request)', async () => {
    const a = arena();
    await expect(
      applyEntries(a, [{ name: '../sentinel/evil', content: 'x' }]),
    ).rejects.toMatchObject({ code: 'EIMAGE_UNSAFE_PATH' });
    await expect(
      applyEntries(a, [{ name: 'a/../../../sentinel/evil', content: 'x' }]),
    ).rejects.toMatchObject({ code: 'EIMAGE_UNSAFE_PATH' });
    assertUntouched(a);
    await applyEntries(a, [{ name: '../../sentinel/evil', content: 'x' }], {
      unsafePaths: 'confine',
    });
    expect(readFileSync(join(a.root, 'sentinel/evil'), 'utf8')).toBe('x');
    assertUntouched(a);
  });

  it('takes absolute names relative to the root', async () => {
    const a = arena();
    await applyEntries(a, [
      { name: `${a.sentinel}/evil`, content: 'x' },
      { name: '/etc/evil', content: 'x' },
    ]);
    expect(existsSync(join(a.root, a.sentinel, 'evil'))).toBe(true);
    expect(existsSync(join(a.root, 'etc/evil'))).toBe(true);
    assertUntouched(a);
  });

  it('never writes through a symlink (absolute or relative) to outside', async () => {
    const a = arena();
    await applyEntries(a, [
      { name: 'abs', type: 'symlink', linkname: a.sentinel },
      { name: 'abs/evil', content: 'x' },
      { name: 'rel', type: 'symlink', linkname: '../../../../../../../../sentinel' },
      { name: 'rel/evil', content: 'x' },
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/sentinel/evil2', content: 'x' },
      // the final component: a symlink to the sentinel's file, then written as a file
      { name: 'pw', type: 'symlink', linkname: `${a.sentinel}/passwd` },
      { name: 'pw', content: 'overwritten?' },
    ]);
    assertUntouched(a);
    // What was meant to go out landed inside, at the symlink target resolved in the root.
    expect(readFileSync(join(a.root, a.sentinel, 'evil'), 'utf8')).toBe('x');
    expect(readFileSync(join(a.root, 'sentinel/evil'), 'utf8')).toBe('x');
    expect(readFileSync(join(a.root, 'sentinel/evil2'), 'utf8')).toBe('x');
    expect(readFileSync(join(a.root, 'pw'), 'utf8')).toBe('overwritten?');
  });

  it('follows a symlink planted by an earlier layer only inside the root', async () => {
    const a = arena();
    await applyEntries(a, [{ name: 'etc', type: 'symlink', linkname: a.sentinel }]);
    await applyEntries(a, [
      { name: 'etc/passwd', content: 'root::0:0::/:/bin/sh\n' },
      { name: 'etc/.wh.other', content: '' },
    ]);
    // a whiteout through the planted link must not delete the sentinel file
    await applyEntries(a, [{ name: 'etc/.wh.passwd', content: '' }]);
    await applyEntries(a, [{ name: 'etc/.wh..wh..opq', content: '' }]);
    assertUntouched(a);
    expect(readlinkSync(join(a.root, 'etc'))).toBe(a.sentinel);
  });

  it('never hard links to files outside the root', async () => {
    const a = arena();
    await expect(
      applyEntries(a, [{ name: 'hl', type: 'link', linkname: '/etc/passwd' }]),
    ).rejects.toMatchObject({ code: 'EIMAGE_INVALID' });
    await expect(
      applyEntries(a, [{ name: 'hl', type: 'link', linkname: '../sentinel/passwd' }]),
    ).rejects.toMatchObject({ code: 'EIMAGE_UNSAFE_PATH' });
    // through a symlinked directory pointing out: resolved inside, so not found
    await expect(
      applyEntries(a, [
        { name: 'out', type: 'symlink', linkname: a.sentinel },
        { name: 'hl', type: 'link', linkname: 'out/passwd' },
      ]),
    ).rejects.toMatchObject({ code: 'EIMAGE_INVALID' });
    // a link to a symlink links the symlink itself (never its target)
    const b = arena();
    await applyEntries(b, [
      { name: 's', type: 'symlink', linkname: `${b.sentinel}/passwd` },
      { name: 'hl', type: 'link', linkname: 's' },
      { name: 'etc/passwd', content: 'inside' },
      { name: 'hl2', type: 'link', linkname: '/etc/passwd' },
    ]);
    expect(readlinkSync(join(b.root, 'hl'))).toBe(`${b.sentinel}/passwd`);
    expect(readFileSync(join(b.root, 'hl2'), 'utf8')).toBe('inside');
    assertUntouched(a);
    assertUntouched(b);
  });

  it('does not let a symlinked parent directory redirect writes, whiteouts or opaque markers', async () => {
    const a = arena();
    await applyEntries(a, [
      { name: 'd/', type: 'directory' },
      { name: 'd/sub', type: 'symlink', linkname: '../../sentinel' },
      { name: 'd/sub/newfile', content: 'x' },
      { name: 'd/sub/.wh.passwd', content: '' },
      { name: 'd/sub/.wh..wh..opq', content: '' },
      { name: 'loop1', type: 'symlink', linkname: 'loop2' },
      { name: 'loop2', type: 'symlink', linkname: 'loop1' },
    ]);
    await expect(applyEntries(a, [{ name: 'loop1/x', content: 'x' }])).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
    });
    assertUntouched(a);
    expect(readFileSync(join(a.root, 'sentinel/newfile'), 'utf8')).toBe('x');
  });

  it('refuses to replace the root itself', async () => {
    const a = arena();
    await expect(
      applyEntries(a, [{ name: './', type: 'symlink', linkname: '/' }]),
    ).rejects.toMatchObject({
      code: 'EIMAGE_INVALID',
    });
    await expect(
      applyEntries(a, [{ name: '..', content: 'x' }], { unsafePaths: 'confine' }),
    ).rejects.toMatchObject({ code: 'EIMAGE_INVALID' });
    assertUntouched(a);
  });
});
