import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  NamespaceError,
  namespaceOf,
  nsenterCommand,
  sameNamespace,
  spawnInNamespacesOf,
  spawnInNewNamespaces,
  unshareCommand,
} from '../src/index.js';

async function output(
  child: ReturnType<typeof spawn>,
): Promise<{ code: number | null; out: string }> {
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

describe('unshare / nsenter through tsoci-init (root)', () => {
  it('runs a command as pid 1 of a new pid namespace with its own hostname', async () => {
    const child = spawnInNewNamespaces(
      ['/bin/busybox', 'sh', '-c', 'hostname inside-ns && hostname && echo $$'],
      ['uts', 'pid', 'mount'],
      { spawn: { stdio: ['ignore', 'pipe', 'inherit'] } },
    );
    const r = await output(child);
    expect(r).toEqual({ code: 0, out: 'inside-ns\n1\n' });
    expect((await import('node:os')).hostname()).not.toBe('inside-ns');
  });

  it('maps root in a new user namespace', async () => {
    const r = await output(
      spawnInNewNamespaces(['/bin/busybox', 'cat', '/proc/self/uid_map'], [], {
        mapRoot: true,
        spawn: { stdio: ['ignore', 'pipe', 'inherit'] },
      }),
    );
    expect(r.code).toBe(0);
    expect(r.out.trim().split(/\s+/)).toEqual(['0', String(process.getuid?.() ?? 0), '1']);
  });

  it('joins the namespaces of another process, with env and argv0', async () => {
    const target = spawn('unshare', ['--uts', 'sh', '-c', 'hostname joined-ns; exec sleep 10'], {
      stdio: 'ignore',
    });
    try {
      const pid = target.pid ?? 0;
      for (
        let i = 0;
        i < 200 && sameNamespace(namespaceOf(pid, 'uts'), namespaceOf('self', 'uts'));
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 50));
      const r = await output(
        spawnInNamespacesOf(
          pid,
          ['/bin/busybox', 'sh', '-c', 'echo "$(hostname) $GREETING $0"'],
          ['uts'],
          {
            env: { GREETING: 'hi' },
            spawn: { stdio: ['ignore', 'pipe', 'inherit'] },
          },
        ),
      );
      expect(r).toEqual({ code: 0, out: 'joined-ns hi sh\n' });
    } finally {
      target.kill('SIGKILL');
      await once(target, 'exit');
    }
  });

  it('passes the exit status through and reports 127 for a missing program', async () => {
    expect(
      (await output(spawnInNewNamespaces(['/bin/busybox', 'sh', '-c', 'exit 7'], ['uts']))).code,
    ).toBe(7);
    const missing = spawnInNewNamespaces(['/no/such/program'], ['uts'], {
      spawn: { stdio: 'ignore' },
    });
    expect((await output(missing)).code).toBe(127);
  });

  it('builds command lines and rejects bad input before spawning anything', () => {
    expect(unshareCommand(['true'], ['uts', 'pid'], { mapRoot: true, argv0: 'x' }).args).toEqual([
      'unshare',
      '--ns',
      'uts',
      '--ns',
      'pid',
      '--argv0',
      'x',
      '--map-root',
      '--',
      'true',
    ]);
    expect(nsenterCommand(42, ['sh'], [], { env: { A: '1' }, clearEnv: true }).args).toEqual([
      'nsenter',
      '--target',
      '42',
      '--env',
      'A=1',
      '--clear-env',
      '--',
      'sh',
    ]);
    expect(() => unshareCommand([], ['uts'])).toThrow(NamespaceError);
    expect(() => unshareCommand(['true'], ['net' as never])).toThrow(
      /unknown namespace kind "net"/,
    );
    expect(() => nsenterCommand(0, ['sh'])).toThrow(/invalid pid 0/);
    expect(() => nsenterCommand(1, ['sh'], [], { env: { 'A=B': 'x' } })).toThrow(
      /invalid environment variable name/,
    );
  });
});
