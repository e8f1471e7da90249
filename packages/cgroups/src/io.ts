import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * The few filesystem operations the managers perform on cgroupfs. Injectable so
 * unit tests can emulate the kernel's side effects (files appearing on mkdir,
 * `cgroup.subtree_control` populating children) on a temp-dir tree, and so a
 * caller can trace every write.
 */
export interface CgroupIo {
  read(path: string): Promise<string>;
  /** One write(2) of `value`: cgroupfs treats each write as one command. */
  write(path: string, value: string): Promise<void>;
  /** Creates one directory level; false when it already existed. */
  mkdir(path: string): Promise<boolean>;
  rmdir(path: string): Promise<void>;
  /** Regular files and subdirectories of `dir`. */
  list(dir: string): Promise<{ files: string[]; dirs: string[] }>;
}

/**
 * Files whose write can wait on the kernel: moving a task takes the cgroup
 * threadgroup lock, which on a v1 host waits for an RCU grace period
 * (milliseconds). Those stay on the thread pool so an in-process caller's
 * event loop is not held.
 */
const BLOCKING_WRITES = new Set(['cgroup.procs', 'cgroup.threads', 'tasks']);

/**
 * cgroupfs is a pseudo filesystem: reading a knob, writing one, mkdir, rmdir
 * and readdir are in-memory kernel work of microseconds, while a round trip
 * through libuv's thread pool costs 0.1-0.4 ms. Creating one container touches
 * about a hundred knobs, so doing them synchronously took ~20 ms off `tsoci
 * create` (see bench/startup.mjs); rmdir of a container's ten cgroups takes
 * 0.18 ms here against 0.45 ms through the pool. mkdir and rmdir both take the
 * cgroup mutex, so they wait alike when another task holds it. Task moves
 * (`cgroup.procs`) wait for an RCU grace period and stay asynchronous.
 */
export class NodeCgroupIo implements CgroupIo {
  async read(path: string): Promise<string> {
    return readFileSync(path, 'utf8');
  }

  async write(path: string, value: string): Promise<void> {
    if (BLOCKING_WRITES.has(basename(path))) return writeAsync(path, value);
    // No O_CREAT: a missing knob must fail with ENOENT instead of creating a
    // plain file (which is what would happen on a non-cgroup tree). O_TRUNC is
    // ignored by cgroupfs and keeps a fake tree's file equal to the last value.
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      const buf = Buffer.from(value);
      checkWritten(path, writeSync(fd, buf, 0, buf.length), buf.length);
    } finally {
      closeSync(fd);
    }
  }

  async mkdir(path: string): Promise<boolean> {
    try {
      mkdirSync(path, { mode: 0o755 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  async rmdir(path: string): Promise<void> {
    rmdirSync(path);
  }

  async list(dir: string): Promise<{ files: string[]; dirs: string[] }> {
    const files: string[] = [];
    const dirs: string[] = [];
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) dirs.push(e.name);
      else files.push(e.name);
    }
    return { files, dirs };
  }
}

async function writeAsync(path: string, value: string): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    const buf = Buffer.from(value);
    const { bytesWritten } = await handle.write(buf, 0, buf.length);
    checkWritten(path, bytesWritten, buf.length);
  } finally {
    await handle.close();
  }
}

function checkWritten(path: string, written: number, expected: number): void {
  if (written !== expected) {
    throw Object.assign(new Error(`short write to ${path}`), { code: 'EIO' });
  }
}

export const defaultIo: CgroupIo = new NodeCgroupIo();
