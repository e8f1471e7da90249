import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busyboxRootfs,
  type Containerd,
  cgroupParentDirs,
  hasContainerd,
  hostNetworkConfig,
  mountsBelow,
  processEnv,
  processesMentioning,
  removeCgroupParent,
  removeIfCreatedLater,
  shimPid,
  startContainerd,
  stopProcess,
  unmountBelow,
} from './helpers/engines.js';
import { basePath, rt, runtime } from './helpers/runtime.js';

/**
 * dockerd 20.10 (Debian's docker.io) on top of a containerd of our own, with
 * the runtime under test added as `--add-runtime tsoci=<path>` and every
 * container run with `--runtime tsoci --network none`. dockerd reaches the
 * runtime through containerd's runc v2 shim, and puts its own prestart hook
 * (`/proc/<dockerd pid>/exe libnetwork-setkey …`) into every config, which
 * the runtime must run as the spec says for the container to get its network
 * sandbox at all.
 *
 * Everything dockerd keeps lives in a temp dir (data root, exec root, pid
 * file, socket, config file, trust key); containers get their cgroups below a
 * parent of our own (cgroupfs driver). dockerd gets no network of its own:
 * no bridge, no iptables/ip6tables rules, no masquerading, no ip_forward
 * change, no published ports (so no userland proxy either), and the test
 * checks that the host's links, addresses, routes, forwarding sysctls and
 * iptables rules are the same before and after. The image is a busybox
 * rootfs made here and `docker import`ed: nothing is pulled.
 */
const DOCKERD = '/usr/sbin/dockerd';
// Debian's client from the same docker.io 20.10.24 build as the daemon (API
// 1.41). Not `docker` from PATH: a machine may have another client in
// /usr/local/bin (this one has 28.x, which would negotiate the API version
// down); the pair under test is the one Debian ships.
const DOCKER = '/usr/bin/docker';
/** The name the runtime under test is registered as, whichever runtime it is. */
const RUNTIME = 'tsoci';

const installed = (file: string) => spawnSync(file, ['--version']).status === 0;
const skipReason = !installed(DOCKERD)
  ? `${DOCKERD} is not installed (Debian docker.io)`
  : !installed(DOCKER)
    ? `${DOCKER} is not installed (Debian docker.io)`
    : !hasContainerd()
      ? 'containerd is not installed'
      : rt.prefix.length > 0
        ? // A wrapped runtime (crun in a mount namespace) is not one path dockerd can run.
          `${rt.name} runs wrapped, not as one executable`
        : '';

const CGROUP_PARENT = `tsoci-e2e-docker-${process.pid}`;
const IMAGE = 'tsoci-e2e-busybox';
const RUN = ['--runtime', RUNTIME, '--network', 'none'];
// dockerd 20.10 fails any exec that cannot start (missing program included)
// with 126; runc gives the same. Only `docker run` maps "not found" to 127.
const DOCKER_EXEC_START_FAILURE = 126;
const DOCKER_RUN_NOT_FOUND = 127;

let dir = '';
let containerd: Containerd | undefined;
let dockerd: ChildProcess | undefined;
let netBefore = '';
let removeDockerFixedDirs = () => {};
let hadKey = false;
let hadPluginDir = false;
/** Where dockerd 20.10 writes its trust key unless its config file says otherwise. */
const DOCKER_KEY = '/etc/docker/key.json';

const execRoot = () => path.join(dir, 'exec');
const dockerdLog = () => {
  try {
    return readFileSync(path.join(dir, 'dockerd.log'), 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
};

function docker(args: readonly string[], opts: { allowFailure?: boolean } = {}) {
  const r = spawnSync(DOCKER, ['--host', `unix://${path.join(dir, 'docker.sock')}`, ...args], {
    encoding: 'utf8',
    env: { PATH: basePath, DOCKER_CONFIG: path.join(dir, 'client') },
    timeout: 60_000,
  });
  if (r.status !== 0 && !opts.allowFailure) {
    throw new Error(
      `docker ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}\n--- dockerd log ---\n${dockerdLog()}`,
    );
  }
  return r;
}

interface Inspect {
  Id: string;
  State: { Status: string; Running: boolean; Paused: boolean; Pid: number; ExitCode: number };
  HostConfig: { Runtime: string };
  NetworkSettings: { SandboxKey: string };
}
const inspect = (name: string): Inspect => JSON.parse(docker(['inspect', name]).stdout)[0];

/** `docker run --detach --name NAME` of the test image with the runtime; returns the id. */
const runDetached = (name: string, ...command: string[]): string =>
  docker(['run', '--detach', '--name', name, ...RUN, IMAGE, ...command]).stdout.trim();

/** What containerd's task dir holds for a container: its bundle and the shim's options. */
function bundle(id: string) {
  if (!containerd) throw new Error('containerd is not running');
  const d = path.join(containerd.state, 'io.containerd.runtime.v2.task/moby', id);
  return {
    config: JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf8')),
    options: JSON.parse(readFileSync(path.join(d, 'options.json'), 'utf8')) as {
      binary_name: string;
      root: string;
    },
  };
}

/** The runtime's own `state` of a container, from the root the shim gives it. */
async function runtimeState(root: string, id: string) {
  const r = await runtime(['--root', root, 'state', id]);
  return r.exitCode === 0
    ? (JSON.parse(String(r.stdout)) as { status: string; pid: number })
    : null;
}

/** Docker no longer knows container `id`. */
const gone = (id: string) =>
  docker(['ps', '--all', '--quiet', '--filter', `id=${id}`]).stdout === '';

const containerCgroups = (id: string) =>
  cgroupParentDirs(CGROUP_PARENT)
    .map((d) => path.join(d, id))
    .filter((d) => existsSync(d));

async function waitFor(what: string, ok: () => boolean, ms = 10_000) {
  for (let t = 0; t < ms; t += 50) {
    if (ok()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(skipReason !== '')(
  skipReason === ''
    ? `dockerd driving ${rt.name}`
    : `dockerd driving ${rt.name} (skipped: ${skipReason})`,
  () => {
    beforeAll(async () => {
      netBefore = hostNetworkConfig();
      hadKey = existsSync(DOCKER_KEY);
      hadPluginDir = existsSync('/run/docker/plugins');
      dir = mkdtempSync('/tmp/te2e-dk-');
      // dockerd 20.10 creates its plugin dir at this fixed path whatever its
      // exec root is; removed afterwards when it was not there before.
      removeDockerFixedDirs = removeIfCreatedLater(['/run/docker', '/run/docker/plugins']);
      containerd = await startContainerd(path.join(dir, 'ctd'));
      // Without a config file dockerd reads /etc/docker/daemon.json; without
      // this key (there is no flag for it) it writes DOCKER_KEY.
      const config = path.join(dir, 'daemon.json');
      writeFileSync(config, JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }));
      mkdirSync(path.join(dir, 'client'));
      const log = openSync(path.join(dir, 'dockerd.log'), 'a');
      dockerd = spawn(
        DOCKERD,
        [
          '--data-root',
          path.join(dir, 'data'),
          '--exec-root',
          execRoot(),
          '--pidfile',
          path.join(dir, 'dockerd.pid'),
          '--host',
          `unix://${path.join(dir, 'docker.sock')}`,
          '--containerd',
          containerd.address,
          '--config-file',
          config,
          '--storage-driver',
          'vfs',
          '--exec-opt',
          'native.cgroupdriver=cgroupfs',
          '--cgroup-parent',
          `/${CGROUP_PARENT}`,
          '--add-runtime',
          `${RUNTIME}=${rt.target}`,
          '--bridge=none',
          '--iptables=false',
          '--ip6tables=false',
          '--ip-masq=false',
          // The default (true) has dockerd set net.ipv4.ip_forward.
          '--ip-forward=false',
        ],
        // dockerd never runs the added runtime itself (containerd's shim
        // does, with containerd's environment), so PATH is all it needs.
        { env: { PATH: basePath }, stdio: ['ignore', log, log] },
      );
      closeSync(log);
      for (let i = 0; ; i++) {
        if (dockerd.exitCode !== null) throw new Error(`dockerd exited:\n${dockerdLog()}`);
        if (docker(['version'], { allowFailure: true }).status === 0) break;
        if (i === 400) throw new Error(`dockerd did not come up within 20 s:\n${dockerdLog()}`);
        await sleep(50);
      }
      const rootfs = path.join(dir, 'rootfs');
      busyboxRootfs(rootfs, ['sh', 'echo', 'cat', 'sleep', 'ip', 'true']);
      const tar = path.join(dir, 'rootfs.tar');
      execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
      docker(['import', tar, IMAGE]);
    }, 120_000);

    afterAll(async () => {
      if (dir === '') return;
      // Tear everything down first, whatever happened, then check what was left.
      if (dockerd && dockerd.exitCode === null && dockerd.signalCode === null) {
        const all = docker(['ps', '--all', '--quiet'], { allowFailure: true }).stdout ?? '';
        for (const id of all.split('\n').filter(Boolean)) {
          docker(['rm', '--force', id], { allowFailure: true });
        }
        await stopProcess(dockerd);
      }
      await containerd?.stop();
      removeDockerFixedDirs();
      // Shims exit shortly after their last task is deleted.
      for (let i = 0; i < 100 && processesMentioning(dir).length > 0; i++) await sleep(50);
      const leftProcesses = processesMentioning(dir);
      const leftMounts = mountsBelow(dir);
      const leftCgroups = cgroupParentDirs(CGROUP_PARENT).flatMap((d) =>
        readdirSync(d, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => path.join(d, e.name)),
      );
      unmountBelow(dir);
      rmSync(dir, { recursive: true, force: true });
      try {
        removeCgroupParent(CGROUP_PARENT);
      } catch {
        // reported by the check below, after the others have run
      }

      expect(dockerd?.exitCode ?? dockerd?.signalCode).not.toBeNull();
      expect(leftProcesses).toEqual([]);
      expect(leftMounts).toEqual([]);
      // Each container's cgroup went with the container (the parent is ours).
      expect(leftCgroups).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      expect(cgroupParentDirs(CGROUP_PARENT)).toEqual([]);
      expect(existsSync(DOCKER_KEY)).toBe(hadKey);
      expect(existsSync('/run/docker/plugins')).toBe(hadPluginDir);
      expect(hostNetworkConfig()).toBe(netBefore);
    }, 120_000);

    it('dockerd has the runtime registered, the cgroupfs driver and no bridge network', () => {
      const info = JSON.parse(docker(['info', '--format', '{{json .}}']).stdout) as {
        Runtimes: Record<string, { path: string }>;
        CgroupDriver: string;
        Driver: string;
        ServerVersion: string;
      };
      expect(info.ServerVersion).toMatch(/^20\.10\./);
      expect(info.Runtimes[RUNTIME]?.path).toBe(rt.target);
      expect(info.CgroupDriver).toBe('cgroupfs');
      expect(info.Driver).toBe('vfs');
      const networks = docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']).stdout;
      expect(networks.split('\n').filter(Boolean).sort()).toEqual(['host host', 'none null']);
    });

    it('run --rm prints the output and exits with the status of the process', () => {
      const ok = docker(['run', '--rm', ...RUN, IMAGE, 'echo', 'hi']);
      expect(ok.stdout).toBe('hi\n');
      expect(ok.status).toBe(0);
      const failed = docker(['run', '--rm', ...RUN, IMAGE, 'sh', '-c', 'exit 7'], {
        allowFailure: true,
      });
      expect(failed.status).toBe(7);
      const missing = docker(['run', '--rm', ...RUN, IMAGE, '/nonexistent'], {
        allowFailure: true,
      });
      expect(missing.status).toBe(DOCKER_RUN_NOT_FOUND);
      expect(missing.stderr).toContain('/nonexistent');
      // --rm: nothing is left of the three containers.
      expect(docker(['ps', '--all', '--quiet', '--filter', `ancestor=${IMAGE}`]).stdout).toBe('');
    });

    it("runs dockerd's prestart hook (libnetwork-setkey) with the container's state", async () => {
      const name = `tsoci-e2e-hook-${process.pid}`;
      const id = runDetached(name, 'sleep', '60');
      const c = inspect(name);
      expect(c.Id).toBe(id);
      expect(c.HostConfig.Runtime).toBe(RUNTIME);
      expect(c.State.Running).toBe(true);

      // The config dockerd handed the runtime (through containerd's bundle).
      const { config, options } = bundle(id);
      expect(options.binary_name).toBe(rt.target);
      expect(config.hooks.prestart).toEqual([
        {
          path: `/proc/${dockerd?.pid}/exe`,
          args: ['libnetwork-setkey', `-exec-root=${execRoot()}`, id, expect.any(String)],
        },
      ]);
      expect(config.linux.namespaces).toContainEqual({ type: 'network' });
      expect(config.linux.cgroupsPath).toBe(`/${CGROUP_PARENT}/${id}`);

      // The hook ran: libnetwork-setkey read the state on its stdin and had
      // dockerd bind-mount /proc/<that pid>/ns/net at the sandbox key, which
      // only happens through the hook. So the pid was the container's.
      const key = c.NetworkSettings.SandboxKey;
      expect(key.startsWith(`${execRoot()}/netns/`)).toBe(true);
      expect(mountsBelow(execRoot())).toContain(key);
      const netns = statSync(`/proc/${c.State.Pid}/ns/net`).ino;
      expect(statSync(key).ino).toBe(netns);
      expect(netns).not.toBe(statSync('/proc/self/ns/net').ino);
      // --network none: loopback only.
      const links = docker(['exec', name, 'ip', '-o', 'link']).stdout.split('\n').filter(Boolean);
      expect(links).toHaveLength(1);
      expect(links[0]).toMatch(/^1: lo: /);

      // The runtime under test keeps this container, with the pid docker reports.
      const root = path.join(options.root, 'moby');
      expect(await runtimeState(root, id)).toMatchObject({ status: 'running', pid: c.State.Pid });
      // The environment reaches the runtime: the shim runs it with its own,
      // which is containerd's (TSOCI_FAST_PATH when the suite runs with it).
      const shim = shimPid(id);
      expect(shim).toBeDefined();
      expect(processEnv(shim ?? 0).get('TSOCI_FAST_PATH')).toBe(process.env.TSOCI_FAST_PATH);

      docker(['rm', '--force', name]);
      expect(await runtimeState(root, id)).toBeNull();
      expect(containerCgroups(id)).toEqual([]);
      expect(mountsBelow(execRoot())).not.toContain(key);
    });

    it('run -d, exec, pause, unpause, stop and rm go through the runtime', async () => {
      const name = `tsoci-e2e-life-${process.pid}`;
      const id = runDetached(name, 'sleep', '60');
      const status = () => inspect(name).State.Status;
      expect(status()).toBe('running');

      const exec = docker(['exec', name, 'cat', '/proc/1/cmdline']);
      expect(exec.stdout).toBe('sleep\x0060\x00');
      const mixed = docker(['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 5'], {
        allowFailure: true,
      });
      expect([mixed.status, mixed.stdout, mixed.stderr]).toEqual([5, 'out\n', 'err\n']);
      const missing = docker(['exec', name, '/nonexistent'], { allowFailure: true });
      expect(missing.status).toBe(DOCKER_EXEC_START_FAILURE);
      // dockerd writes the runtime's error into the attached output stream.
      expect(missing.stdout).toContain('/nonexistent');
      expect(missing.stdout).toContain('no such file or directory');
      expect(status()).toBe('running');

      docker(['pause', name]);
      expect(status()).toBe('paused');
      expect(inspect(name).State.Paused).toBe(true);
      const freezer = path.join('/sys/fs/cgroup/freezer', CGROUP_PARENT, id, 'freezer.state');
      if (existsSync(freezer)) expect(readFileSync(freezer, 'utf8').trim()).toBe('FROZEN');
      docker(['unpause', name]);
      expect(status()).toBe('running');
      expect(inspect(name).State.Paused).toBe(false);
      expect(docker(['exec', name, 'echo', 'awake']).stdout).toBe('awake\n');

      // sleep as pid 1 ignores SIGTERM: docker stop escalates to SIGKILL, 128 + 9.
      docker(['stop', '--time', '1', name]);
      expect(status()).toBe('exited');
      expect(inspect(name).State.ExitCode).toBe(137);
      docker(['rm', name]);
      expect(gone(id)).toBe(true);
      expect(containerCgroups(id)).toEqual([]);
    });

    it('kill -s delivers the signal to the process, and rm -f removes a running container', async () => {
      const name = `tsoci-e2e-sig-${process.pid}`;
      runDetached(
        name,
        'sh',
        '-c',
        'trap "echo got-usr1; exit 3" USR1; echo ready; while :; do sleep 0.1; done',
      );
      await waitFor('the trap', () => docker(['logs', name]).stdout === 'ready\n');
      docker(['kill', '--signal', 'USR1', name]);
      expect(docker(['wait', name]).stdout).toBe('3\n');
      expect(docker(['logs', name]).stdout).toBe('ready\ngot-usr1\n');
      expect(inspect(name).State.Status).toBe('exited');
      docker(['rm', name]);

      const doomed = `tsoci-e2e-rmf-${process.pid}`;
      const id = runDetached(doomed, 'sleep', '60');
      const pid = inspect(doomed).State.Pid;
      docker(['rm', '--force', doomed]);
      expect(gone(id)).toBe(true);
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(containerCgroups(id)).toEqual([]);
    });

    it('leaves the host network as it was (no bridge, route, rule or sysctl change)', () => {
      expect(hostNetworkConfig()).toBe(netBefore);
    });
  },
);
