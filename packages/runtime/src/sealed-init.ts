import { readlinkSync } from 'node:fs';
import * as native from './native.js';

/**
 * tsoci-init runs from a sealed memfd copy of itself (CVE-2019-5736: a
 * container that reaches `/proc/<init>/exe` finds a file that can never
 * change). Started from disk, every init copies itself (≈ 0.7 MB) and
 * re-executes; started from a sealed copy it finds itself sealed and goes
 * on. So the runtime makes the copy once per process and spawns each init
 * through `/proc/<our pid>/fd/<fd>` (not `/proc/self`, which in the spawned
 * child could name an fd libuv has just replaced with a stdio entry). The fd
 * stays open for the life of the process.
 *
 * Anything unexpected (no memfd, a /proc of another pid namespace) falls
 * back to the file itself: the init then seals its own copy, as before.
 */
const copies = new Map<string, string>();

export function sealedInitPath(path: string): string {
  const known = copies.get(path);
  if (known !== undefined) return known;
  let spawnPath = path;
  try {
    const fd = native.sealedExecutable(path);
    const viaProc = `/proc/${process.pid}/fd/${fd}`;
    let ours = false;
    try {
      ours = readlinkSync(viaProc).startsWith('/memfd:tsoci-init');
    } catch {
      ours = false;
    }
    if (ours) spawnPath = viaProc;
    else native.closeFd(fd);
  } catch {
    spawnPath = path;
  }
  copies.set(path, spawnPath);
  return spawnPath;
}
