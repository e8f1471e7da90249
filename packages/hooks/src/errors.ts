import { TsociError } from '@ts-oci/spec/errors';
import type { HookKind } from './kinds.js';
import type { HookFailureReason, HookResult } from './types.js';

/**
 * A hook of a fatal kind failed (runtime.md: the runtime MUST generate an
 * error, stop the container and destroy it). Carries the failed hook's result
 * and the results of the hooks of the same kind that ran before it, so the
 * caller can log them before tearing the container down.
 */
export class HookError extends TsociError {
  static readonly CODE = 'EHOOK_FAILED';
  readonly kind: HookKind;
  readonly index: number;
  readonly path: string;
  readonly reason: HookFailureReason;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The tail of the hook's stderr (size-limited). */
  readonly stderr: string;
  /** Every hook of this call that ran, the failed one last. */
  readonly results: readonly HookResult[];

  constructor(result: HookResult, results: readonly HookResult[], options?: { cause?: unknown }) {
    super(HookError.CODE, result.failure?.message ?? describeHook(result), options);
    this.kind = result.kind;
    this.index = result.index;
    this.path = result.path;
    this.reason = result.failure?.reason ?? 'exit';
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.stderr = result.stderr;
    this.results = results;
  }
}

/**
 * The caller's AbortSignal fired. The running hook (and its process group) was
 * killed and no further hook ran, whatever the kind's failure rule: aborting
 * means the caller gave up on the operation.
 */
export class HookAbortedError extends TsociError {
  static readonly CODE = 'EHOOK_ABORTED';
  readonly kind: HookKind;
  /** The hook that was running or about to run. */
  readonly index: number;
  readonly path: string;
  readonly results: readonly HookResult[];

  constructor(
    kind: HookKind,
    index: number,
    path: string,
    results: readonly HookResult[],
    options?: { cause?: unknown },
  ) {
    super(HookAbortedError.CODE, `${describe(kind, index, path)} aborted`, options);
    this.kind = kind;
    this.index = index;
    this.path = path;
    this.results = results;
  }
}

/** Bad arguments to `runHooks` itself (not a bad hook entry, which is a hook failure). */
export class HookUsageError extends TsociError {
  static readonly CODE = 'EHOOK_USAGE';

  constructor(message: string) {
    super(HookUsageError.CODE, message);
  }
}

export function describe(kind: HookKind, index: number, path: string): string {
  return `hook ${kind}[${index}] (${path})`;
}

function describeHook(result: HookResult): string {
  return `${describe(result.kind, result.index, result.path)} failed`;
}
