export { BundleError, writeDefaultConfig } from './bundle.js';
export { ContainerError } from './errors.js';
export { features, OCI_VERSION_MIN } from './features.js';
export type { InitPlan, NamespacePlan, ProcessPlan } from './plan.js';
export {
  type CreateOptions,
  DEFAULT_STATE_ROOT,
  type ExecOptions,
  type ExitStatus,
  type LogLevel,
  type RunOptions,
  Runtime,
  type RuntimeOptions,
  type StdioFds,
  validateBundle,
} from './runtime.js';
export { parseSignal, signalName } from './signals.js';
export type { ContainerStatus, OciState } from './state.js';
