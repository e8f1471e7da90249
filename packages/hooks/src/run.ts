import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { execa } from 'execa';
import { describe, HookAbortedError, HookError, HookUsageError } from './errors.js';
import { HOOK_KINDS, type HookKind, isHookKind } from './kinds.js';
import { ByteTail } from './tail.js';
import type {
  HookFailure,
  HookResult,
  HookSpec,
  HookState,
  NormalizedHook,
  RunHooksOptions,
  WrappedCommand,
} from './types.js';

/** How much of each of a hook's stdout and stderr is kept in its result. */
export const OUTPUT_TAIL_BYTES = 8192;

/** How much of the stderr tail goes into a failure message (log lines stay readable). */
const MESSAGE_STDERR_CHARS = 1024;

/**
 * After the hook exits, how long its pipes may stay open. A hook that leaves a
 * background process holding its stdout/stderr would otherwise keep the
 * runtime waiting for EOF until that process exits (Go's exec.Cmd, hence runc,
 * has this problem).
 */
const PIPE_DRAIN_MS = 250;

/** setTimeout's limit; larger delays would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const SPAWN_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory, or its interpreter is missing',
  EACCES: 'permission denied',
  ENOEXEC: 'exec format error',
  ENOTDIR: 'a path component is not a directory',
  ELOOP: 'too many levels of symbolic links',
  E2BIG: 'argument list too long',
  ETXTBSY: 'text file busy',
};

/**
 * Runs the hooks of one kind in order, each with the state JSON on stdin.
 *
 * A failure of a fatal kind (see {@link HOOK_KINDS}) stops the run with a
 * {@link HookError}; a failure of a non-fatal kind goes to `onWarning` and the
 * next hook runs. Returns one result per hook for logging.
 */
export async function runHooks(
  kind: HookKind,
  hooks: readonly HookSpec[] | undefined,
  state: HookState,
  opts: RunHooksOptions = {},
): Promise<HookResult[]> {
  if (!isHookKind(kind)) {
    throw new HookUsageError(`unknown hook kind ${JSON.stringify(kind)}`);
  }
  const results: HookResult[] = [];
  if (hooks === undefined || hooks.length === 0) return results;

  const info = HOOK_KINDS[kind];
  const input = JSON.stringify(state);
  const cwd = opts.cwd ?? (await defaultCwd(state.bundle));

  for (const [index, hook] of hooks.entries()) {
    const path = typeof hook?.path === 'string' ? hook.path : String(hook?.path);
    if (opts.signal?.aborted) {
      throw new HookAbortedError(kind, index, path, results, { cause: opts.signal.reason });
    }
    const outcome = await runOne(kind, index, hook, input, cwd, opts);
    if (outcome.aborted) {
      throw new HookAbortedError(kind, index, path, results, { cause: opts.signal?.reason });
    }
    const { result } = outcome;
    results.push(result);
    if (result.failure !== undefined) {
      if (info.fatal) throw new HookError(result, results);
      opts.onWarning?.(result.failure.message);
    }
  }
  return results;
}

/** Default working directory: the bundle, as runc's hooks get it, or `/` when it is gone. */
async function defaultCwd(bundle: string): Promise<string> {
  if (typeof bundle !== 'string' || !isAbsolute(bundle)) return '/';
  try {
    return (await stat(bundle)).isDirectory() ? bundle : '/';
  } catch {
    // poststop runs at delete, possibly after the bundle was removed: a hook
    // must not fail just because its default cwd vanished.
    return '/';
  }
}

type Normalized = { ok: true; hook: NormalizedHook } | { ok: false; problem: string };

function normalize(hook: HookSpec, warn: (msg: string) => void): Normalized {
  if (typeof hook?.path !== 'string' || !isAbsolute(hook.path)) {
    return { ok: false, problem: 'path must be absolute (config.md)' };
  }
  const { timeout } = hook;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) {
    return { ok: false, problem: `timeout must be a positive integer of seconds, got ${timeout}` };
  }
  const argv = hook.args !== undefined && hook.args.length > 0 ? [...hook.args] : [hook.path];
  // A null prototype, so an entry such as `__proto__=x` is an ordinary variable.
  const env: Record<string, string> = Object.create(null);
  for (const [i, entry] of (hook.env ?? []).entries()) {
    const eq = entry.indexOf('=');
    if (eq < 0) {
      // Node's spawn takes an object, which cannot express an environ string
      // without `=`; dropping it beats failing the container.
      warn(`env[${i}] ${JSON.stringify(entry)} is not NAME=VALUE; ignored`);
      continue;
    }
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { ok: true, hook: { path: hook.path, argv, env, timeout } };
}

interface Outcome {
  aborted: boolean;
  result: HookResult;
}

async function runOne(
  kind: HookKind,
  index: number,
  spec: HookSpec,
  input: string,
  cwd: string,
  opts: RunHooksOptions,
): Promise<Outcome> {
  const started = performance.now();
  const path = String(spec?.path);
  const name = describe(kind, index, path);
  const base = { kind, index, path };

  const normalized = normalize(spec, (msg) => opts.onWarning?.(`${name}: ${msg}`));
  if (!normalized.ok) {
    return {
      aborted: false,
      result: {
        ...base,
        ok: false,
        exitCode: null,
        signal: null,
        durationMs: performance.now() - started,
        stdout: '',
        stderr: '',
        failure: { reason: 'invalid', message: `${name} is invalid: ${normalized.problem}` },
      },
    };
  }
  const hook = normalized.hook;
  const command: WrappedCommand = opts.wrap
    ? opts.wrap(hook)
    : { file: hook.path, args: hook.argv.slice(1) };

  const stdout = new ByteTail(OUTPUT_TAIL_BYTES);
  const stderr = new ByteTail(OUTPUT_TAIL_BYTES);
  const subprocess = execa(command.file, [...command.args], {
    // Only an unwrapped hook is exec'd directly; a wrapper gets the hook's
    // argv[0] through its own arguments (see nsenterWrapper).
    ...(opts.wrap ? {} : { argv0: hook.argv[0] }),
    cwd,
    env: hook.env,
    extendEnv: false,
    stdio: ['pipe', 'pipe', 'pipe'],
    input,
    encoding: 'buffer',
    buffer: false,
    reject: false,
    shell: false,
    stripFinalNewline: false,
    // Its own session and process group, so a timeout or abort can kill the
    // hook together with everything it forked (a shell script's `sleep`).
    detached: true,
    killSignal: 'SIGKILL',
  });
  subprocess.stdout?.on('data', (chunk: Uint8Array) => stdout.push(chunk));
  subprocess.stderr?.on('data', (chunk: Uint8Array) => stderr.push(chunk));

  let exited = false;
  let timedOut = false;
  let aborted = false;
  let drainTimer: NodeJS.Timeout | undefined;
  const killGroup = () => {
    // After 'exit' the pid is reaped and may be reused: never signal it again.
    if (exited || subprocess.pid === undefined) return;
    try {
      process.kill(-subprocess.pid, 'SIGKILL');
    } catch {
      subprocess.kill('SIGKILL');
    }
  };
  const timer =
    hook.timeout === undefined
      ? undefined
      : setTimeout(
          () => {
            timedOut = true;
            killGroup();
          },
          Math.min(hook.timeout * 1000, MAX_TIMER_MS),
        );
  const onAbort = () => {
    aborted = true;
    killGroup();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  subprocess.once('exit', () => {
    exited = true;
    clearTimeout(timer);
    drainTimer = setTimeout(() => {
      subprocess.stdin?.destroy();
      subprocess.stdout?.destroy();
      subprocess.stderr?.destroy();
    }, PIPE_DRAIN_MS);
  });

  let r: Awaited<typeof subprocess>;
  try {
    r = await subprocess;
  } finally {
    clearTimeout(timer);
    clearTimeout(drainTimer);
    opts.signal?.removeEventListener('abort', onAbort);
  }

  const exitCode = typeof r.exitCode === 'number' ? r.exitCode : null;
  const signal = typeof r.signal === 'string' ? r.signal : null;
  const stderrText = stderr.text();
  const failure = classify({
    name,
    timeout: hook.timeout,
    timedOut,
    exitCode,
    signal,
    code: typeof r.code === 'string' ? r.code : undefined,
    detail: r.originalMessage,
    stderr: stderrText,
  });
  return {
    aborted,
    result: {
      ...base,
      ok: failure === undefined,
      exitCode,
      signal,
      durationMs: performance.now() - started,
      stdout: stdout.text(),
      stderr: stderrText,
      failure,
    },
  };
}

function classify(o: {
  name: string;
  timeout: number | undefined;
  timedOut: boolean;
  exitCode: number | null;
  signal: string | null;
  code: string | undefined;
  detail: string | undefined;
  stderr: string;
}): HookFailure | undefined {
  if (o.timedOut) {
    return { reason: 'timeout', message: `${o.name} timed out after ${o.timeout}s` };
  }
  if (o.exitCode === null && o.signal === null) {
    const code = o.code ?? 'EUNKNOWN';
    const why = SPAWN_ERRORS[code] ?? firstLine(o.detail) ?? 'unknown error';
    return { reason: 'spawn', code, message: `${o.name} could not be started: ${code} (${why})` };
  }
  if (o.signal !== null) {
    return {
      reason: 'signal',
      message: `${o.name} was killed by ${o.signal}${stderrPart(o.stderr)}`,
    };
  }
  if (o.exitCode !== 0) {
    return {
      reason: 'exit',
      message: `${o.name} exited with status ${o.exitCode}${stderrPart(o.stderr)}`,
    };
  }
  return undefined;
}

function stderrPart(stderr: string): string {
  let text = stderr.trim();
  if (text === '') return '';
  if (text.length > MESSAGE_STDERR_CHARS) text = `…${text.slice(-MESSAGE_STDERR_CHARS)}`;
  return `; stderr: ${text}`;
}

function firstLine(text: string | undefined): string | undefined {
  const line = text?.split('\n', 1)[0]?.trim();
  return line === '' ? undefined : line;
}
