import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { initBinaryPath } from './init-binary.js';
import { isNamespaceKind, NamespaceError, type NamespaceKind } from './namespaces.js';

/** A command line: what to execute and its arguments. */
export interface NamespaceCommand {
  file: string;
  args: string[];
}

export interface NamespaceCommandOptions {
  /** Environment entries added for the command (KEY=value). */
  env?: Record<string, string>;
  /** Start the command with only `env` (default: the caller's environment plus `env`). */
  clearEnv?: boolean;
  /** argv[0] the command sees, when it must differ from the program path. */
  argv0?: string;
}

function commonFlags(kinds: readonly NamespaceKind[], o: NamespaceCommandOptions): string[] {
  const out: string[] = [];
  for (const k of kinds) {
    if (!isNamespaceKind(k))
      throw new NamespaceError(`unknown namespace kind ${JSON.stringify(k)}`, 'EINVAL');
    out.push('--ns', k);
  }
  for (const [key, value] of Object.entries(o.env ?? {})) {
    if (key === '' || key.includes('=')) {
      throw new NamespaceError(
        `invalid environment variable name ${JSON.stringify(key)}`,
        'EINVAL',
      );
    }
    out.push('--env', `${key}=${value}`);
  }
  if (o.clearEnv) out.push('--clear-env');
  if (o.argv0 !== undefined) out.push('--argv0', o.argv0);
  return out;
}

function checkArgv(argv: readonly string[]): void {
  if (argv.length === 0 || argv[0] === '') throw new NamespaceError('no command given', 'EINVAL');
}

/**
 * The `unshare(1)` equivalent as a command line: run `argv` in new namespaces
 * of the given kinds (a new pid namespace makes it pid 1 of it). `mapRoot`
 * maps the caller to root in a new user namespace, as `unshare -r`.
 */
export function unshareCommand(
  argv: readonly string[],
  kinds: readonly NamespaceKind[],
  opts: NamespaceCommandOptions & { mapRoot?: boolean } = {},
): NamespaceCommand {
  checkArgv(argv);
  const flags = commonFlags(kinds, opts);
  if (opts.mapRoot) flags.push('--map-root');
  return { file: initBinaryPath(), args: ['unshare', ...flags, '--', ...argv] };
}

/**
 * The `nsenter(1)` equivalent as a command line: run `argv` in the namespaces
 * of process `pid` (every kind that differs from ours when `kinds` is empty).
 */
export function nsenterCommand(
  pid: number,
  argv: readonly string[],
  kinds: readonly NamespaceKind[] = [],
  opts: NamespaceCommandOptions = {},
): NamespaceCommand {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new NamespaceError(`invalid pid ${String(pid)}: expected a positive integer`, 'EINVAL');
  }
  checkArgv(argv);
  return {
    file: initBinaryPath(),
    args: ['nsenter', '--target', String(pid), ...commonFlags(kinds, opts), '--', ...argv],
  };
}

/**
 * Spawns `argv` in new namespaces. The process is tsoci-init, which creates
 * the namespaces (Node itself never changes namespaces), execs the command and
 * exits with its status (128+n when killed by signal n; 127 when the command
 * cannot be executed; 1 when the namespaces cannot be created).
 */
export function spawnInNewNamespaces(
  argv: readonly string[],
  kinds: readonly NamespaceKind[],
  opts: NamespaceCommandOptions & { mapRoot?: boolean; spawn?: SpawnOptions } = {},
): ChildProcess {
  const c = unshareCommand(argv, kinds, opts);
  return spawn(c.file, c.args, opts.spawn ?? {});
}

/** Spawns `argv` in the namespaces of `pid` (see {@link nsenterCommand}). */
export function spawnInNamespacesOf(
  pid: number,
  argv: readonly string[],
  kinds: readonly NamespaceKind[] = [],
  opts: NamespaceCommandOptions & { spawn?: SpawnOptions } = {},
): ChildProcess {
  const c = nsenterCommand(pid, argv, kinds, opts);
  return spawn(c.file, c.args, opts.spawn ?? {});
}
