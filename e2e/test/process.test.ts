import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Bundle, linux, type OciConfig, proc } from './helpers/bundle.js';
import { capMask, hex, parseCapStatus } from './helpers/caps.js';
import { useE2E } from './helpers/context.js';
import { describeResult } from './helpers/runtime.js';

const ctx = useE2E('proc');

/** Runs `script` with sh in a fresh container and returns its stdout (exit status must be 0). */
async function sh(script: string, edit?: (c: OciConfig) => void, prep?: (b: Bundle) => void) {
  const b = await ctx.bundle({ args: ['sh', '-c', script] });
  if (edit) b.edit(edit);
  prep?.(b);
  const r = await ctx.run(b);
  expect(r.exitCode, describeResult(r)).toBe(0);
  return String(r.stdout);
}

describe('process', () => {
  it('runs as the configured uid, gid and additional gids', async () => {
    const out = await sh('id -u; id -g; id -G', (c) => {
      proc(c).user = { uid: 1000, gid: 1000, additionalGids: [5, 100] };
    });
    const [uid, gid, groups] = out.trim().split('\n');
    expect(uid).toBe('1000');
    expect(gid).toBe('1000');
    expect(new Set(groups?.split(' '))).toEqual(new Set(['1000', '5', '100']));
  });

  it('passes exactly the configured environment', async () => {
    const b = await ctx.bundle({ args: ['env'] });
    b.edit((c) => {
      proc(c).env = ['PATH=/bin', 'FOO=bar baz', 'EMPTY='];
    });
    // A variable given to the runtime itself must not reach the container.
    const r = await ctx.run(b, { env: { E2E_RUNTIME_ONLY: 'leak' } });
    expect(r.exitCode, describeResult(r)).toBe(0);
    const vars = String(r.stdout)
      .trim()
      .split('\n')
      // runc and crun add HOME from /etc/passwd when the config has none.
      .filter((l) => !l.startsWith('HOME='));
    expect(vars.sort()).toEqual(['EMPTY=', 'FOO=bar baz', 'PATH=/bin']);
  });

  it('starts in process.cwd', async () => {
    const out = await sh('pwd', (c) => {
      proc(c).cwd = '/etc';
    });
    expect(out).toBe('/etc\n');
  });

  it('resolves args[0] through the PATH in process.env', async () => {
    const b = await ctx.bundle({ args: ['mytool'] });
    b.writeRootfsFile('opt/tools/mytool', '#!/bin/sh\necho tool ran\n', 0o755);
    b.edit((c) => {
      proc(c).env = ['PATH=/opt/tools:/bin'];
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('tool ran\n');
  });
});

describe('filesystem restrictions', () => {
  it('root.readonly makes / read-only', async () => {
    const out = await sh('touch /x 2>&1; echo "rc=$?"; touch /dev/shm/y && echo tmpfs-ok', (c) => {
      c.root = { path: 'rootfs', readonly: true };
    });
    expect(out).toMatch(/Read-only file system/);
    expect(out).toMatch(/rc=1/);
    // Only the root is read-only, not the mounts on it.
    expect(out).toContain('tmpfs-ok');
  });

  it('a writable root accepts writes (the control for the test above)', async () => {
    const out = await sh('touch /x && echo ok');
    expect(out).toBe('ok\n');
  });

  it('masks /proc/kcore (or, on kernels without it, /proc/timer_list) and /sys/firmware', async () => {
    // This kernel may lack /proc/kcore; mask whichever non-empty proc file exists.
    const file = ['/proc/kcore', '/proc/timer_list'].find((p) => existsSync(p));
    expect(file, 'a proc file to mask').toBeDefined();
    expect(readdirSync('/sys/firmware').length).toBeGreaterThan(0);
    const out = await sh(
      `echo "file=$(cat ${file} 2>/dev/null | wc -c)"; echo "dir=$(ls -A /sys/firmware | wc -l)"`,
      (c) => {
        const l = linux(c);
        l.maskedPaths = [...new Set([...(l.maskedPaths ?? []), file as string, '/sys/firmware'])];
      },
    );
    expect(out).toBe('file=0\ndir=0\n');
  });

  it('masks a custom directory and file in the rootfs', async () => {
    const out = await sh(
      'echo "dir=$(ls -A /secret | wc -l)"; echo "file=$(cat /secret.txt)"',
      (c) => {
        const l = linux(c);
        l.maskedPaths = [...(l.maskedPaths ?? []), '/secret', '/secret.txt'];
      },
      (b) => {
        mkdirSync(path.join(b.rootfs, 'secret'));
        writeFileSync(path.join(b.rootfs, 'secret/key'), 'hidden');
        writeFileSync(path.join(b.rootfs, 'secret.txt'), 'hidden');
      },
    );
    expect(out).toBe('dir=0\nfile=\n');
  });

  it('without masking the same files are visible (the control)', async () => {
    const out = await sh(
      'echo "dir=$(ls -A /secret | wc -l)"; echo "file=$(cat /secret.txt)"',
      undefined,
      (b) => {
        mkdirSync(path.join(b.rootfs, 'secret'));
        writeFileSync(path.join(b.rootfs, 'secret/key'), 'hidden');
        writeFileSync(path.join(b.rootfs, 'secret.txt'), 'visible');
      },
    );
    expect(out).toBe('dir=1\nfile=visible\n');
  });

  it('readonlyPaths: /proc/sys and a custom directory refuse writes', async () => {
    const out = await sh(
      'echo x > /proc/sys/kernel/hostname 2>/dev/null; echo "sys=$?"; ' +
        'touch /rodir/f 2>&1; echo "rodir=$?"; touch /tmp/f && echo tmp-ok',
      (c) => {
        const l = linux(c);
        l.readonlyPaths = [...new Set([...(l.readonlyPaths ?? []), '/proc/sys', '/rodir'])];
      },
      (b) => {
        mkdirSync(path.join(b.rootfs, 'rodir'));
      },
    );
    expect(out).toMatch(/sys=[1-9]/);
    expect(out).toMatch(/Read-only file system/);
    expect(out).toMatch(/rodir=[1-9]/);
    expect(out).toContain('tmp-ok');
  });
});

describe('limits and privileges', () => {
  it('applies RLIMIT_NOFILE soft and hard', async () => {
    const out = await sh('grep "Max open files" /proc/self/limits; ulimit -n', (c) => {
      proc(c).rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
    });
    const [line, ulimit] = out.trim().split('\n');
    expect(line?.split(/\s+/).slice(3, 5)).toEqual(['123', '456']);
    expect(ulimit).toBe('123');
  });

  it('applies several rlimits at once', async () => {
    const out = await sh('grep -E "Max (processes|core file size)" /proc/self/limits', (c) => {
      proc(c).rlimits = [
        { type: 'RLIMIT_NPROC', soft: 77, hard: 88 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      ];
    });
    expect(out).toMatch(/Max core file size\s+0\s+0\s/);
    expect(out).toMatch(/Max processes\s+77\s+88\s/);
  });

  it('capabilities of the default config appear in /proc/self/status', async () => {
    const b = await ctx.bundle({ args: ['cat', '/proc/self/status'] });
    const caps = proc(b.config).capabilities ?? {};
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const st = parseCapStatus(String(r.stdout));
    expect(hex(st.CapBnd)).toBe(hex(capMask(caps.bounding ?? [])));
    expect(hex(st.CapEff)).toBe(hex(capMask(caps.effective ?? [])));
    expect(hex(st.CapPrm)).toBe(hex(capMask(caps.permitted ?? [])));
  });

  it('a custom capability set for root', async () => {
    const set = ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN', 'CAP_SETPCAP'];
    const b = await ctx.bundle({ args: ['cat', '/proc/self/status'] });
    b.edit((c) => {
      proc(c).capabilities = {
        bounding: set,
        effective: set,
        permitted: set,
        inheritable: [],
        ambient: [],
      };
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const st = parseCapStatus(String(r.stdout));
    expect(hex(st.CapBnd)).toBe(hex(capMask(set)));
    expect(hex(st.CapEff)).toBe(hex(capMask(set)));
    expect(hex(st.CapPrm)).toBe(hex(capMask(set)));
    expect(hex(st.CapInh)).toBe('0x0');
    expect(hex(st.CapAmb)).toBe('0x0');
  });

  it('a non-root user keeps capabilities only through the ambient set', async () => {
    const set = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const b = await ctx.bundle({ args: ['cat', '/proc/self/status'] });
    b.edit((c) => {
      proc(c).user = { uid: 1000, gid: 1000 };
      proc(c).capabilities = {
        bounding: set,
        effective: set,
        permitted: set,
        inheritable: set,
        ambient: set,
      };
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const st = parseCapStatus(String(r.stdout));
    for (const k of ['CapBnd', 'CapEff', 'CapPrm', 'CapInh', 'CapAmb'] as const) {
      expect(hex(st[k]), k).toBe(hex(capMask(set)));
    }
  });

  it('a non-root user without ambient capabilities has none effective', async () => {
    const set = ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const b = await ctx.bundle({ args: ['cat', '/proc/self/status'] });
    b.edit((c) => {
      proc(c).user = { uid: 1000, gid: 1000 };
      proc(c).capabilities = { bounding: set, effective: set, permitted: set };
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const st = parseCapStatus(String(r.stdout));
    expect(hex(st.CapBnd)).toBe(hex(capMask(set)));
    expect(hex(st.CapEff)).toBe('0x0');
    expect(hex(st.CapPrm)).toBe('0x0');
  });

  for (const nnp of [true, false]) {
    it(`noNewPrivileges ${nnp} shows as NoNewPrivs: ${nnp ? 1 : 0}`, async () => {
      const out = await sh('grep NoNewPrivs /proc/self/status', (c) => {
        proc(c).noNewPrivileges = nnp;
      });
      expect(out.trim().split(/\s+/)).toEqual(['NoNewPrivs:', nnp ? '1' : '0']);
    });
  }
});

describe('seccomp', () => {
  const denyMkdir = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };

  it('a filter denying mkdir with EPERM', async () => {
    const out = await sh(
      'mkdir /tmp/x 2>&1; echo "rc=$?"; touch /tmp/y && echo touch-ok; grep "^Seccomp:" /proc/self/status',
      (c) => {
        linux(c).seccomp = denyMkdir;
      },
    );
    expect(out).toMatch(/Operation not permitted/);
    expect(out).toMatch(/rc=1/);
    expect(out).toContain('touch-ok');
    expect(out).toMatch(/Seccomp:\s+2/);
  });

  it('errnoRet picks the errno', async () => {
    const out = await sh('mkdir /tmp/x 2>&1; echo "rc=$?"', (c) => {
      linux(c).seccomp = {
        ...denyMkdir,
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }],
      };
    });
    // 28 is ENOSPC.
    expect(out).toMatch(/No space left on device/);
  });

  it('without a filter mkdir works (the control)', async () => {
    const out = await sh('mkdir /tmp/x && echo ok; grep "^Seccomp:" /proc/self/status', (c) => {
      delete linux(c).seccomp;
    });
    expect(out).toMatch(/^ok\nSeccomp:\s+0\n$/);
  });
});
