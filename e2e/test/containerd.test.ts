import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, removeCgroupParent, unmountBelow } from './helpers/engines.js';
import { basePath, rt } from './helpers/runtime.js';

/**
 * containerd 1.6 and its runc v2 shim driving the runtime under test, the
 * way they drive runc (`ctr run --runc-binary`): create, start, state, exec,
 * pause/resume, kill, delete, exit statuses. The daemon is our own, with its
 * root, state and sockets in a temp dir and the CRI plugin off; containers
 * use a plain rootfs (`--rootfs`), so no image or snapshotter is involved,
 * and get their cgroups below a parent of our own, removed afterwards.
 */
const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const usable =
  spawnSync(CONTAINERD, ['--version']).status === 0 &&
  spawnSync(CTR, ['--version']).status === 0 &&
  rt.prefix.length === 0;
const CGROUP_PARENT = `tsoci-e2e-ctd-${process.pid}`;

let dir = '';
let daemon: ChildProcess | undefined;

function ctr(args: string[], opts: { allowFailure?: boolean } = {}) {
  const r = spawnSync(CTR, ['--address', path.join(dir, 'containerd.sock'), ...args], {
    encoding: 'utf8',
    env: { PATH: basePath },
    timeout: 60_000,
  });
  if (r.status !== 0 && !opts.allowFailure) {
    throw new Error(`ctr ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** `ctr run` of the busybox rootfs with the runtime under test. */
function run(id: string, args: string[], flags: string[] = [], allowFailure = false) {
  return ctr(
    [
      'run',
      '--runc-binary',
      rt.target,
      '--cgroup',
      `/${CGROUP_PARENT}/${id}`,
      ...flags,
      '--rootfs',
      path.join(dir, 'rootfs'),
      id,
      ...args,
    ],
    { allowFailure },
  );
}

describe.skipIf(!usable)(`containerd driving ${rt.name}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync('/tmp/te2e-ctd-');
    const rootfs = path.join(dir, 'rootfs');
    busyboxRootfs(rootfs, ['sh', 'echo', 'cat', 'sleep', 'true']);
    const config = path.join(dir, 'config.toml');
    writeFileSync(
      config,
      [
        'version = 2',
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${dir}/containerd.sock"`,
        '[ttrpc]',
        `  address = "${dir}/containerd.sock.ttrpc"`,
        '',
      ].join('\n'),
    );
    daemon = spawn(CONTAINERD, ['--config', config], {
      env: { PATH: basePath },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    for (let i = 0; i < 200; i++) {
      if (
        existsSync(path.join(dir, 'containerd.sock')) &&
        ctr(['version'], { allowFailure: true }).status === 0
      )
        return;
      await sleep(50);
    }
    throw new Error('containerd did not come up within 10 s');
  }, 60_000);

  afterAll(async () => {
    if (dir === '') return;
    for (const id of ctr(['task', 'ls', '--quiet'], { allowFailure: true }).stdout?.split('\n') ??
      []) {
      if (id.trim() === '') continue;
      ctr(['task', 'kill', '--signal', 'SIGKILL', id.trim()], { allowFailure: true });
      ctr(['task', 'delete', '--force', id.trim()], { allowFailure: true });
    }
    for (const id of ctr(['container', 'ls', '--quiet'], { allowFailure: true }).stdout?.split(
      '\n',
    ) ?? []) {
      if (id.trim() !== '') ctr(['container', 'delete', id.trim()], { allowFailure: true });
    }
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon?.once('exit', r));
    }
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
    removeCgroupParent(CGROUP_PARENT);
  }, 60_000);

  it('run --rm prints the output and exits with the status of the process', () => {
    const ok = run(`ok-${process.pid}`, ['/bin/sh', '-c', 'echo hello-from-containerd'], ['--rm']);
    expect(ok.stdout).toBe('hello-from-containerd\n');
    const failed = run(`fail-${process.pid}`, ['/bin/sh', '-c', 'exit 3'], ['--rm'], true);
    expect(failed.status).toBe(3);
  });

  it('a detached task: exec, pause, resume, kill and delete go through the runtime', async () => {
    const id = `task-${process.pid}`;
    run(id, ['/bin/sleep', '60'], ['--detach']);
    const exec = ctr(['task', 'exec', '--exec-id', 'e1', id, '/bin/cat', '/proc/1/cmdline']);
    expect(exec.stdout.split('\0')[0]).toBe('/bin/sleep');
    const status = () =>
      ctr(['task', 'ls'])
        .stdout.split('\n')
        .find((l) => l.startsWith(`${id} `))
        ?.trim()
        .split(/\s+/)[2];
    expect(status()).toBe('RUNNING');
    ctr(['task', 'pause', id]);
    expect(status()).toBe('PAUSED');
    ctr(['task', 'resume', id]);
    expect(status()).toBe('RUNNING');
    ctr(['task', 'kill', '--signal', 'SIGKILL', id]);
    for (let i = 0; i < 100 && status() !== 'STOPPED'; i++) await sleep(50);
    expect(status()).toBe('STOPPED');
    ctr(['task', 'delete', id]);
    ctr(['container', 'delete', id]);
    expect(ctr(['container', 'ls', '--quiet']).stdout.trim()).toBe('');
  });
});
