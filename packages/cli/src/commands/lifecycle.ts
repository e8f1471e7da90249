import { type ExitStatus, Runtime } from '@ts-oci/runtime';
import type { GlobalOptions } from '../globals.js';
import { Logger } from '../log.js';

export function runtimeFor(g: GlobalOptions): Runtime {
  const logger = new Logger(g);
  return new Runtime({
    root: g.root,
    debug: g.debug,
    log: (level, msg) => logger.write(level, msg),
  });
}

export interface CreateFlags {
  bundle?: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: string;
  pivot?: boolean;
  newKeyring?: boolean;
}

export function createOptions(id: string, f: CreateFlags) {
  return {
    id,
    bundle: f.bundle,
    pidFile: f.pidFile,
    consoleSocket: f.consoleSocket,
    preserveFds: parseCount(f.preserveFds, '--preserve-fds'),
    // commander turns --no-pivot into pivot=false.
    noPivot: f.pivot === false,
    noNewKeyring: f.newKeyring === false,
  };
}

function parseCount(v: string | undefined, flag: string): number {
  if (v === undefined) return 0;
  if (!/^\d+$/.test(v))
    throw new Error(`${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export async function createCommand(g: GlobalOptions, id: string, f: CreateFlags): Promise<number> {
  await runtimeFor(g).create(createOptions(id, f));
  return 0;
}

export async function startCommand(g: GlobalOptions, id: string): Promise<number> {
  await runtimeFor(g).start(id);
  return 0;
}

export async function stateCommand(g: GlobalOptions, id: string): Promise<number> {
  const st = await runtimeFor(g).state(id);
  process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
  return 0;
}

export async function killCommand(
  g: GlobalOptions,
  id: string,
  signal: string | undefined,
  f: { all?: boolean; signal?: string },
): Promise<number> {
  await runtimeFor(g).kill(id, signal ?? f.signal ?? 'SIGTERM', { all: f.all === true });
  return 0;
}

export async function deleteCommand(
  g: GlobalOptions,
  id: string,
  f: { force?: boolean },
): Promise<number> {
  const rt = runtimeFor(g);
  try {
    await rt.delete(id, { force: f.force === true });
  } catch (err) {
    // The containerd shim calls `delete --force` after every delete: a missing
    // container is then not an error (runc behaves the same).
    if (f.force && (err as { code?: string }).code === 'ECONTAINER_NOT_FOUND') return 0;
    throw err;
  }
  return 0;
}

export async function listCommand(
  g: GlobalOptions,
  f: { format?: string; quiet?: boolean },
): Promise<number> {
  const format = f.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new Error(`invalid format option ${JSON.stringify(format)}: expected table or json`);
  }
  const all = await runtimeFor(g).list();
  if (f.quiet) {
    for (const s of all) process.stdout.write(`${s.id}\n`);
  } else if (format === 'json') {
    process.stdout.write(`${JSON.stringify(all)}\n`);
  } else {
    const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
    for (const s of all)
      rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root']);
    // runc's tabwriter: min width 12, padding 3.
    const widths =
      rows[0]?.map((_, c) => Math.max(12, ...rows.map((r) => (r[c] ?? '').length + 3))) ?? [];
    for (const r of rows) {
      process.stdout.write(
        `${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 12))).join('')}\n`,
      );
    }
  }
  return 0;
}

export async function runCommand(
  g: GlobalOptions,
  id: string,
  f: CreateFlags & { detach?: boolean; keep?: boolean },
): Promise<number> {
  const rt = runtimeFor(g);
  const opts = createOptions(id, f);
  if (f.detach) {
    await rt.create(opts);
    try {
      await rt.start(id);
    } catch (err) {
      await rt.delete(id, { force: true }).catch(() => {});
      throw err;
    }
    return 0;
  }
  const status: ExitStatus = await rt.run({ ...opts, keep: f.keep === true, forwardSignals: true });
  return status.exitCode;
}

export async function validateCommand(g: GlobalOptions, f: { bundle?: string }): Promise<number> {
  const { validateBundle } = await import('@ts-oci/runtime');
  void g;
  const problems = await validateBundle(f.bundle ?? '.');
  if (problems.length === 0) {
    process.stdout.write('config.json is valid: the container can be created\n');
    return 0;
  }
  for (const p of problems)
    process.stdout.write(`${p.path === '' ? '(root)' : p.path}: ${p.message}\n`);
  process.stderr.write(
    `tsoci: ${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`,
  );
  return 1;
}
