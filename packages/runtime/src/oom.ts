import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupPaths } from '@ts-oci/cgroups';
import { holdEventLoop } from './exits.js';
import * as native from './native.js';

/**
 * Where a container's OOM notifications come from: the v1 memory
 * controller's directory (eventfd on memory.oom_control), else the cgroup2
 * directory when it has the memory controller (inotify on memory.events).
 */
export function oomTarget(cg: CgroupPaths): { kind: 'v1' | 'v2'; dir: string } | undefined {
  const memory = cg.paths.memory;
  if (memory) return { kind: 'v1', dir: memory };
  const unified = cg.paths.unified;
  if (unified && existsSync(join(unified, 'memory.events'))) return { kind: 'v2', dir: unified };
  return undefined;
}

const listeners = new Map<number, (report: native.OomReport) => void>();
let routed = false;

/**
 * One OOM watch of a memory cgroup, driven by kernel notifications (the
 * addon's epoll thread), not by polling. Registered at construction, so a
 * failure (no such cgroup, notifications refused) throws there.
 */
export class OomWatch {
  readonly #token: number;
  readonly #kind: 'v1' | 'v2';
  #last: number;
  readonly #pending: native.OomReport[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(kind: 'v1' | 'v2', dir: string) {
    if (!routed) {
      native.oomWatchInit((report) => listeners.get(report.token)?.(report));
      routed = true;
    }
    const { token, oomKill } = native.oomWatchAdd(kind, dir);
    this.#token = token;
    this.#kind = kind;
    this.#last = oomKill ?? 0;
    listeners.set(token, (report) => {
      this.#pending.push(report);
      this.#wake?.();
    });
  }

  /**
   * An event per OOM until `signal` aborts or the cgroup is removed: on v1
   * each notification (the cgroup hit its limit; the kill follows), on v2
   * each rise of the `oom_kill` counter. Keeps the event loop alive while
   * iterating. The watch ends with the iterator.
   */
  async *events(signal?: AbortSignal): AsyncGenerator<{ time: Date; oomKill: number | null }> {
    const release = holdEventLoop();
    const onAbort = () => this.#wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (signal?.aborted !== true) {
        const report = this.#pending.shift();
        if (report === undefined) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
          });
          this.#wake = undefined;
          continue;
        }
        if (report.gone) return;
        const rose = report.oomKill !== null && report.oomKill > this.#last;
        if (report.oomKill !== null) this.#last = report.oomKill;
        if (this.#kind === 'v1' ? report.notifications > 0 : rose) {
          yield { time: new Date(), oomKill: report.oomKill };
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      release();
      this.close();
    }
  }

  /** Stops the watch. */
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    listeners.delete(this.#token);
    native.oomWatchCancel(this.#token);
  }
}
