import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busyboxRootfs,
  type Containerd,
  hasContainerd,
  processEnv,
  removeCgroupParent,
  shimPid,
  startContainerd,
  unmountBelow,
} from './helpers/engines.js';
import { rt } from './helpers/runtime.js';

/**
 * containerd 1.6 and its runc v2 shim driving the runtime under test, the
 * way they drive runc (`ctr run --runc-binary`): create, start, state, exec,
 * pause/resume, kill, delete, exit statuses. The daemon is our own, with its
 * root, state and sockets in a temp dir and the CRI plugin off; containers
 * use a plain rootfs (`--rootfs`), so no image or snapshotter is involved,
 * and get their cgroups below a parent of our own, removed afterwards.
 */
const usable = hasContainerd() && rt.prefix.length === 0;
const CGROUP_PARENT = `tsoci-e2e-ctd-${process.pid}`;

let dir = '';
let containerd: Containerd | undefined;

function ctr(args: string[], opts: { allowFailure?: boolean } = {}) {
  if (!containerd) throw new Error('containerd is not running');
  return containerd.ctr(args, opts);
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
    busyboxRootfs(path.join(dir, 'rootfs'), ['sh', 'echo', 'cat', 'sleep', 'true']);
    containerd = await startContainerd(path.join(dir, 'containerd'));
  }, 60_000);

  afterAll(async () => {
    if (dir === '') return;
    await containerd?.stop();
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
    // The shim runs the runtime with its environment, which is containerd's:
    // TSOCI_FAST_PATH reaches the runtime when the suite runs with it.
    const shim = shimPid(id);
    expect(shim).toBeDefined();
    expect(processEnv(shim ?? 0).get('TSOCI_FAST_PATH')).toBe(process.env.TSOCI_FAST_PATH);
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
