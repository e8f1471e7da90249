import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linux, type OciConfig, proc, setNamespace } from './helpers/bundle.js';
import { pidAlive, readIfExists, useE2E, waitFor } from './helpers/context.js';
import { describeResult, isCrun, rt, versionBelow } from './helpers/runtime.js';

const ctx = useE2E('sec');

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const openFds: number[] = [];
function openFd(p: string, flags = 'r'): number {
  const fd = openSync(p, flags);
  openFds.push(fd);
  return fd;
}
afterEach(() => {
  for (const fd of openFds.splice(0)) closeSync(fd);
});

/** A host directory the container must never reach, with a secret in it. */
function hostSecretDir(): { dir: string; secret: string } {
  const dir = ctx.dir('host-secret');
  const secret = `host-secret-${Math.random().toString(36).slice(2)}`;
  writeFileSync(path.join(dir, 'host-marker'), `${secret}\n`);
  return { dir, secret };
}

function fdNumbers(lsOutput: string): number[] {
  return lsOutput
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .sort((a, b) => a - b);
}

describe('file descriptors', () => {
  it('the container gets only stdio, even when the caller leaks a host directory fd', async () => {
    const { dir } = hostSecretDir();
    const leaked = openFd(dir);
    const b = await ctx.bundle({
      args: ['sh', '-c', 'echo $(ls /proc/self/fd); ls -l /proc/self/fd'],
    });
    // Slots 3 and 4 closed, the leaked directory at 5.
    const r = await ctx.run(b, { extraFds: [null, null, leaked] });
    expect(r.exitCode, describeResult(r)).toBe(0);
    const [list = ''] = String(r.stdout).split('\n');
    // 3 is the directory ls itself opened to list /proc/self/fd.
    expect(fdNumbers(list), String(r.stdout)).toEqual([0, 1, 2, 3]);
    expect(String(r.stdout)).not.toContain(dir);
  });

  it('a created and started container process holds only stdio (seen from the host)', async () => {
    const { dir } = hostSecretDir();
    const leaked = openFd(dir);
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const c = await ctx.create(b, { extraFds: [null, null, leaked] });
    await ctx.start(c.id);
    await waitFor(
      () => readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').startsWith('sleep'),
      'the program to run',
    );
    const fds = readdirSync(`/proc/${c.pid}/fd`)
      .map(Number)
      .sort((a, b) => a - b);
    const targets = fds.map((fd) => `${fd} -> ${readlinkSync(`/proc/${c.pid}/fd/${fd}`)}`);
    expect(fds, targets.join('\n')).toEqual([0, 1, 2]);
  });

  it('--preserve-fds 1 passes fd 3 and nothing above it', async () => {
    const data = path.join(ctx.dir('pf'), 'data.txt');
    writeFileSync(data, 'preserved-data\n');
    const three = openFd(data);
    const four = openFd(data);
    const b = await ctx.bundle({
      args: ['sh', '-c', 'cat <&3; [ -e /proc/self/fd/4 ] && echo fd4-leaked; echo done'],
    });
    const r = await ctx.run(b, { flags: ['--preserve-fds', '1'], extraFds: [three, four] });
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('preserved-data\ndone\n');
  });

  it('without --preserve-fds an inherited fd 3 is not passed', async () => {
    const data = path.join(ctx.dir('pf'), 'data.txt');
    writeFileSync(data, 'preserved-data\n');
    const three = openFd(data);
    const b = await ctx.bundle({
      args: ['sh', '-c', '[ -e /proc/self/fd/3 ] && readlink /proc/self/fd/3; echo done'],
    });
    const r = await ctx.run(b, { extraFds: [three] });
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('done\n');
  });
});

describe('process.cwd through /proc/self/fd (CVE-2024-21626)', () => {
  // Walk up physically from the cwd: from anywhere inside the container this
  // ends at the container's root; from a leaked host directory it would end at
  // the host's root.
  const PROBE = [
    'cat host-marker 2>/dev/null',
    'echo "pwd=$(pwd -P 2>&1)"',
    'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cd -P .. 2>/dev/null; done',
    'echo "top=$(ls -a | tr "\\n" " ")"',
    'echo "root=$(ls -a / | tr "\\n" " ")"',
  ].join('; ');

  for (const n of [3, 4, 5, 6, 7, 8, 9]) {
    // crun before 1.14.1 chdirs into a directory fd the caller leaked (fd 5
    // here) before closing it: the container reads the host directory.
    const CRUN_LEAKS_CALLER_FD = isCrun() && versionBelow('1.14.1') && n === 5;
    it.skipIf(CRUN_LEAKS_CALLER_FD)(
      `cwd /proc/self/fd/${n} never leads outside the rootfs`,
      async () => {
        const { dir, secret } = hostSecretDir();
        const leaked = openFd(dir);
        const b = await ctx.bundle({ args: ['sh', '-c', PROBE] });
        b.edit((c) => {
          proc(c).cwd = `/proc/self/fd/${n}`;
        });
        const r = await ctx.run(b, { extraFds: [null, null, leaked] });
        const out = String(r.stdout);
        expect(out).not.toContain(secret);
        expect(out).not.toContain('unreachable');
        if (r.exitCode === 0) {
          // It ran: then its cwd was inside the container.
          const top = /^top=(.*)$/m.exec(out)?.[1];
          const root = /^root=(.*)$/m.exec(out)?.[1];
          expect(top, out).toBe(root);
        } else {
          expect(String(r.stderr).trim(), 'a refused cwd is reported').not.toBe('');
        }
      },
    );
  }
});

describe('#!/proc/self/exe entrypoints (CVE-2019-5736)', () => {
  interface Fingerprint {
    path: string;
    sha256: string;
    mtimeMs: number;
    size: number;
  }

  function fingerprint(p: string): Fingerprint {
    const st = statSync(p);
    return {
      path: p,
      sha256: createHash('sha256').update(readFileSync(p)).digest('hex'),
      mtimeMs: st.mtimeMs,
      size: st.size,
    };
  }

  /**
   * The host binary `p` is the same file as, when it is reached through a
   * writable mount. runc 1.1 runs its init from a read-only bind mount of its
   * own binary (same inode, but EROFS for any writer), which is safe.
   */
  function writableHostBinary(p: string): string | undefined {
    const same = isHostBinary(p);
    if (same === undefined) return undefined;
    const ro = execFileSync(
      PYTHON,
      ['-c', 'import os,sys; print(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY)', p],
      { encoding: 'utf8' },
    ).trim();
    return ro === '0' ? same : undefined;
  }

  function isHostBinary(p: string): string | undefined {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      return undefined;
    }
    return rt.hostBinaries.find((h) => {
      const hs = statSync(h);
      return hs.dev === st.dev && hs.ino === st.ino;
    });
  }

  it('running the runtime binary as the entrypoint leaves the host binary unchanged', async () => {
    const before = rt.hostBinaries.map(fingerprint);
    const b = await ctx.bundle({ args: ['/evil'] });
    b.writeRootfsFile('evil', '#!/proc/self/exe\n', 0o755);
    const r = await ctx.run(b, { timeoutMs: 20_000 });
    expect(r.signal, describeResult(r)).toBeUndefined();
    expect(rt.hostBinaries.map(fingerprint)).toEqual(before);
  });

  it('the init of a created container is not the host binary (seen from the host)', async () => {
    const b = await ctx.bundle({ args: ['/evil'] });
    b.writeRootfsFile('evil', '#!/proc/self/exe\n', 0o755);
    const c = await ctx.create(b);
    const exe = `/proc/${c.pid}/exe`;
    expect(writableHostBinary(exe), readlinkSync(exe)).toBeUndefined();
  });

  for (const ptrace of [false, true]) {
    it(`a process in the same pid namespace cannot reopen the init binary for writing${
      ptrace ? ' (attacker has CAP_SYS_PTRACE)' : ''
    }`, async () => {
      const before = rt.hostBinaries.map(fingerprint);
      // A owns the pid namespace; B's init (the runtime's code, waiting for
      // start) joins it, which puts it in reach of A like `exec` would.
      const attack = [
        'while [ ! -e /t/go1 ]; do sleep 0.05; done',
        'for p in /proc/[0-9]*; do e=$(readlink $p/exe 2>&1); case "$e" in /bin/busybox) ;; *) echo "exe $p $e"; t=$p;; esac; done',
        // A failed `exec 3<` would end the shell, so probe with a reader first.
        'if head -c1 "$t/exe" >/dev/null; then exec 3< "$t/exe"; echo held; else echo open-failed; fi',
        'touch /t/held',
        'while [ ! -e /t/go2 ]; do sleep 0.05; done',
        'if printf Z 1<> /proc/self/fd/3; then echo write-ok; else echo write-failed; fi',
        'echo finished',
      ].join('\n');
      const a = await ctx.bundle({ args: ['sh', '-c', `exec 2>&1\n${attack}`] });
      mkdirSync(path.join(a.rootfs, 't'));
      if (ptrace) {
        a.edit((cfg: OciConfig) => {
          const caps = proc(cfg).capabilities ?? {};
          for (const set of ['bounding', 'effective', 'permitted'] as const) {
            caps[set] = [...(caps[set] ?? []), 'CAP_SYS_PTRACE'];
          }
          proc(cfg).capabilities = caps;
        });
      }
      const attacker = await ctx.create(a);
      await ctx.start(attacker.id);

      const vb = await ctx.bundle({ args: ['/evil'] });
      vb.writeRootfsFile('evil', '#!/proc/self/exe\n', 0o755);
      vb.edit((cfg) => {
        setNamespace(cfg, { type: 'pid', path: `/proc/${attacker.pid}/ns/pid` });
      });
      const victim = await ctx.create(vb);

      const t = path.join(a.rootfs, 't');
      writeFileSync(path.join(t, 'go1'), '');
      await waitFor(() => existsSync(path.join(t, 'held')), 'the attacker to open the exe');
      const log = () => readIfExists(attacker.stdoutPath);
      if (log().includes('held')) {
        // Never let the attacker write if what it holds is a host binary.
        const held = `/proc/${attacker.pid}/fd/3`;
        expect(writableHostBinary(held), `${readlinkSync(held)}\n${log()}`).toBeUndefined();
      }
      const k = await ctx.rt(['kill', victim.id, 'KILL']);
      expect(k.exitCode, describeResult(k)).toBe(0);
      await waitFor(() => !pidAlive(victim.pid), 'the victim init to die');
      writeFileSync(path.join(t, 'go2'), '');
      await waitFor(() => log().includes('finished'), 'the attacker to finish');

      expect(rt.hostBinaries.map(fingerprint)).toEqual(before);
      expect(log()).toMatch(/open-failed|write-failed|held/);
      expect(log(), 'the host binary was not the one written').not.toMatch(
        new RegExp(
          `exe /proc/\\d+ (${rt.hostBinaries.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`,
          'm',
        ),
      );
    });
  }
});

describe('masked paths that are symlinks', () => {
  it('a masked symlink to a host path or into /proc mounts nothing outside the rootfs', async () => {
    const { dir, secret } = hostSecretDir();
    const hostFile = path.join(dir, 'host-marker');
    const hostMounts = readFileSync('/proc/self/mountinfo', 'utf8');
    const hostHostname = readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const b = await ctx.bundle({
      args: [
        'sh',
        '-c',
        'cat /proc/self/mountinfo; echo "link1=$(readlink /hostlink)"; echo "link2=$(readlink /proclink)"',
      ],
    });
    // Absolute targets: inside the container they point at nothing / at the
    // container's procfs; resolved on the host they would escape.
    symlinkSync(hostFile, path.join(b.rootfs, 'hostlink'));
    symlinkSync('/proc/sys/kernel/hostname', path.join(b.rootfs, 'proclink'));
    b.edit((c) => {
      const l = linux(c);
      l.maskedPaths = [...(l.maskedPaths ?? []), '/hostlink', '/proclink'];
    });
    const r = await ctx.run(b);
    const out = String(r.stdout);
    // The host is untouched: same file, same mounts, same hostname.
    expect(readFileSync(hostFile, 'utf8')).toBe(`${secret}\n`);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(hostMounts);
    expect(readFileSync('/proc/sys/kernel/hostname', 'utf8')).toBe(hostHostname);
    if (r.exitCode === 0) {
      // No mount inside the container names the host path.
      expect(out.slice(0, out.indexOf('link1='))).not.toContain(dir);
      // The links themselves stay links (nothing replaced them).
      expect(out).toContain(`link1=${hostFile}`);
      expect(out).toContain('link2=/proc/sys/kernel/hostname');
    } else {
      expect(String(r.stderr).trim()).not.toBe('');
    }
  });
});
