import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Runtime } from '../src/index.js';
import { busyboxBundle, tempRoot, uniqueId } from './fixtures.js';

// This file never calls createContainer or exec, so this test process is not
// a child subreaper: containers made by the CLI are re-parented to pid 1,
// not to us, and `wait` must go through the pidfd alone.

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, '../../cli/dist/bin.js');
const RUNTIME_DIST = resolve(here, '../dist/index.js');

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(args: string[]) {
  const bundle = busyboxBundle((c) => {
    if (c.process) c.process.args = args;
  });
  const state = tempRoot();
  const id = uniqueId('fx');
  cleanups.push(bundle.cleanup, state.cleanup, () => {
    cli(state.root, ['delete', '--force', id]);
  });
  return { id, bundle: bundle.dir, root: state.root };
}

function cli(
  root: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  // A created container inherits the CLI's stdio: a pipe there would never
  // reach EOF while it lives, and spawnSync would wait for that EOF.
  const detached = args[0] === 'create';
  const r = spawnSync(process.execPath, [CLI, '--root', root, ...args], {
    encoding: 'utf8',
    stdio: detached ? 'ignore' : ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe.skipIf(!existsSync(CLI) || !existsSync(RUNTIME_DIST))(
  'containers made elsewhere (root)',
  () => {
    it('runtime.container(id) of a CLI-made container: control, wait through the pidfd', async () => {
      const { id, bundle, root } = setup(['sh', '-c', 'sleep 0.3; exit 7']);
      expect(cli(root, ['create', '--bundle', bundle, id]).status).toBe(0);
      const rt = new Runtime({ root });
      const c = await rt.container(id);
      expect(c.pid).toBeGreaterThan(0);
      expect(ppidOf(c.pid)).not.toBe(process.pid);
      expect((await c.state()).status).toBe('created');
      await c.start();
      expect(await c.wait()).toEqual({ exitCode: 7, signal: null });
      await c.delete();
      expect(existsSync(join(root, id))).toBe(false);
    });

    it('a killed CLI-made container reports its signal', async () => {
      const { id, bundle, root } = setup(['sleep', '30']);
      expect(cli(root, ['create', '--bundle', bundle, id]).status).toBe(0);
      expect(cli(root, ['start', id]).status).toBe(0);
      const c = await new Runtime({ root }).container(id);
      const waited = c.wait();
      expect(cli(root, ['kill', id, 'KILL']).status).toBe(0);
      expect(await waited).toEqual({ exitCode: 137, signal: 'SIGKILL' });
      expect(JSON.parse(cli(root, ['state', id]).stdout)).toMatchObject({ status: 'stopped' });
    });

    it('a Node process killed mid-flight leaves a container the CLI lists and deletes', async () => {
      const { id, bundle, root } = setup(['sleep', '30']);
      const script = `
      const { Runtime } = await import(${JSON.stringify(pathToFileURL(RUNTIME_DIST).href)});
      const rt = new Runtime({ root: ${JSON.stringify(root)} });
      const c = await rt.runContainer({ id: ${JSON.stringify(id)}, bundle: ${JSON.stringify(bundle)} }, { stdio: 'ignore' });
      process.stdout.write(String(c.pid) + '\\n');
      await c.wait();
    `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const pid = await new Promise<number>((res, rej) => {
        child.stdout.once('data', (d: Buffer) => res(Number(String(d).trim())));
        child.once('exit', (code) => rej(new Error(`API process exited ${code}`)));
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect(existsSync(`/proc/${pid}`)).toBe(true);
      const listed = cli(root, ['list', '--format', 'json']);
      expect(listed.status).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([
        expect.objectContaining({ id, pid, status: 'running' }),
      ]);
      expect(cli(root, ['delete', '--force', id]).status).toBe(0);
      expect(readdirSync(root)).toEqual([]);
    });
  },
);
