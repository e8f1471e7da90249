/** What every lifecycle event carries. */
interface EventBase {
  id: string;
  time: Date;
}

/**
 * A container's lifecycle as `Container.events()` reports it. `exited` comes
 * from the container process's pidfd, `oom` from the kernel's OOM
 * notifications for its memory cgroup, the rest from the calls made through
 * this process's API.
 */
export type ContainerEvent =
  | (EventBase & { type: 'created'; pid: number })
  | (EventBase & { type: 'started'; pid: number })
  | (EventBase & { type: 'paused' })
  | (EventBase & { type: 'resumed' })
  | (EventBase & { type: 'oom' })
  | (EventBase & { type: 'exited'; exitCode: number | null; signal: string | null })
  | (EventBase & { type: 'deleted' });

export type ContainerEventType = ContainerEvent['type'];

// Distributes a union over its members, so each event keeps its own fields.
type WithoutBase<E> = E extends EventBase ? Omit<E, keyof EventBase> : never;

/** An event without its id and time: what a producer hands to {@link EventHub.emit}. */
export type EventPayload = WithoutBase<ContainerEvent>;

// Lifecycle events are few per container (a create, a start, an exit, a
// delete, pause/resume pairs); the cap only guards against a program that
// pauses and resumes forever.
const HISTORY_LIMIT = 64;

interface Subscriber {
  queue: ContainerEvent[];
  wake: (() => void) | undefined;
  done: boolean;
}

/**
 * The events of one container in this process: a short history, so that an
 * iterator opened after `runContainer` still sees `created` and `started`, and
 * every live iterator. Ends (every iterator finishes) after `deleted`.
 */
export class EventHub {
  private readonly history: ContainerEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private closed = false;

  constructor(
    private readonly id: string,
    /** Called when the first iterator opens and after the last one closes. */
    private readonly onActive: (active: boolean) => void = () => {},
  ) {}

  emit(payload: EventPayload): void {
    if (this.closed) return;
    const event = { ...payload, id: this.id, time: new Date() } as ContainerEvent;
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    for (const s of this.subscribers) {
      s.queue.push(event);
      s.wake?.();
    }
    if (event.type === 'deleted') this.close();
  }

  /** Ends every iterator after what it has queued. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscribers) {
      s.done = true;
      s.wake?.();
    }
  }

  async *subscribe(
    opts: { history?: boolean; signal?: AbortSignal } = {},
  ): AsyncGenerator<ContainerEvent, void, undefined> {
    const sub: Subscriber = {
      queue: opts.history === false ? [] : [...this.history],
      wake: undefined,
      done: this.closed,
    };
    const signal = opts.signal;
    if (signal?.aborted) return;
    if (this.closed) {
      // Deleted: what was seen is all there will be.
      yield* sub.queue;
      return;
    }
    const onAbort = () => {
      sub.done = true;
      sub.queue.length = 0;
      sub.wake?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.subscribers.add(sub);
    if (this.subscribers.size === 1) this.onActive(true);
    try {
      for (;;) {
        const next = sub.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (sub.done) return;
        await new Promise<void>((resolve) => {
          sub.wake = resolve;
        });
        sub.wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) this.onActive(false);
    }
  }
}
