import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The examples import the built packages (they are plain .mjs): `pnpm build` first.
const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLES = resolve(here, '../../../examples');
const BUILT = resolve(here, '../dist/index.js');

function example(name: string, args: string[]) {
  const r = spawnSync(process.execPath, [resolve(EXAMPLES, name), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sandbox(args: string[]) {
  const r = example('sandbox.mjs', args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as {
    exitCode: number;
    signal: string | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
  };
}

describe.skipIf(!existsSync(BUILT))('examples (root)', () => {
  it('sandbox: captures output and status; read-only root, tmpfs, own network, unprivileged', () => {
    const r = sandbox([
      '--',
      'sh',
      '-c',
      'echo hello; echo oops >&2; id -u; touch /x 2>/dev/null || echo ro-root; ' +
        'touch /tmp/f && echo tmp-ok; grep -c : /proc/net/dev; exit 3',
    ]);
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false, stderr: 'oops\n' });
    // Only the loopback in /proc/net/dev: the host's interfaces are not visible.
    expect(r.stdout).toBe('hello\n65534\nro-root\ntmp-ok\n1\n');
  });

  it('sandbox: the wall-time limit kills the command', () => {
    const started = Date.now();
    const r = sandbox(['--timeout', '300', '--', 'sleep', '30']);
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: 137 });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('sandbox: the pids and memory limits hold', () => {
    const forks = sandbox([
      '--pids',
      '8',
      '--',
      'sh',
      '-c',
      'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; wait',
    ]);
    expect(forks.stderr).toMatch(/can't fork/);
    const hog = sandbox([
      '--memory',
      String(32 * 1024 * 1024),
      '--',
      'sh',
      '-c',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template
      'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo ${#x}',
    ]);
    expect(hog).toMatchObject({ signal: 'SIGKILL', timedOut: false, stdout: '' });
  });

  it('supervisor: restarts a crashing container with back-off and logs its events', () => {
    const r = example('supervisor.mjs', ['--fail-times', '2', '--backoff', '20']);
    expect(r.status).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const perAttempt = (n: number) =>
      lines.filter((l) => l.attempt === n && typeof l.type === 'string').map((l) => l.type);
    for (const n of [1, 2, 3]) {
      expect(perAttempt(n)).toEqual(['created', 'started', 'exited', 'deleted']);
    }
    const exits = lines.filter((l) => l.type === 'exited').map((l) => l.exitCode);
    expect(exits).toEqual([3, 3, 0]);
    const backoffs = lines.filter((l) => l.supervisor === 'restarting').map((l) => l.afterMs);
    expect(backoffs).toEqual([20, 40]);
    expect(lines.at(-1)).toMatchObject({ supervisor: 'done', attempts: 3 });
    expect(r.stderr).toBe('crashing\ncrashing\n');
  });
});
