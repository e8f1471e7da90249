#!/usr/bin/env node
// The in-process API (@ts-oci/runtime's Container objects) against crun's CLI:
// create + start + wait + delete of /bin/true, one at a time and 8 at a time.
// Plain .mjs with no dependencies; run as root after `pnpm build`. Prints,
// never asserts (DESIGN.md: no timed assertions).
//
//   sudo node bench/api.mjs [--iterations N] [--count N] [--parallel N] [--chunk N] [--crun PATH]
//
// crun: `create --pid-file`, `start`, poll /proc/<pid>/stat every 1 ms until
// the process is a zombie or gone (what bench/lifecycle.mjs does: a CLI caller
// has no better way), `delete`; three processes, each with only PATH in its
// environment. On a hybrid cgroup host crun refuses to run, so every call goes
// through `unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"'`;
// that wrapper's cost is measured (wrapped /bin/true − bare /bin/true) and
// `crun(net)` subtracts it three times per lifecycle.
//
// API: `runtime.runContainer({ id, bundle }, { stdio: 'ignore' })`, `wait()`
// (pidfd, no polling), `delete()`, in this one Node process: no CLI spawned.
//
// Other work on the machine drifts while this runs, so the two sides are
// measured interleaved: single lifecycles alternate (who goes first too), the
// wrapper's cost is sampled between them, and the `N sequential` rows run in
// chunks of `--chunk` lifecycles (default 10), API and crun in turn, each
// side's chunks summed. The `at a time` row runs API then crun.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  exited,
  fmt,
  HIDE_UNIFIED,
  isHybridCgroupHost,
  makeBusyboxBundle,
  median,
  PATH_ONLY,
  UNSHARE,
  which,
} from './lib.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { iterations: 20, count: 100, parallel: 8, chunk: 10, crun: which('crun') };
  for (let i = 0; i < argv.length; i++) {
    const next = () => argv[++i];
    if (argv[i] === '--iterations') o.iterations = Number(next());
    else if (argv[i] === '--count') o.count = Number(next());
    else if (argv[i] === '--parallel') o.parallel = Number(next());
    else if (argv[i] === '--chunk') o.chunk = Number(next());
    else if (argv[i] === '--crun') o.crun = next();
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log(
        'usage: node bench/api.mjs [--iterations N] [--count N] [--parallel N] [--chunk N] [--crun PATH]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  return o;
}

function run(file, args) {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: PATH_ONLY, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err) => resolve({ code: -1, stderr: String(err) }));
    // 'exit', not 'close': a created container inherits the stderr pipe.
    child.on('exit', (code) => {
      child.stderr.destroy();
      resolve({ code, stderr });
    });
  });
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
let serial = 0;
const newId = (who) => `api${process.pid}-${who}-${serial++}`;

function makeCrun(file, wrap, root) {
  const call = (args) =>
    wrap
      ? run(UNSHARE, ['-m', 'sh', '-c', HIDE_UNIFIED, file, '--root', root, ...args])
      : run(file, ['--root', root, ...args]);
  const must = async (args) => {
    const r = await call(args);
    if (r.code !== 0) throw new Error(`crun ${args[0]}: exit ${r.code}: ${r.stderr.trim()}`);
  };
  return {
    async lifecycle(bundle, tmp) {
      const id = newId('crun');
      const pidFile = path.join(tmp, `${id}.pid`);
      await must(['create', '--bundle', bundle, '--pid-file', pidFile, id]);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      await must(['start', id]);
      while (!exited(pid)) await sleep(1);
      await must(['delete', id]);
    },
  };
}

function makeApi(Runtime, root) {
  const rt = new Runtime({ root });
  return {
    async lifecycle(bundle) {
      const c = await rt.runContainer({ id: newId('api'), bundle }, { stdio: 'ignore' });
      const status = await c.wait();
      if (status.exitCode !== 0) throw new Error(`API container exited ${status.exitCode}`);
      await c.delete();
    },
  };
}

/** `count` lifecycles, `lanes` at a time; total ms. */
async function batch(who, bundle, tmp, count, lanes) {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) {
        next++;
        await who.lifecycle(bundle, tmp);
      }
    }),
  );
  return ms(t0);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const dist = path.join(repoRoot, 'packages/runtime/dist/index.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run pnpm build`);
  const { Runtime } = await import(pathToFileURL(dist).href);
  if (typeof Runtime?.prototype?.runContainer !== 'function') {
    throw new Error('@ts-oci/runtime has no Runtime.runContainer: rebuild it');
  }
  const work = mkdtempSync(path.join(tmpdir(), 'tsoci-bench-api-'));
  try {
    const spec = o.crun
      ? { name: 'crun', file: o.crun, prefix: [] }
      : { name: 'tsoci', file: path.join(repoRoot, 'packages/cli/native/tsoci'), prefix: [] };
    const bundle = makeBusyboxBundle(path.join(work, 'bundle'), spec, { args: ['/bin/true'] });
    const api = makeApi(Runtime, path.join(work, 'api-root'));
    const wrap = isHybridCgroupHost();
    const crun = o.crun ? makeCrun(o.crun, wrap, path.join(work, 'crun-root')) : null;
    console.log(
      `bench/api.mjs: ${o.iterations} single lifecycles, ${o.count} sequential, ${o.count} x ${o.parallel} at a time`,
    );
    console.log(
      `crun: ${o.crun ?? 'not installed'}${wrap ? ' (wrapped: hybrid cgroup host)' : ''}`,
    );

    // Warm-up: module loading, the addon, page cache.
    await api.lifecycle(bundle);
    if (crun) await crun.lifecycle(bundle, work);

    // The wrapper's cost: wrapped /bin/true minus bare /bin/true, sampled
    // among the lifecycles so that it sees the same machine they do.
    const bare = [];
    const wrapped = [];
    const sampleWrapper = async () => {
      if (!crun || !wrap) return;
      let t0 = process.hrtime.bigint();
      await run('/bin/true', []);
      bare.push(ms(t0));
      t0 = process.hrtime.bigint();
      await run(UNSHARE, ['-m', 'sh', '-c', HIDE_UNIFIED, '/bin/true']);
      wrapped.push(ms(t0));
    };

    const single = { api: [], crun: [] };
    for (let i = 0; i < o.iterations; i++) {
      // Alternate who goes first so machine drift hits both alike.
      const order = i % 2 === 0 ? ['api', 'crun'] : ['crun', 'api'];
      for (const who of order) {
        if (who === 'crun' && !crun) continue;
        const t0 = process.hrtime.bigint();
        if (who === 'api') await api.lifecycle(bundle);
        else await crun.lifecycle(bundle, work);
        single[who].push(ms(t0));
      }
      await sampleWrapper();
    }
    // Sequential lifecycles in chunks, the two sides in turn.
    const sequential = { api: 0, crun: 0 };
    for (let done = 0, i = 0; done < o.count; i++) {
      const n = Math.min(o.chunk, o.count - done);
      const order = i % 2 === 0 ? ['api', 'crun'] : ['crun', 'api'];
      for (const who of order) {
        if (who === 'crun' && !crun) continue;
        sequential[who] += await batch(who === 'api' ? api : crun, bundle, work, n, 1);
      }
      await sampleWrapper();
      done += n;
    }
    const wrapperMs = wrapped.length > 0 ? Math.max(0, median(wrapped) - median(bare)) : 0;
    const rows = [
      {
        name: 'create+start+wait+delete',
        calls: 3,
        api: median(single.api),
        crun: crun ? median(single.crun) : Number.NaN,
      },
      {
        name: `${o.count} sequential`,
        calls: 3 * o.count,
        api: sequential.api,
        crun: crun ? sequential.crun : Number.NaN,
      },
      {
        name: `${o.count}, ${o.parallel} at a time`,
        calls: 3 * o.count,
        api: await batch(api, bundle, work, o.count, o.parallel),
        crun: crun ? await batch(crun, bundle, work, o.count, o.parallel) : Number.NaN,
      },
    ];

    console.log(`wrapper cost per crun call: ${fmt(wrapperMs, 2)} ms\n`);
    const head = ['', 'API ms', 'crun(raw) ms', 'crun(net) ms', 'API/crun(raw)', 'API/crun(net)'];
    const table = [head];
    for (const r of rows) {
      // The parallel row overlaps calls: subtracting the wrapper per call would overcount.
      const net = r.name.includes('at a time') ? Number.NaN : r.crun - r.calls * wrapperMs;
      table.push([
        r.name,
        fmt(r.api),
        fmt(r.crun),
        wrap ? fmt(net) : fmt(r.crun),
        fmt(r.api / r.crun, 2),
        fmt(r.api / (wrap ? net : r.crun), 2),
      ]);
    }
    const widths = head.map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) console.log(row.map((cell, i) => cell.padStart(widths[i])).join('  '));
    console.log(
      '\nratios < 1: the API is faster. Targets (issue): lifecycle and 100 sequential ≤ 0.5× crun.',
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench/api.mjs: ${err.stack ?? err}`);
  process.exitCode = 1;
});
