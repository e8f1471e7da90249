/**
 * A fake cgroup v2 filesystem in a temp dir, with just enough kernel behaviour
 * to test the v2 manager without root: mkdir populates the interface files of
 * the controllers the parent enables, cgroup.subtree_control writes enable
 * controllers in children (ENOENT for one the parent lacks), cgroup.freeze
 * updates cgroup.events, rmdir refuses a cgroup with tasks or children, and
 * a few knobs validate their values the way the kernel does.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { CgroupIo } from '../src/io.js';
import { NodeCgroupIo } from '../src/io.js';

export interface FakeOptions {
  /** Controllers the root offers (root cgroup.controllers). */
  controllers?: string[];
  hugepageSizes?: string[];
  /** Create io.bfq.weight (BFQ scheduler) in io-enabled cgroups. */
  bfq?: boolean;
  /** Create memory.swap.* (swap configured). */
  swap?: boolean;
  /** Omit cgroup.kill (kernel < 5.14). */
  noKill?: boolean;
  /** CPUs of the fake machine, for cpuset validation. */
  cpus?: number;
}

export interface RecordedWrite {
  path: string;
  value: string;
}

function fail(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

const CONTROLLER_FILES: Record<string, (o: Required<FakeOptions>) => Record<string, string>> = {
  cpu: () => ({
    'cpu.weight': '100\n',
    'cpu.weight.nice': '0\n',
    'cpu.max': 'max 100000\n',
    'cpu.max.burst': '0\n',
    'cpu.idle': '0\n',
  }),
  cpuset: () => ({
    'cpuset.cpus': '\n',
    'cpuset.mems': '\n',
    'cpuset.cpus.effective': '0-1\n',
    'cpuset.mems.effective': '0\n',
  }),
  memory: (o) => ({
    'memory.max': 'max\n',
    'memory.low': '0\n',
    'memory.high': 'max\n',
    'memory.min': '0\n',
    'memory.current': '0\n',
    'memory.peak': '0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
    'memory.stat': 'anon 0\nfile 0\n',
    'memory.oom.group': '0\n',
    ...(o.swap
      ? {
          'memory.swap.max': 'max\n',
          'memory.swap.current': '0\n',
          'memory.swap.events': 'max 0\n',
        }
      : {}),
  }),
  io: (o) => ({
    'io.max': '',
    'io.weight': 'default 100\n',
    'io.stat': '',
    ...(o.bfq ? { 'io.bfq.weight': 'default 100\n' } : {}),
  }),
  pids: () => ({ 'pids.max': 'max\n', 'pids.current': '0\n', 'pids.events': 'max 0\n' }),
  hugetlb: (o) => {
    const files: Record<string, string> = {};
    for (const s of o.hugepageSizes) {
      files[`hugetlb.${s}.max`] = 'max\n';
      files[`hugetlb.${s}.current`] = '0\n';
      files[`hugetlb.${s}.events`] = 'max 0\n';
      files[`hugetlb.${s}.rsvd.max`] = 'max\n';
      files[`hugetlb.${s}.rsvd.current`] = '0\n';
    }
    return files;
  },
  rdma: () => ({ 'rdma.max': '', 'rdma.current': '' }),
};

// Files holding one line per key (device), replaced per key as the kernel does.
const KEYED = new Set(['io.max', 'io.weight', 'io.bfq.weight', 'rdma.max']);

export class FakeCgroupfs implements CgroupIo {
  readonly writes: RecordedWrite[] = [];
  readonly mkdirs: string[] = [];
  /** Return an errno code to make the next matching write fail. */
  reject: ((path: string, value: string) => string | undefined) | undefined;
  /** cgroup.freeze writes succeed but cgroup.events never reports the state. */
  stuckFreezer = false;
  private readonly opts: Required<FakeOptions>;
  private readonly node = new NodeCgroupIo();

  private constructor(
    readonly base: string,
    readonly root: string,
    opts: FakeOptions,
  ) {
    this.opts = {
      controllers: opts.controllers ?? ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma'],
      hugepageSizes: opts.hugepageSizes ?? ['2MB', '1GB'],
      bfq: opts.bfq ?? false,
      swap: opts.swap ?? true,
      noKill: opts.noKill ?? false,
      cpus: opts.cpus ?? 2,
    };
  }

  static async create(opts: FakeOptions = {}): Promise<FakeCgroupfs> {
    const base = await mkdtemp(join(tmpdir(), 'tsoci-cgfake-'));
    const root = join(base, 'sys/fs/cgroup');
    await mkdir(root, { recursive: true });
    const fake = new FakeCgroupfs(base, root, opts);
    const files: Record<string, string> = {
      'cgroup.controllers': `${fake.opts.controllers.join(' ')}\n`,
      'cgroup.subtree_control': '\n',
      'cgroup.procs': '',
      'cpu.stat': 'usage_usec 0\n',
    };
    for (const [f, v] of Object.entries(files)) writeFileSync(join(root, f), v);
    return fake;
  }

  /** mountinfo text of a pure v2 host with this tree at `root`. */
  mountinfo(): string {
    return [
      `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw`,
      `25 22 0:22 / ${this.root} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate`,
      '',
    ].join('\n');
  }

  async cleanup(): Promise<void> {
    await rm(this.base, { recursive: true, force: true });
  }

  file(path: string): string {
    return readFileSync(path, 'utf8');
  }

  /** Sets a file's content directly (what the kernel would report). */
  setFile(path: string, content: string): void {
    writeFileSync(path, content);
  }

  private words(path: string): string[] {
    return existsSync(path)
      ? this.file(path)
          .split(/\s+/)
          .filter((w) => w !== '')
      : [];
  }

  private populate(dir: string, controllers: readonly string[]): void {
    for (const c of controllers) {
      const make = CONTROLLER_FILES[c];
      if (make === undefined) continue;
      for (const [f, v] of Object.entries(make(this.opts))) {
        if (!existsSync(join(dir, f))) writeFileSync(join(dir, f), v);
      }
    }
  }

  async read(path: string): Promise<string> {
    return this.node.read(path);
  }

  async list(dir: string): Promise<{ files: string[]; dirs: string[] }> {
    return this.node.list(dir);
  }

  async mkdir(path: string): Promise<boolean> {
    const parent = posix.dirname(path);
    if (!existsSync(join(parent, 'cgroup.controllers'))) throw fail('ENOENT', `mkdir ${path}`);
    if (!(await this.node.mkdir(path))) return false;
    this.mkdirs.push(path);
    const enabled = this.words(join(parent, 'cgroup.subtree_control'));
    const files: Record<string, string> = {
      'cgroup.controllers': `${enabled.join(' ')}\n`,
      'cgroup.subtree_control': '\n',
      'cgroup.procs': '',
      'cgroup.events': 'populated 0\nfrozen 0\n',
      'cgroup.freeze': '0\n',
      'cgroup.type': 'domain\n',
      'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
    };
    if (!this.opts.noKill) files['cgroup.kill'] = '';
    for (const [f, v] of Object.entries(files)) writeFileSync(join(path, f), v);
    this.populate(path, enabled);
    return true;
  }

  async rmdir(path: string): Promise<void> {
    if (!existsSync(path)) throw fail('ENOENT', `rmdir ${path}`);
    const subdirs = readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory());
    if (subdirs.length > 0 || this.file(join(path, 'cgroup.procs')).trim() !== '') {
      throw fail('EBUSY', `rmdir ${path}`);
    }
    await rm(path, { recursive: true });
  }

  async write(path: string, value: string): Promise<void> {
    this.writes.push({ path, value });
    const code = this.reject?.(path, value);
    if (code !== undefined) throw fail(code, `write ${path}`);
    if (!existsSync(path)) throw fail('ENOENT', `open ${path}`);
    const dir = posix.dirname(path);
    const name = posix.basename(path);
    switch (name) {
      case 'cgroup.subtree_control':
        return this.subtreeControl(dir, value);
      case 'cgroup.freeze': {
        const v = value.trim();
        if (v !== '0' && v !== '1') throw fail('EINVAL', path);
        writeFileSync(path, `${v}\n`);
        if (this.stuckFreezer) return;
        const events = this.file(join(dir, 'cgroup.events')).replace(/frozen \d/, `frozen ${v}`);
        writeFileSync(join(dir, 'cgroup.events'), events);
        return;
      }
      case 'cgroup.procs':
        writeFileSync(path, `${this.file(path)}${value.trim()}\n`);
        return;
      case 'cgroup.kill':
        // Emulates the kill: the cgroup (and its children) become empty.
        writeFileSync(path, '');
        writeFileSync(join(dir, 'cgroup.procs'), '');
        return;
      case 'cpu.weight': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > 10000) throw fail('ERANGE', path);
        break;
      }
      case 'cpuset.cpus': {
        for (const part of value.split(',')) {
          const [a, b] = part.split('-').map(Number);
          if (
            a === undefined ||
            Number.isNaN(a) ||
            (b !== undefined && (Number.isNaN(b) || b < a))
          ) {
            throw fail('EINVAL', path);
          }
          if ((b ?? a) >= this.opts.cpus) throw fail('ERANGE', path);
        }
        break;
      }
    }
    if (KEYED.has(name)) {
      const key = value.split(' ')[0];
      const lines = this.file(path)
        .split('\n')
        .filter((l) => l !== '' && l.split(' ')[0] !== key);
      // "default N" or a bare number sets the default line.
      const line = /^\d+$/.test(value) ? `default ${value}` : value;
      const isDefault = /^\d+$/.test(value) || key === 'default';
      const rest = isDefault ? lines.filter((l) => !l.startsWith('default ')) : lines;
      writeFileSync(path, `${[line, ...rest].sort().join('\n')}\n`);
      return;
    }
    writeFileSync(path, `${value}\n`);
  }

  private subtreeControl(dir: string, value: string): void {
    const available = this.words(join(dir, 'cgroup.controllers'));
    const enabled = new Set(this.words(join(dir, 'cgroup.subtree_control')));
    for (const tok of value.split(/\s+/).filter((t) => t !== '')) {
      const c = tok.slice(1);
      if (!available.includes(c)) throw fail('ENOENT', `${dir}/cgroup.subtree_control: ${tok}`);
      if (tok.startsWith('+')) enabled.add(c);
      else if (tok.startsWith('-')) enabled.delete(c);
      else throw fail('EINVAL', `${dir}/cgroup.subtree_control: ${tok}`);
    }
    const list = [...enabled].sort();
    writeFileSync(join(dir, 'cgroup.subtree_control'), `${list.join(' ')}\n`);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const child = join(dir, e.name);
      writeFileSync(join(child, 'cgroup.controllers'), `${list.join(' ')}\n`);
      this.populate(child, list);
    }
  }
}
