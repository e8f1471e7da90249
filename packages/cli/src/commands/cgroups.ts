import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Resources } from '@ts-oci/spec';
import type { GlobalOptions } from '../globals.js';
import { runtimeFor } from './lifecycle.js';

export async function pauseCommand(g: GlobalOptions, id: string): Promise<number> {
  await runtimeFor(g).pause(id);
  return 0;
}

export async function resumeCommand(g: GlobalOptions, id: string): Promise<number> {
  await runtimeFor(g).resume(id);
  return 0;
}

/** runc's `ps`: json → the pids; table → `ps` output (default `-ef`) filtered to the container. */
export async function psCommand(
  g: GlobalOptions,
  id: string,
  psArgs: string[],
  f: { format?: string },
): Promise<number> {
  const format = f.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new Error(`invalid format option ${JSON.stringify(format)}: expected table or json`);
  }
  const pids = await runtimeFor(g).ps(id);
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(pids)}\n`);
    return 0;
  }
  const out = execFileSync('ps', psArgs.length > 0 ? psArgs : ['-ef'], { encoding: 'utf8' });
  const [header = '', ...lines] = out.split('\n');
  const pidCol = header.trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw new Error(`ps ${psArgs.join(' ')}: no PID column in its output`);
  const wanted = new Set(pids.map(String));
  process.stdout.write(`${header}\n`);
  for (const line of lines) {
    if (wanted.has(line.trim().split(/\s+/)[pidCol] ?? '')) process.stdout.write(`${line}\n`);
  }
  return 0;
}

export interface UpdateFlags {
  resources?: string;
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuBurst?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuShare?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  pidsLimit?: string;
}

/** Bytes with runc's suffixes (k, m, g, t, p; case-insensitive, optional `b`); -1 means unlimited. */
export function parseBytes(flag: string, v: string): number {
  const m = /^(-1|\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v.trim());
  if (!m) throw new Error(`${flag}: invalid size ${JSON.stringify(v)}`);
  if (m[1] === '-1') return -1;
  const mult =
    { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[
      (m[2] ?? '').toLowerCase()
    ] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

function parseInteger(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v.trim()))
    throw new Error(`${flag}: expected an integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The resources `update` applies: the JSON of --resources (file or - for stdin), then the flags on top. */
export function updateResources(f: UpdateFlags, stdin: () => string): Resources {
  let r: Resources = {};
  if (f.resources !== undefined) {
    const text = f.resources === '-' ? stdin() : readFileSync(f.resources, 'utf8');
    try {
      r = JSON.parse(text) as Resources;
    } catch (err) {
      throw new Error(`--resources ${f.resources}: ${(err as Error).message}`);
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new Error(`--resources ${f.resources}: expected a JSON object (linux.resources)`);
    }
  }
  const mem = { ...(r.memory ?? {}) };
  const cpu = { ...(r.cpu ?? {}) };
  if (f.memory !== undefined) mem.limit = parseBytes('--memory', f.memory);
  if (f.memoryReservation !== undefined)
    mem.reservation = parseBytes('--memory-reservation', f.memoryReservation);
  if (f.memorySwap !== undefined) mem.swap = parseBytes('--memory-swap', f.memorySwap);
  if (f.kernelMemory !== undefined) mem.kernel = parseBytes('--kernel-memory', f.kernelMemory);
  if (f.kernelMemoryTcp !== undefined)
    mem.kernelTCP = parseBytes('--kernel-memory-tcp', f.kernelMemoryTcp);
  if (f.cpuPeriod !== undefined) cpu.period = parseInteger('--cpu-period', f.cpuPeriod);
  if (f.cpuQuota !== undefined) cpu.quota = parseInteger('--cpu-quota', f.cpuQuota);
  if (f.cpuBurst !== undefined) cpu.burst = parseInteger('--cpu-burst', f.cpuBurst);
  if (f.cpuRtPeriod !== undefined)
    cpu.realtimePeriod = parseInteger('--cpu-rt-period', f.cpuRtPeriod);
  if (f.cpuRtRuntime !== undefined)
    cpu.realtimeRuntime = parseInteger('--cpu-rt-runtime', f.cpuRtRuntime);
  if (f.cpuShare !== undefined) cpu.shares = parseInteger('--cpu-share', f.cpuShare);
  if (f.cpusetCpus !== undefined) cpu.cpus = f.cpusetCpus;
  if (f.cpusetMems !== undefined) cpu.mems = f.cpusetMems;
  if (Object.keys(mem).length > 0) r.memory = mem;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  if (f.pidsLimit !== undefined) r.pids = { limit: parseInteger('--pids-limit', f.pidsLimit) };
  if (f.blkioWeight !== undefined)
    r.blockIO = { ...(r.blockIO ?? {}), weight: parseInteger('--blkio-weight', f.blkioWeight) };
  if (Object.keys(r).length === 0)
    throw new Error('update: nothing to update (give --resources or a resource flag)');
  return r;
}

export async function updateCommand(g: GlobalOptions, id: string, f: UpdateFlags): Promise<number> {
  const resources = updateResources(f, () => readFileSync(0, 'utf8'));
  // Checked against the schema before anything is written.
  const { parseConfig } = await import('@ts-oci/spec');
  parseConfig(
    { ociVersion: '1.3.0', root: { path: '/' }, linux: { resources } },
    { document: '--resources' },
  );
  await runtimeFor(g).update(id, resources);
  return 0;
}

function parseInterval(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new Error(`--interval: invalid duration ${JSON.stringify(v)} (e.g. 5s, 500ms)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

/** runc's `events`: JSON lines, `{"type":"stats","id","data"}` every interval and `{"type":"oom","id"}`. */
export async function eventsCommand(
  g: GlobalOptions,
  id: string,
  f: { stats?: boolean; interval?: string },
): Promise<number> {
  const rt = runtimeFor(g);
  const emit = (ev: unknown) => process.stdout.write(`${JSON.stringify(ev)}\n`);
  if (f.stats) {
    emit({ type: 'stats', id, data: await rt.stats(id) });
    return 0;
  }
  const intervalMs = parseInterval(f.interval ?? '5s');
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
  const ooms = (async () => {
    for await (const ev of rt.oomEvents(id, { signal: stop.signal }))
      emit({ type: 'oom', id: ev.id });
  })();
  // Like runc's, events goes on after the container stops (its cgroup and its
  // OOM counter stay until delete), so the OOM that ended it is still seen.
  while (!stop.signal.aborted) {
    try {
      emit({ type: 'stats', id, data: await rt.stats(id) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ECONTAINER_NOT_FOUND' && code !== 'ECONTAINER_STATE') throw err;
      // Deleted (or its cgroup is gone): nothing more will happen.
      stop.abort();
      break;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await ooms.catch(() => {});
  return 0;
}
