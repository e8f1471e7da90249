import { mkdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  HOOK_KIND_NAMES,
  HOOK_KINDS,
  HookAbortedError,
  HookError,
  type HookKind,
  HookUsageError,
  OUTPUT_TAIL_BYTES,
  runHooks,
} from '../src/index.js';
import {
  findProcess,
  isDead,
  killQuietly,
  readPid,
  type Sandbox,
  sandbox,
  stateFor,
  waitDead,
  waitFor,
} from './helpers.js';

let sb: Sandbox;
let bundle: string;
const leftovers: number[] = [];

beforeEach(async () => {
  sb = await sandbox();
  bundle = sb.path('bundle');
  await mkdir(bundle);
});

afterEach(async () => {
  for (const pid of leftovers.splice(0)) killQuietly(pid);
  await sb.cleanup();
});

async function failureOf(p: Promise<unknown>): Promise<HookError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HookError) return err;
    throw err;
  }
  throw new Error('expected a HookError');
}

describe('runHooks: what the hook receives', () => {
  it('writes exactly the state JSON on stdin and closes it', async () => {
    const hook = await sb.script('stdin.sh', `cat > "${sb.path('stdin.json')}"`);
    const state = { ...stateFor(bundle), extra: { kept: [1, 2] } };

    const [result] = await runHooks('createRuntime', [{ path: hook }], state);

    expect(result?.ok).toBe(true);
    const raw = sb.read('stdin.json');
    expect(raw).toBe(JSON.stringify(state));
    expect(JSON.parse(raw)).toEqual(state);
  });

  it('delivers a state larger than a pipe buffer, and ignores a hook that does not read it', async () => {
    const big = { ...stateFor(bundle), annotations: { blob: 'x'.repeat(300_000) } };
    const reader = await sb.script('reader.sh', `cat > "${sb.path('big.json')}"`);

    const results = await runHooks('createRuntime', [{ path: '/bin/true' }, { path: reader }], big);

    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(sb.read('big.json')).toBe(JSON.stringify(big));
  });

  it('gives the hook exactly its env, nothing inherited from the runtime', async () => {
    expect(process.env.PATH).toBeDefined();
    const env = ['A=1', 'SPACED=two words', 'EMPTY=', 'EQ=a=b', '__proto__=x'];

    const [result] = await runHooks('poststart', [{ path: '/usr/bin/env', env }], stateFor(bundle));

    expect(result?.stdout.split('\n').filter(Boolean)).toEqual(env);
  });

  it('gives a hook without env an empty environment', async () => {
    const [result] = await runHooks('poststart', [{ path: '/usr/bin/env' }], stateFor(bundle));

    expect(result?.ok).toBe(true);
    expect(result?.stdout).toBe('');
  });

  it('does not inherit into a shell script either (env written by the script)', async () => {
    const hook = await sb.script('env.sh', `env > "${sb.path('env.txt')}"`);

    await runHooks('createRuntime', [{ path: hook, env: ['ONLY=this'] }], stateFor(bundle));

    // dash adds PWD itself; anything else would come from the runtime.
    const vars = sb
      .read('env.txt')
      .split('\n')
      .filter(Boolean)
      .filter((l) => !l.startsWith('PWD='));
    expect(vars).toEqual(['ONLY=this']);
  });

  it('drops env entries without "=" with a warning', async () => {
    const warnings: string[] = [];

    const [result] = await runHooks(
      'poststart',
      [{ path: '/usr/bin/env', env: ['GOOD=1', 'BAD'] }],
      stateFor(bundle),
      { onWarning: (m) => warnings.push(m) },
    );

    expect(result?.stdout).toBe('GOOD=1\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('hook poststart[0] (/usr/bin/env)');
    expect(warnings[0]).toContain('env[1] "BAD"');
  });

  it('uses args as the full argv, args[0] being argv0 (busybox dispatches on it)', async () => {
    const [result] = await runHooks(
      'createRuntime',
      [{ path: '/bin/busybox', args: ['cat', '/proc/self/cmdline'] }],
      stateFor(bundle),
    );

    expect(result?.ok).toBe(true);
    expect(result?.stdout.split('\0')).toEqual(['cat', '/proc/self/cmdline', '']);
  });

  it('passes arguments verbatim, without a shell', async () => {
    const [result] = await runHooks(
      'createRuntime',
      [
        {
          path: '/bin/busybox',
          args: ['sh', '-c', 'printf "%s|" "$0" "$@"', 'zero', 'a b', '$HOME'],
        },
      ],
      stateFor(bundle),
    );

    expect(result?.stdout).toBe('zero|a b|$HOME|');
  });

  it('uses [path] as argv when args is absent or empty', async () => {
    for (const args of [undefined, []]) {
      const [result] = await runHooks(
        'createRuntime',
        [{ path: '/bin/cat', args, env: [] }],
        stateFor(bundle),
        { cwd: '/proc/self' },
      );
      // cat without arguments copies stdin: argv had no extra element.
      expect(result?.stdout).toBe(JSON.stringify(stateFor(bundle)));
    }
    const hook = await sb.script('argc.sh', 'echo "$#"');
    const [result] = await runHooks('createRuntime', [{ path: hook }], stateFor(bundle));
    expect(result?.stdout).toBe('0\n');
  });

  it('runs in the bundle directory by default', async () => {
    const hook = await sb.script('pwd.sh', '/bin/pwd');

    const [result] = await runHooks('createRuntime', [{ path: hook }], stateFor(bundle));

    expect(result?.stdout).toBe(`${bundle}\n`);
  });

  it('runs in / when the bundle is gone, and in opts.cwd when given', async () => {
    const hook = await sb.script('pwd.sh', '/bin/pwd');

    const [gone] = await runHooks(
      'poststop',
      [{ path: hook }],
      stateFor(sb.path('nope'), 'stopped'),
    );
    const [given] = await runHooks('poststop', [{ path: hook }], stateFor(bundle, 'stopped'), {
      cwd: sb.dir,
    });

    expect(gone?.stdout).toBe('/\n');
    expect(given?.stdout).toBe(`${sb.dir}\n`);
  });
});

describe('runHooks: order and results', () => {
  it('runs the hooks in order, one after the other, and returns a result each', async () => {
    const log = sb.path('order.log');
    const hooks = [];
    for (const n of [0, 1, 2]) {
      // The sleeps make an overlap visible: a parallel run would interleave.
      const hook = await sb.script(
        `h${n}.sh`,
        `echo start${n} >> "${log}"; sleep 0.${3 - n}; echo end${n} >> "${log}"`,
      );
      hooks.push({ path: hook });
    }

    const results = await runHooks('createRuntime', hooks, stateFor(bundle));

    expect(sb.read('order.log').split('\n').filter(Boolean)).toEqual([
      'start0',
      'end0',
      'start1',
      'end1',
      'start2',
      'end2',
    ]);
    expect(results.map((r) => [r.index, r.ok, r.exitCode, r.signal])).toEqual([
      [0, true, 0, null],
      [1, true, 0, null],
      [2, true, 0, null],
    ]);
    expect(results.every((r) => r.kind === 'createRuntime' && r.durationMs > 0)).toBe(true);
  });

  it('returns [] for absent or empty hook lists', async () => {
    expect(await runHooks('prestart', undefined, stateFor(bundle))).toEqual([]);
    expect(await runHooks('prestart', [], stateFor(bundle))).toEqual([]);
  });

  it('rejects an unknown kind', async () => {
    await expect(
      runHooks('prestop' as HookKind, [{ path: '/bin/true' }], stateFor(bundle)),
    ).rejects.toBeInstanceOf(HookUsageError);
  });
});

describe('runHooks: failures', () => {
  async function failingThenMarker() {
    const fail = await sb.script('fail.sh', 'echo "some noise" >&2; echo "it broke" >&2; exit 3');
    const after = await sb.script('after.sh', `touch "${sb.path('after-ran')}"`);
    return [{ path: fail }, { path: after }];
  }

  const fatalKinds = HOOK_KIND_NAMES.filter((k) => HOOK_KINDS[k].fatal);
  const warnKinds = HOOK_KIND_NAMES.filter((k) => !HOOK_KINDS[k].fatal);

  it.each(fatalKinds)('%s: a non-zero exit throws HookError and stops', async (kind) => {
    const hooks = await failingThenMarker();
    const warnings: string[] = [];

    const err = await failureOf(
      runHooks(kind, hooks, stateFor(bundle), { onWarning: (m) => warnings.push(m) }),
    );

    expect(err.code).toBe('EHOOK_FAILED');
    expect(err.kind).toBe(kind);
    expect(err.index).toBe(0);
    expect(err.path).toBe(hooks[0]?.path);
    expect(err.reason).toBe('exit');
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe(
      `hook ${kind}[0] (${hooks[0]?.path}) exited with status 3; stderr: some noise\nit broke`,
    );
    expect(err.results).toHaveLength(1);
    expect(sb.exists('after-ran')).toBe(false);
    expect(warnings).toEqual([]);
  });

  it.each(warnKinds)('%s: a non-zero exit is a warning and the next hook runs', async (kind) => {
    const hooks = await failingThenMarker();
    const warnings: string[] = [];

    const results = await runHooks(kind, hooks, stateFor(bundle, 'stopped'), {
      onWarning: (m) => warnings.push(m),
    });

    expect(warnings).toEqual([
      `hook ${kind}[0] (${hooks[0]?.path}) exited with status 3; stderr: some noise\nit broke`,
    ]);
    expect(results.map((r) => r.ok)).toEqual([false, true]);
    expect(results[0]?.failure?.reason).toBe('exit');
    expect(sb.exists('after-ran')).toBe(true);
  });

  it('poststop failures are silent without onWarning, and still reported in the result', async () => {
    const hooks = await failingThenMarker();

    const results = await runHooks('poststop', hooks, stateFor(bundle, 'stopped'));

    expect(results[0]?.exitCode).toBe(3);
    expect(sb.exists('after-ran')).toBe(true);
  });

  it('names the failing hook by its index', async () => {
    const ok = await sb.script('ok.sh', 'exit 0');
    const bad = await sb.script('bad.sh', 'exit 1');

    const err = await failureOf(
      runHooks('createContainer', [{ path: ok }, { path: bad }], stateFor(bundle)),
    );

    expect(err.index).toBe(1);
    expect(err.message).toBe(`hook createContainer[1] (${bad}) exited with status 1`);
    expect(err.results.map((r) => r.ok)).toEqual([true, false]);
  });

  it('keeps only a bounded tail of a large stderr', async () => {
    const hook = await sb.script(
      'loud.sh',
      'i=0; while [ $i -lt 3000 ]; do echo "line $i of noise noise noise" >&2; i=$((i+1)); done; echo LAST >&2; exit 9',
    );

    const err = await failureOf(runHooks('createRuntime', [{ path: hook }], stateFor(bundle)));

    expect(err.exitCode).toBe(9);
    expect(Buffer.byteLength(err.stderr)).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES + 3);
    expect(err.stderr.startsWith('…')).toBe(true);
    expect(err.stderr.endsWith('LAST\n')).toBe(true);
    expect(err.message.length).toBeLessThan(1200);
    expect(err.message.endsWith('LAST')).toBe(true);
  });

  it('reports a hook killed by a signal', async () => {
    const hook = await sb.script('selfkill.sh', 'echo dying >&2; kill -TERM $$');

    const err = await failureOf(runHooks('startContainer', [{ path: hook }], stateFor(bundle)));

    expect(err.reason).toBe('signal');
    expect(err.signal).toBe('SIGTERM');
    expect(err.exitCode).toBeNull();
    expect(err.message).toBe(
      `hook startContainer[0] (${hook}) was killed by SIGTERM; stderr: dying`,
    );
  });

  it('a missing executable is a failure (ENOENT)', async () => {
    const path = sb.path('does-not-exist');

    const err = await failureOf(runHooks('prestart', [{ path }], stateFor(bundle)));

    expect(err.reason).toBe('spawn');
    expect(err.message).toBe(
      `hook prestart[0] (${path}) could not be started: ENOENT (no such file or directory, or its interpreter is missing)`,
    );
  });

  it('a script whose interpreter is missing is a failure', async () => {
    const hook = await sb.script('nointerp.sh', 'exit 0', '#!/nonexistent/interpreter');

    const err = await failureOf(runHooks('createRuntime', [{ path: hook }], stateFor(bundle)));

    expect(err.reason).toBe('spawn');
  });

  it('a non-executable file is a failure (EACCES)', async () => {
    const hook = await sb.script('noexec.sh', 'exit 0');
    const { chmod } = await import('node:fs/promises');
    await chmod(hook, 0o644);
    // Root bypasses permission bits, except that exec needs some x bit.
    const err = await failureOf(runHooks('createRuntime', [{ path: hook }], stateFor(bundle)));

    expect(err.reason).toBe('spawn');
    expect(err.message).toContain('could not be started: EACCES (permission denied)');
  });

  it('a poststop hook that cannot be started is a warning', async () => {
    const warnings: string[] = [];
    const after = await sb.script('after.sh', `touch "${sb.path('after-ran')}"`);

    const results = await runHooks(
      'poststop',
      [{ path: sb.path('missing') }, { path: after }],
      stateFor(bundle, 'stopped'),
      { onWarning: (m) => warnings.push(m) },
    );

    expect(results[0]?.failure?.code).toBe('ENOENT');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('could not be started: ENOENT');
    expect(sb.exists('after-ran')).toBe(true);
  });

  it('a relative path or a bad timeout is an invalid hook, never executed', async () => {
    const e1 = await failureOf(runHooks('createRuntime', [{ path: 'bin/true' }], stateFor(bundle)));
    const e2 = await failureOf(
      runHooks('createRuntime', [{ path: '/bin/true', timeout: 0 }], stateFor(bundle)),
    );
    const e3 = await failureOf(
      runHooks('createRuntime', [{ path: '/bin/true', timeout: 1.5 }], stateFor(bundle)),
    );

    expect([e1.reason, e2.reason, e3.reason]).toEqual(['invalid', 'invalid', 'invalid']);
    expect(e1.message).toBe(
      'hook createRuntime[0] (bin/true) is invalid: path must be absolute (config.md)',
    );
  });
});

describe('runHooks: timeouts', () => {
  it('kills a hook past its timeout with SIGKILL, children included', async () => {
    const ok = await sb.script('ok.sh', 'exit 0');
    const slow = await sb.script(
      'slow.sh',
      `echo $$ > "${sb.path('sh.pid')}"; sleep 30 & echo $! > "${sb.path('sleep.pid')}"; wait`,
    );
    const t0 = performance.now();

    const err = await failureOf(
      runHooks('createRuntime', [{ path: ok }, { path: slow, timeout: 1 }], stateFor(bundle)),
    );

    const elapsed = performance.now() - t0;
    const shPid = readPid(sb, 'sh.pid');
    const sleepPid = readPid(sb, 'sleep.pid');
    leftovers.push(shPid, sleepPid);
    expect(err.reason).toBe('timeout');
    expect(err.signal).toBe('SIGKILL');
    expect(err.message).toBe(`hook createRuntime[1] (${slow}) timed out after 1s`);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(4000);
    expect(await waitDead(shPid)).toBe(true);
    expect(await waitDead(sleepPid)).toBe(true);
  });

  it('kills a foreground child of a timed-out shell script too', async () => {
    // dash forks `sleep` here; killing only the shell would leave it running.
    // The unusual duration makes it findable in /proc.
    const duration = `29.${process.pid}${Math.floor(Math.random() * 1000)}`;
    const slow = await sb.script('fg.sh', `sleep ${duration}\necho never`);
    const t0 = performance.now();

    const run = runHooks('poststop', [{ path: slow, timeout: 1 }], stateFor(bundle));
    let sleepPid: number | undefined;
    await waitFor(() => {
      sleepPid = findProcess(['sleep', duration]);
      return sleepPid !== undefined;
    });
    const results = await run;

    expect(performance.now() - t0).toBeLessThan(4000);
    expect(results[0]?.failure?.reason).toBe('timeout');
    expect(results[0]?.stdout).toBe('');
    if (sleepPid !== undefined) leftovers.push(sleepPid);
    expect(await waitDead(sleepPid ?? 0)).toBe(true);
  });

  it('lets a hook that finishes within its timeout succeed', async () => {
    const hook = await sb.script('quick.sh', 'sleep 0.1');

    const [result] = await runHooks(
      'createRuntime',
      [{ path: hook, timeout: 5 }],
      stateFor(bundle),
    );

    expect(result?.ok).toBe(true);
  });

  it('does not wait for a background process that keeps the hook output open', async () => {
    const hook = await sb.script(
      'daemon.sh',
      `sleep 20 & echo $! > "${sb.path('bg.pid')}"; echo started; exit 0`,
    );
    const t0 = performance.now();

    const [result] = await runHooks('createRuntime', [{ path: hook }], stateFor(bundle));

    leftovers.push(readPid(sb, 'bg.pid'));
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(result?.ok).toBe(true);
    expect(result?.stdout).toBe('started\n');
    // A successful hook's background work is not ours to kill.
    expect(isDead(readPid(sb, 'bg.pid'))).toBe(false);
  });
});

describe('runHooks: abort', () => {
  it('kills the running hook and its children, and runs no further hook', async () => {
    const slow = await sb.script('slow.sh', `sleep 30 & echo $! > "${sb.path('sleep.pid')}"; wait`);
    const after = await sb.script('after.sh', `touch "${sb.path('after-ran')}"`);
    const ac = new AbortController();
    const t0 = performance.now();
    const run = runHooks('poststop', [{ path: slow }, { path: after }], stateFor(bundle), {
      signal: ac.signal,
    });
    await waitFor(() => sb.exists('sleep.pid') && sb.read('sleep.pid').trim() !== '');
    ac.abort(new Error('operator gave up'));

    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );

    const sleepPid = readPid(sb, 'sleep.pid');
    leftovers.push(sleepPid);
    expect(err).toBeInstanceOf(HookAbortedError);
    const aborted = err as HookAbortedError;
    expect(aborted.code).toBe('EHOOK_ABORTED');
    expect(aborted.index).toBe(0);
    expect(aborted.message).toBe(`hook poststop[0] (${slow}) aborted`);
    expect((aborted.cause as Error).message).toBe('operator gave up');
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(await waitDead(sleepPid)).toBe(true);
    expect(sb.exists('after-ran')).toBe(false);
  });

  it('spawns nothing when the signal is already aborted', async () => {
    const hook = await sb.script('marker.sh', `touch "${sb.path('ran')}"`);

    await expect(
      runHooks('createRuntime', [{ path: hook }], stateFor(bundle), {
        signal: AbortSignal.abort(),
      }),
    ).rejects.toBeInstanceOf(HookAbortedError);
    expect(sb.exists('ran')).toBe(false);
  });
});

describe('runHooks: wrap', () => {
  it('spawns the wrapper command, with the hook env, stdin and argv passed through', async () => {
    const hook = await sb.script(
      'inner.sh',
      `env > "${sb.path('env.txt')}"; cat > "${sb.path('stdin.json')}"; echo "$@" > "${sb.path('args.txt')}"`,
    );
    const seen: string[][] = [];

    const [result] = await runHooks(
      'createContainer',
      [{ path: hook, args: ['inner', 'x', 'y'], env: ['HOOK=1'] }],
      stateFor(bundle),
      {
        wrap: (h) => {
          seen.push([...h.argv]);
          return { file: '/usr/bin/env', args: ['WRAPPED=yes', h.path, ...h.argv.slice(1)] };
        },
      },
    );

    expect(result?.ok).toBe(true);
    expect(seen).toEqual([['inner', 'x', 'y']]);
    const env = sb.read('env.txt').split('\n').filter(Boolean).sort();
    expect(env.filter((l) => !l.startsWith('PWD='))).toEqual(['HOOK=1', 'WRAPPED=yes']);
    expect(JSON.parse(sb.read('stdin.json'))).toEqual(stateFor(bundle));
    expect(sb.read('args.txt')).toBe('x y\n');
  });

  it('applies the timeout to the wrapper and what it runs', async () => {
    const slow = await sb.script('slow.sh', `sleep 30 & echo $! > "${sb.path('sleep.pid')}"; wait`);

    const err = await failureOf(
      runHooks('startContainer', [{ path: slow, timeout: 1 }], stateFor(bundle, 'created'), {
        wrap: (h) => ({ file: '/usr/bin/env', args: [h.path] }),
      }),
    );

    const sleepPid = readPid(sb, 'sleep.pid');
    leftovers.push(sleepPid);
    expect(err.reason).toBe('timeout');
    expect(err.message).toBe(`hook startContainer[0] (${slow}) timed out after 1s`);
    expect(await waitDead(sleepPid)).toBe(true);
  });

  it('reports a failing wrapped hook by the hook path, not the wrapper', async () => {
    const err = await failureOf(
      runHooks('createContainer', [{ path: '/bin/false' }], stateFor(bundle), {
        wrap: (h) => ({ file: '/usr/bin/env', args: [h.path] }),
      }),
    );

    expect(err.path).toBe('/bin/false');
    expect(err.message).toBe('hook createContainer[0] (/bin/false) exited with status 1');
  });
});
