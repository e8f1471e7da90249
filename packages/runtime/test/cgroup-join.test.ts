import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Runtime } from '../src/index.js';
import { setNativeSpawn } from '../src/init-channel.js';
import { busyboxBundle, readAll, tempRoot, uniqueId } from './fixtures.js';

// How processes get into the container's cgroups: the init is born in the
// cgroup2 directory (clone3 CLONE_INTO_CGROUP) and moves itself into the v1
// ones (`0` into `tasks`) before anything else. These check the result from
// the host and from inside a cgroup namespace. Root only.
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface StoredCgroup {
  paths: Record<string, string>;
  mounts: Record<string, string>;
}

function setup(args: string[], cgroupns: boolean) {
  const bundle = busyboxBundle((c) => {
    if (c.process) c.process.args = args;
    if (cgroupns) c.linux?.namespaces?.push({ type: 'cgroup' });
  });
  const state = tempRoot();
  const rt = new Runtime({ root: state.root });
  const id = uniqueId('cgj');
  cleanups.push(bundle.cleanup, state.cleanup, () =>
    rt.delete(id, { force: true }).catch(() => {}),
  );
  const stored = (): StoredCgroup =>
    (
      JSON.parse(readFileSync(join(state.root, id, 'state.json'), 'utf8')) as {
        cgroup: StoredCgroup;
      }
    ).cgroup;
  return { rt, id, bundle: bundle.dir, stored };
}

/** /proc/<pid>/cgroup as (controllers or "" for cgroup2) → path. */
function cgroupsOf(pid: number | 'self', text?: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? readFileSync(`/proc/${pid}/cgroup`, 'utf8')).split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1] ?? '', m[2] ?? '');
  }
  return out;
}

/** Every hierarchy of the stored paths holds `pid`, in the directory recorded for it. */
function expectInContainerCgroups(pid: number, cg: StoredCgroup): void {
  const actual = cgroupsOf(pid);
  let checked = 0;
  for (const [key, dir] of Object.entries(cg.paths)) {
    const mount = cg.mounts[key] ?? '';
    const line =
      key === 'unified' ? '' : [...actual.keys()].find((k) => k.split(',').includes(key));
    expect(line, `${key} in /proc/${pid}/cgroup`).toBeDefined();
    // The hierarchy's mount shows its root at the mount point here.
    expect(join(mount, actual.get(line ?? '') ?? '?')).toBe(dir);
    checked++;
  }
  expect(checked).toBeGreaterThan(0);
}

describe('joining the container cgroup (root)', () => {
  it('the created container and an exec process are in every hierarchy of the container cgroup', async () => {
    const { rt, id, bundle, stored } = setup(['sleep', '30'], false);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    expectInContainerCgroups(c.pid, stored());
    const p = await c.exec({ args: ['sleep', '30'] }, { stdio: 'ignore' });
    expectInContainerCgroups(p.pid, stored());
    await p.kill('SIGKILL');
    await p.wait();
    await c.delete({ force: true });
  });

  it('with node:child_process spawning the init (the fallback), it is moved into cgroup2 instead', async () => {
    const { rt, id, bundle, stored } = setup(['sleep', '30'], false);
    setNativeSpawn(false);
    try {
      const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
      expectInContainerCgroups(c.pid, stored());
      await c.delete({ force: true });
    } finally {
      setNativeSpawn(true);
    }
  });

  it('a new cgroup namespace is rooted at the container cgroup in every hierarchy', async () => {
    const { rt, id, bundle } = setup(['cat', '/proc/self/cgroup'], true);
    const c = await rt.runContainer({ id, bundle }, { stdio: ['ignore', 'pipe', 'ignore'] });
    const text = await readAll(c.stdout);
    expect((await c.wait()).exitCode).toBe(0);
    const seen = cgroupsOf('self', text);
    expect(seen.size).toBeGreaterThan(0);
    for (const [controllers, path] of seen) expect(path, `${controllers || 'cgroup2'}`).toBe('/');
    await c.delete();
  });
});
