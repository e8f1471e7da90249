import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pidAlive, readIfExists, useE2E, waitFor } from './helpers/context.js';
import { describeResult } from './helpers/runtime.js';

const ctx = useE2E('life');

describe('create / start / kill / delete', () => {
  it('walks a container through every state', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'echo started; exec sleep 60'] });
    const c = await ctx.create(b);

    const created = await ctx.state(c.id);
    expect(created.status).toBe('created');
    expect(created.pid).toBeGreaterThan(0);
    expect(pidAlive(created.pid ?? 0)).toBe(true);
    // The user program must not run before start.
    expect(readIfExists(c.stdoutPath)).toBe('');

    await ctx.start(c.id);
    const running = await ctx.state(c.id);
    expect(running.status).toBe('running');
    expect(running.pid).toBe(created.pid);
    await waitFor(() => readIfExists(c.stdoutPath) === 'started\n', 'the program to print');

    const kill = await ctx.rt(['kill', c.id, 'KILL']);
    expect(kill.exitCode, describeResult(kill)).toBe(0);
    const stopped = await ctx.waitForStatus(c.id, 'stopped');
    expect(stopped.id).toBe(c.id);
    expect(pidAlive(created.pid ?? 0)).toBe(false);

    const del = await ctx.rt(['delete', c.id]);
    expect(del.exitCode, describeResult(del)).toBe(0);
    const gone = await ctx.rt(['state', c.id]);
    expect(gone.exitCode).not.toBe(0);
    expect(String(gone.stderr)).toMatch(/not exist|not found|no such/i);
    const list = await ctx.rt(['list', '--format', 'json']);
    expect(String(list.stdout)).not.toContain(c.id);
  });

  it('reports stopped once the program exits by itself, then deletes', async () => {
    const b = await ctx.bundle({ args: ['true'] });
    const c = await ctx.create(b);
    await ctx.start(c.id);
    const st = await ctx.waitForStatus(c.id, 'stopped');
    expect(st.status).toBe('stopped');
    const del = await ctx.rt(['delete', c.id]);
    expect(del.exitCode, describeResult(del)).toBe(0);
    expect((await ctx.rt(['state', c.id])).exitCode).not.toBe(0);
  });

  it('delete --force removes a running container and its process', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const c = await ctx.create(b);
    await ctx.start(c.id);
    const del = await ctx.rt(['delete', '--force', c.id]);
    expect(del.exitCode, describeResult(del)).toBe(0);
    await waitFor(() => !pidAlive(c.pid), 'the container process to die');
    expect((await ctx.rt(['state', c.id])).exitCode).not.toBe(0);
  });

  it('delete --force removes a created (never started) container', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const c = await ctx.create(b);
    const del = await ctx.rt(['delete', '--force', c.id]);
    expect(del.exitCode, describeResult(del)).toBe(0);
    await waitFor(() => !pidAlive(c.pid), 'the init to die');
    expect((await ctx.rt(['state', c.id])).exitCode).not.toBe(0);
  });
});

describe('run', () => {
  it('exits 0 and passes stdout through', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'echo hello from $(hostname)'] });
    b.edit((c) => {
      c.hostname = 'e2e-box';
    });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('hello from e2e-box\n');
  });

  it('passes stderr through separately', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'echo out; echo err >&2'] });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('out\n');
    expect(String(r.stderr)).toContain('err\n');
  });

  it('exits with the program status', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'exit 3'] });
    const r = await ctx.run(b);
    expect(r.exitCode, describeResult(r)).toBe(3);
  });

  it('exits 128+9 when the container is killed with SIGKILL', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const id = ctx.id('sig');
    const running = ctx.run(b, { id });
    // Poll: `run` creates the state asynchronously.
    let ok = false;
    for (let i = 0; i < 200 && !ok; i++) {
      const st = await ctx.rt(['state', id]);
      ok = st.exitCode === 0 && JSON.parse(String(st.stdout)).status === 'running';
      if (!ok) await sleep(50);
    }
    expect(ok).toBe(true);
    const k = await ctx.rt(['kill', id, 'KILL']);
    expect(k.exitCode, describeResult(k)).toBe(0);
    const r = await running;
    expect(r.exitCode, describeResult(r)).toBe(128 + 9);
  });

  it('passes stdin to the container untouched', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'read line; echo "got:$line"'] });
    const r = await ctx.run(b, { input: 'ping\n' });
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(r.stdout).toBe('got:ping\n');
  });

  it('leaves nothing behind after a foreground run unless kept', async () => {
    const b = await ctx.bundle({ args: ['true'] });
    const id = ctx.id('gone');
    const r = await ctx.run(b, { id });
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect((await ctx.rt(['state', id])).exitCode).not.toBe(0);
  });

  it('run --detach returns while the container keeps running', async () => {
    const b = await ctx.bundle({ args: ['sh', '-c', 'echo up; exec sleep 60'] });
    const id = ctx.id('det');
    const out = path.join(b.dir, 'detached.out');
    const started = Date.now();
    const r = await ctx.run(b, {
      id,
      flags: ['--detach'],
      stdout: { file: out },
      stderr: { file: path.join(b.dir, 'detached.err') },
    });
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    const st = await ctx.state(id);
    expect(st.status).toBe('running');
    expect(pidAlive(st.pid ?? 0)).toBe(true);
    await waitFor(() => readIfExists(out) === 'up\n', 'the detached container output');
  });
});

describe('--pid-file', () => {
  it('create writes the container pid, digits only', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const pidFile = path.join(b.dir, 'container.pid');
    const c = await ctx.create(b, { flags: ['--pid-file', pidFile] });
    const content = readFileSync(pidFile, 'utf8');
    // go-runc reads it with strconv.Atoi on the whole file: no trailing newline.
    expect(content).toMatch(/^[1-9][0-9]*$/);
    expect(Number(content)).toBe(c.pid);
  });

  it('run --detach writes the pid of the running process', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const pidFile = path.join(b.dir, 'run.pid');
    const id = ctx.id('pf');
    const r = await ctx.run(b, {
      id,
      flags: ['--detach', '--pid-file', pidFile],
      stdout: 'ignore',
      stderr: 'ignore',
    });
    expect(r.exitCode, describeResult(r)).toBe(0);
    const content = readFileSync(pidFile, 'utf8');
    expect(content).toMatch(/^[1-9][0-9]*$/);
    expect(Number(content)).toBe((await ctx.state(id)).pid);
    expect(readFileSync(`/proc/${content}/cmdline`, 'utf8').split('\0')[0]).toBe('sleep');
  });
});
