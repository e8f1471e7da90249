/**
 * The six hook kinds of runtime-spec v1.3.0 (config.md "POSIX-platform Hooks",
 * runtime.md "Lifecycle"), as one table. The runner takes its failure rule from
 * here and `tsoci features` lists the kinds from here, so neither can drift from
 * what the code does.
 */

/** Where a hook runs (config.md: "runtime namespace" or "container namespace"). */
export type HookNamespace = 'runtime' | 'container';

/** What the runtime does when a hook of a kind fails. */
export type HookFailureAction =
  /** generate an error, stop the container and destroy it (runtime.md step 12). */
  | 'error'
  /** log a warning; remaining hooks and the lifecycle continue as if it had succeeded. */
  | 'warn';

export interface HookKindInfo {
  readonly name: HookKind;
  /** The operation that runs the hooks of this kind. */
  readonly operation: 'create' | 'start' | 'delete';
  /** The namespaces the hook executes in. */
  readonly namespace: HookNamespace;
  /** The mount namespace `path` is resolved in (differs from `namespace` for createContainer). */
  readonly pathResolvesIn: HookNamespace;
  /** `status` of the state the hook receives on stdin. */
  readonly status: 'creating' | 'created' | 'running' | 'stopped';
  readonly onFailure: HookFailureAction;
  /** `onFailure === 'error'`, for callers that only need a boolean. */
  readonly fatal: boolean;
  readonly deprecated: boolean;
}

export type HookKind =
  | 'prestart'
  | 'createRuntime'
  | 'createContainer'
  | 'startContainer'
  | 'poststart'
  | 'poststop';

/**
 * Keyed by kind, in the order the lifecycle runs them (runtime.md steps 3, 4,
 * 5, 7, 9, 13: prestart comes before createRuntime).
 *
 * poststart is fatal: runtime-spec v1.3.0 runtime.md step 9 says a failing
 * poststart hook MUST generate an error and stop the container (the "log a
 * warning" rule of runtime-spec 1.0 survives only for poststop), and runc 1.x
 * terminates the container when a poststart hook fails.
 */
export const HOOK_KINDS = {
  prestart: {
    name: 'prestart',
    operation: 'create',
    namespace: 'runtime',
    pathResolvesIn: 'runtime',
    status: 'creating',
    onFailure: 'error',
    fatal: true,
    deprecated: true,
  },
  createRuntime: {
    name: 'createRuntime',
    operation: 'create',
    namespace: 'runtime',
    pathResolvesIn: 'runtime',
    status: 'creating',
    onFailure: 'error',
    fatal: true,
    deprecated: false,
  },
  createContainer: {
    name: 'createContainer',
    operation: 'create',
    namespace: 'container',
    pathResolvesIn: 'runtime',
    status: 'creating',
    onFailure: 'error',
    fatal: true,
    deprecated: false,
  },
  startContainer: {
    name: 'startContainer',
    operation: 'start',
    namespace: 'container',
    pathResolvesIn: 'container',
    status: 'created',
    onFailure: 'error',
    fatal: true,
    deprecated: false,
  },
  poststart: {
    name: 'poststart',
    operation: 'start',
    namespace: 'runtime',
    pathResolvesIn: 'runtime',
    status: 'running',
    onFailure: 'error',
    fatal: true,
    deprecated: false,
  },
  poststop: {
    name: 'poststop',
    operation: 'delete',
    namespace: 'runtime',
    pathResolvesIn: 'runtime',
    status: 'stopped',
    onFailure: 'warn',
    fatal: false,
    deprecated: false,
  },
} as const satisfies { readonly [K in HookKind]: HookKindInfo & { readonly name: K } };

/** The kind names in lifecycle order; what `features.hooks` lists. */
export const HOOK_KIND_NAMES: readonly HookKind[] = Object.freeze(
  Object.keys(HOOK_KINDS) as HookKind[],
);

export function isHookKind(name: unknown): name is HookKind {
  return typeof name === 'string' && Object.hasOwn(HOOK_KINDS, name);
}
