/** Progress events of image sources (`onProgress`), from @ts-oci/image. */
export type { ImageProgressEvent } from '@ts-oci/image';
export { ContainerAbortError } from './abort.js';
export { BundleError, writeDefaultConfig } from './bundle.js';
export {
  Container,
  type ContainerExecOptions,
  type ContainerOptions,
  ContainerProcess,
  type ContainerSource,
  type ContainerStdioOption,
  type ExecProcess,
} from './container.js';
export { ContainerError } from './errors.js';
export type { ContainerEvent, ContainerEventType } from './events.js';
export type { ContainerExit } from './exits.js';
export { features, OCI_VERSION_MIN } from './features.js';
export { type ImageContainerSource, overlayMounter } from './image.js';
export type { InitPlan, NamespacePlan, ProcessPlan } from './plan.js';
export { Terminal, type TerminalSize } from './pty.js';
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
export type { StdioEntry, StdioOption } from './stdio.js';
