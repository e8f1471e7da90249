import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Bundle } from './helpers/bundle.js';
import { pidAlive, useE2E, waitFor } from './helpers/context.js';
import { describeResult, isCrun } from './helpers/runtime.js';

const ctx = useE2E('exec');

// crun 1.8.1: `exec --env K=V` replaces the process environment, PATH
// included ("executable file `sh` not found in $PATH"); runc and the spec's
// process.env merge it into the container's.
const CRUN_EXEC_ENV_REPLACES_ENV = isCrun();

async function running(): Promise<{ b: Bundle; id: string; pid: number }> {
  const b = await ctx.bundle({
    args: ['sleep', '60'],
    edit: (c) => {
      c.hostname = 'exec-box';
    },
  });
  const c = await ctx.create(b);
  await ctx.start(c.id);
  return { b, id: c.id, pid: c.pid };
}

const out = (r: { stdout?: unknown }) => String(r.stdout ?? '');

describe('exec', () => {
  it("runs in the container's namespaces and exits with the process's status", async () => {
    const { id } = await running();
    const host = await ctx.rt(['exec', id, 'hostname']);
    expect(host.exitCode, describeResult(host)).toBe(0);
    expect(out(host).trim()).toBe('exec-box');
    // Its own pid namespace: the container's process is pid 1 there.
    const ps = await ctx.rt(['exec', id, 'cat', '/proc/1/cmdline']);
    expect(out(ps).split('\0')[0]).toBe('sleep');
    const failed = await ctx.rt(['exec', id, 'sh', '-c', 'exit 7']);
    expect(failed.exitCode).toBe(7);
  });

  it.skipIf(CRUN_EXEC_ENV_REPLACES_ENV)('applies --env, --cwd and --user', async () => {
    const { id } = await running();
    const r = await ctx.rt([
      'exec',
      '--env',
      'GREETING=hi there',
      '--cwd',
      '/tmp',
      '--user',
      '1000:1000',
      id,
      'sh',
      '-c',
      'echo "$GREETING|$(pwd)|$(id -u):$(id -g)"',
    ]);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(out(r).trim()).toBe('hi there|/tmp|1000:1000');
  });

  it('--detach returns at once and --pid-file names the running process', async () => {
    const { id } = await running();
    const pidFile = path.join(ctx.base, 'exec.pid');
    // The detached process inherits stdio: a pipe would stay open as long as it lives.
    const r = await ctx.rt(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30'], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    expect(r.exitCode, describeResult(r)).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(pidAlive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('sleep');
  });

  it('a running exec neither holds the container nor delays its pid file', async () => {
    const { id } = await running();
    const pidFile = path.join(ctx.base, 'fg.pid');
    // Foreground exec of a process that lives until the container is killed.
    const fg = ctx.rt(['exec', '--pid-file', pidFile, id, 'sleep', '60'], { timeoutMs: 30_000 });
    await waitFor(() => existsSync(pidFile), 'the pid file of the foreground exec');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pidAlive(pid)).toBe(true);
    // Other commands on the container go through while the exec runs
    // (a held lock would make each wait for the exec's whole life).
    const st = await ctx.rt(['state', id], { timeoutMs: 10_000 });
    expect(st.exitCode, describeResult(st)).toBe(0);
    expect(JSON.parse(out(st)).status).toBe('running');
    const kill = await ctx.rt(['kill', '--all', id, 'KILL'], { timeoutMs: 10_000 });
    expect(kill.exitCode, describeResult(kill)).toBe(0);
    const r = await fg;
    // Killed with the rest of the container: 128 + SIGKILL.
    expect(r.exitCode).toBe(137);
    await ctx.waitForStatus(id, 'stopped');
  });

  it('fails clearly for a program that does not exist, and in a stopped container', async () => {
    const { id } = await running();
    const missing = await ctx.rt(['exec', id, '/no/such/program']);
    expect(missing.exitCode).not.toBe(0);
    expect(String(missing.stderr)).toMatch(/no such file|not found/i);
    await ctx.rt(['kill', id, 'KILL']);
    await ctx.waitForStatus(id, 'stopped');
    const stopped = await ctx.rt(['exec', id, 'true']);
    expect(stopped.exitCode).not.toBe(0);
    expect(String(stopped.stderr)).toMatch(/stopped|not running/i);
  });
});
