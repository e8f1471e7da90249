import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, processEnv, removeCgroupParent, unmountBelow } from './helpers/engines.js';
import { rt, runtimeEnv } from './helpers/runtime.js';

/**
 * podman (with conmon) driving the runtime under test the way it drives runc:
 * create with --pid-file, start, state, kill, delete, exec, pause/resume,
 * their exit codes and output. Everything podman keeps (storage, run state,
 * events) lives in a temp dir; containers get no network (`--network none`).
 *
 * `--ulimit`: podman asks for RLIMIT_NOFILE 1048576 by default, above this
 * machine's hard limit, which root cannot raise here (no CAP_SYS_RESOURCE):
 * runc fails exactly like tsoci without it.
 */
const PODMAN = '/usr/bin/podman';
const hasPodman = spawnSync(PODMAN, ['--version']).status === 0;
// A wrapped runtime (crun in a mount namespace) is not one path podman can run.
const usable = hasPodman && rt.prefix.length === 0;

let dir = '';
const IMAGE = 'localhost/tsoci-e2e-busybox';

function podman(args: string[], opts: { allowFailure?: boolean } = {}) {
  const r = spawnSync(
    PODMAN,
    [
      '--root',
      path.join(dir, 'storage'),
      '--runroot',
      path.join(dir, 'run'),
      '--tmpdir',
      path.join(dir, 'tmp'),
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      '--runtime',
      rt.target,
      ...args,
    ],
    // The runtime's environment. podman passes its own on to the runtime
    // commands it runs; conmon, which runs create and exec, gets only
    // containers.conf's conmon_env_vars (see beforeAll).
    {
      encoding: 'utf8',
      env: { ...runtimeEnv, CONTAINERS_CONF: path.join(dir, 'containers.conf') },
      timeout: 60_000,
    },
  );
  if (r.status !== 0 && !opts.allowFailure) {
    throw new Error(`podman ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

// podman's cgroups (the container's and conmon's) go below a parent of our
// own, removed afterwards, instead of a shared `libpod_parent`.
const CGROUP_PARENT = `tsoci-e2e-podman-${process.pid}`;
const RUN = [
  '--network',
  'none',
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
  '--cgroup-parent',
  `/${CGROUP_PARENT}`,
];

describe.skipIf(!usable)(`podman driving ${rt.name}`, () => {
  beforeAll(() => {
    dir = mkdtempSync('/tmp/te2e-podman-');
    const conmonEnv = Object.entries(runtimeEnv).map(([k, v]) => JSON.stringify(`${k}=${v}`));
    writeFileSync(
      path.join(dir, 'containers.conf'),
      `[engine]\nconmon_env_vars = [${conmonEnv.join(', ')}]\n`,
    );
    const rootfs = path.join(dir, 'rootfs');
    busyboxRootfs(rootfs, ['sh', 'echo', 'cat', 'sleep', 'hostname', 'id', 'true']);
    const tar = path.join(dir, 'rootfs.tar');
    execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    podman(['import', tar, IMAGE]);
  }, 120_000);

  afterAll(() => {
    if (dir === '') return;
    // --time 0: a container left running by a failed test is killed at once
    // (the default waits 10 s for SIGTERM, as long as the hook's timeout).
    podman(['rm', '--all', '--force', '--time', '0'], { allowFailure: true });
    // podman's own per-container mounts (shm) below our dir, if any are left.
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
    removeCgroupParent(CGROUP_PARENT);
  }, 60_000);

  it('run --rm prints the output and exits with the status of the process', () => {
    const ok = podman(['run', '--rm', ...RUN, IMAGE, 'sh', '-c', 'echo hello-$(id -u)']);
    expect(ok.stdout).toBe('hello-0\n');
    const failed = podman(['run', '--rm', ...RUN, IMAGE, 'sh', '-c', 'exit 3'], {
      allowFailure: true,
    });
    expect(failed.status).toBe(3);
  });

  it('run -d, exec, pause, unpause, stop and rm go through the runtime', () => {
    const name = `tsoci-e2e-${process.pid}`;
    podman(['run', '-d', '--name', name, ...RUN, IMAGE, 'sleep', '60']);
    const exec = podman(['exec', name, 'cat', '/proc/1/cmdline']);
    expect(exec.stdout.split('\0')[0]).toBe('sleep');
    const conmon = Number(podman(['inspect', '--format', '{{.State.ConmonPid}}', name]).stdout);
    expect(processEnv(conmon).get('TSOCI_FAST_PATH')).toBe(process.env.TSOCI_FAST_PATH);
    const status = () => podman(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim();
    expect(status()).toBe('running');
    podman(['pause', name]);
    expect(status()).toBe('paused');
    podman(['unpause', name]);
    expect(status()).toBe('running');
    podman(['stop', '--time', '1', name]);
    expect(status()).toBe('exited');
    // sleep as pid 1 ignores SIGTERM: podman escalates to SIGKILL, 128 + 9.
    expect(podman(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim()).toBe('137');
    podman(['rm', name]);
    expect(podman(['ps', '--all', '--quiet']).stdout.trim()).toBe('');
  });
});
