import type { HookKind } from './kinds.js';

/**
 * A hook entry of config.json (`hooks.<kind>[i]`). Structural, so that the
 * `Hook` type of `@ts-oci/spec` (a loose object with the same fields) fits.
 */
export interface HookSpec {
  /** Absolute path of the executable (execv's *path*). */
  readonly path: string;
  /** execv's *argv*: `args[0]` is argv[0]. Absent or empty: `[path]`. */
  readonly args?: readonly string[] | undefined;
  /** The hook's whole environment, `NAME=VALUE` strings. Absent: empty. */
  readonly env?: readonly string[] | undefined;
  /** Seconds before the hook is killed; a positive integer. */
  readonly timeout?: number | undefined;
}

/**
 * The runtime-spec state written to the hook's stdin (runtime.md "State").
 * Structural so `State` of `@ts-oci/spec` fits; extra properties are passed
 * through as they are.
 */
export interface HookState {
  readonly ociVersion: string;
  readonly id: string;
  readonly status: string;
  /** For container-namespace hooks, the pid as seen in the container (runtime.md). */
  readonly pid?: number | undefined;
  readonly bundle: string;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

/**
 * What to spawn instead of the hook itself. `file` is executed with argv
 * `[file, ...args]`; the hook's env, the state on stdin and the timeout apply
 * to this process unchanged.
 */
export interface WrappedCommand {
  readonly file: string;
  readonly args: readonly string[];
}

/** Maps a hook to the command that runs it, e.g. through `tsoci-init nsenter`. */
export type HookWrapper = (hook: NormalizedHook) => WrappedCommand;

/** A hook entry with its defaults applied, as handed to a {@link HookWrapper}. */
export interface NormalizedHook {
  readonly path: string;
  /** Full argv, never empty; `argv[0]` is what the hook sees as its name. */
  readonly argv: readonly string[];
  /** The exact environment, parsed from `env`. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeout: number | undefined;
}

export interface RunHooksOptions {
  /** Run each hook through another command (container-namespace kinds). */
  wrap?: HookWrapper | undefined;
  /** Receives the message of each failure of a non-fatal kind, and of ignored env entries. */
  onWarning?: ((message: string) => void) | undefined;
  /** Kills the running hook's process group and stops with {@link HookAbortedError}. */
  signal?: AbortSignal | undefined;
  /**
   * Working directory of the spawned process. Default: `state.bundle` when it
   * is an existing directory (what runc's hooks get, since runc chdirs into the
   * bundle), else `/`.
   */
  cwd?: string | undefined;
}

export type HookFailureReason =
  /** Exited with a non-zero status. */
  | 'exit'
  /** Killed by a signal it did not get from us. */
  | 'signal'
  /** Ran past `timeout` and was killed with SIGKILL. */
  | 'timeout'
  /** Could not be started (ENOENT, EACCES, ENOEXEC, bad cwd, …). */
  | 'spawn'
  /** The entry itself is unusable (relative path, bad timeout). */
  | 'invalid';

export interface HookFailure {
  readonly reason: HookFailureReason;
  /** `hook <kind>[<i>] (<path>) …`, with the stderr tail when there is one. */
  readonly message: string;
  /** errno-style code for `spawn` failures (`ENOENT`, `EACCES`, …). */
  readonly code?: string | undefined;
}

export interface HookResult {
  readonly kind: HookKind;
  readonly index: number;
  readonly path: string;
  readonly ok: boolean;
  /** Exit status, or null when the hook was killed by a signal or never started. */
  readonly exitCode: number | null;
  /** Name of the signal that killed the hook (SIGKILL after a timeout), or null. */
  readonly signal: string | null;
  readonly durationMs: number;
  /** Tails of the hook's output, at most {@link OUTPUT_TAIL_BYTES} bytes each. */
  readonly stdout: string;
  readonly stderr: string;
  readonly failure?: HookFailure | undefined;
}
