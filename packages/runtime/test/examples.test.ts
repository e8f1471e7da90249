import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The examples import the built packages (they are plain .mjs): `pnpm build` first.
const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLES = resolve(here, '../../../examples');
const BUILT = resolve(here, '../dist/index.js');

function example(name: string, args: string[]) {
  const r = spawnSync(process.execPath, [resolve(EXAMPLES, name), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs an example without blocking the event loop (a registry served by this process's child must keep answering). */
function exampleAsync(name: string, args: string[]) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, [resolve(EXAMPLES, name), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (status) => resolveRun({ status, stdout, stderr }));
  });
}

const REGISTRY = '/usr/bin/docker-registry';
const SKOPEO = '/usr/bin/skopeo';

/** A CNCF distribution registry on 127.0.0.1 (loopback only), storage in `dir`. */
async function startRegistry(dir: string): Promise<{ host: string; child: ChildProcess }> {
  const port = await new Promise<number>((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      server.close(() => done(typeof a === 'object' && a ? a.port : 0));
    });
  });
  const config = join(dir, 'registry.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: examples-test-${port}\n`,
  );
  const child = spawn(REGISTRY, ['serve', config], { stdio: 'ignore' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      await res.body?.cancel();
      if (res.status === 200) return { host: `127.0.0.1:${port}`, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('docker-registry did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** stderr lines of image-run.mjs without the percentage steps. */
function steps(stderr: string): string[] {
  return stderr
    .trim()
    .split('\n')
    .filter((l) => !/ \d+%$/.test(l));
}

function sandbox(args: string[]) {
  const r = example('sandbox.mjs', args);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as {
    exitCode: number;
    signal: string | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
  };
}

describe.skipIf(!existsSync(BUILT))('examples (root)', () => {
  it('sandbox: captures output and status; read-only root, tmpfs, own network, unprivileged', () => {
    const r = sandbox([
      '--',
      'sh',
      '-c',
      'echo hello; echo oops >&2; id -u; touch /x 2>/dev/null || echo ro-root; ' +
        'touch /tmp/f && echo tmp-ok; grep -c : /proc/net/dev; exit 3',
    ]);
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false, stderr: 'oops\n' });
    // Only the loopback in /proc/net/dev: the host's interfaces are not visible.
    expect(r.stdout).toBe('hello\n65534\nro-root\ntmp-ok\n1\n');
  });

  it('sandbox: the wall-time limit kills the command', () => {
    const started = Date.now();
    const r = sandbox(['--timeout', '300', '--', 'sleep', '30']);
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: 137 });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('sandbox: the pids and memory limits hold', () => {
    const forks = sandbox([
      '--pids',
      '8',
      '--',
      'sh',
      '-c',
      'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; wait',
    ]);
    expect(forks.stderr).toMatch(/can't fork/);
    const hog = sandbox([
      '--memory',
      String(32 * 1024 * 1024),
      '--',
      'sh',
      '-c',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template
      'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo ${#x}',
    ]);
    expect(hog).toMatchObject({ signal: 'SIGKILL', timedOut: false, stdout: '' });
  });

  it('supervisor: restarts a crashing container with back-off and logs its events', () => {
    const r = example('supervisor.mjs', ['--fail-times', '2', '--backoff', '20']);
    expect(r.status).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const perAttempt = (n: number) =>
      lines.filter((l) => l.attempt === n && typeof l.type === 'string').map((l) => l.type);
    for (const n of [1, 2, 3]) {
      expect(perAttempt(n)).toEqual(['created', 'started', 'exited', 'deleted']);
    }
    const exits = lines.filter((l) => l.type === 'exited').map((l) => l.exitCode);
    expect(exits).toEqual([3, 3, 0]);
    const backoffs = lines.filter((l) => l.supervisor === 'restarting').map((l) => l.afterMs);
    expect(backoffs).toEqual([20, 40]);
    expect(lines.at(-1)).toMatchObject({ supervisor: 'done', attempts: 3 });
    expect(r.stderr).toBe('crashing\ncrashing\n');
  });

  it('image-run: runs a busybox image built offline, with progress lines from the image package', () => {
    const r = example('image-run.mjs', []);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      'hello from busybox in /tmp\nWelcome to a busybox image made offline.\nexit 0\n',
    );
    const lines = steps(r.stderr);
    expect(lines[0]).toMatch(/^resolving oci:\/.*\/layout:v1$/);
    expect(lines[1]).toMatch(/^resolved sha256:[0-9a-f]{64} \(1 layer, [0-9.]+ (kB|MB)\)$/);
    expect(lines[2]).toMatch(/^layer 1\/1 unpacking [0-9.]+ (kB|MB)$/);
    expect(lines[3]).toMatch(/^layer 1\/1 unpacked \(\d+ entries\)$/);
    expect(lines[4]).toMatch(/^ready oci:\/.*\/layout:v1$/);
    expect(lines).toHaveLength(5);
    // The percentages rise to 100 for the layer.
    const percents = r.stderr.match(/ (\d+)%$/gm)?.map((p) => Number.parseInt(p, 10)) ?? [];
    expect(percents.at(-1)).toBe(100);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    // CMD replaces the image's Cmd; its Entrypoint (sh -c) stays.
    const cmd = example('image-run.mjs', ['--', 'echo "$IMAGE_NAME"; exit 3']);
    expect(cmd.stdout).toBe('busybox\nexit 3\n');
    expect(cmd.status).toBe(1);
  });

  it.skipIf(!existsSync(REGISTRY) || !existsSync(SKOPEO))(
    'image-run: pulls from a loopback registry into a store (downloads), then finds it there',
    async () => {
      const work = mkdtempSync(join(tmpdir(), 'tsoci-examples-registry-'));
      let registry: ChildProcess | undefined;
      try {
        const started = await startRegistry(work);
        registry = started.child;
        const modulePath = resolve(EXAMPLES, 'busybox-image.mjs');
        const { makeBusyboxImage } = (await import(modulePath)) as {
          makeBusyboxImage: (dir: string, o: { tag: string }) => string;
        };
        const layout = makeBusyboxImage(join(work, 'layout'), { tag: 'v1' });
        const remote = `${started.host}/examples/busybox:v1`;
        execFileSync(SKOPEO, [
          'copy',
          '--quiet',
          '--dest-tls-verify=false',
          layout,
          `docker://${remote}`,
        ]);
        const store = join(work, 'store');
        const args = ['--store', store, '--plain-http', started.host, '--image', remote];
        const first = await exampleAsync('image-run.mjs', [...args, '--', 'cat', '/etc/motd']);
        expect(first.stderr).not.toMatch(/image-run:/);
        expect(first.stdout).toBe('Welcome to a busybox image made offline.\nexit 0\n');
        const lines = steps(first.stderr);
        expect(lines[0]).toBe(`resolving ${remote}`);
        expect(lines.slice(2, 4)).toEqual([
          expect.stringMatching(/^layer 1\/1 downloading [0-9.]+ (kB|MB)$/),
          expect.stringMatching(/^layer 1\/1 downloaded [0-9.]+ (kB|MB)$/),
        ]);
        expect(lines.slice(4)).toEqual([
          expect.stringMatching(/^layer 1\/1 unpacking/),
          expect.stringMatching(/^layer 1\/1 unpacked/),
          `ready ${remote}`,
        ]);
        // In the store now: no registry needed (it is stopped), nothing downloaded.
        registry.kill('SIGKILL');
        const again = await exampleAsync('image-run.mjs', ['--store', store, '--image', remote]);
        expect(again.stdout).toBe('exit 0\n');
        const second = steps(again.stderr);
        expect(second.some((l) => l.includes('download'))).toBe(false);
        // As root the rootfs is an overlay of the layers unpacked by the first run.
        if (process.getuid?.() === 0) expect(second).toContain('layer 1/1 already unpacked');
        expect(readdirSync(join(store, 'tsoci/leases'))).toEqual([]);
      } finally {
        registry?.kill('SIGKILL');
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
});
