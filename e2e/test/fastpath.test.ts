import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useE2E } from './helpers/context.js';
import { describeResult, rt } from './helpers/runtime.js';

/**
 * The native `tsoci` answers state/start/kill/delete/list/pause/resume,
 * --version and features itself and hands everything else to the Node CLI. These tests
 * pin both halves: the two paths print the same bytes and exit codes, and
 * the hot commands really do not start Node.
 */
const NATIVE = rt.name === 'tsoci' && !/\.(c|m)?js$/.test(rt.target);
const ctx = useE2E('fast');

// A "node" that fails at once: a hand-off to it exits 1 with no output. The
// fast path is switched on explicitly: the suite also runs with it off.
const NO_NODE = { TSOCI_NODE: '/bin/false', TSOCI_FAST_PATH: '1' };
const FORCE_NODE = { TSOCI_FAST_PATH: '0' };

async function both(args: string[]) {
  const fast = await ctx.rt(args, { env: { TSOCI_FAST_PATH: '1' } });
  const node = await ctx.rt(args, { env: FORCE_NODE });
  return { fast, node };
}

/** FNV-1a 64 as hex: the hash in the features template's header (build-snapshot.mjs). */
function fnv1a64(bytes: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

function same(r: Awaited<ReturnType<typeof both>>, what: string): void {
  const pick = (x: typeof r.fast) => ({ exitCode: x.exitCode, stdout: x.stdout, stderr: x.stderr });
  expect(pick(r.fast), `${what}\nnode: ${describeResult(r.node)}`).toEqual(pick(r.node));
}

describe.skipIf(!NATIVE)('native fast path', () => {
  it('prints exactly what the Node CLI prints, for results and for errors', async () => {
    const annotated = await ctx.bundle({
      args: ['sleep', '60'],
      edit: (c) => {
        c.annotations = { 'org.example/z': 'last', 'org.example/a': 'first "quoted" ü' };
      },
    });
    const created = await ctx.create(annotated);
    const running = await ctx.create(await ctx.bundle({ args: ['sleep', '60'] }));
    await ctx.start(running.id);
    const paused = await ctx.create(await ctx.bundle({ args: ['sleep', '60'] }));
    await ctx.start(paused.id);
    expect((await ctx.rt(['pause', paused.id])).exitCode).toBe(0);
    const stopped = await ctx.create(await ctx.bundle({ args: ['true'] }));
    await ctx.start(stopped.id);
    await ctx.waitForStatus(stopped.id, 'stopped');

    for (const id of [created.id, running.id, paused.id, stopped.id]) {
      same(await both(['state', id]), `state ${id}`);
    }
    for (const args of [['list'], ['list', '-f', 'json'], ['list', '--quiet']]) {
      same(await both(args), args.join(' '));
    }
    // The commit line says which commit each artifact was built from; turbo
    // may reuse a cached native build across commits, so only its form is compared.
    const version = await both(['--version']);
    const noCommit = (x: unknown) => String(x).replace(/^commit: \S+$/m, 'commit: <commit>');
    expect(noCommit(version.fast.stdout)).toBe(noCommit(version.node.stdout));
    expect(String(version.fast.stdout)).toMatch(
      /^tsoci version \S+\ncommit: ([0-9a-f]{40}|unknown)\nspec: /,
    );
    // Errors: each goes to Node from the fast path, so the wording is Node's.
    for (const args of [
      ['state', 'no-such-container'],
      ['state', '../x'],
      ['kill', running.id, 'NOSUCHSIGNAL'],
      ['kill', stopped.id, 'KILL'],
      ['start', running.id],
      ['delete', running.id],
      ['pause', stopped.id],
      ['resume', running.id],
      ['delete', 'no-such-container'],
      ['list', '--format', 'yaml'],
    ]) {
      const r = await both(args);
      same(r, args.join(' '));
      expect(r.fast.exitCode, args.join(' ')).not.toBe(0);
    }
    // Nothing above changed a container.
    expect((await ctx.state(created.id)).status).toBe('created');
    expect((await ctx.state(running.id)).status).toBe('running');
    expect((await ctx.state(paused.id)).status).toBe('paused');
  });

  it('answers the hot commands without starting Node', async () => {
    const b = await ctx.bundle({ args: ['sleep', '60'] });
    const c = await ctx.create(b);
    const ok = async (args: string[]) => {
      const r = await ctx.rt(args, { env: NO_NODE });
      expect(r.exitCode, `${args.join(' ')}: ${describeResult(r)}`).toBe(0);
      return r;
    };
    expect(JSON.parse(String((await ok(['state', c.id])).stdout)).status).toBe('created');
    await ok(['start', c.id]);
    await ok(['pause', c.id]);
    expect(JSON.parse(String((await ok(['state', c.id])).stdout)).status).toBe('paused');
    await ok(['resume', c.id]);
    expect(String((await ok(['list', '-q'])).stdout)).toBe(`${c.id}\n`);
    await ok(['kill', '--all', c.id, 'KILL']);
    await ctx.waitForStatus(c.id, 'stopped');
    await ok(['delete', c.id]);
    expect(existsSync(path.join(ctx.root, c.id))).toBe(false);
    await ok(['delete', '--force', c.id]);
    expect(String((await ok(['--version'])).stdout)).toMatch(/^tsoci version /);
    // Whatever the fast path does not answer reaches the (failing) node.
    const create = await ctx.rt(['create', '--bundle', b.dir, ctx.id()], { env: NO_NODE });
    expect(create.exitCode).toBe(1);
    expect(String(create.stderr)).toBe('');
  });

  it('answers features from the build template, byte for byte as Node, without starting Node', async () => {
    const dist = path.join(path.dirname(path.dirname(rt.target)), 'dist');
    expect(existsSync(path.join(dist, 'features.template')), 'the build leaves the template').toBe(
      true,
    );
    for (const args of [['features'], ['--log-format', 'json', '--debug', 'features']]) {
      const r = await both(args);
      same(r, args.join(' '));
      expect(r.fast.exitCode).toBe(0);
      expect(JSON.parse(String(r.fast.stdout)).linux.capabilities).toContain('CAP_SYS_ADMIN');
    }
    // Lines the fast path does not know go to Node, errors included.
    for (const args of [
      ['features', 'extra'],
      ['features', '--help'],
    ]) {
      same(await both(args), args.join(' '));
    }
    const node = await ctx.rt(['features'], { env: FORCE_NODE });
    const native = await ctx.rt(['features'], { env: NO_NODE });
    expect(native.exitCode, describeResult(native)).toBe(0);
    expect(native.stdout).toBe(node.stdout);
    // And seen from outside: the front end is the only program executed.
    const log = path.join(ctx.base, 'execve-features.log');
    execFileSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', log, rt.target, 'features'], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: 'ignore',
    });
    const execs = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('execve('));
    expect(execs, execs.join('\n')).toHaveLength(1);
    expect(execs[0]).toContain(`execve("${rt.target}"`);
  });

  it('hands features to Node when the template is missing, malformed, foreign or for another libseccomp', async () => {
    const dist = path.join(path.dirname(path.dirname(rt.target)), 'dist');
    const good = readFileSync(path.join(dist, 'features.template'), 'utf8');
    const nl = good.indexOf('\n');
    const [format, n, version] = good.slice(0, nl).split(' ');
    const body = JSON.parse(good.slice(nl + 1));
    const template = (b: unknown, v = version) => {
      const text = `${JSON.stringify(b)}\n`;
      return `${format} ${n} ${v} ${fnv1a64(Buffer.from(text))}\n${text}`;
    };
    // A CLI directory of its own (the template sits beside the Node CLI's
    // script), whose bin.js runs the real one.
    const fake = ctx.dir('fake-dist');
    writeFileSync(
      path.join(fake, 'bin.js'),
      `await import(${JSON.stringify(path.join(dist, 'bin.js'))});\n`,
    );
    const expected = String((await ctx.rt(['features'], { env: FORCE_NODE })).stdout);
    const run = (text: string | undefined, env: Record<string, string> = {}) => {
      const file = path.join(fake, 'features.template');
      if (text === undefined) rmSync(file, { force: true });
      else writeFileSync(file, text);
      return ctx.rt(['features'], {
        env: { TSOCI_NODE_CLI: path.join(fake, 'bin.js'), TSOCI_FAST_PATH: '1', ...env },
      });
    };
    // The same template here is answered natively; an edited one, rehashed,
    // is printed as it stands: the answer really comes from the template.
    expect(String((await run(good, { TSOCI_NODE: '/bin/false' })).stdout)).toBe(expected);
    const edited = structuredClone(body);
    edited.document.ociVersionMin = '0.9.0';
    const r = await run(template(edited), { TSOCI_NODE: '/bin/false' });
    expect(JSON.parse(String(r.stdout)).ociVersionMin).toBe('0.9.0');

    const otherLib = structuredClone(body);
    otherLib.libseccomp.ino = String(BigInt(otherLib.libseccomp.ino) + 1n);
    const filled = structuredClone(body);
    filled.document.linux.capabilities = ['CAP_CHOWN'];
    const cases: Array<[string, string | undefined]> = [
      ['missing', undefined],
      ['empty', ''],
      ['not a template', '{}\n'],
      ['cut short', good.slice(0, good.length - 10)],
      [
        'edited without its hash',
        good.replace('"ociVersionMin":"1.0.0"', '"ociVersionMin":"0.9.0"'),
      ],
      ['another version', template(body, '0.0.1')],
      ['another format', template(body).replace(`${format} ${n} `, `${format} 999 `)],
      ['another libseccomp file', template(otherLib)],
      ['a host fact filled in', template(filled)],
    ];
    for (const [what, text] of cases) {
      const refused = await run(text, { TSOCI_NODE: '/bin/false' });
      expect(refused.exitCode, `${what}: handed to the failing node`).toBe(1);
      expect(String(refused.stdout), what).toBe('');
      const viaNode = await run(text);
      expect(viaNode.exitCode, `${what}: ${describeResult(viaNode)}`).toBe(0);
      expect(String(viaNode.stdout), what).toBe(expected);
    }
  });

  it('hands delete to Node when a poststop hook must run, and changes nothing first', async () => {
    const marker = path.join(ctx.base, 'poststop-ran');
    const b = await ctx.bundle({
      args: ['true'],
      edit: (c) => {
        c.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${marker}`] }] };
      },
    });
    const c = await ctx.create(b);
    await ctx.start(c.id);
    await ctx.waitForStatus(c.id, 'stopped');
    const refused = await ctx.rt(['delete', c.id], { env: NO_NODE });
    expect(refused.exitCode).toBe(1);
    expect(existsSync(path.join(ctx.root, c.id))).toBe(true);
    expect(existsSync(marker)).toBe(false);
    const r = await ctx.rt(['delete', c.id]);
    expect(r.exitCode, describeResult(r)).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  it('starts node from the startup snapshot built for it, and from dist/bin.js when told not to', async () => {
    const dist = path.join(path.dirname(path.dirname(rt.target)), 'dist');
    const blobs = readdirSync(path.join(dist, 'snapshot'))
      .filter((f) => f.endsWith('.blob'))
      .sort();
    // Two snapshots for the node that built them: container and image commands.
    expect(blobs).toHaveLength(2);
    const [lifecycle, image] = blobs as [string, string];
    expect(image).toBe(lifecycle.replace(/\.blob$/, '.image.blob'));
    const bundle = (await ctx.bundle({ args: ['true'] })).dir;
    // The node the front end exec's, seen by strace (execve only).
    const nodeArgv = (
      env: Record<string, string>,
      args = ['validate', '--bundle', bundle],
    ): string => {
      const log = path.join(ctx.base, `execve-${Object.keys(env).join('-') || 'default'}.log`);
      // The exit status is the command's (the image case fails on purpose).
      spawnSync(
        'strace',
        ['-f', '-qq', '-s', '512', '-e', 'trace=execve', '-o', log, rt.target, ...args],
        { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' },
      );
      const line = readFileSync(log, 'utf8')
        .split('\n')
        .find((l) => /execve\("[^"]*\/node"/.test(l));
      expect(line, `no node exec in ${log}`).toBeDefined();
      return line ?? '';
    };
    const blob = path.join(dist, 'snapshot', lifecycle);
    expect(nodeArgv({})).toContain(`"--snapshot-blob", "${blob}", "--", "validate"`);
    // An image command (one that fails at once, offline: no such layout).
    const imageArgv = nodeArgv({}, [
      'bundle',
      `oci:${path.join(ctx.base, 'no-layout')}:latest`,
      path.join(ctx.base, 'b'),
    ]);
    expect(imageArgv).toContain(
      `"--snapshot-blob", "${path.join(dist, 'snapshot', image)}", "--", "bundle"`,
    );
    for (const off of [{ TSOCI_SNAPSHOT: '0' }, FORCE_NODE]) {
      const argv = nodeArgv(off);
      expect(argv).not.toContain('--snapshot-blob');
      expect(argv).toContain(`"${path.join(dist, 'bin.js')}", "validate"`);
    }
  });

  it('TSOCI_FAST_PATH=0 sends even the hot commands to Node', async () => {
    for (const args of [['list'], ['features']]) {
      const r = await ctx.rt(args, { env: { ...NO_NODE, ...FORCE_NODE } });
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(String(r.stdout), args.join(' ')).toBe('');
    }
  });
});
