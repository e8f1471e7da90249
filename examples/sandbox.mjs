#!/usr/bin/env node
// Runs an untrusted command in a throw-away container and prints what it did
// as JSON: { exitCode, signal, timedOut, stdout, stderr }.
//
//   sudo node examples/sandbox.mjs [--timeout MS] [--memory BYTES] [--pids N] -- CMD [ARG...]
//
// The container gets: its own network namespace holding only a loopback
// (nothing of the host's network), a read-only root, a fresh tmpfs on /tmp as
// its only writable place, memory and pids limits in its cgroup, no
// capabilities, no new privileges, uid 65534, and a wall-time limit (an
// AbortSignal: when it fires the container is killed). Output is captured
// through pipes, capped so a chatty command cannot exhaust our memory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../packages/runtime/dist/index.js';
import { defaultConfig } from '../packages/spec/dist/index.js';
import { makeBusyboxRootfs } from './busybox-rootfs.mjs';

const MAX_OUTPUT = 1024 * 1024;

function collect(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    stream.on('data', (chunk) => {
      if (size < MAX_OUTPUT) chunks.push(chunk.subarray(0, MAX_OUTPUT - size));
      size += chunk.length;
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** The OCI config of a sandbox running `args`. */
export function sandboxConfig(args, { memoryBytes, pids }) {
  const config = defaultConfig({ rootless: false });
  config.root = { path: 'rootfs', readonly: true };
  config.hostname = 'sandbox';
  config.process = {
    ...config.process,
    terminal: false,
    args,
    cwd: '/tmp',
    user: { uid: 65534, gid: 65534 },
    env: ['PATH=/bin', 'HOME=/tmp'],
    noNewPrivileges: true,
    capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 256, soft: 256 }],
  };
  config.mounts = [
    ...config.mounts.filter((m) => m.destination !== '/sys/fs/cgroup'),
    {
      destination: '/tmp',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=16m'],
    },
  ];
  config.linux = {
    ...config.linux,
    // Every namespace new (none joined by path): the network one has only lo.
    namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'].map((type) => ({ type })),
    resources: {
      ...config.linux?.resources,
      memory: { limit: memoryBytes, swap: memoryBytes },
      pids: { limit: pids },
    },
  };
  return config;
}

/**
 * Runs `args` in a sandbox on `rootfs`; resolves with its output and status.
 * `root` is the runtime's state root (a private temp dir by default).
 */
export async function runSandboxed(
  args,
  { rootfs, timeoutMs = 5000, memoryBytes = 64 * 1024 * 1024, pids = 32, root } = {},
) {
  const stateRoot = root ?? mkdtempSync(path.join(tmpdir(), 'tsoci-sandbox-state-'));
  const rt = new Runtime({ root: stateRoot });
  const id = `sandbox-${process.pid}-${Date.now().toString(36)}`;
  const wallTime = AbortSignal.timeout(timeoutMs);
  try {
    const c = await rt.runContainer(
      { id, config: sandboxConfig(args, { memoryBytes, pids }), rootfs },
      { stdio: ['ignore', 'pipe', 'pipe'], signal: wallTime },
    );
    try {
      const stdout = collect(c.stdout);
      const stderr = collect(c.stderr);
      let status;
      let timedOut = false;
      try {
        status = await c.wait();
      } catch (err) {
        if (err.name !== 'AbortError') throw err;
        timedOut = true;
        status = c.exitStatus;
      }
      return { ...status, timedOut, stdout: await stdout, stderr: await stderr };
    } finally {
      await c[Symbol.asyncDispose]();
    }
  } finally {
    if (!root) rmSync(stateRoot, { recursive: true, force: true });
  }
}

async function main(argv) {
  const opts = {};
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--timeout') opts.timeoutMs = value;
    else if (argv[i] === '--memory') opts.memoryBytes = value;
    else if (argv[i] === '--pids') opts.pids = value;
    else throw new Error(`unknown option ${argv[i]}`);
    i++;
  }
  const args = argv.slice(i + 1);
  if (args.length === 0)
    throw new Error(
      'usage: sandbox.mjs [--timeout MS] [--memory BYTES] [--pids N] -- CMD [ARG...]',
    );
  const { rootfs, remove } = makeBusyboxRootfs();
  try {
    const result = await runSandboxed(args, { ...opts, rootfs });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    remove();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`sandbox: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    process.exitCode = 1;
  });
}
