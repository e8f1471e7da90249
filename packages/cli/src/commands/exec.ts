import { readFileSync } from 'node:fs';
import type { Config } from '@ts-oci/spec';
import { CommandFailure } from '../failure.js';
import type { GlobalOptions } from '../globals.js';
import { runtimeFor } from './lifecycle.js';

type Process = NonNullable<Config['process']>;

export interface ExecFlags {
  process?: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty?: boolean;
  preserveFds?: string;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: string[];
  cap?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  ignorePaused?: boolean;
}

/** Exit status of a process that could not be started, as runc reports it (podman maps it to 126/127). */
export const EXEC_LAUNCH_FAILED = 255;

function uint(flag: string, v: string): number {
  if (!/^\d+$/.test(v))
    throw new Error(`${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * The process to run: `--process FILE` as given, or the container's own
 * process with the command line and flags applied (runc's rule).
 */
export function execProcess(base: Process | undefined, args: string[], f: ExecFlags): Process {
  if (f.process !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(f.process, 'utf8'));
    } catch (err) {
      throw new Error(`--process ${f.process}: ${(err as Error).message}`);
    }
    return doc as Process;
  }
  if (args.length === 0)
    throw new Error('exec: no command given (pass CMD [ARGS...] or --process FILE)');
  const p: Process = structuredClone(base ?? { cwd: '/', user: { uid: 0, gid: 0 } }) as Process;
  p.args = args;
  p.terminal = f.tty === true;
  delete p.consoleSize;
  if (f.cwd !== undefined) p.cwd = f.cwd;
  if (f.env && f.env.length > 0) {
    for (const e of f.env)
      if (!e.includes('=')) throw new Error(`--env ${JSON.stringify(e)}: expected KEY=value`);
    // Later entries win, as in the runtime environment.
    const keys = new Set(f.env.map((e) => e.slice(0, e.indexOf('='))));
    p.env = [...(p.env ?? []).filter((e) => !keys.has(e.slice(0, e.indexOf('=')))), ...f.env];
  }
  if (f.user !== undefined) {
    const [u = '', g] = f.user.split(':');
    p.user = {
      ...p.user,
      uid: uint('--user', u),
      gid: g === undefined ? (p.user?.gid ?? 0) : uint('--user', g),
    };
  }
  if (f.additionalGids && f.additionalGids.length > 0) {
    p.user = {
      ...p.user,
      additionalGids: f.additionalGids.map((g) => uint('--additional-gids', g)),
    } as Process['user'];
  }
  if (f.cap && f.cap.length > 0) {
    const caps = { ...(p.capabilities ?? {}) };
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) {
      caps[set] = [...new Set([...(caps[set] ?? []), ...f.cap])];
    }
    p.capabilities = caps;
  }
  if (f.noNewPrivs) p.noNewPrivileges = true;
  return p;
}

export async function execCommand(
  g: GlobalOptions,
  id: string,
  args: string[],
  f: ExecFlags,
): Promise<number> {
  if (f.apparmor !== undefined) throw new Error('--apparmor: AppArmor is not supported by tsoci');
  if (f.processLabel !== undefined)
    throw new Error('--process-label: SELinux is not supported by tsoci');
  const rt = runtimeFor(g);
  const base = await rt.config(id);
  const proc = execProcess(base.process, args, f);
  try {
    const r = await rt.exec(id, {
      process: proc,
      detach: f.detach === true,
      pidFile: f.pidFile,
      consoleSocket: f.consoleSocket,
      preserveFds: f.preserveFds === undefined ? 0 : uint('--preserve-fds', f.preserveFds),
      ignorePaused: f.ignorePaused === true,
      forwardSignals: true,
    });
    return r.exitCode;
  } catch (err) {
    if ((err as { code?: string }).code === 'ECONTAINER_INIT') {
      throw new CommandFailure(`exec failed: ${(err as Error).message}`, EXEC_LAUNCH_FAILED, err);
    }
    throw err;
  }
}
