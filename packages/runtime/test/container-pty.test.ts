/**
 * `stdio: 'pty'`: the pty master received over the console socket, as a
 * duplex stream with resize (TIOCSWINSZ); a shell in it; exec with its own
 * pty; the master closed on exit and delete with no fd left behind.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ContainerError, Runtime, Terminal } from '../src/index.js';
import { busyboxBundle, tempRoot, uniqueId } from './fixtures.js';

vi.setConfig({ testTimeout: 30_000 });

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(args: string[], terminal = false) {
  const bundle = busyboxBundle((c) => {
    if (c.process) {
      c.process.args = args;
      c.process.terminal = terminal;
      c.process.env = ['PATH=/bin', 'TERM=dumb', 'PS1=$ '];
    }
  });
  const state = tempRoot();
  const rt = new Runtime({ root: state.root });
  const id = uniqueId('pty');
  cleanups.push(bundle.cleanup, state.cleanup, () =>
    rt.delete(id, { force: true }).catch(() => {}),
  );
  return { rt, id, bundle: bundle.dir };
}

/** Collects a terminal's output; `until(re)` waits for it to match. */
function reader(t: Terminal) {
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  t.setEncoding('utf8');
  t.on('data', (d: string) => {
    text += d;
    for (const w of [...waiters]) {
      const m = text.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const ended = new Promise<void>((resolve) => t.once('end', resolve));
  return {
    text: () => text,
    ended,
    until(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
      const m = text.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${re} in ${JSON.stringify(text)}`)),
          ms,
        );
        waiters.push({
          re,
          resolve: (found) => {
            clearTimeout(timer);
            resolve(found);
          },
        });
      });
    },
  };
}

/** This process's fds that are ptys (the masters are /dev/ptmx or /dev/pts/ptmx). */
function ptyFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes('ptmx') || target.startsWith('/dev/pts/')) out.push(`${fd}:${target}`);
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return out;
}

describe('stdio: pty (root)', () => {
  it('a shell on a pty: commands typed in, output read, resize seen by stty, exit status', async () => {
    const before = ptyFds();
    const { rt, id, bundle } = setup(['sh']);
    const c = await rt.runContainer(
      { id, bundle },
      { stdio: 'pty', terminalSize: { columns: 100, rows: 30 } },
    );
    const t = c.terminal as Terminal;
    expect(t).toBeInstanceOf(Terminal);
    expect(c.stdin).toBe(t);
    expect(c.stdout).toBe(t);
    expect(c.stderr).toBeNull();
    expect(ptyFds().length).toBe(before.length + 1);
    const out = reader(t);
    // The size given at create is there before the shell starts.
    t.write('busybox stty size; busybox tty\n');
    await out.until(/30 100\r\n\/dev\/pts\/\d+\r\n/);
    t.resize({ columns: 132, rows: 43 });
    expect(t.size).toEqual({ columns: 132, rows: 43 });
    t.write('busybox stty size\n');
    await out.until(/43 132\r\n/);
    // It is a terminal for the shell: echo on, line discipline in between.
    expect(out.text()).toContain('busybox stty size');
    t.write('exit 7\n');
    expect(await c.wait()).toEqual({ exitCode: 7, signal: null });
    // The last holder of the slave is gone: the stream ends and the master is closed.
    await out.ended;
    await t.whenClosed();
    expect(t.isOpen).toBe(false);
    expect(() => t.resize({ columns: 80, rows: 24 })).toThrow(ContainerError);
    await c.delete();
    expect(ptyFds()).toEqual(before);
  });

  it('the config’s process.terminal gives a pty by default; delete closes a master nobody reads', async () => {
    const before = ptyFds();
    const { rt, id, bundle } = setup(['sh', '-c', 'echo ready; sleep 30'], true);
    const c = await rt.runContainer({ id, bundle });
    const t = c.terminal as Terminal;
    expect(t).toBeInstanceOf(Terminal);
    // Default size of a new pty.
    expect(t.size).toEqual({ columns: 0, rows: 0 });
    const out = reader(t);
    await out.until(/ready\r\n/);
    await c.delete({ force: true });
    await t.whenClosed();
    expect(ptyFds()).toEqual(before);
    expect(c.exitStatus).toEqual({ exitCode: 137, signal: 'SIGKILL' });
  });

  it('exec with its own pty next to a pty container; both closed afterwards', async () => {
    const before = ptyFds();
    const { rt, id, bundle } = setup(['sleep', '30']);
    const c = await rt.runContainer({ id, bundle }, { stdio: 'ignore' });
    const p = await c.exec(
      { args: ['sh'], env: ['PATH=/bin', 'TERM=dumb', 'PS1=# '] },
      { stdio: 'pty', terminalSize: { columns: 77, rows: 11 } },
    );
    const t = p.terminal as Terminal;
    expect(t).toBeInstanceOf(Terminal);
    const out = reader(t);
    t.write('busybox stty size\n');
    await out.until(/11 77\r\n/);
    t.resize({ columns: 90, rows: 20 });
    t.write('busybox stty size\n');
    await out.until(/20 90\r\n/);
    t.write('exit 3\n');
    expect(await p.wait()).toEqual({ exitCode: 3, signal: null });
    await out.ended;
    await t.whenClosed();

    // A resize sends SIGWINCH to the process on the terminal.
    const w = await c.exec(
      {
        args: [
          'sh',
          '-c',
          "trap 'busybox stty size; exit 0' WINCH; echo ready; while :; do busybox sleep 0.05; done",
        ],
      },
      { stdio: 'pty' },
    );
    const wt = w.terminal as Terminal;
    const wout = reader(wt);
    await wout.until(/ready\r\n/);
    wt.resize({ columns: 61, rows: 17 });
    await wout.until(/17 61\r\n/);
    expect(await w.wait()).toEqual({ exitCode: 0, signal: null });
    await wout.ended;
    await wt.whenClosed();
    await c.delete({ force: true });
    expect(ptyFds()).toEqual(before);
  });

  it('refuses a pty together with a console socket, and bad sizes', async () => {
    const { rt, id, bundle } = setup(['true']);
    await expect(
      rt.createContainer({ id, bundle }, { stdio: 'pty', consoleSocket: '/tmp/x.sock' }),
    ).rejects.toMatchObject({ code: ContainerError.INVALID_PLAN, message: /give one/ });
    await expect(
      rt.createContainer({ id, bundle }, { stdio: 'pty', terminalSize: { columns: 0, rows: 5 } }),
    ).rejects.toMatchObject({ code: ContainerError.INVALID_PLAN, message: /terminalSize/ });
    await expect(rt.state(id)).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
  });
});
