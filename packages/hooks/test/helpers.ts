import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HookState } from '../src/index.js';

export interface Sandbox {
  dir: string;
  /** Writes an executable `#!/bin/sh` script and returns its absolute path. */
  script(name: string, body: string, shebang?: string): Promise<string>;
  path(name: string): string;
  read(name: string): string;
  exists(name: string): boolean;
  cleanup(): Promise<void>;
}

export async function sandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'tsoci-hooks-'));
  return {
    dir,
    async script(name, body, shebang = '#!/bin/sh') {
      const p = join(dir, name);
      await writeFile(p, `${shebang}\n${body}\n`);
      await chmod(p, 0o755);
      return p;
    },
    path: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name), 'utf8'),
    exists: (name) => existsSync(join(dir, name)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export function stateFor(bundle: string, status = 'creating'): HookState {
  return {
    ociVersion: '1.3.0',
    id: 'hooks-test',
    status,
    pid: 4242,
    bundle,
    annotations: { 'org.example.key': 'value with "quotes" and ünïcode' },
  };
}

/** Dead or a zombie (PID 1 here may not reap orphans promptly). */
export function isDead(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

export async function waitDead(pid: number, ms = 2000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (isDead(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return isDead(pid);
}

export async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function readPid(sb: Sandbox, name: string): number {
  const pid = Number.parseInt(sb.read(name).trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad pid in ${name}`);
  return pid;
}

export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The pid of a live process whose argv is exactly `argv`, if any. */
export function findProcess(argv: readonly string[]): number | undefined {
  const want = `${argv.join('\0')}\0`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === want) {
        const pid = Number(entry);
        if (!isDead(pid)) return pid;
      }
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}
