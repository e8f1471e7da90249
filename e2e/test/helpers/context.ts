import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach } from 'vitest';
import { type Bundle, type BusyboxBundleOptions, makeBusyboxBundle } from './bundle.js';
import {
  describeResult,
  type RuntimeOptions,
  type RuntimeResult,
  runtime,
  type StdioItem,
} from './runtime.js';

export interface OciState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface Created {
  id: string;
  pid: number;
  /** The container's stdout/stderr, which outlive the runtime process. */
  stdoutPath: string;
  stderrPath: string;
  result: RuntimeResult;
  /** What the runtime (and the container, so far) wrote to stderr during create. */
  stderr: string;
}

export interface CreateOptions extends RuntimeOptions {
  id?: string;
  /** Extra flags after `create` (e.g. --pid-file, --console-socket). */
  flags?: string[];
  /** Keep going when create fails (the test asserts on `result`). */
  allowFailure?: boolean;
}

export class E2EContext {
  /** A fresh per-test directory; everything the test creates lives below it. */
  base = '';
  /** The runtime's --root. */
  root = '';
  private ids = new Set<string>();
  private dirs: string[] = [];
  private counter = 0;

  constructor(readonly prefix: string) {}

  setUp(): void {
    // Short: console sockets under it are limited to 107 bytes.
    this.base = mkdtempSync('/tmp/te2e-');
    // A remapped root (user namespace tests) must be able to reach the bundles.
    chmodSync(this.base, 0o755);
    this.root = path.join(this.base, 'root');
    mkdirSync(this.root, { mode: 0o700 });
    this.dirs.push(this.base);
  }

  async tearDown(): Promise<void> {
    for (const id of this.ids) {
      const st = await this.rt(['state', id]);
      const del = await this.rt(['delete', '--force', id]);
      if (del.exitCode !== 0 && st.exitCode === 0) {
        // The runtime could not clean up: at least do not leave our process behind.
        const pid = parseState(st.stdout).pid;
        if (pid && pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    }
    this.ids.clear();
    for (const d of this.dirs.reverse()) rmSync(d, { recursive: true, force: true });
    this.dirs = [];
  }

  /** A unique, valid container id; registered for `delete --force` after the test. */
  id(tag = 'c'): string {
    const id = `${this.prefix}-${tag}-${randomBytes(4).toString('hex')}`;
    this.ids.add(id);
    return id;
  }

  /** Registers an id that did not come from id() (e.g. an invalid one a runtime may accept). */
  track(id: string): void {
    if (id !== '') this.ids.add(id);
  }

  dir(name?: string): string {
    const d = path.join(this.base, name ?? `d${this.counter++}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  async bundle(opts: Omit<BusyboxBundleOptions, 'dir'> = {}): Promise<Bundle> {
    return makeBusyboxBundle({ ...opts, dir: this.dir(`b${this.counter++}`) });
  }

  /** The runtime with this test's --root. */
  rt(args: readonly string[], opts?: RuntimeOptions): Promise<RuntimeResult> {
    return runtime(['--root', this.root, ...args], opts);
  }

  /**
   * `create` with the container's stdio on files: a pipe would keep the
   * runtime's output open for as long as the container lives.
   */
  async create(bundle: Bundle, opts: CreateOptions = {}): Promise<Created> {
    const id = opts.id ?? this.id();
    this.track(id);
    const n = this.counter++;
    const stdoutPath = path.join(bundle.dir, `out${n}.txt`);
    const stderrPath = path.join(bundle.dir, `err${n}.txt`);
    const stdout: StdioItem = opts.stdout ?? { file: stdoutPath };
    const stderr: StdioItem = opts.stderr ?? { file: stderrPath };
    const result = await this.rt(['create', '--bundle', bundle.dir, ...(opts.flags ?? []), id], {
      ...opts,
      stdout,
      stderr,
    });
    if (result.exitCode !== 0 && !opts.allowFailure) {
      throw new Error(
        `create ${id} failed: ${describeResult(result)}\n${readIfExists(stderrPath)}`,
      );
    }
    let pid = 0;
    if (result.exitCode === 0) pid = (await this.state(id)).pid ?? 0;
    const stderrText =
      typeof stderr === 'object' ? readIfExists(stderrPath) : String(result.stderr ?? '');
    return { id, pid, stdoutPath, stderrPath, result, stderr: stderrText };
  }

  async start(id: string): Promise<void> {
    const r = await this.rt(['start', id]);
    if (r.exitCode !== 0) throw new Error(`start ${id} failed: ${describeResult(r)}`);
  }

  async state(id: string): Promise<OciState> {
    const r = await this.rt(['state', id]);
    if (r.exitCode !== 0) throw new Error(`state ${id} failed: ${describeResult(r)}`);
    return parseState(r.stdout);
  }

  /** Polls `state` until it reports `status`; fails with the last state seen. */
  async waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<OciState> {
    const deadline = Date.now() + timeoutMs;
    let last: OciState | undefined;
    while (Date.now() < deadline) {
      last = await this.state(id);
      if (last.status === status) return last;
      await sleep(50);
    }
    throw new Error(`${id} did not become ${status}; last state: ${JSON.stringify(last)}`);
  }

  /** Foreground `run` (the runtime waits and exits with the container's status). */
  run(bundle: Bundle, opts: CreateOptions = {}): Promise<RuntimeResult> {
    const id = opts.id ?? this.id('run');
    this.track(id);
    return this.rt(['run', '--bundle', bundle.dir, ...(opts.flags ?? []), id], opts);
  }

  /** create + start, hand the running container to fn, then delete --force. */
  async withContainer<T>(
    bundle: Bundle,
    fn: (c: Created) => Promise<T>,
    opts: CreateOptions = {},
  ): Promise<T> {
    const c = await this.create(bundle, opts);
    try {
      await this.start(c.id);
      return await fn(c);
    } finally {
      await this.rt(['delete', '--force', c.id]);
    }
  }
}

/**
 * Registers per-test setup and teardown in the calling file and returns the
 * context the tests use. Each test gets its own --root and temp dirs.
 */
export function useE2E(prefix: string): E2EContext {
  const ctx = new E2EContext(prefix);
  beforeEach(() => ctx.setUp());
  afterEach(async () => {
    await ctx.tearDown();
  });
  return ctx;
}

export function parseState(stdout: unknown): OciState {
  return JSON.parse(String(stdout)) as OciState;
}

export function readIfExists(p: string): string {
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

/** Waits until `pred` holds; used for files the container writes. */
export async function waitFor(
  pred: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pred()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
