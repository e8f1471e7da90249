export { HookAbortedError, HookError, HookUsageError } from './errors.js';
export {
  HOOK_KIND_NAMES,
  HOOK_KINDS,
  type HookFailureAction,
  type HookKind,
  type HookKindInfo,
  type HookNamespace,
  isHookKind,
} from './kinds.js';
export { type NsenterWrapperOptions, nsenterWrapper } from './nsenter.js';
export { OUTPUT_TAIL_BYTES, runHooks } from './run.js';
export type {
  HookFailure,
  HookFailureReason,
  HookResult,
  HookSpec,
  HookState,
  HookWrapper,
  NormalizedHook,
  RunHooksOptions,
  WrappedCommand,
} from './types.js';
