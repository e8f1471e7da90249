#!/usr/bin/env node
// Where the milliseconds of `tsoci create` and `tsoci run` go, from the
// outside: strace (seccomp-bpf filtered, so only the traced calls stop)
// timestamps each exec and a few marker opens along the chain
//
//   tsoci (native) -> node -> snapshot blob or dist/bin.js opened (tsoci code)
//   -> first native addon opened
//   -> config.json opened -> tsoci-init exec'd (from the runtime's sealed
//   memfd copy) -> [run: the container program exec'd] -> tsoci exits
//
// and prints the median time of each phase. strace adds a little to every
// traced call (about 20-50 us); the untraced total is printed beside it.
// Numbers are printed, never asserted. Run as root; see bench/README.md.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makeBusyboxBundle, median, PATH_ONLY } from './lib.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = {
    iterations: 15,
    tsoci: path.join(repoRoot, 'packages/cli/native/tsoci'),
    env: PATH_ONLY,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--iterations') o.iterations = Number(argv[++i]);
    else if (a === '--tsoci') o.tsoci = argv[++i];
    else if (a === '--no-snapshot') o.env = { ...PATH_ONLY, TSOCI_SNAPSHOT: '0' };
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/startup.mjs [--iterations N] [--tsoci path] [--no-snapshot]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** The events of one strace log: [{ pid, t (ms), what }], in order. */
function events(log) {
  const out = [];
  for (const line of log.split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [, pid, t, rest] = m;
    if (rest.includes('ENOENT') || rest.startsWith('<...')) continue;
    out.push({ pid: Number(pid), t: Number(t) * 1000, what: rest });
  }
  return out;
}

/** The phase boundaries of one traced command, by the first event matching each. */
function milestones(evs, mainPid, program) {
  const first = (re) => evs.find((e) => re.test(e.what))?.t;
  const marks = [
    ['tsoci (native) exec', first(/^execve\(".*\/native\/tsoci"/)],
    ['node exec', first(/^execve\("[^"]*\/node"/)],
    // The first file of tsoci's own JavaScript: the startup snapshot, or
    // dist/bin.js when there is none (TSOCI_SNAPSHOT=0).
    ['CLI code opened', first(/^openat\(.*\/dist\/(bin\.js|snapshot\/[0-9a-f]+\.blob)"/)],
    ['native addon opened', first(/^openat\(.*\.node"/)],
    ['config.json opened', first(/^openat\(.*\/config\.json"/)],
    // Spawned from the runtime's sealed copy (/proc/<pid>/fd/<n>), or from
    // the file when there is none; argv[0] is tsoci-init either way.
    ['tsoci-init exec', first(/^execve\("[^"]*", \["tsoci-init"/)],
  ];
  if (program) marks.push(['program exec', first(new RegExp(`^execve\\("${program}"`))]);
  const exit = evs.find((e) => e.pid === mainPid && /^\+\+\+ exited with 0/.test(e.what));
  marks.push(['tsoci exits', exit?.t]);
  return marks;
}

/**
 * Runs tsoci under strace. `create` leaves the container process (a tracee)
 * waiting for `start`, and strace waits for every tracee; detaching from a
 * process blocked opening the exec fifo never finishes, so once the main
 * process has exited strace is killed. The container then keeps strace's
 * seccomp filter (its traced calls would fail with ENOSYS): it is only ever
 * deleted, never started.
 */
async function traced(o, root, args) {
  const log = path.join(root, `trace-${process.hrtime.bigint()}.txt`);
  const strace = spawn(
    'strace',
    [
      '-f',
      '-ttt',
      '-q',
      '--seccomp-bpf',
      '-e',
      'trace=execve,execveat,openat',
      '-e',
      'signal=none',
      '-o',
      log,
      o.tsoci,
      '--root',
      root,
      ...args,
    ],
    { env: o.env, stdio: 'ignore' },
  );
  const done = new Promise((resolve) => strace.once('exit', resolve));
  let exited = false;
  strace.once('exit', () => {
    exited = true;
  });
  const mainExit = () => {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    const main = /^(\d+)/.exec(text)?.[1];
    const m = main && new RegExp(`^${main}\\s+\\S+ \\+\\+\\+ exited with (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  while (!exited && mainExit() === null) await sleep(5);
  if (!exited) strace.kill('SIGKILL');
  await done;
  const code = mainExit();
  if (code !== 0) throw new Error(`tsoci ${args.join(' ')} under strace: exit ${code}`);
  const text = readFileSync(log, 'utf8');
  const mainPid = Number(/^(\d+)/.exec(text)?.[1]);
  return { evs: events(text), mainPid };
}

function untraced(o, root, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(o.tsoci, ['--root', root, ...args], { env: o.env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`tsoci ${args.join(' ')}: exit ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function report(title, samples, totals) {
  console.log(`\n${title}`);
  const names = samples[0].map(([n]) => n);
  let prev = null;
  for (let k = 0; k < names.length; k++) {
    const at = median(samples.map((s) => s[k][1] - s[0][1]));
    const step = prev === null ? 0 : median(samples.map((s) => s[k][1] - s[k - 1][1]));
    console.log(
      `  ${names[k].padEnd(24)} at ${at.toFixed(1).padStart(6)} ms   (+${step.toFixed(1).padStart(5)})`,
    );
    prev = at;
  }
  console.log(`  untraced total: ${median(totals).toFixed(1)} ms (median of ${totals.length})`);
}

async function main() {
  if (process.getuid?.() !== 0) {
    console.error('bench/startup.mjs needs root (it creates containers).');
    process.exit(2);
  }
  if (spawnSync('strace', ['-V']).status !== 0) {
    console.error('bench/startup.mjs needs strace (Debian package strace).');
    process.exit(2);
  }
  const o = parseArgs(process.argv.slice(2));
  const base = mkdtempSync(path.join(tmpdir(), 'tsoci-startup-'));
  chmodSync(base, 0o755);
  const root = path.join(base, 'root');
  mkdirSync(root, { mode: 0o700 });
  try {
    const bundle = makeBusyboxBundle(path.join(base, 'bundle'), { file: o.tsoci, prefix: [] });
    const created = [];
    const createTotals = [];
    const runs = [];
    const runTotals = [];
    let n = 0;
    for (let i = 0; i < o.iterations; i++) {
      const id = `s${n++}`;
      const t = await traced(o, root, ['create', '--bundle', bundle, id]);
      created.push(milestones(t.evs, t.mainPid, null));
      untraced(o, root, ['delete', '--force', id]);
      const id2 = `s${n++}`;
      createTotals.push(untraced(o, root, ['create', '--bundle', bundle, id2]));
      untraced(o, root, ['delete', '--force', id2]);
      const r = await traced(o, root, ['run', '--bundle', bundle, `s${n++}`]);
      runs.push(milestones(r.evs, r.mainPid, '/bin/true'));
      runTotals.push(untraced(o, root, ['run', '--bundle', bundle, `s${n++}`]));
    }
    const complete = (xs) => xs.filter((s) => s.every(([, t]) => Number.isFinite(t)));
    console.log(`tsoci start-up phases: ${o.iterations} iterations, env = PATH only, ${o.tsoci}`);
    report(
      'create (medians; "at" from the native exec, "+" the phase before it)',
      complete(created),
      createTotals,
    );
    report('run /bin/true', complete(runs), runTotals);
  } finally {
    const left = spawnSync(o.tsoci, ['--root', root, 'list', '-q'], {
      encoding: 'utf8',
      env: PATH_ONLY,
    });
    for (const id of (left.stdout ?? '').split('\n').filter(Boolean)) {
      spawnSync(o.tsoci, ['--root', root, 'delete', '--force', id], { env: PATH_ONLY });
    }
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
