/**
 * OOM events from kernel notifications, not polling: cgroup v1 for real
 * (eventfd on memory.oom_control; this host's memory controller is v1), and
 * the v2 path (inotify on memory.events, rmdir of the cgroup) on a fake tree.
 * The real test gives `oomEvents` a poll interval of an hour: only a
 * notification can deliver the event within the test's time.
 */
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ContainerEvent, Runtime } from '../src/index.js';
import { OomWatch, oomTarget } from '../src/oom.js';
import { busyboxBundle, tempRoot, uniqueId } from './fixtures.js';

vi.setConfig({ testTimeout: 60_000 });

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const MEMORY_V1 = existsSync('/sys/fs/cgroup/memory/memory.oom_control');
const LIMIT = 24 * 1024 * 1024;

/** A container that runs out of memory again and again (`sort` holds all its input). */
function hog() {
  const bundle = busyboxBundle((c) => {
    if (c.process) {
      c.process.args = [
        'sh',
        '-c',
        'while :; do head -c 200000000 /dev/zero | busybox tr "\\0" a | busybox sort >/dev/null; done',
      ];
    }
    c.linux = {
      ...c.linux,
      resources: { ...c.linux?.resources, memory: { limit: LIMIT, swap: LIMIT } },
    };
  });
  const state = tempRoot();
  const rt = new Runtime({ root: state.root });
  const id = uniqueId('oom');
  cleanups.push(bundle.cleanup, state.cleanup, () =>
    rt.delete(id, { force: true }).catch(() => {}),
  );
  return { rt, id, bundle: bundle.dir };
}

describe.skipIf(!MEMORY_V1)('OOM events on cgroup v1 (root)', () => {
  it('oomEvents reports an OOM through the eventfd, without polling', async () => {
    const { rt, id, bundle } = hog();
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const it = rt.oomEvents(id, { intervalMs: 3_600_000 });
    const first = await it.next();
    expect(first).toMatchObject({ done: false, value: { type: 'oom', id } });
    const second = await it.next();
    expect(second).toMatchObject({ done: false, value: { type: 'oom', id } });
    await it.return(undefined);
    await c.delete({ force: true });
  });

  it('an open iterator ends when the cgroup is removed (the eventfd fires for that too)', async () => {
    const { rt, id, bundle } = hog();
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const seen: string[] = [];
    const watching = (async () => {
      for await (const ev of rt.oomEvents(id, { intervalMs: 3_600_000 })) {
        seen.push(ev.type);
        if (seen.length === 1) await c.delete({ force: true });
      }
    })();
    await watching;
    expect(seen[0]).toBe('oom');
  });

  it('Container.events() includes oom, then the exit and delete', async () => {
    const { rt, id, bundle } = hog();
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const types: string[] = [];
    for await (const ev of c.events() as AsyncGenerator<ContainerEvent>) {
      types.push(ev.type);
      // The shell loop outlives its killed `sort`s: stop it at the first OOM.
      if (ev.type === 'oom' && types.filter((t) => t === 'oom').length === 1) await c.kill('KILL');
      if (ev.type === 'exited') await c.delete();
    }
    expect(types.slice(0, 2)).toEqual(['created', 'started']);
    expect(types).toContain('oom');
    expect(types.indexOf('oom')).toBeLessThan(types.indexOf('exited'));
    expect(types.at(-1)).toBe('deleted');
  });
});

describe('OOM watch on a cgroup v2 tree (fake: inotify on memory.events)', () => {
  it('an event per rise of oom_kill; the end when the directory is removed', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tsoci-oom-v2-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const dir = join(base, 'ctr');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const events = join(dir, 'memory.events');
    writeFileSync(events, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 3\n');
    expect(
      oomTarget({ driver: 'cgroupfs', version: 2, paths: { unified: dir }, mounts: {} } as never),
    ).toEqual({ kind: 'v2', dir });

    const watch = new OomWatch('v2', dir);
    const it = watch.events();
    const first = it.next();
    writeFileSync(events, 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 4\n');
    expect(await first).toMatchObject({ done: false, value: { oomKill: 4 } });
    // An OOM without a kill changes the file but is no event: the next one is the kill.
    const second = it.next();
    writeFileSync(events, 'low 0\nhigh 0\nmax 2\noom 2\noom_kill 4\n');
    writeFileSync(events, 'low 0\nhigh 0\nmax 3\noom 3\noom_kill 6\n');
    expect(await second).toMatchObject({ done: false, value: { oomKill: 6 } });
    // rmdir of the cgroup ends the iterator.
    const third = it.next();
    rmSync(events);
    rmdirSync(dir);
    expect(await third).toEqual({ done: true, value: undefined });
  });

  it('aborting the signal ends the iterator and stops the watch', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tsoci-oom-v2-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    writeFileSync(join(base, 'memory.events'), 'oom_kill 0\n');
    const watch = new OomWatch('v2', base);
    const ac = new AbortController();
    const it = watch.events(ac.signal);
    const next = it.next();
    ac.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    // Later changes reach no one (and nothing throws).
    writeFileSync(join(base, 'memory.events'), 'oom_kill 1\n');
  });

  it('a directory without the memory files is refused at once', () => {
    const base = mkdtempSync(join(tmpdir(), 'tsoci-oom-v2-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    expect(() => new OomWatch('v2', base)).toThrow(/memory\.events/);
    expect(() => new OomWatch('v1', base)).toThrow(/memory\.oom_control/);
  });
});
