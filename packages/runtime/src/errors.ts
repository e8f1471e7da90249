import { TsociError } from '@ts-oci/spec/errors';

/**
 * Lifecycle failures. Codes are stable: engines and programs branch on them.
 * Messages name the container id (and the step or object that failed).
 */
export class ContainerError extends TsociError {
  /** No container with that id under the state root. */
  static readonly NOT_FOUND = 'ECONTAINER_NOT_FOUND';
  /** A container with that id already exists. */
  static readonly EXISTS = 'ECONTAINER_EXISTS';
  /** The id is not a valid container id. */
  static readonly INVALID_ID = 'ECONTAINER_ID_INVALID';
  /** The operation is not allowed in the container's current status. */
  static readonly BAD_STATE = 'ECONTAINER_STATE';
  /** The container init reported a failure while creating or executing. */
  static readonly INIT_FAILED = 'ECONTAINER_INIT';
  /** A bundle or option cannot be turned into a runnable plan. */
  static readonly INVALID_PLAN = 'ECONTAINER_PLAN';
  /** An unknown signal name or number. */
  static readonly INVALID_SIGNAL = 'ECONTAINER_SIGNAL';
  /** The state directory holds something that cannot be read. */
  static readonly CORRUPT_STATE = 'ECONTAINER_STATE_CORRUPT';

  readonly containerId: string | undefined;
  /** errno name reported by the kernel or the init, when there was one. */
  readonly errno: string | undefined;

  constructor(
    code: string,
    message: string,
    opts: { id?: string; errno?: string | null; cause?: unknown } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.containerId = opts.id;
    this.errno = opts.errno ?? undefined;
  }
}
