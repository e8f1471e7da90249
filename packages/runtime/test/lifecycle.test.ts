import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContainerError, Runtime } from '../src/index.js';
import { busyboxBundle, tempRoot, uniqueId } from './fixtures.js';

// Real containers: root only (CI runs as root).
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(args: string[], edit: Parameters<typeof busyboxBundle>[0] = () => {}) {
  const bundle = busyboxBundle((c) => {
    if (c.process) c.process.args = args;
    edit(c);
  });
  const state = tempRoot();
  const rt = new Runtime({ root: state.root });
  const id = uniqueId();
  cleanups.push(bundle.cleanup, state.cleanup, () =>
    rt.delete(id, { force: true }).catch(() => {}),
  );
  return { rt, id, bundle: bundle.dir, root: state.root };
}

async function untilStopped(rt: Runtime, id: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await rt.state(id)).status === 'stopped') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${id} did not stop`);
}

/** The process's argv once it shows `program` (or after 2 s, whatever it is then). */
async function argvOnceExecd(pid: number, program: string): Promise<string[]> {
  let argv: string[] = [];
  for (let i = 0; i < 200; i++) {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.includes(program)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return argv;
}

describe('Runtime lifecycle (root)', () => {
  it('create → created, start → running, kill → stopped, delete → gone', async () => {
    const { rt, id, bundle, root } = setup(['sleep', '30']);
    const created = await rt.create({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] });
    expect(created.status).toBe('created');
    expect(created.pid).toBeGreaterThan(0);
    expect(created.bundle).toBe(bundle);
    expect(readFileSync(`/proc/${created.pid}/cmdline`, 'utf8')).not.toContain('sleep');

    await rt.start(id);
    const running = await rt.state(id);
    expect(running.status).toBe('running');
    expect(running.pid).toBe(created.pid);
    // As with runc, start returns once the container process took its exec
    // fifo byte: its execve may still be under way.
    expect(await argvOnceExecd(created.pid, 'sleep')).toContain('sleep');

    await rt.kill(id, 'KILL');
    await untilStopped(rt, id);
    expect((await rt.state(id)).pid).toBe(0);
    await rt.delete(id);
    expect(existsSync(join(root, id))).toBe(false);
    await expect(rt.state(id)).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
  });

  it('run returns the exit code, and 128+n for a signal', async () => {
    const ok = setup(['sh', '-c', 'exit 3']);
    expect(
      await ok.rt.run({ id: ok.id, bundle: ok.bundle, stdio: ['ignore', 'ignore', 'ignore'] }),
    ).toEqual({
      exitCode: 3,
      signal: null,
    });
    expect(readdirSync(ok.root)).toEqual([]);

    // pid 1 of a pid namespace ignores signals it has no handler for, except
    // SIGKILL from an ancestor namespace.
    const killed = setup(['sleep', '30']);
    const status = await killed.rt.run(
      { id: killed.id, bundle: killed.bundle, stdio: ['ignore', 'ignore', 'ignore'] },
      { onStart: () => void killed.rt.kill(killed.id, 'KILL') },
    );
    expect(status).toEqual({ exitCode: 128 + 9, signal: 'SIGKILL' });
  });

  it('the container process starts with every signal at its default (SIGPIPE too)', async () => {
    // tsoci-init is a Rust program, whose runtime ignores SIGPIPE; an ignored
    // signal would survive its execve into the container process.
    const { rt, id, bundle } = setup(['busybox', 'grep', 'SigIgn', '/proc/self/status']);
    const c = await rt.runContainer({ id, bundle }, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    for await (const chunk of c.stdout ?? []) out += String(chunk);
    expect((await c.wait()).exitCode).toBe(0);
    expect(out.trim()).toBe('SigIgn:\t0000000000000000');
    await c.delete();
  });

  it('refuses a duplicate id without touching the first container', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    const first = await rt.create({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] });
    await expect(
      rt.create({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] }),
    ).rejects.toMatchObject({
      code: ContainerError.EXISTS,
    });
    expect(await rt.state(id)).toMatchObject({ status: 'created', pid: first.pid });
    await expect(
      rt.run({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] }),
    ).rejects.toMatchObject({
      code: ContainerError.EXISTS,
    });
    expect(await rt.state(id)).toMatchObject({ status: 'created', pid: first.pid });
  });

  it('refuses to start a running container and to delete it without force', async () => {
    const { rt, id, bundle } = setup(['sleep', '30']);
    await rt.create({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] });
    await rt.start(id);
    await expect(rt.start(id)).rejects.toMatchObject({ code: ContainerError.BAD_STATE });
    await expect(rt.delete(id)).rejects.toThrow(/not stopped: running/);
    expect((await rt.state(id)).status).toBe('running');
    await rt.delete(id, { force: true });
    await expect(rt.state(id)).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
  });

  it('leaves nothing behind when create fails (missing binary)', async () => {
    const { rt, id, bundle, root } = setup(['/no/such/binary']);
    await expect(rt.create({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] })).rejects.toThrow(
      /no such file or directory|not found/,
    );
    expect(readdirSync(root)).toEqual([]);
  });

  it('rejects invalid ids before any side effect', async () => {
    const { rt, bundle, root } = setup(['true']);
    for (const bad of ['', '../x', 'a/b', '..']) {
      await expect(rt.create({ id: bad, bundle })).rejects.toMatchObject({
        code: ContainerError.INVALID_ID,
      });
    }
    expect(readdirSync(root)).toEqual([]);
  });
});
