import { spawn } from 'node:child_process';
import { existsSync, lchownSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linux, type OciConfig, setNamespace } from './helpers/bundle.js';
import { useE2E } from './helpers/context.js';
import { describeResult, rt } from './helpers/runtime.js';

const ctx = useE2E('iso');

// Kernel name of each namespace kind in /proc/<pid>/ns, by config.json type.
const NS_FILE: Record<string, string> = {
  pid: 'pid',
  network: 'net',
  ipc: 'ipc',
  uts: 'uts',
  mount: 'mnt',
  cgroup: 'cgroup',
  user: 'user',
};

const PRINT_NS = `for n in ${Object.values(NS_FILE).join(' ')}; do echo "$n $(readlink /proc/self/ns/$n)"; done`;

function parseNs(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const line of out.trim().split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v) m[k] = v;
  }
  return m;
}

function configuredKinds(c: OciConfig): Set<string> {
  return new Set((c.linux?.namespaces ?? []).filter((n) => !n.path).map((n) => n.type));
}

function chownTree(p: string, uid: number, gid: number): void {
  lchownSync(p, uid, gid);
  for (const e of readdirSync(p, { withFileTypes: true })) {
    const child = path.join(p, e.name);
    if (e.isDirectory()) chownTree(child, uid, gid);
    else lchownSync(child, uid, gid);
  }
}

describe('namespaces', () => {
  it('sets the hostname from config without touching the host', async () => {
    const before = hostname();
    const b = await ctx.bundle({ args: ['hostname'] });
    b.edit((c) => {
      c.hostname = 'e2e-uts-test';
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('e2e-uts-test\n');
    expect(hostname()).toBe(before);
  });

  it('the program is pid 1 of its own pid namespace', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'echo $$; ls -d /proc/[0-9]* | wc -l'] });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const [pid, count] = String(r.stdout).trim().split('\n');
    expect(pid).toBe('1');
    // sh, and the ls/wc of the pipeline: nothing from the host.
    expect(Number(count)).toBeLessThanOrEqual(3);
  });

  it('a new network namespace has only the loopback interface', async () => {
    const b = await ctx.bundle({ args: ['cat', '/proc/net/dev'] });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const ifaces = String(r.stdout)
      .trim()
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]?.trim());
    expect(ifaces).toEqual(['lo']);
  });

  it('namespaces listed in config differ from the host, the others are shared', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', PRINT_NS] });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const inside = parseNs(String(r.stdout));
    const kinds = configuredKinds(b.config);
    for (const need of ['pid', 'network', 'ipc', 'uts', 'mount']) expect(kinds).toContain(need);
    for (const [type, file] of Object.entries(NS_FILE)) {
      const host = readlinkSync(`/proc/self/ns/${file}`);
      expect(inside[file], `${file} namespace link`).toMatch(/^\w+:\[\d+\]$/);
      if (kinds.has(type)) expect(inside[file], `${type} must be new`).not.toBe(host);
      else expect(inside[file], `${type} must be the host's`).toBe(host);
    }
  });

  it('joins namespaces given by path', async () => {
    const a = await ctx.bundle({ args: ['sleep', '60'] });
    a.edit((c) => {
      c.hostname = 'owner-of-ns';
    });
    const owner = await ctx.create(a);
    const b = await ctx.bundle({ args: ['sh', '-c', `hostname; ${PRINT_NS}`] });
    b.edit((c) => {
      setNamespace(c, { type: 'network', path: `/proc/${owner.pid}/ns/net` });
      setNamespace(c, { type: 'uts', path: `/proc/${owner.pid}/ns/uts` });
      setNamespace(c, { type: 'ipc', path: `/proc/${owner.pid}/ns/ipc` });
      // A hostname is set in the joined uts namespace (runc does the same).
      c.hostname = 'joined-name';
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const [host, ...rest] = String(r.stdout).trim().split('\n');
    expect(host).toBe('joined-name');
    const inside = parseNs(rest.join('\n'));
    for (const file of ['net', 'uts', 'ipc']) {
      expect(inside[file], file).toBe(readlinkSync(`/proc/${owner.pid}/ns/${file}`));
    }
    expect(inside.pid).not.toBe(readlinkSync(`/proc/${owner.pid}/ns/pid`));
  });
});

describe('mount namespace joined by path', () => {
  // The rootfs is set up in the joined namespace, as runc does (runtime-tools'
  // linux_ns_path "mnt"); the runtime's own namespace (the host's) is refused.
  it('sets up the rootfs in a namespace made by `unshare --mount`, leaving ours alone', async () => {
    const owner = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--fork', 'sleep', '60'],
      { stdio: 'ignore', detached: true },
    );
    try {
      const ours = readlinkSync('/proc/self/ns/mnt');
      const nsPath = `/proc/${owner.pid}/ns/mnt`;
      for (let i = 0; i < 200 && readlinkSync(nsPath) === ours; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const joined = readlinkSync(nsPath);
      expect(joined).not.toBe(ours);
      const b = await ctx.bundle({
        args: [
          'sh',
          '-c',
          'readlink /proc/self/ns/mnt; cat /etc/passwd >/dev/null && echo rootfs-ok',
        ],
      });
      b.edit((c) => setNamespace(c, { type: 'mount', path: nsPath }));
      const r = await ctx.run(b);
      expect(r.exitCode, describeResult(r)).toBe(0);
      expect(String(r.stdout)).toBe(`${joined}\nrootfs-ok\n`);
      // Nothing was mounted in the test's (the host's) namespace. (Only the
      // bundle's lines: other test files mount and unmount meanwhile.)
      const bundleMounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(b.dir));
      expect(bundleMounts).toEqual([]);
    } finally {
      if (owner.pid !== undefined) process.kill(-owner.pid, 'SIGKILL');
    }
  });

  // Only for tsoci: runc would go ahead and set the rootfs up on this host.
  it.skipIf(rt.name !== 'tsoci')(
    "refuses the runtime's own mount namespace before doing anything",
    async () => {
      const b = await ctx.bundle({ args: ['true'] });
      b.edit((c) => setNamespace(c, { type: 'mount', path: `/proc/${process.pid}/ns/mnt` }));
      const id = ctx.id('own-mnt');
      const r = await ctx.run(b, { id });
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toMatch(/runtime's own mount namespace/);
      expect(existsSync(path.join(ctx.root, id))).toBe(false);
    },
  );
});

describe('user namespace', () => {
  const HOST_BASE = 100000;
  const SIZE = 65536;

  function withUserns(c: OciConfig): void {
    setNamespace(c, { type: 'user' });
    const l = linux(c);
    l.uidMappings = [{ containerID: 0, hostID: HOST_BASE, size: SIZE }];
    l.gidMappings = [{ containerID: 0, hostID: HOST_BASE + SIZE, size: SIZE }];
  }

  it('applies the uid/gid mappings and makes the user root inside', async () => {
    const b = await ctx.bundle({
      args: [
        'sh',
        '-c',
        'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %u:%g /',
      ],
    });
    b.edit(withUserns);
    chownTree(b.rootfs, HOST_BASE, HOST_BASE + SIZE);
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const lines = String(r.stdout)
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual([
      `0 ${HOST_BASE} ${SIZE}`,
      `0 ${HOST_BASE + SIZE} ${SIZE}`,
      '0',
      '0',
      // The rootfs owned by the mapped ids shows up as root-owned.
      '0:0',
    ]);
  });

  it('the container process runs as the mapped host uid', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    b.edit(withUserns);
    chownTree(b.rootfs, HOST_BASE, HOST_BASE + SIZE);
    await ctx.withContainer(b, async (c) => {
      const status = readFileSync(`/proc/${c.pid}/status`, 'utf8');
      const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1]?.split(/\s+/);
      expect(uids).toEqual(Array(4).fill(String(HOST_BASE)));
      expect(readlinkSync(`/proc/${c.pid}/ns/user`)).not.toBe(readlinkSync('/proc/self/ns/user'));
    });
  });
});
