import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, defaultConfig } from '@ts-oci/spec';
import { afterEach, describe, expect, it } from 'vitest';
import { type Container, ContainerError, type ContainerEvent, Runtime } from '../src/index.js';
import { busyboxBundle, readAll, tempRoot, uniqueId, zombieChildren } from './fixtures.js';

// Real containers: root only (CI runs as root).
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(args: string[], edit: (c: Config) => void = () => {}) {
  const bundle = busyboxBundle((c) => {
    if (c.process) c.process.args = args;
    edit(c);
  });
  const state = tempRoot();
  const rt = new Runtime({ root: state.root });
  const id = uniqueId('ct');
  cleanups.push(bundle.cleanup, state.cleanup, () =>
    rt.delete(id, { force: true }).catch(() => {}),
  );
  return { rt, id, bundle: bundle.dir, root: state.root };
}

function cgroupFile(root: string, id: string, controller: string, file: string): string {
  const state = JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as {
    cgroup: { paths: Record<string, string> };
  };
  const dir = state.cgroup.paths[controller];
  if (!dir) throw new Error(`no ${controller} cgroup`);
  return readFileSync(join(dir, file), 'utf8').trim();
}

describe('Container objects (root)', () => {
  it('runContainer with piped stdio: output, exit status, events, delete', async () => {
    const { rt, id, bundle, root } = setup(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'pipe' });
    expect(c.id).toBe(id);
    expect(c.pid).toBeGreaterThan(0);
    expect(c.stdin).not.toBeNull();
    const [out, err, status] = await Promise.all([readAll(c.stdout), readAll(c.stderr), c.wait()]);
    expect(out).toBe('out\n');
    expect(err).toBe('err\n');
    expect(status).toEqual({ exitCode: 3, signal: null });
    expect(c.exitStatus).toEqual(status);
    expect((await c.state()).status).toBe('stopped');

    const events: ContainerEvent[] = [];
    const collecting = (async () => {
      for await (const ev of c.events()) events.push(ev);
    })();
    await c.delete();
    await collecting;
    expect(events.map((e) => e.type)).toEqual(['created', 'started', 'exited', 'deleted']);
    expect(events[2]).toMatchObject({ type: 'exited', id, exitCode: 3, signal: null });
    expect(events[0]).toMatchObject({ type: 'created', pid: c.pid });
    expect(existsSync(join(root, id))).toBe(false);
  });

  it('stdin pipe reaches the container and its EOF ends it', async () => {
    const { rt, id, bundle } = setup(['cat']);
    const c = await rt.runContainer({ id, bundle }, { stdio: ['pipe', 'pipe', 'ignore'] });
    expect(c.stderr).toBeNull();
    const out = readAll(c.stdout);
    c.stdin?.end('hello through a pipe\n');
    expect(await out).toBe('hello through a pipe\n');
    expect(await c.wait()).toEqual({ exitCode: 0, signal: null });
    await c.delete();
  });

  it('kill: wait reports the signal as 128+n with its name', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    expect((await c.state()).status).toBe('running');
    await c.kill('KILL');
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    // A second wait returns the same status at once.
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await c.delete();
  });

  it('create then start; pause, resume and update go to the cgroup', async () => {
    const { rt, id, bundle, root } = setup(['sleep', '30']);
    const c = await rt.createContainer({ id, bundle }, { stdio: 'ignore' });
    expect((await c.state()).status).toBe('created');
    await c.start();
    await c.pause();
    expect((await c.state()).status).toBe('paused');
    expect(cgroupFile(root, id, 'freezer', 'freezer.state')).toBe('FROZEN');
    await c.resume();
    expect((await c.state()).status).toBe('running');
    await c.update({ pids: { limit: 42 } });
    expect(cgroupFile(root, id, 'pids', 'pids.max')).toBe('42');
    const types: string[] = [];
    for await (const ev of c.events()) {
      types.push(ev.type);
      if (ev.type === 'resumed') break;
    }
    expect(types).toEqual(['created', 'started', 'paused', 'resumed']);
    await c.delete({ force: true });
    expect(c.exitStatus).toEqual({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('refuses to delete a running container without force, and keeps it', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    await expect(c.delete()).rejects.toMatchObject({ code: ContainerError.BAD_STATE });
    expect((await c.state()).status).toBe('running');
    expect(c.exitStatus).toBeUndefined();
    await c.delete({ force: true });
    await expect(rt.state(id)).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
  });

  it('creates from a config object and a rootfs', async () => {
    const { rt, id, bundle } = setup(['true']);
    const config = defaultConfig({ rootless: false });
    if (config.process) {
      config.process.terminal = false;
      config.process.args = ['sh', '-c', 'echo from-config; exit 5'];
    }
    const c = await rt.runContainer(
      { id, config, rootfs: join(bundle, 'rootfs') },
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    expect(await readAll(c.stdout)).toBe('from-config\n');
    expect(await c.wait()).toEqual({ exitCode: 5, signal: null });
    expect((await c.state()).bundle).toBe(bundle);
    await c.delete();
  });

  it('rejects a bad config object before any side effect', async () => {
    const { rt, id, bundle, root } = setup(['true']);
    const config = defaultConfig({ rootless: false }) as unknown as Record<string, unknown>;
    config.process = { args: 'not-an-array', cwd: '/' };
    await expect(
      rt.createContainer({ id, config: config as Config, rootfs: join(bundle, 'rootfs') }),
    ).rejects.toMatchObject({ code: 'ESPEC_INVALID' });
    expect(readdirSync(root)).toEqual([]);
  });

  it('wait({ signal }) kills the container on abort and rejects with an AbortError', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('enough')), 50);
    const err = await c.wait({ signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ECONTAINER_ABORTED' });
    expect((err as Error).cause).toEqual(new Error('enough'));
    expect((await c.state()).status).toBe('stopped');
    expect(c.exitStatus?.signal).toBe('SIGKILL');
    await c.delete();
  });

  it('a signal given to runContainer bounds the container’s life (wall time)', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const started = Date.now();
    const c = await rt.runContainer(
      { id, bundle },
      { stdio: 'ignore', signal: AbortSignal.timeout(150) },
    );
    await expect(c.wait()).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await c.state()).status).toBe('stopped');
    await c.delete();
  });

  it('an already aborted signal creates nothing', async () => {
    const { rt, id, bundle, root } = setup(['true']);
    await expect(
      rt.runContainer({ id, bundle }, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(readdirSync(root)).toEqual([]);
  });

  it('Symbol.asyncDispose force-deletes (await using)', async () => {
    const { rt, id, bundle, root } = setup(['sleep', '30']);
    let pid = 0;
    {
      await using c = await rt.runContainer({ id, bundle }, { stdio: 'pipe' });
      pid = c.pid;
      expect(existsSync(join(root, id))).toBe(true);
    }
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(join(root, id))).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('exec: a process handle with streams, exit status and kill', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const p = await c.exec(
      { args: ['sh', '-c', 'read x; echo got $x; echo oops >&2; exit 4'] },
      { stdio: 'pipe' },
    );
    expect(p.pid).toBeGreaterThan(0);
    const out = readAll(p.stdout);
    const err = readAll(p.stderr);
    p.stdin?.end('line\n');
    expect(await p.wait()).toEqual({ exitCode: 4, signal: null });
    expect(await out).toBe('got line\n');
    expect(await err).toBe('oops\n');

    const sleeper = await c.exec({ args: ['sleep', '30'] }, { stdio: 'ignore' });
    expect(await c.ps()).toContain(sleeper.pid);
    await sleeper.kill('KILL');
    // The pidfd tells a SIGKILL from `exit 137`.
    expect(await sleeper.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await expect(sleeper.kill()).rejects.toMatchObject({ code: ContainerError.BAD_STATE });

    const aborted = await c.exec({ args: ['sleep', '30'] }, { stdio: 'ignore' });
    await expect(aborted.wait({ signal: AbortSignal.timeout(50) })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(aborted.exitStatus?.signal).toBe('SIGKILL');

    await expect(c.exec({ args: ['/no/such/binary'] }, { stdio: 'ignore' })).rejects.toMatchObject({
      code: ContainerError.INIT_FAILED,
    });
    // The init reaped the process that failed its execve: an orphaned zombie
    // here would keep the container's pid 1 from ever finishing its exit.
    expect(zombieChildren()).toEqual([]);
    await c.delete({ force: true });
  });

  it('runtime.container(id) hands out the object that already watches the container', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    expect(await rt.container(id)).toBe(c);
    // Another Runtime on the same root: a new object, same container.
    const other = await new Runtime({ root: rt.root }).container(id);
    expect(other).not.toBe(c);
    expect(other.pid).toBe(c.pid);
    const waited = other.wait();
    await c.kill('KILL');
    expect(await waited).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await other.delete();
    await expect(rt.container(id)).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
  });

  it('rejects unsupported and malformed sources with typed errors', async () => {
    const { rt, id } = setup(['true']);
    await expect(rt.createContainer({ id, image: '' })).rejects.toMatchObject({
      code: ContainerError.INVALID_PLAN,
      message: /image reference/,
    });
    await expect(
      rt.createContainer({ id } as unknown as { id: string; bundle: string }),
    ).rejects.toMatchObject({ code: ContainerError.INVALID_PLAN });
    await expect(
      rt.createContainer({ id, bundle: '/nonexistent' }, { stdio: ['pipe', 'bogus' as 'pipe', 1] }),
    ).rejects.toMatchObject({ code: ContainerError.INVALID_PLAN, message: /stdio\[1\]/ });
  });

  it('a container survives this object: the CLI-visible state is the same', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c: Container = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const listed = await rt.list();
    expect(listed.map((s) => s.id)).toContain(id);
    expect(listed.find((s) => s.id === id)).toMatchObject({ status: 'running', pid: c.pid });
    await rt.delete(id, { force: true });
    // Deleted behind the object's back: its wait still resolves (pidfd).
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    await expect(c.delete()).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
    await c[Symbol.asyncDispose]();
  });
});
