#!/usr/bin/env node
// A tiny supervisor: runs a container, and when it crashes (non-zero exit or
// a signal) starts it again after an exponentially growing back-off, until it
// exits 0 or the restart budget is spent. Every lifecycle event is logged as
// one JSON line on stdout.
//
//   sudo node examples/supervisor.mjs [--max-restarts N] [--backoff MS] [--fail-times N]
//
// The demo workload crashes on its first --fail-times runs (default 2): it
// counts its attempts in a host directory bind-mounted at /state.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../packages/runtime/dist/index.js';
import { defaultConfig } from '../packages/spec/dist/index.js';
import { makeBusyboxRootfs } from './busybox-rootfs.mjs';

function log(record) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
}

/**
 * Supervises `makeSource(attempt)` (a Runtime.runContainer source) until
 * it exits 0. Back-off: `backoffMs`, doubled after every crash, capped at
 * `maxBackoffMs`. Resolves with the last exit status and the attempt count.
 */
export async function supervise(
  rt,
  makeSource,
  { maxRestarts = 5, backoffMs = 100, maxBackoffMs = 5000, signal } = {},
) {
  let delay = backoffMs;
  for (let attempt = 1; ; attempt++) {
    const container = await rt.runContainer(makeSource(attempt), { stdio: 'inherit', signal });
    const logging = (async () => {
      for await (const event of container.events()) {
        const { time, ...rest } = event;
        log({ attempt, ...rest, eventTime: time.toISOString() });
      }
    })();
    let status;
    try {
      status = await container.wait();
    } finally {
      await container[Symbol.asyncDispose]();
      await logging;
    }
    if (status.exitCode === 0) {
      log({ attempt, supervisor: 'succeeded' });
      return { status, attempts: attempt };
    }
    if (attempt > maxRestarts) {
      log({ attempt, supervisor: 'giving up', exitCode: status.exitCode, signal: status.signal });
      return { status, attempts: attempt };
    }
    log({
      attempt,
      supervisor: 'restarting',
      afterMs: delay,
      exitCode: status.exitCode,
      signal: status.signal,
    });
    await sleep(delay, undefined, { signal });
    delay = Math.min(delay * 2, maxBackoffMs);
  }
}

async function main(argv) {
  const opt = (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const failTimes = opt('--fail-times', 2);
  const { rootfs, remove } = makeBusyboxRootfs();
  const work = mkdtempSync(path.join(tmpdir(), 'tsoci-supervisor-'));
  const stateDir = path.join(work, 'state');
  mkdirSync(stateDir);
  const root = path.join(work, 'root');
  const rt = new Runtime({ root });
  const config = defaultConfig({ rootless: false });
  config.root = { path: 'rootfs', readonly: true };
  config.process = {
    ...config.process,
    terminal: false,
    args: [
      'sh',
      '-c',
      `n=$(cat /state/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/n;
       echo "run $n"; if [ $n -le ${failTimes} ]; then echo "crashing" >&2; exit 3; fi; exit 0`,
    ],
  };
  config.mounts = [
    ...config.mounts,
    { destination: '/state', type: 'bind', source: stateDir, options: ['rbind', 'rw'] },
  ];
  try {
    const { status, attempts } = await supervise(
      rt,
      (attempt) => ({ id: `supervised-${process.pid}-${attempt}`, config, rootfs }),
      { maxRestarts: opt('--max-restarts', 5), backoffMs: opt('--backoff', 100) },
    );
    process.exitCode = status.exitCode === 0 ? 0 : 1;
    log({ supervisor: 'done', attempts });
  } finally {
    remove();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`supervisor: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    process.exitCode = 1;
  });
}
