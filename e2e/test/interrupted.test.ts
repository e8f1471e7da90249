import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useE2E } from './helpers/context.js';
import { isCrun, isRunc, rt, runtimeEnv } from './helpers/runtime.js';

const ctx = useE2E('intr');

// runc and crun leave their init process and cgroups behind when `create` is
// SIGKILLed mid-way (observed with runc 1.1.5); tsoci records each thing it
// creates before creating it, so `delete --force` finds and removes it all.
const LEAKS_KILLED_CREATE = isRunc() || isCrun();

/** Pids whose command line contains `marker` (the container's unique sleep argument). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.split('\0').includes(marker)) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function cgroupDirsNamed(id: string): string {
  try {
    return execFileSync('find', ['/sys/fs/cgroup', '-xdev', '-type', 'd', '-name', id], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return '';
  }
}

describe('a create killed with SIGKILL at any moment', () => {
  it.skipIf(LEAKS_KILLED_CREATE)(
    'leaves a container that delete --force removes completely: process, cgroup, mounts, state',
    async () => {
      const bundle = await ctx.bundle();
      // Delays spread over the whole create (about 60-250 ms for tsoci here).
      for (const delay of [0, 15, 30, 50, 75, 100, 130, 170, 220, 300]) {
        const marker = String(900_000 + delay);
        bundle.edit((c) => {
          if (c.process) c.process.args = ['sleep', marker];
        });
        const id = ctx.id(`d${delay}`);
        const out = openSync(path.join(bundle.dir, `out-${delay}.txt`), 'a');
        const child = spawn(
          rt.file,
          [...rt.prefix, '--root', ctx.root, 'create', '--bundle', bundle.dir, id],
          {
            env: runtimeEnv,
            stdio: ['ignore', out, out],
          },
        );
        // Listen before killing: a fast create may have exited already.
        const exited = once(child, 'exit');
        await sleep(delay);
        child.kill('SIGKILL');
        await exited;

        const del = await ctx.rt(['delete', '--force', id]);
        expect(
          del.exitCode,
          `delete --force after a kill at ${delay} ms: ${String(del.stderr)}`,
        ).toBe(0);
        expect(existsSync(path.join(ctx.root, id)), `state dir after ${delay} ms`).toBe(false);
        // The container process and every init stage are gone (PDEATHSIG or delete).
        for (let i = 0; i < 100 && processesWith(marker).length > 0; i++) await sleep(20);
        expect(processesWith(marker), `processes after a kill at ${delay} ms`).toEqual([]);
        expect(cgroupDirsNamed(id), `cgroups after a kill at ${delay} ms`).toBe('');
        expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(bundle.rootfs);
        const st = await ctx.rt(['state', id]);
        expect(st.exitCode).not.toBe(0);
      }
    },
    120_000,
  );
});
