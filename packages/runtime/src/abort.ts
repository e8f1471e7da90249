import { ContainerError } from './errors.js';

/**
 * An operation given an `AbortSignal` was aborted (the container or process
 * was killed first). `name` is `AbortError`, as for Node's own abortable
 * APIs, so `err.name === 'AbortError'` checks work; `cause` is the signal's
 * reason.
 */
export class ContainerAbortError extends ContainerError {
  static readonly ABORTED = 'ECONTAINER_ABORTED';

  constructor(what: string, opts: { id?: string; cause?: unknown } = {}) {
    super(ContainerAbortError.ABORTED, `${what} was aborted`, opts);
    this.name = 'AbortError';
  }
}

/**
 * Settles like `work`, unless `signal` aborts first: then `onAbort` runs (it
 * kills what `work` waits for, and resolves once that is dead) and the result
 * is a {@link ContainerAbortError}.
 */
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => Promise<unknown>,
  what: string,
  id: string,
): Promise<T> {
  if (!signal) return work;
  const aborted = () =>
    onAbort()
      .catch(() => {})
      .then(() => {
        throw new ContainerAbortError(what, { id, cause: signal.reason });
      });
  if (signal.aborted) return aborted();
  return new Promise<T>((resolve, reject) => {
    const listener = () => {
      aborted().catch(reject);
    };
    signal.addEventListener('abort', listener, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', listener);
        if (!signal.aborted) resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', listener);
        if (!signal.aborted) reject(err);
      },
    );
  });
}

/** Runs `onAbort` once when `signal` aborts; returns what stops listening. */
export function onceAborted(signal: AbortSignal, onAbort: () => void): () => void {
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
