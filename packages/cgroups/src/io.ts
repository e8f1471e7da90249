import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rmdir } from 'node:fs/promises';

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

export class NodeCgroupIo implements CgroupIo {
  async read(path: string): Promise<string> {
    return readFile(path, 'utf8');
  }

  async write(path: string, value: string): Promise<void> {
    // No O_CREAT: a missing knob must fail with ENOENT instead of creating a
    // plain file (which is what would happen on a non-cgroup tree). O_TRUNC is
    // ignored by cgroupfs and keeps a fake tree's file equal to the last value.
    const handle = await open(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      const buf = Buffer.from(value);
      const { bytesWritten } = await handle.write(buf, 0, buf.length);
      if (bytesWritten !== buf.length) {
        throw Object.assign(new Error(`short write to ${path}`), { code: 'EIO' });
      }
    } finally {
      await handle.close();
    }
  }

  async mkdir(path: string): Promise<boolean> {
    try {
      await mkdir(path, { mode: 0o755 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  async rmdir(path: string): Promise<void> {
    await rmdir(path);
  }

  async list(dir: string): Promise<{ files: string[]; dirs: string[] }> {
    const entries = await readdir(dir, { withFileTypes: true });
    const files: string[] = [];
    const dirs: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) dirs.push(e.name);
      else files.push(e.name);
    }
    return { files, dirs };
  }
}

export const defaultIo: CgroupIo = new NodeCgroupIo();
