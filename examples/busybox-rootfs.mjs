// Shared by the examples: a throw-away root filesystem made of the host's
// static busybox (Debian: busybox-static), with every applet linked in /bin.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const BUSYBOX = '/bin/busybox';

/** Returns `{ rootfs, remove }`; `remove()` deletes the whole temp dir. */
export function makeBusyboxRootfs() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsoci-example-'));
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) {
    mkdirSync(path.join(rootfs, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n');
  for (const applet of applets.map((a) => a.trim())) {
    if (applet !== '' && applet !== 'busybox')
      symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  }
  writeFileSync(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return { rootfs, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
