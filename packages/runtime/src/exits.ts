import * as native from './native.js';
import { signalName } from './signals.js';

/**
 * How a container or exec'd process ended. `exitCode` is 128+n when it was
 * killed by signal n (runc's convention, as `Runtime.run`). Both are null
 * when the status cannot be known: the process was not this process's child
 * and its parent reaped it on a kernel without PIDFD_INFO_EXIT (< 6.15).
 */
export interface ContainerExit {
  exitCode: number | null;
  signal: string | null;
}

export const UNKNOWN_EXIT: ContainerExit = Object.freeze({ exitCode: null, signal: null });

export function toContainerExit(r: {
  exitCode: number | null;
  signal: number | null;
}): ContainerExit {
  if (r.signal !== null) return { exitCode: 128 + r.signal, signal: signalName(r.signal) };
  if (r.exitCode !== null) return { exitCode: r.exitCode, signal: null };
  return UNKNOWN_EXIT;
}

const waiting = new Map<number, (report: native.ExitReport) => void>();
let routed = false;

/** A watch of one process's exit (see {@link watchExit}). */
export interface ExitWatch {
  exited: Promise<native.ExitReport>;
  cancel: () => void;
  /**
   * Stops watching (and so reaping) until `resume()`: an exit meanwhile
   * leaves a zombie, so `pid` keeps naming the process for whoever checks
   * it (the exec fifo release opens a pidfd of it). False if the exit was
   * already reported.
   */
  pause: () => boolean;
  /** Watches again after `pause()`; a zombie is reaped and reported at once. */
  resume: () => void;
}

const GONE: native.ExitReport = { token: 0, exitCode: null, signal: null, source: 'unknown' };

function addWatch(pid: number, startTime: number): number | undefined {
  try {
    return native.exitWatchAdd(pid, startTime);
  } catch (err) {
    if (
      err instanceof native.NativeRuntimeError &&
      err.code === native.NativeErrorCode.PROCESS_GONE
    ) {
      return undefined;
    }
    throw err;
  }
}

/** Points the addon's exit reports at `waiting` (once per process). */
export function routeExits(): void {
  if (routed) return;
  native.exitWatchInit((report) => {
    const resolve = waiting.get(report.token);
    waiting.delete(report.token);
    resolve?.(report);
  });
  routed = true;
}

/**
 * The report of a watch the addon started itself (an init from
 * `spawnInit`); {@link routeExits} must have run before that watch began.
 */
export function watchedExit(token: number): Promise<native.ExitReport> {
  return new Promise((resolve) => {
    waiting.set(token, resolve);
  });
}

/**
 * Resolves when `pid` (started at `startTime`) exits; an exited child of this
 * process is reaped on the way. The watch itself does not keep the event loop
 * alive (see {@link holdEventLoop}). A process that is already gone resolves
 * at once with an unknown status.
 */
export function watchExit(pid: number, startTime: number): ExitWatch {
  routeExits();
  let token = addWatch(pid, startTime);
  if (token === undefined) {
    return {
      exited: Promise.resolve(GONE),
      cancel: () => {},
      pause: () => false,
      resume: () => {},
    };
  }
  let resolveExit: (report: native.ExitReport) => void = () => {};
  const exited = new Promise<native.ExitReport>((resolve) => {
    resolveExit = resolve;
  });
  waiting.set(token, resolveExit);
  let paused = false;
  return {
    exited,
    cancel: () => {
      if (token !== undefined && native.exitWatchCancel(token)) waiting.delete(token);
    },
    pause: () => {
      if (paused || token === undefined || !native.exitWatchCancel(token)) return false;
      waiting.delete(token);
      paused = true;
      return true;
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      token = addWatch(pid, startTime);
      if (token === undefined) resolveExit(GONE);
      else waiting.set(token, resolveExit);
    },
  };
}

// The longest delay a Node timer accepts: the timer below exists only to be
// a ref'd handle and fires about once every 24 days.
const MAX_TIMER_MS = 2 ** 31 - 1;
let holders = 0;
let keepAlive: NodeJS.Timeout | undefined;

/**
 * Keeps the event loop alive while someone awaits an exit (the addon's
 * callback is weak, so an idle program with containers still running may
 * end, as a detached launcher should). Returns the release function.
 */
export function holdEventLoop(): () => void {
  holders += 1;
  keepAlive ??= setInterval(() => {}, MAX_TIMER_MS);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders -= 1;
    if (holders === 0 && keepAlive) {
      clearInterval(keepAlive);
      keepAlive = undefined;
    }
  };
}
