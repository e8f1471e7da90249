#!/usr/bin/env node
// cgroup timings: the @ts-oci/cgroups API (create + apply + destroy of one
// container cgroup, against the same work done with plain fs calls), and
// `tsoci run` vs `runc run` of /bin/true with the same linux.resources.
// Plain .mjs with no dependencies (Node 20 cannot strip TypeScript types).
// Run as root; see bench/README.md. Numbers are printed, never asserted.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmt as fmtDigits, makeBusyboxBundle, median, PATH_ONLY, which } from './lib.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

// The representative resources object: what an engine typically sets.
const RESOURCES = {
  memory: { limit: 64 * MiB },
  pids: { limit: 64 },
  cpu: { quota: 50000, period: 100000 },
};

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = {
    iterations: 50,
    runIterations: 15,
    only: null,
    json: null,
    tsoci: path.join(repoRoot, 'packages/cli/native/tsoci'),
    runc: which('runc'),
    cgroups: path.join(repoRoot, 'packages/cgroups/dist/index.js'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--iterations') o.iterations = Number(next());
    else if (a === '--run-iterations') o.runIterations = Number(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--json') o.json = next();
    else if (a === '--tsoci') o.tsoci = next();
    else if (a === '--runc') o.runc = next();
    else if (a === '--cgroups') o.cgroups = next();
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node bench/cgroups.mjs [--iterations N] [--run-iterations N] [--only api,run]\n' +
          '       [--json out.json] [--tsoci path] [--runc path] [--cgroups dist/index.js]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const k of ['iterations', 'runIterations']) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k}: a positive integer`);
  }
  return o;
}

// ---------------------------------------------------------------- stats

function quantile(xs, q) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const fmt = (x, digits = 2) => fmtDigits(x, digits);

const now = () => process.hrtime.bigint();
const ms = (t0, t1) => Number(t1 - t0) / 1e6;

// ---------------------------------------------------------------- cgroup mounts

/** The cgroup hierarchies of this mount namespace: { mountpoint, root, version }. */
function cgroupMounts() {
  const out = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const f = line.slice(0, sep).split(' ');
    out.push({ root: f[3], mountpoint: f[4], version: fstype === 'cgroup' ? 1 : 2 });
  }
  return out;
}

function isDir(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** rmdir, children first; returns the directories that could not be removed. */
function removeTree(dir) {
  const left = [];
  if (!isDir(dir)) return left;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) left.push(...removeTree(path.join(dir, e.name)));
  }
  try {
    rmdirSync(dir);
  } catch (err) {
    left.push(`${dir} (${err.code})`);
  }
  return left;
}

/**
 * Every directory named `name` (a cgroup path below the mount root, or below
 * our own cgroup for relative names) in any hierarchy: what a bench must not
 * leave behind.
 */
function leftovers(names) {
  const self = readFileSync('/proc/self/cgroup', 'utf8').split('\n').filter(Boolean);
  const ownPaths = new Set(self.map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1)));
  const found = [];
  for (const m of cgroupMounts()) {
    for (const n of names) {
      const bases = n.startsWith('/') ? ['/'] : ['/', ...ownPaths];
      for (const b of bases) {
        const rel = path.posix.relative(m.root, path.posix.join(b, n));
        if (rel.startsWith('..')) continue;
        const d = path.join(m.mountpoint, rel);
        if (isDir(d)) found.push(d);
      }
    }
  }
  return [...new Set(found)];
}

// ---------------------------------------------------------------- part 1: the API

async function loadCgroups(file) {
  if (!existsSync(file)) return { reason: `${file} not built (pnpm build)` };
  try {
    const mod = await import(pathToFileURL(file).href);
    if (typeof mod.createCgroupManager !== 'function') {
      return { reason: `${file} has no createCgroupManager` };
    }
    return { mod };
  } catch (err) {
    return { reason: `cannot import ${file}: ${err.message}` };
  }
}

/** One cgroup through the library: { create, apply, destroy, total } in ms. */
async function apiOnce(mod, name) {
  const t0 = now();
  const cg = await mod.createCgroupManager({
    id: 'bench',
    cgroupsPath: name,
    resources: RESOURCES,
  });
  const t1 = now();
  try {
    await cg.apply();
  } catch (err) {
    await cg.destroy().catch(() => {});
    throw err;
  }
  const t2 = now();
  await cg.destroy();
  const t3 = now();
  return { create: ms(t0, t1), apply: ms(t1, t2), destroy: ms(t2, t3), total: ms(t0, t3) };
}

/**
 * The plan the library carried out, turned into plain fs steps for the raw
 * baseline: the directories it made (paths() of a manager) and the files the
 * resources map to on this host.
 */
function rawPlan(paths) {
  const dirs = [...new Set(Object.values(paths.paths))];
  const writes = [];
  const p = paths.paths;
  if (paths.version === 1) {
    if (p.cpuset) writes.push({ inherit: true, dir: p.cpuset });
    if (p.memory) writes.push({ dir: p.memory, file: 'memory.limit_in_bytes', value: '67108864' });
    if (p.pids) writes.push({ dir: p.pids, file: 'pids.max', value: '64' });
    if (p.cpu) {
      writes.push({ dir: p.cpu, file: 'cpu.cfs_period_us', value: '100000' });
      writes.push({ dir: p.cpu, file: 'cpu.cfs_quota_us', value: '50000' });
    }
  } else {
    const d = p.unified;
    writes.push({ dir: d, file: 'memory.max', value: '67108864' });
    writes.push({ dir: d, file: 'pids.max', value: '64' });
    writes.push({ dir: d, file: 'cpu.max', value: '50000 100000' });
  }
  return { dirs, writes };
}

/** The same directories and writes with plain fs calls (no planning, no checks). */
async function rawOnce(plan, from, to) {
  const dirs = plan.dirs.map((d) => d.replace(from, to));
  const t0 = now();
  for (const d of dirs) await mkdir(d);
  for (const w of plan.writes) {
    const dir = w.dir.replace(from, to);
    if (w.inherit) {
      // A new v1 cpuset refuses tasks until cpus/mems are filled from the parent.
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        await writeFile(path.join(dir, f), await readFile(path.join(path.dirname(dir), f)));
      }
    } else {
      await writeFile(path.join(dir, w.file), w.value);
    }
  }
  for (const d of [...dirs].reverse()) await rmdir(d);
  return ms(t0, now());
}

async function benchApi(o, prefix, names) {
  const lib = await loadCgroups(o.cgroups);
  if (!lib.mod) return { skipped: lib.reason };
  const { mod } = lib;
  const setup = await mod.getCgroupSetup();
  // Warm-up, and the layout the raw baseline repeats.
  const probeName = `/${prefix}-probe`;
  names.push(probeName);
  const probe = await mod.createCgroupManager({
    id: 'bench',
    cgroupsPath: probeName,
    resources: RESOURCES,
  });
  await probe.apply();
  const paths = probe.paths();
  const check = (dir, file) => readFileSync(path.join(dir, file), 'utf8').trim();
  const applied =
    paths.version === 1
      ? `memory.limit_in_bytes=${check(paths.paths.memory, 'memory.limit_in_bytes')} pids.max=${check(paths.paths.pids, 'pids.max')} cpu.cfs_quota_us=${check(paths.paths.cpu, 'cpu.cfs_quota_us')}`
      : `memory.max=${check(paths.paths.unified, 'memory.max')} pids.max=${check(paths.paths.unified, 'pids.max')} cpu.max=${check(paths.paths.unified, 'cpu.max')}`;
  await probe.destroy();
  const plan = rawPlan(paths);

  const samples = { create: [], apply: [], destroy: [], total: [], raw: [] };
  for (let i = 0; i < o.iterations; i++) {
    const libName = `/${prefix}-l${i}`;
    const rawName = `/${prefix}-r${i}`;
    names.push(libName, rawName);
    // Alternate which goes first, so cache effects hit both alike.
    const runLib = async () => {
      const s = await apiOnce(mod, libName);
      for (const k of ['create', 'apply', 'destroy', 'total']) samples[k].push(s[k]);
    };
    const runRaw = async () => {
      samples.raw.push(await rawOnce(plan, probeName, rawName));
    };
    if (i % 2 === 0) {
      await runLib();
      await runRaw();
    } else {
      await runRaw();
      await runLib();
    }
  }
  return {
    mode: setup.mode,
    hierarchies: plan.dirs.length,
    applied,
    samples,
    medians: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])),
    p90: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, quantile(v, 0.9)])),
  };
}

// ---------------------------------------------------------------- part 2: run

function exec(file, args, { cwd, stdout = false } = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    const child = spawn(file, args, {
      env: PATH_ONLY,
      stdio: ['ignore', stdout ? 'pipe' : 'ignore', 'pipe'],
      cwd,
    });
    let out = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err) => resolve({ code: -1, ms: 0, stderr: String(err), stdout: '' }));
    child.on('close', (code, signal) =>
      resolve({ code, signal, ms: ms(t0, now()), stderr, stdout: out }),
    );
  });
}

function makeRuntime(name, target) {
  if (!target) return { name, available: false, reason: 'not installed' };
  if (!existsSync(target)) return { name, available: false, reason: `${target} does not exist` };
  const node = /\.(c|m)?js$/.test(target);
  const file = node ? process.execPath : target;
  const prefix = node ? [target] : [];
  const v = spawnSync(file, [...prefix, '--version'], { encoding: 'utf8', env: PATH_ONLY });
  if (v.status !== 0) {
    return { name, available: false, reason: `--version failed: ${v.stderr.split('\n')[0]}` };
  }
  return {
    name,
    available: true,
    target,
    file,
    prefix,
    version: v.stdout.split('\n')[0].trim(),
    root: '',
  };
}

/** A busybox bundle whose config comes from `specRuntime spec`, running /bin/true. */
async function benchRun(o, base, prefix, names) {
  const runtimes = [makeRuntime('tsoci', o.tsoci), makeRuntime('runc', o.runc)];
  const live = runtimes.filter((r) => r.available);
  if (live.length === 0) return { runtimes, skipped: 'no runtime available' };
  for (const rt of live) {
    rt.root = path.join(base, `root-${rt.name}`);
    mkdirSync(rt.root, { mode: 0o700 });
  }
  const specFrom = live.find((r) => r.name === 'runc') ?? live[0];
  const bundles = {
    'run /bin/true, no resources': makeBusyboxBundle(path.join(base, 'plain'), specFrom, {
      resources: {},
    }),
    'run /bin/true, with resources': makeBusyboxBundle(path.join(base, 'limited'), specFrom, {
      resources: RESOURCES,
    }),
  };
  let n = 0;
  const runOnce = async (rt, bundle) => {
    const id = `${prefix}-${rt.name}-${n++}`;
    names.push(id);
    const r = await exec(rt.file, [...rt.prefix, '--root', rt.root, 'run', '--bundle', bundle, id]);
    if (r.code !== 0) {
      // Do not leave a half-made container behind.
      await exec(rt.file, [...rt.prefix, '--root', rt.root, 'delete', '--force', id]);
      throw new Error(`run exited ${r.code ?? r.signal}: ${r.stderr.trim().split('\n')[0]}`);
    }
    return r.ms;
  };
  // Both runtimes must really apply the resources, or the comparison is
  // unfair: the container reads its own limits (v1 files, else cgroup2 ones).
  const EXPECTED = '67108864 64 50000';
  const probe = makeBusyboxBundle(path.join(base, 'probe'), specFrom, {
    resources: RESOURCES,
    args: [
      'sh',
      '-c',
      'cd /sys/fs/cgroup; if [ -d memory ]; then cat memory/memory.limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us; else cat memory.max pids.max; cut -d" " -f1 cpu.max; fi',
    ],
  });
  for (const rt of live) {
    const id = `${prefix}-${rt.name}-probe`;
    names.push(id);
    const r = await exec(rt.file, [...rt.prefix, '--root', rt.root, 'run', '--bundle', probe, id], {
      stdout: true,
    });
    const seen = r.stdout.trim().split(/\s+/).join(' ');
    if (r.code !== 0 || seen !== EXPECTED) {
      await exec(rt.file, [...rt.prefix, '--root', rt.root, 'delete', '--force', id]);
      rt.available = false;
      rt.reason = `resources not applied: container saw "${seen}" (exit ${r.code}), expected "${EXPECTED}" ${r.stderr.trim().split('\n')[0] ?? ''}`;
    } else {
      rt.verified = seen;
    }
  }
  // A failing runtime drops out with its reason; the others go on.
  for (const rt of live.filter((r) => r.available)) {
    for (const b of Object.values(bundles)) {
      try {
        await runOnce(rt, b);
      } catch (err) {
        rt.available = false;
        rt.reason = err.message;
      }
    }
  }
  const samples = Object.fromEntries(
    Object.keys(bundles).map((k) => [k, Object.fromEntries(live.map((r) => [r.name, []]))]),
  );
  for (let i = 0; i < o.runIterations; i++) {
    const active = live.filter((r) => r.available);
    // Iteration i rotates the order, so drift of the machine hits all alike.
    const order = active.map((_, j) => active[(i + j) % active.length]);
    for (const [row, bundle] of Object.entries(bundles)) {
      for (const rt of order) {
        try {
          samples[row][rt.name].push(await runOnce(rt, bundle));
        } catch (err) {
          rt.available = false;
          rt.reason = err.message;
          console.log(`  ${rt.name} dropped out: ${rt.reason}`);
        }
      }
    }
  }
  return {
    runtimes,
    samples,
    medians: Object.fromEntries(
      Object.entries(samples).map(([row, byRt]) => [
        row,
        Object.fromEntries(Object.entries(byRt).map(([k, v]) => [k, median(v)])),
      ]),
    ),
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root (cgroups and containers)');
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const prefix = `tsoci-bench-${tag}`;
  const base = mkdtempSync('/tmp/tsoci-bench-cg-');
  chmodSync(base, 0o755);
  const names = [];
  const out = { resources: RESOURCES };
  try {
    if (!o.only || o.only.includes('api')) {
      console.log(
        `@ts-oci/cgroups: createCgroupManager + apply() + destroy(), ${o.iterations} iterations, unique names /${prefix}-*`,
      );
      console.log(`  resources: ${JSON.stringify(RESOURCES)}`);
      const api = await benchApi(o, prefix, names);
      out.api = api;
      if (api.skipped) {
        console.log(`  skipped: ${api.skipped}`);
      } else {
        console.log(`  host: ${api.mode}, ${api.hierarchies} directories per cgroup`);
        console.log(`  kernel files after apply(): ${api.applied}`);
        console.log(`  ${'ms'.padEnd(34)}${'median'.padStart(9)}${'p90'.padStart(9)}`);
        const row = (label, k) =>
          console.log(
            `  ${label.padEnd(34)}${fmt(api.medians[k]).padStart(9)}${fmt(api.p90[k]).padStart(9)}`,
          );
        row('createCgroupManager (detect, plan)', 'create');
        row('apply() (mkdir, write, no pid)', 'apply');
        row('destroy() (rmdir)', 'destroy');
        row('total', 'total');
        row('raw fs: same mkdir/write/rmdir', 'raw');
        console.log(
          `  ratio library/raw fs (medians): ${fmt(api.medians.total / api.medians.raw)}`,
        );
      }
      console.log('');
    }

    if (!o.only || o.only.includes('run')) {
      console.log(
        `run /bin/true: tsoci vs runc, ${o.runIterations} interleaved iterations, env = PATH only`,
      );
      const run = await benchRun(o, base, prefix, names);
      out.run = run;
      for (const r of run.runtimes) {
        console.log(
          r.version
            ? `  ${r.name.padEnd(6)} ${r.version} (${r.target})${r.available ? `, limits seen inside: ${r.verified}` : ` - dropped: ${r.reason}`}`
            : `  ${r.name.padEnd(6)} not available: ${r.reason}`,
        );
      }
      if (run.medians) {
        const names2 = run.runtimes.filter((r) => r.version).map((r) => r.name);
        const W = 32;
        const C = 10;
        console.log(
          `  ${'median, ms'.padEnd(W)}${names2.map((n) => n.padStart(C)).join('')}${names2.length === 2 ? 'tsoci/runc'.padStart(C + 2) : ''}`,
        );
        for (const [rowName, m] of Object.entries(run.medians)) {
          const cells = names2.map((n) => fmt(m[n], 1).padStart(C)).join('');
          const ratio = names2.length === 2 ? fmt(m.tsoci / m.runc).padStart(C + 2) : '';
          console.log(`  ${rowName.padEnd(W)}${cells}${ratio}`);
        }
        const cost = (n) =>
          run.medians['run /bin/true, with resources'][n] -
          run.medians['run /bin/true, no resources'][n];
        console.log(
          `  cost of the resources (with - without): ${names2.map((n) => `${n} ${fmt(cost(n), 1)} ms`).join(', ')}`,
        );
      }
    }
  } finally {
    // Nothing may stay behind: containers were deleted by `run`, cgroups by destroy().
    const left = leftovers(names);
    if (left.length > 0) {
      console.log(`\nWARNING: cgroups left behind (removing them now): ${left.join(', ')}`);
      out.leftBehind = left;
      const stuck = left.flatMap(removeTree);
      if (stuck.length > 0) console.log(`  could not remove: ${stuck.join(', ')}`);
    }
    rmSync(base, { recursive: true, force: true });
  }
  if (o.json) {
    writeFileSync(o.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${o.json}`);
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.message ?? err}`);
  process.exit(1);
});
