import { realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Bundle } from './helpers/bundle.js';
import { pidAlive, readIfExists, useE2E, waitFor } from './helpers/context.js';
import { describeResult, isCrun } from './helpers/runtime.js';
import { stateViolations } from './helpers/schema.js';

const ctx = useE2E('cmd');

// crun 1.8.1 maps an unknown signal name to 0: `kill <id> BOGUS` exits 0 and
// does nothing. The spec requires an error for an operation that cannot be done.
const CRUN_ACCEPTS_BAD_SIGNAL_NAMES = isCrun();

// pid 1 of a PID namespace only receives signals it has a handler for, so the
// container installs traps and reports which signal arrived.
const TRAPPING = [
  'sh',
  '-c',
  'trap "echo got-usr1; exit 11" USR1; trap "echo got-term; exit 15" TERM; ' +
    'echo ready; while :; do sleep 0.1; done',
];

async function trappingContainer(): Promise<{ b: Bundle; id: string; out: string; pid: number }> {
  const b = await ctx.bundle({ args: TRAPPING });
  const c = await ctx.create(b);
  await ctx.start(c.id);
  await waitFor(() => readIfExists(c.stdoutPath).includes('ready'), 'the traps to be set');
  return { b, id: c.id, out: c.stdoutPath, pid: c.pid };
}

describe('kill', () => {
  for (const sig of ['KILL', 'SIGKILL', '9']) {
    it(`stops a running container with "${sig}"`, async () => {
      const b = await ctx.bundle({ args: ['sleep', '60'] });
      const c = await ctx.create(b);
      await ctx.start(c.id);
      const r = await ctx.rt(['kill', c.id, sig]);
      expect(r.exitCode, describeResult(r)).toBe(0);
      await ctx.waitForStatus(c.id, 'stopped');
      expect(pidAlive(c.pid)).toBe(false);
    });
  }

  for (const sig of ['USR1', 'SIGUSR1', '10']) {
    it(`delivers exactly the named signal "${sig}"`, async () => {
      const t = await trappingContainer();
      const r = await ctx.rt(['kill', t.id, sig]);
      expect(r.exitCode, describeResult(r)).toBe(0);
      await waitFor(() => readIfExists(t.out).includes('got-'), 'the trap to fire');
      expect(readIfExists(t.out)).toContain('got-usr1');
      await ctx.waitForStatus(t.id, 'stopped');
    });
  }

  it('sends SIGTERM when no signal is given', async () => {
    const t = await trappingContainer();
    const r = await ctx.rt(['kill', t.id]);
    expect(r.exitCode, describeResult(r)).toBe(0);
    await waitFor(() => readIfExists(t.out).includes('got-'), 'the trap to fire');
    expect(readIfExists(t.out)).toContain('got-term');
  });

  it('can kill a created container before it starts', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const c = await ctx.create(b);
    const r = await ctx.rt(['kill', c.id, 'KILL']);
    expect(r.exitCode, describeResult(r)).toBe(0);
    await ctx.waitForStatus(c.id, 'stopped');
  });

  for (const sig of ['BOGUS', 'SIGBOGUS', '999']) {
    const numeric = /^\d+$/.test(sig);
    it.skipIf(CRUN_ACCEPTS_BAD_SIGNAL_NAMES && !numeric)(
      `rejects the bad signal "${sig}" and leaves the container running`,
      async () => {
        const b = await ctx.bundle({ args: ['sleep', '60'] });
        const c = await ctx.create(b);
        await ctx.start(c.id);
        const r = await ctx.rt(['kill', c.id, sig]);
        expect(r.exitCode, describeResult(r)).not.toBe(0);
        expect(String(r.stderr).trim()).not.toBe('');
        const st = await ctx.state(c.id);
        expect(st.status).toBe('running');
        expect(st.pid).toBe(c.pid);
        expect(pidAlive(c.pid)).toBe(true);
      },
    );
  }

  it('fails on a stopped container', async () => {
    const b = await ctx.bundle({ args: ['true'] });
    const c = await ctx.create(b);
    await ctx.start(c.id);
    await ctx.waitForStatus(c.id, 'stopped');
    const r = await ctx.rt(['kill', c.id, 'KILL']);
    expect(r.exitCode, describeResult(r)).not.toBe(0);
    expect(String(r.stderr).trim()).not.toBe('');
    expect((await ctx.state(c.id)).status).toBe('stopped');
  });
});

describe('list', () => {
  async function twoContainers(): Promise<{ created: string; running: string; b: Bundle }> {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const c1 = await ctx.create(b, { id: ctx.id('a') });
    const c2 = await ctx.create(b, { id: ctx.id('b') });
    await ctx.start(c2.id);
    return { created: c1.id, running: c2.id, b };
  }

  it('prints a table with a header and one row per container', async () => {
    const { created, running } = await twoContainers();
    const r = await ctx.rt(['list']);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const lines = String(r.stdout).trim().split('\n');
    expect(lines[0]).toMatch(/\bPID\b/);
    expect(lines[0]).toMatch(/\bSTATUS\b/);
    const rowOf = (id: string) => lines.find((l) => l.split(/\s+/)[0] === id);
    expect(rowOf(created)).toMatch(/\bcreated\b/);
    expect(rowOf(running)).toMatch(/\brunning\b/);
    expect(lines.length).toBe(3);
  });

  it('--format json lists id, pid, status and bundle', async () => {
    const { created, running, b } = await twoContainers();
    const r = await ctx.rt(['list', '--format', 'json']);
    expect(r.exitCode, describeResult(r)).toBe(0);
    const arr = JSON.parse(String(r.stdout)) as Array<Record<string, unknown>>;
    expect(Array.isArray(arr)).toBe(true);
    expect(arr.map((e) => e.id).sort()).toEqual([created, running].sort());
    for (const e of arr) {
      expect(e.bundle).toBe(realpathSync(b.dir));
      expect(typeof e.pid).toBe('number');
      expect(e.pid as number).toBeGreaterThan(0);
      expect(e.status).toBe(e.id === created ? 'created' : 'running');
    }
  });

  it('--quiet prints only the ids', async () => {
    const { created, running } = await twoContainers();
    const r = await ctx.rt(['list', '--quiet']);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(String(r.stdout).trim().split('\n').sort()).toEqual([created, running].sort());
  });

  it('an empty root lists nothing', async () => {
    const q = await ctx.rt(['list', '-q']);
    expect(q.exitCode, describeResult(q)).toBe(0);
    expect(String(q.stdout).trim()).toBe('');
    const j = await ctx.rt(['list', '--format', 'json']);
    expect(j.exitCode, describeResult(j)).toBe(0);
    // runc prints `null` for no containers; an empty array means the same.
    const parsed = JSON.parse(String(j.stdout)) as unknown;
    expect(parsed === null || (Array.isArray(parsed) && parsed.length === 0)).toBe(true);
  });
});

describe('state', () => {
  it('conforms to the runtime-spec state schema in every status', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    b.edit((c) => {
      c.annotations = { 'org.example.e2e': 'yes', 'org.example.other': 'v' };
    });
    const c = await ctx.create(b);
    const bundleDir = realpathSync(b.dir);
    const check = async (status: string) => {
      const r = await ctx.rt(['state', c.id]);
      expect(r.exitCode, describeResult(r)).toBe(0);
      const doc = JSON.parse(String(r.stdout)) as Record<string, unknown>;
      expect(stateViolations(doc)).toEqual([]);
      expect(doc.id).toBe(c.id);
      expect(doc.status).toBe(status);
      expect(doc.bundle).toBe(bundleDir);
      expect(String(doc.ociVersion)).toMatch(/^\d+\.\d+\.\d+/);
      return doc;
    };
    const created = await check('created');
    expect(created.pid).toBe(c.pid);
    await ctx.start(c.id);
    const running = await check('running');
    expect(running.pid).toBe(c.pid);
    await ctx.rt(['kill', c.id, 'KILL']);
    await ctx.waitForStatus(c.id, 'stopped');
    const stopped = await check('stopped');
    // runc reports pid 0 once stopped; a stale pid could name a reused process.
    expect(stopped.pid ?? 0).toBe(0);
  });

  it('carries the annotations from config.json', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    b.edit((c) => {
      c.annotations = { 'org.example.e2e': 'yes' };
    });
    const c = await ctx.create(b);
    const st = await ctx.state(c.id);
    // Optional in the spec, but engines read them back (runc and crun both do).
    expect(st.annotations).toEqual({ 'org.example.e2e': 'yes' });
  });

  it('includes a parseable creation time when it reports one', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const before = Date.now();
    const c = await ctx.create(b);
    const st = await ctx.state(c.id);
    expect(typeof st.created).toBe('string');
    const t = Date.parse(String(st.created));
    expect(t).toBeGreaterThan(before - 60_000);
    expect(t).toBeLessThan(Date.now() + 60_000);
  });
});
