import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  openSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeSync,
} from 'node:fs';
import { initBinaryPath } from '@ts-oci/namespaces';
import { afterEach, describe, expect, it } from 'vitest';
import { Runtime } from '../src/index.js';
import { sealedInitPath } from '../src/sealed-init.js';
import { busyboxBundle, tempRoot, uniqueId } from './fixtures.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('sealed tsoci-init (root)', () => {
  it('is one sealed memfd copy per process, equal to the binary and not writable', () => {
    const disk = initBinaryPath();
    const path = sealedInitPath(disk);
    expect(path).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    expect(sealedInitPath(disk)).toBe(path);
    expect(readlinkSync(path)).toMatch(/^\/memfd:tsoci-init/);
    expect(sha256(path)).toBe(sha256(disk));
    // Sealed: even root cannot open it for writing (F_SEAL_WRITE gives EPERM).
    let wrote = false;
    try {
      const fd = openSync(path, constants.O_WRONLY);
      try {
        writeSync(fd, 'x');
        wrote = true;
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EPERM');
    }
    expect(wrote).toBe(false);
  });

  it("a created container's init runs from it, never from the file on disk", async () => {
    const bundle = busyboxBundle((c) => {
      if (c.process) c.process.args = ['sleep', '30'];
    });
    const state = tempRoot();
    const rt = new Runtime({ root: state.root });
    const id = uniqueId();
    cleanups.push(bundle.cleanup, state.cleanup, () =>
      rt.delete(id, { force: true }).catch(() => {}),
    );
    const created = await rt.create({
      id,
      bundle: bundle.dir,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    // The container process (waiting for start) is still tsoci-init.
    const exe = readlinkSync(`/proc/${created.pid}/exe`);
    expect(exe).toMatch(/^\/memfd:tsoci-init/);
    expect(sha256(`/proc/${created.pid}/exe`)).toBe(sha256(initBinaryPath()));
    // The runtime's one copy (same memfd inode), not a copy the init made.
    expect(statSync(`/proc/${created.pid}/exe`).ino).toBe(
      statSync(sealedInitPath(initBinaryPath())).ino,
    );
  });
});
