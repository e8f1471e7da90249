#!/usr/bin/env node
// Side-by-side lifecycle timings of tsoci, runc and crun on one busybox bundle.
// Plain .mjs with no dependencies: Node 20 cannot strip TypeScript types, and
// bench/ is not a workspace package. Run as root; see bench/README.md.
//
// Every runtime is started with only PATH in its environment. Samples are
// interleaved (iteration i runs each runtime once, in a rotating order) so
// that drift of the machine during the run hits every runtime alike.
//
// Numbers here are printed, never asserted (DESIGN.md: no timed assertions).

import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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
// Containers in the root that the `list` row lists.
const LIST_SIZE = 20;
const GNU_TIME = '/usr/bin/time';

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = {
    iterations: 15,
    sequence: 100,
    sequenceRounds: 3,
    only: null,
    json: null,
    tsoci: path.join(repoRoot, 'packages/cli/native/tsoci'),
    runc: which('runc'),
    crun: which('crun'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--iterations') o.iterations = Number(next());
    else if (a === '--sequence') o.sequence = Number(next());
    else if (a === '--sequence-rounds') o.sequenceRounds = Number(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--json') o.json = next();
    else if (a === '--tsoci') o.tsoci = next();
    else if (a === '--runc') o.runc = next();
    else if (a === '--crun') o.crun = next();
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node bench/lifecycle.mjs [--iterations N] [--sequence N] [--sequence-rounds N]\n' +
          '       [--only tsoci,runc,crun] [--json out.json] [--tsoci path] [--runc path] [--crun path]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------- processes

/** Spawns and waits; returns { code, signal, ms, stdout, stderr }. */
function exec(file, args, { stdio = ['ignore', 'ignore', 'pipe'], cwd } = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, args, { env: PATH_ONLY, stdio, cwd });
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.on('error', (err) =>
      resolve({ code: -1, signal: null, ms: 0, stdout, stderr: String(err) }),
    );
    // 'exit', not 'close': after `create` the container inherits the stderr
    // pipe and keeps it open for as long as it lives.
    child.on('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      setImmediate(() => {
        child.stderr?.destroy();
        child.stdout?.destroy();
        resolve({ code, signal, ms, stdout, stderr });
      });
    });
  });
}

function versionOf(file, prefix) {
  const r = spawnSync(file, [...prefix, '--version'], { encoding: 'utf8', env: PATH_ONLY });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : null;
}

/** A runtime: how to invoke it, and how many extra processes each call costs. */
function makeRuntime(name, target, { wrap } = {}) {
  if (!target) return { name, available: false, reason: 'not installed' };
  if (!existsSync(target)) return { name, available: false, reason: `${target} does not exist` };
  const node = /\.(c|m)?js$/.test(target);
  const file = node ? process.execPath : target;
  const basePrefix = node ? [target] : [];
  const version = versionOf(file, basePrefix);
  if (version === null) return { name, available: false, reason: `${target} --version failed` };
  const rt = {
    name,
    available: true,
    target,
    version,
    file,
    prefix: basePrefix,
    wrapped: false,
    root: '',
  };
  if (wrap) {
    rt.file = UNSHARE;
    rt.prefix = ['-m', 'sh', '-c', HIDE_UNIFIED, target];
    rt.wrapped = true;
  }
  return rt;
}

function call(rt, args, opts) {
  return exec(rt.file, [...rt.prefix, '--root', rt.root, ...args], opts);
}

// ---------------------------------------------------------------- bundle

// ---------------------------------------------------------------- stats

let idCounter = 0;
const newId = (rt) => `b${process.pid}-${rt.name}-${idCounter++}`;

class Failure extends Error {}

function must(r, what) {
  if (r.code !== 0)
    throw new Failure(`${what}: exit ${r.code} ${r.signal ?? ''} ${r.stderr.trim()}`);
  return r;
}

// ---------------------------------------------------------------- scenarios

/** `run` of /bin/true: one runtime invocation. */
async function scRun(rt, bundle) {
  const r = must(await call(rt, ['run', '--bundle', bundle, newId(rt)]), `${rt.name} run`);
  return { ms: r.ms, calls: 1 };
}

/** create, start, wait for the program to exit, delete: three invocations. */
async function scLifecycle(rt, bundle, tmp) {
  const id = newId(rt);
  const pidFile = path.join(tmp, `${id}.pid`);
  const t0 = process.hrtime.bigint();
  must(
    await call(rt, ['create', '--bundle', bundle, '--pid-file', pidFile, id]),
    `${rt.name} create`,
  );
  const pid = Number(readFileSync(pidFile, 'utf8'));
  must(await call(rt, ['start', id]), `${rt.name} start`);
  while (!exited(pid)) await sleep(1);
  must(await call(rt, ['delete', id]), `${rt.name} delete`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, calls: 3 };
}

/** `state` of a created container (set up once per runtime). */
async function scState(rt) {
  const r = must(await call(rt, ['state', rt.stateId]), `${rt.name} state`);
  return { ms: r.ms, calls: 1 };
}

/** `list` of a root holding LIST_SIZE created containers (set up once per runtime). */
async function scList(rt) {
  const r = must(
    await exec(rt.file, [...rt.prefix, '--root', rt.listRoot, 'list']),
    `${rt.name} list`,
  );
  return { ms: r.ms, calls: 1 };
}

async function scSequence(rt, bundle, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await scRun(rt, bundle);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, calls: n };
}

/** Peak RSS in KiB of a `run` (GNU time: the largest of the process and its reaped descendants). */
async function peakRss(rt, args, root = rt.root) {
  if (existsSync(GNU_TIME)) {
    const out = path.join(rt.tmp, `rss-${idCounter++}`);
    const r = await exec(GNU_TIME, [
      '-f',
      '%M',
      '-o',
      out,
      rt.file,
      ...rt.prefix,
      '--root',
      root,
      ...args,
    ]);
    must(r, `${rt.name} ${args[0]} under time`);
    return Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  }
  // Fallback: poll the runtime process's own high-water mark (misses children).
  return await new Promise((resolve) => {
    const child = spawn(rt.file, [...rt.prefix, '--root', root, ...args], {
      env: PATH_ONLY,
      stdio: 'ignore',
    });
    let hwm = 0;
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
      } catch {}
    }, 1);
    child.on('close', () => {
      clearInterval(timer);
      resolve(hwm);
    });
  });
}

// ---------------------------------------------------------------- library API

/**
 * The same lifecycle through @ts-oci/runtime inside this Node process: no CLI
 * spawn per container. Probed by shape, so the bench runs before the API exists.
 */
async function loadLibrary() {
  const entry = path.join(repoRoot, 'packages/runtime/dist/index.js');
  if (!existsSync(entry)) return { reason: `${path.relative(repoRoot, entry)} is not built` };
  let mod;
  try {
    mod = await import(pathToFileURL(entry).href);
  } catch (err) {
    return { reason: `import failed: ${err.message}` };
  }
  const R = mod.Runtime;
  const need = ['create', 'start', 'state', 'delete', 'run'];
  if (typeof R !== 'function' || !need.every((m) => typeof R.prototype[m] === 'function')) {
    return { reason: `@ts-oci/runtime does not export a Runtime class with ${need.join('/')} yet` };
  }
  return { Runtime: R };
}

async function libLifecycle(lib, bundle) {
  const id = `lib${process.pid}-${idCounter++}`;
  const t0 = process.hrtime.bigint();
  await lib.rt.create({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] });
  const st = await lib.rt.state(id);
  await lib.rt.start(id);
  if (typeof lib.rt.wait === 'function') await lib.rt.wait(id);
  else while (!exited(st.pid)) await sleep(1);
  await lib.rt.delete(id);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function libRun(lib, bundle) {
  const id = `lib${process.pid}-${idCounter++}`;
  const t0 = process.hrtime.bigint();
  const status = await lib.rt.run({ id, bundle, stdio: ['ignore', 'ignore', 'ignore'] });
  if (status?.exitCode !== 0) throw new Failure(`library run exited ${status?.exitCode}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// ---------------------------------------------------------------- main

async function main() {
  if (process.getuid?.() !== 0) {
    console.error('bench/lifecycle.mjs needs root (it creates containers).');
    process.exit(2);
  }
  const o = parseArgs(process.argv.slice(2));
  const hybrid = isHybridCgroupHost();
  const all = [
    makeRuntime('tsoci', o.tsoci),
    makeRuntime('runc', o.runc),
    // crun 1.8 refuses a hybrid cgroup host; hide the cgroup2 mount from it in
    // a private mount namespace, and measure what that wrapper costs.
    makeRuntime('crun', o.crun, { wrap: hybrid }),
  ].filter((r) => !o.only || o.only.includes(r.name));

  const base = mkdtempSync(path.join(tmpdir(), 'tsoci-bench-'));
  chmodSync(base, 0o755);
  const cleanup = [];
  // An interrupted bench must not leave its `state` containers behind.
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, async () => {
      for (const f of cleanup) await f();
      rmSync(base, { recursive: true, force: true });
      process.exit(130);
    });
  }
  try {
    const specFrom =
      all.find((r) => r.available && r.name === 'runc') ?? all.find((r) => r.available);
    if (!specFrom) throw new Error('no runtime available');
    const bundle = makeBusyboxBundle(path.join(base, 'bundle'), specFrom);

    // Probe: a runtime that cannot `run` the bundle is reported, not benched.
    for (const rt of all.filter((r) => r.available)) {
      rt.root = path.join(base, `root-${rt.name}`);
      rt.tmp = path.join(base, `tmp-${rt.name}`);
      mkdirSync(rt.root, { mode: 0o700 });
      mkdirSync(rt.tmp);
      const probe = await call(rt, ['run', '--bundle', bundle, newId(rt)]);
      if (probe.code !== 0) {
        rt.available = false;
        rt.reason = `probe run failed (exit ${probe.code}): ${probe.stderr.trim().split('\n').pop()}`;
      }
    }
    const rts = all.filter((r) => r.available);

    let wrapperMs = 0;
    const crun = rts.find((r) => r.name === 'crun' && r.wrapped);
    if (crun) {
      // The wrapper's own cost: wrapped /bin/true minus bare /bin/true, interleaved.
      const wrapped = [];
      const bare = [];
      for (let i = 0; i < Math.max(o.iterations, 20); i++) {
        wrapped.push(
          must(await exec(UNSHARE, ['-m', 'sh', '-c', HIDE_UNIFIED, '/bin/true']), 'wrapper').ms,
        );
        bare.push(must(await exec('/bin/true', []), '/bin/true').ms);
      }
      wrapperMs = Math.max(0, median(wrapped) - median(bare));
    }

    console.log(`tsoci lifecycle bench: ${o.iterations} interleaved iterations, env = PATH only`);
    console.log(
      `bundle: ${bundle} (busybox-static, config from \`${specFrom.name} spec\`, args /bin/true)`,
    );
    for (const r of all) {
      if (!r.available) console.log(`  ${r.name.padEnd(6)} not available: ${r.reason}`);
      else {
        const how = r.wrapped
          ? ` [wrapped: unshare -m + umount /sys/fs/cgroup/unified, ${fmt(wrapperMs, 2)} ms per call]`
          : '';
        console.log(`  ${r.name.padEnd(6)} ${r.version} (${r.target})${how}`);
      }
    }
    console.log('');

    // Per scenario, per runtime: samples in ms and runtime calls per sample.
    const results = {};
    const record = (scenario, rt, v) => {
      results[scenario] ??= {};
      results[scenario][rt.name] ??= { samples: [], calls: v.calls };
      results[scenario][rt.name].samples.push(v.ms);
    };

    // A created container per runtime for `state`.
    for (const rt of rts) {
      rt.stateId = newId(rt);
      const pidFile = path.join(rt.tmp, 'state.pid');
      cleanup.push(async () => {
        const d = await call(rt, ['delete', '--force', rt.stateId]);
        // A runtime broken mid-run cannot delete: at least kill our container's init.
        if (d.code !== 0 && existsSync(pidFile)) {
          try {
            process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
          } catch {}
        }
      });
      const r = await call(rt, ['create', '--bundle', bundle, '--pid-file', pidFile, rt.stateId]);
      if (r.code !== 0) {
        rt.available = false;
        rt.reason = `create for the state scenario failed: ${r.stderr.trim()}`;
        console.log(`  ${rt.name} dropped out: ${rt.reason}`);
      }
    }

    // LIST_SIZE created containers per runtime, in a root of their own, for `list`.
    for (const rt of rts.filter((r) => r.available)) {
      rt.listRoot = path.join(base, `list-${rt.name}`);
      mkdirSync(rt.listRoot, { mode: 0o700 });
      for (let i = 0; i < LIST_SIZE; i++) {
        const id = newId(rt);
        const listCall = (args) => exec(rt.file, [...rt.prefix, '--root', rt.listRoot, ...args]);
        cleanup.push(() => listCall(['delete', '--force', id]));
        const r = await listCall(['create', '--bundle', bundle, id]);
        if (r.code !== 0) {
          rt.available = false;
          rt.reason = `create for the list scenario failed: ${r.stderr.trim()}`;
          console.log(`  ${rt.name} dropped out: ${rt.reason}`);
          break;
        }
      }
    }

    // A runtime that fails mid-run (e.g. a tsoci build in progress) drops out
    // with its reason; the others go on.
    const attempt = async (scenario, rt, fn) => {
      if (!rt.available) return;
      try {
        record(scenario, rt, await fn());
      } catch (err) {
        if (!(err instanceof Failure)) throw err;
        rt.available = false;
        rt.reason = `failed during "${scenario}": ${err.message}`;
        console.log(`  ${rt.name} dropped out: ${rt.reason}`);
      }
    };
    const rotate = (k) => rts.map((_, j) => rts[(j + k) % rts.length]);
    for (let i = 0; i < o.iterations; i++) {
      const order = rotate(i);
      for (const rt of order) await attempt('run /bin/true', rt, () => scRun(rt, bundle));
      for (const rt of order) {
        await attempt('create+start+wait+delete', rt, () => scLifecycle(rt, bundle, rt.tmp));
      }
      for (const rt of order) await attempt('state', rt, () => scState(rt));
      for (const rt of order) await attempt(`list (${LIST_SIZE} containers)`, rt, () => scList(rt));
    }
    for (let round = 0; round < o.sequenceRounds; round++) {
      for (const rt of rotate(round)) {
        await attempt(`${o.sequence} x run, one after another`, rt, () =>
          scSequence(rt, bundle, o.sequence),
        );
      }
    }
    const rss = {};
    for (const rt of rts.filter((r) => r.available)) {
      const m = { run: [], create: [], state: [], start: [], kill: [], delete: [], list: [] };
      try {
        for (let i = 0; i < 5; i++) {
          m.run.push(await peakRss(rt, ['run', '--bundle', bundle, newId(rt)]));
          m.state.push(await peakRss(rt, ['state', rt.stateId]));
          m.list.push(await peakRss(rt, ['list'], rt.listRoot));
          // One container through the hot commands, each under GNU time.
          const id = newId(rt);
          m.create.push(await peakRss(rt, ['create', '--bundle', bundle, id]));
          m.start.push(await peakRss(rt, ['start', id]));
          // /bin/true may have exited already: kill then fails, as it should
          // for a stopped container. Keep a live one for kill.
          const live = newId(rt);
          must(await call(rt, ['create', '--bundle', bundle, live]), `${rt.name} create`);
          m.kill.push(await peakRss(rt, ['kill', live, 'KILL']));
          while (true) {
            const st = await call(rt, ['state', live], { stdio: ['ignore', 'pipe', 'pipe'] });
            if (st.code !== 0 || st.stdout.includes('"stopped"')) break;
            await sleep(2);
          }
          must(await call(rt, ['delete', live]), `${rt.name} delete`);
          while (true) {
            const st = await call(rt, ['state', id], { stdio: ['ignore', 'pipe', 'pipe'] });
            if (st.code !== 0 || st.stdout.includes('"stopped"')) break;
            await sleep(2);
          }
          m.delete.push(await peakRss(rt, ['delete', id]));
        }
        rss[rt.name] = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, median(v)]));
      } catch (err) {
        if (!(err instanceof Failure)) throw err;
        console.log(`  ${rt.name}: no RSS figure: ${err.message}`);
      }
    }

    // ------------------------------------------------------------ report
    const names = all.map((r) => r.name);
    const cols = [];
    for (const n of names) {
      cols.push({ key: n, title: n === 'crun' && crun ? 'crun(raw)' : n });
      if (n === 'crun' && crun) cols.push({ key: 'crun-net', title: 'crun(net)' });
    }
    const medianOf = (scenario, key) => {
      if (key === 'crun-net') {
        const e = results[scenario]?.crun;
        return e ? median(e.samples) - e.calls * wrapperMs : Number.NaN;
      }
      const e = results[scenario]?.[key];
      return e ? median(e.samples) : Number.NaN;
    };
    const W = 36;
    const C = 12;
    // A net crun figure at or below the noise of the wrapper measurement says
    // "about nothing left", not a negative time.
    const NOISE_MS = 0.5;
    const cell = (scenario, key, digits = 1, div = 1) => {
      const v = medianOf(scenario, key) / div;
      if (key === 'crun-net' && Number.isFinite(v) && v < NOISE_MS) return '<noise';
      return fmt(v, digits);
    };
    console.log(`${'median, ms'.padEnd(W)}${cols.map((c) => c.title.padStart(C)).join('')}`);
    for (const scenario of Object.keys(results)) {
      const row = cols.map((c) => cell(scenario, c.key).padStart(C)).join('');
      console.log(`${scenario.padEnd(W)}${row}`);
      if (scenario.includes('one after another')) {
        const per = cols.map((c) => cell(scenario, c.key, 2, o.sequence).padStart(C)).join('');
        console.log(`${'  per container'.padEnd(W)}${per}`);
      }
    }
    const rssRow = (k) =>
      cols
        .map((c) => {
          const v = c.key === 'crun-net' ? Number.NaN : rss[c.key]?.[k];
          return (
            v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v / 1024).toFixed(1)}M`
          ).padStart(C);
        })
        .join('');
    for (const k of ['run', 'create', 'state', 'start', 'kill', 'delete', 'list']) {
      console.log(`${`peak RSS of ${k} (MiB)`.padEnd(W)}${rssRow(k)}`);
    }
    if (!existsSync(GNU_TIME))
      console.log('  (RSS by polling VmHWM: install `time` for GNU time %M)');
    if (crun) {
      console.log(
        `crun(net) = crun(raw) - calls x ${fmt(wrapperMs, 2)} ms: the wrapper (unshare -m, sh, umount) measured as\n` +
          '  median(wrapped /bin/true) - median(bare /bin/true); "<noise" = under 0.5 ms after subtraction',
      );
    }

    console.log('\nratios of medians (A/B; < 1 means A is faster)');
    const ratioKeys = cols.map((c) => c.key);
    const pairs = [];
    for (let a = 0; a < ratioKeys.length; a++) {
      for (let b = 0; b < ratioKeys.length; b++) {
        const A = ratioKeys[a];
        const B = ratioKeys[b];
        if (a === b || (A.startsWith('crun') && B.startsWith('crun'))) continue;
        if (A === 'tsoci' || (A.startsWith('crun') && B === 'runc')) pairs.push([A, B]);
      }
    }
    console.log(`${''.padEnd(W)}${pairs.map(([a, b]) => `${a}/${b}`.padStart(C + 8)).join('')}`);
    for (const scenario of Object.keys(results)) {
      const ratio = (a, b) => {
        const x = medianOf(scenario, a);
        const y = medianOf(scenario, b);
        return x < NOISE_MS || y < NOISE_MS ? 'n/a' : fmt(x / y, 2);
      };
      const row = pairs.map(([a, b]) => ratio(a, b).padStart(C + 8)).join('');
      console.log(`${scenario.padEnd(W)}${row}`);
    }

    // ------------------------------------------------------------ library slot
    console.log('\nin-process library API (@ts-oci/runtime, one Node process, no CLI spawn):');
    const lib = await loadLibrary();
    const libResults = {};
    if (!lib.Runtime) {
      console.log(`  skipped: ${lib.reason}`);
    } else {
      try {
        const libRoot = path.join(base, 'root-lib');
        mkdirSync(libRoot, { mode: 0o700 });
        const l = { rt: new lib.Runtime({ root: libRoot }) };
        const life = [];
        const runs = [];
        for (let i = 0; i < o.iterations; i++) {
          life.push(await libLifecycle(l, bundle));
          runs.push(await libRun(l, bundle));
        }
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < o.sequence; i++) await libRun(l, bundle);
        const seq = Number(process.hrtime.bigint() - t0) / 1e6;
        libResults.lifecycle = median(life);
        libResults.run = median(runs);
        libResults.sequence = seq;
        console.log(`  create+start+wait+delete  ${fmt(libResults.lifecycle)} ms`);
        console.log(`  run /bin/true             ${fmt(libResults.run)} ms`);
        console.log(
          `  ${o.sequence} x run            ${fmt(seq)} ms (${fmt(seq / o.sequence, 2)} ms each)`,
        );
        for (const other of ['runc', 'crun']) {
          const m = medianOf(
            'create+start+wait+delete',
            other === 'crun' && crun ? 'crun-net' : other,
          );
          if (Number.isFinite(m))
            console.log(`  lifecycle ratio library/${other}: ${fmt(libResults.lifecycle / m, 2)}`);
        }
      } catch (err) {
        console.log(`  failed: ${err.message}`);
      }
    }

    if (o.json) {
      const out = {
        iterations: o.iterations,
        sequence: o.sequence,
        wrapperMs,
        runtimes: all.map(({ name, available, version, target, wrapped, reason }) => ({
          name,
          available,
          version,
          target,
          wrapped,
          reason,
        })),
        medians: Object.fromEntries(
          Object.keys(results).map((s) => [
            s,
            Object.fromEntries(cols.map((c) => [c.key, medianOf(s, c.key)])),
          ]),
        ),
        samples: results,
        peakRssKiB: rss,
        library: lib.Runtime ? libResults : { skipped: lib.reason },
      };
      writeFileSync(o.json, `${JSON.stringify(out, null, 2)}\n`);
      console.log(`\nwrote ${o.json}`);
    }
  } finally {
    for (const f of cleanup) await f();
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Failure ? `bench failed: ${err.message}` : err);
  process.exit(1);
});
