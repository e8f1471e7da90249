import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { proc } from './helpers/bundle.js';
import { ConsoleReceiver, runtimeOnPty, ttyLines } from './helpers/console.js';
import { useE2E } from './helpers/context.js';
import { describeResult } from './helpers/runtime.js';

const ctx = useE2E('tty');

// `$((6*7))` makes the expected output differ from the echoed command line.
const SCRIPT = 'tty; echo hi$((6*7)); exit 7\n';

async function terminalBundle(args = ['sh']) {
  const b = await ctx.bundle({ args });
  b.edit((c) => {
    proc(c).terminal = true;
  });
  return b;
}

describe('terminal via --console-socket', () => {
  it('create sends a pty master; a shell on it answers', async () => {
    const b = await terminalBundle();
    const sock = path.join(b.dir, 'c.sock');
    const recv = await ConsoleReceiver.listen(sock, { send: SCRIPT });
    try {
      const c = await ctx.create(b, { flags: ['--console-socket', sock] });
      await ctx.start(c.id);
      const out = await recv.done();
      expect(out.receiverExit, JSON.stringify(out.events)).toBe(0);
      const got = out.events.find((e) => e.event === 'received');
      expect(got?.nfds).toBe(1);
      expect(got?.isatty).toBe(true);
      const lines = ttyLines(out.output);
      expect(lines).toContain('hi42');
      // The shell's stdio is the pty the receiver holds.
      expect(lines).toContain(`/dev/pts/${got?.pts}`);
      await ctx.waitForStatus(c.id, 'stopped');
    } finally {
      recv.kill();
    }
  });

  it('run --detach with a console socket returns at once and the shell still answers', async () => {
    const b = await terminalBundle();
    const sock = path.join(b.dir, 'c.sock');
    const recv = await ConsoleReceiver.listen(sock, { send: SCRIPT });
    try {
      const id = ctx.id('det');
      const r = await ctx.run(b, { id, flags: ['--detach', '--console-socket', sock] });
      expect(r.exitCode, describeResult(r)).toBe(0);
      const out = await recv.done();
      expect(out.receiverExit, JSON.stringify(out.events)).toBe(0);
      expect(ttyLines(out.output)).toContain('hi42');
      await ctx.waitForStatus(id, 'stopped');
    } finally {
      recv.kill();
    }
  });

  it('all three stdio fds of the process are the pty', async () => {
    const b = await terminalBundle([
      'sh',
      '-c',
      'for f in 0 1 2; do readlink /proc/self/fd/$f; done; [ -t 0 ] && echo stdin-is-tty',
    ]);
    const sock = path.join(b.dir, 'c.sock');
    const recv = await ConsoleReceiver.listen(sock);
    try {
      const c = await ctx.create(b, { flags: ['--console-socket', sock] });
      await ctx.start(c.id);
      const out = await recv.done();
      const pts = out.events.find((e) => e.event === 'received')?.pts;
      const lines = ttyLines(out.output).filter((l) => l !== '');
      expect(lines).toEqual([
        `/dev/pts/${pts}`,
        `/dev/pts/${pts}`,
        `/dev/pts/${pts}`,
        'stdin-is-tty',
      ]);
    } finally {
      recv.kill();
    }
  });

  it('a conversation: each line typed gets its answer before the next is sent', async () => {
    const b = await terminalBundle();
    const sock = path.join(b.dir, 'c.sock');
    const recv = await ConsoleReceiver.listen(sock, { interactive: true });
    try {
      const c = await ctx.create(b, { flags: ['--console-socket', sock] });
      await ctx.start(c.id);
      recv.write('echo first$((1+1))\n');
      await recv.waitForOutput(/first2\r?\n/);
      // Shell state survives between lines: this is one session.
      recv.write('X=kept; echo "x=$X"\n');
      await recv.waitForOutput(/x=kept/);
      recv.write('exit 0\n');
      const out = await recv.done();
      expect(out.receiverExit, JSON.stringify(out.events)).toBe(0);
      await ctx.waitForStatus(c.id, 'stopped');
    } finally {
      recv.kill();
    }
  });

  it('terminal: true without a console socket is refused by create', async () => {
    const b = await terminalBundle();
    const c = await ctx.create(b, { allowFailure: true });
    expect(c.result.exitCode, c.stderr).not.toBe(0);
    expect(c.stderr).toMatch(/console|tty|terminal/i);
    expect(String((await ctx.rt(['list', '-q'])).stdout).trim()).toBe('');
  });
});

describe('terminal in a foreground run', () => {
  it('talks to a shell and exits with its status', async () => {
    const b = await terminalBundle();
    const id = ctx.id('fg');
    const out = await runtimeOnPty(['--root', ctx.root, 'run', '--bundle', b.dir, id], SCRIPT);
    expect(out.exitCode, `${out.output}\n${JSON.stringify(out.events)}`).toBe(7);
    expect(ttyLines(out.output)).toContain('hi42');
  });
});
