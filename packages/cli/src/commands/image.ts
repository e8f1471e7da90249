/**
 * `tsoci image …`, `tsoci bundle` and `tsoci run --image`: argument handling
 * and output around @ts-oci/image (the store, the sources, bundles) and
 * @ts-oci/runtime (running the bundle). Loaded only by those commands.
 *
 * Image references (what every IMAGE argument accepts):
 *
 *   oci:DIR[:TAG]                       an OCI image layout directory
 *   oci-archive:FILE[:TAG]              a tar of one (plain, gzip or zstd)
 *   docker-archive:FILE[:NAME:TAG|:@N]  a `docker save` archive
 *   docker://[HOST/]NAME[:TAG|@DIGEST]  a registry
 *   NAME[:TAG] | DIGEST                 the local store first (by name, normalised
 *                                       name or digest prefix), then a registry
 *
 * Decisions:
 *
 * - The store is `--store DIR`, else `$TSOCI_STORE`, else
 *   `/var/lib/tsoci/images` (root) or `~/.local/share/tsoci/images`.
 *   Registry images are stored under their normalised reference
 *   (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:v1`).
 * - Registry transport: https with verification by default. `--insecure`
 *   keeps https and skips certificate verification; `--plain-http` speaks
 *   http. They are separate (no `--tls-verify=false` that silently falls back
 *   from https to http). `run --image` has no registry flags: it reads
 *   `$TSOCI_REGISTRY_PLAIN_HTTP` / `$TSOCI_REGISTRY_INSECURE` ("1" for all
 *   registries, or a comma list of HOST[:PORT]), which the other commands
 *   honour too when their flag is absent. Credentials: `--creds USER:PASS`,
 *   `--authfile FILE` (only that file), else Docker's and the containers'
 *   credential files, read on the first 401.
 * - Progress goes to stderr: redrawn lines on a terminal, one line per blob
 *   otherwise, nothing with `--quiet`. stdout carries the result only (the
 *   manifest digest for pull/import/push).
 * - `run --image` builds the bundle in `<root>/@bundles/<id>.<random>` (a name
 *   no container id can take, so `list`/`delete` never see it): an overlay
 *   of the store's layers for store images when root, else an unpacked copy.
 *   Its config.json gets a poststop hook `tsoci bundle --remove DIR`; the
 *   runtime runs poststop hooks when it deletes the container, so the bundle
 *   goes with the container in every case: `run` deleting it after exit,
 *   `delete` after `run --keep` or `run --detach`. When create fails (no
 *   hooks run), `run --image` removes the bundle itself.
 * - Interrupts (SIGINT/SIGTERM/SIGHUP) while a bundle is being made remove it.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  type Stats,
} from 'node:fs';
import * as fs from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { pipeline, type Readable, Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString, startupSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type Bundle,
  type CreateBundleOptions,
  type CredentialProvider,
  type Credentials,
  createBundle,
  dockerCredentialProvider,
  type ImageReference,
  type ImageSource,
  ImageStore,
  openImageSource,
  type PlatformSelector,
  parseReference,
  pushImage,
  RegistryClient,
  type RegistryClientOptions,
  type RegistryMatcher,
  RegistrySource,
  type ResolvedImage,
  removeBundle,
  storeCandidates,
  validateImageName,
} from '@ts-oci/image';
import { overlayMounter } from '@ts-oci/runtime';
import type { Descriptor } from '@ts-oci/spec';
import { TsociError } from '@ts-oci/spec/errors';
import type { GlobalOptions } from '../globals.js';
import { Logger } from '../log.js';

// ---------------------------------------------------------------------------
// Errors

/** A usage or lookup error of the image commands (printed as `tsoci: <message>`). */
export class ImageCommandError extends TsociError {
  constructor(message: string, code = 'EIMAGE_COMMAND', options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * @ts-oci/image frees streamed buffers early through the process's `gc`
 * (a young-generation collection every few MiB), which only the program may
 * expose: this one does, for its image commands. That took the peak RSS of
 * `tsoci bundle` from ~100 MB to ~75 MB (bench/image.mjs). It is made on
 * first use: making it (a second V8 context) costs ≈ 1 ms, which a command
 * that streams little, such as an overlay bundle of unpacked layers, skips.
 */
function exposeCollector(): void {
  // A start-up snapshot holds one context and no flag changes; the
  // deserialized process exposes the collector when it runs an image command.
  if ('gc' in globalThis || startupSnapshot.isBuildingSnapshot()) return;
  Object.defineProperty(globalThis, 'gc', {
    configurable: true,
    get() {
      let gc: unknown;
      try {
        setFlagsFromString('--expose-gc');
        gc = runInNewContext('gc');
      } catch {
        // no collector: buffers are freed at V8's own pace
      }
      Object.defineProperty(globalThis, 'gc', { configurable: true, writable: true, value: gc });
      return gc;
    },
  });
}

/**
 * Makes an error name the reference the user typed: messages from the image
 * package name paths, digests and layers, not always the reference itself.
 */
export function withReference(ref: string, error: unknown): unknown {
  if (!(error instanceof Error)) return new ImageCommandError(`${ref}: ${String(error)}`);
  const message = oneLine(error.message);
  const hint = registryHint(error);
  if (message.includes(ref) && hint === '' && message === error.message) return error;
  const code = (error as { code?: unknown }).code;
  return new ImageCommandError(
    `${message.includes(ref) ? '' : `${ref}: `}${message}${hint}`,
    typeof code === 'string' ? code : 'EIMAGE_COMMAND',
    { cause: error },
  );
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** What to try when a registry request failed in a way a flag fixes. */
export function registryHint(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  if (code === 'EREGISTRY_AUTH' && /no credentials/.test(message)) {
    return ' (give credentials with --creds USER:PASSWORD or --authfile FILE)';
  }
  if (/wrong version number|WRONG_VERSION_NUMBER|packet length too long/i.test(message)) {
    return ' (the registry seems to speak plain http: use --plain-http)';
  }
  if (
    /self[- ]signed|UNABLE_TO_VERIFY|unable to verify|CERT_HAS_EXPIRED|ERR_TLS_CERT/i.test(message)
  ) {
    return ' (to skip certificate verification use --insecure)';
  }
  return '';
}

async function naming<T>(ref: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw withReference(ref, error);
  }
}

// ---------------------------------------------------------------------------
// References

export const LOCAL_TRANSPORTS = ['oci', 'oci-archive', 'docker-archive'] as const;
export type LocalTransport = (typeof LOCAL_TRANSPORTS)[number];

export type ParsedImageRef =
  /** oci:, oci-archive:, docker-archive: */
  | { kind: 'local'; text: string; transport: LocalTransport; path: string; selector?: string }
  /** docker://… */
  | { kind: 'registry'; text: string; ref: ImageReference }
  /** A bare NAME[:TAG] or digest: the store first, then (where allowed) a registry. */
  | {
      kind: 'name';
      text: string;
      /** The registry reference it means when it is not in the store (undefined: not a valid one). */
      ref?: ImageReference;
      /** Why it is not a registry reference (when `ref` is undefined). */
      refProblem?: string;
    };

/** skopeo's transports that tsoci does not read. */
const FOREIGN_TRANSPORTS = [
  'containers-storage',
  'docker-daemon',
  'dir',
  'ostree',
  'sif',
  'tarball',
];

const SUPPORTED =
  'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker://[HOST/]NAME[:TAG|@DIGEST] or NAME[:TAG]';

/** Splits an IMAGE argument into its transport and parts (no I/O). */
export function parseImageRef(text: string): ParsedImageRef {
  if (text === '') throw new ImageCommandError(`empty image reference (use ${SUPPORTED})`);
  if (text.startsWith('docker:')) {
    if (!text.startsWith('docker://')) {
      throw new ImageCommandError(
        `invalid image reference ${JSON.stringify(text)}: the registry transport is written docker://[HOST/]NAME[:TAG|@DIGEST]`,
        'EIMAGE_REFERENCE',
      );
    }
    try {
      return { kind: 'registry', text, ref: parseReference(text.slice('docker://'.length)) };
    } catch (error) {
      throw new ImageCommandError(
        `invalid image reference ${JSON.stringify(text)}: ${reasonOf(error)}`,
        'EIMAGE_REFERENCE',
        { cause: error },
      );
    }
  }
  for (const transport of LOCAL_TRANSPORTS) {
    if (!text.startsWith(`${transport}:`)) continue;
    const rest = text.slice(transport.length + 1);
    // As skopeo: the path ends at the first ':'.
    const sep = rest.indexOf(':');
    const path = sep === -1 ? rest : rest.slice(0, sep);
    const selector = sep === -1 ? undefined : rest.slice(sep + 1);
    if (path === '') {
      throw new ImageCommandError(
        `invalid image reference ${JSON.stringify(text)}: no ${transport === 'oci' ? 'directory' : 'file'} after "${transport}:"`,
        'EIMAGE_REFERENCE',
      );
    }
    if (selector === '') {
      throw new ImageCommandError(
        `invalid image reference ${JSON.stringify(text)}: empty ${transport === 'docker-archive' ? 'NAME:TAG' : 'TAG'} after the path`,
        'EIMAGE_REFERENCE',
      );
    }
    if (transport === 'docker-archive' && selector?.startsWith('@')) {
      if (!/^@[0-9]+$/.test(selector)) {
        throw new ImageCommandError(
          `invalid image reference ${JSON.stringify(text)}: expected @N (an index into manifest.json) after the path`,
          'EIMAGE_REFERENCE',
        );
      }
    }
    return selector === undefined
      ? { kind: 'local', text, transport, path }
      : { kind: 'local', text, transport, path, selector };
  }
  const foreign = FOREIGN_TRANSPORTS.find((t) => text.startsWith(`${t}:`));
  if (foreign !== undefined) {
    // skopeo's names win over an image called e.g. "dir" (write docker.io/library/dir:TAG).
    throw new ImageCommandError(
      `invalid image reference ${JSON.stringify(text)}: unsupported transport "${foreign}:" (use ${SUPPORTED})`,
      'EIMAGE_REFERENCE',
    );
  }
  if (/^sha(256|512):/.test(text)) {
    // A manifest digest (or a prefix of one) names an image in the store only.
    return { kind: 'name', text, refProblem: 'a digest names an image in the store' };
  }
  try {
    return { kind: 'name', text, ref: parseReference(text) };
  } catch (error) {
    // `dir:/x`, `containers-storage:…`: a transport of skopeo's that tsoci does not read
    // (`host:5000/x` and `name:tag` are references, and parse above).
    const prefix = /^([a-z][a-z0-9-]*):[^0-9]/.exec(text)?.[1];
    if (prefix !== undefined) {
      throw new ImageCommandError(
        `invalid image reference ${JSON.stringify(text)}: unsupported transport "${prefix}:" (use ${SUPPORTED})`,
        'EIMAGE_REFERENCE',
      );
    }
    return { kind: 'name', text, refProblem: reasonOf(error) };
  }
}

function reasonOf(error: unknown): string {
  const reason = (error as { reason?: unknown }).reason;
  if (typeof reason === 'string') return reason;
  return error instanceof Error ? error.message : String(error);
}

/** Whether a bare reference names a tag explicitly (`busybox:1.36`, not `localhost:5000/busybox`). */
function hasExplicitTag(text: string): boolean {
  return /:[^/]+$/.test(text.replace(/@.*$/, ''));
}

/** The store names a bare reference may be stored under (shared with @ts-oci/image's lookup). */
export { storeCandidates };

/** The store name an import gets when none is given. */
export function defaultImageName(parsed: ParsedImageRef): string {
  if (parsed.kind === 'registry') return parsed.ref.toString();
  if (parsed.kind === 'name') {
    if (parsed.ref !== undefined) return parsed.ref.toString();
    return parsed.text;
  }
  const selector = parsed.selector;
  if (
    parsed.transport === 'docker-archive' &&
    selector !== undefined &&
    !selector.startsWith('@')
  ) {
    return hasExplicitTag(selector) ? selector : `${selector}:latest`;
  }
  // A layout tag that is a whole name (skopeo's `oci:dir:busybox:latest`) is used as is.
  if (parsed.transport !== 'docker-archive' && selector !== undefined && /[:/]/.test(selector)) {
    if (isValidName(selector)) return selector;
  }
  let base = basename(resolvePath(parsed.path));
  if (parsed.transport !== 'oci')
    base = base.replace(/\.(tar(\.(gz|zst|zstd|xz))?|tgz|tzst)$/i, '');
  base = base
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .replace(/[-._]{2,}/g, '-');
  if (base === '') base = 'image';
  const tag =
    parsed.transport !== 'docker-archive' &&
    selector !== undefined &&
    /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(selector)
      ? selector
      : 'latest';
  return `${base}:${tag}`;
}

function isValidName(name: string): boolean {
  try {
    validateImageName(name);
    return true;
  } catch {
    return false;
  }
}

/** `linux/amd64`, `linux/arm64/v8` → a platform selector. */
export function parsePlatform(text: string): PlatformSelector {
  const parts = text.split('/');
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    parts.some((p) => !/^[a-z0-9][a-z0-9._-]*$/i.test(p))
  ) {
    throw new ImageCommandError(
      `invalid --platform ${JSON.stringify(text)}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8`,
    );
  }
  const [os = '', architecture = '', variant] = parts.map((p) => p.toLowerCase());
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `--creds USER:PASSWORD`. */
export function parseCreds(text: string): Credentials {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new ImageCommandError(
      'invalid --creds: expected USER:PASSWORD (the user name must not be empty)',
    );
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `TSOCI_REGISTRY_PLAIN_HTTP` / `TSOCI_REGISTRY_INSECURE`: "1"/"true"/"*" for all, else a comma list of HOST[:PORT]. */
export function parseRegistryList(value: string | undefined): RegistryMatcher | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 'true' || v === '*') return true;
  if (v === '0' || v === 'false') return false;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The store directory: --store, else $TSOCI_STORE, else /var/lib/tsoci/images (root) or ~/.local/share/tsoci/images. */
export function storeDir(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  uid: number = process.getuid?.() ?? 0,
): string {
  if (flag !== undefined && flag !== '') return resolvePath(flag);
  if (env.TSOCI_STORE) return resolvePath(env.TSOCI_STORE);
  if (uid === 0) return DEFAULT_STORE;
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(data, 'tsoci', 'images');
}

export const DEFAULT_STORE = '/var/lib/tsoci/images';

// ---------------------------------------------------------------------------
// Formatting

/** Decimal sizes with three significant digits, as Docker prints them: 512B, 4.26MB, 123MB. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return 'N/A';
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v}B` : `${Number(v.toPrecision(3))}${units[i]}`;
}

/** "5 minutes ago", as `docker images` says it. */
export function formatAge(created: string | undefined, now = Date.now()): string {
  const t = created === undefined ? Number.NaN : Date.parse(created);
  if (Number.isNaN(t)) return 'N/A';
  const s = Math.max(0, (now - t) / 1000);
  const n = (v: number, unit: string) => `${v} ${unit}${v === 1 ? '' : 's'} ago`;
  if (s < 1) return 'Less than a second ago';
  if (s < 60) return n(Math.floor(s), 'second');
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return n(m, 'minute');
  const h = Math.floor(s / 3600);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return n(h, 'hour');
  const d = Math.floor(s / 86400);
  if (d < 14) return n(d, 'day');
  if (d < 60) return n(Math.floor(d / 7), 'week');
  if (d < 730) return n(Math.floor(d / 30), 'month');
  return n(Math.floor(d / 365), 'year');
}

/** `sha256:0123456789ab…` → `0123456789ab`. */
export function shortDigest(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);
}

/** Left-aligned columns separated by at least three spaces (the last column is not padded). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows
    .map(
      (r) =>
        `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')}\n`,
    )
    .join('');
}

// ---------------------------------------------------------------------------
// Progress (stderr)

export type ProgressMode = 'tty' | 'plain' | 'none';

interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function progressMode(quiet: boolean | undefined, stream: ProgressStream): ProgressMode {
  if (quiet) return 'none';
  return stream.isTTY ? 'tty' : 'plain';
}

interface ProgressLine {
  label: string;
  total: number;
  done: number;
  state: 'waiting' | 'copying' | 'finished';
  status: string;
}

/**
 * Transfer progress on stderr. On a terminal, one line per blob redrawn in
 * place (at most ten times a second); otherwise one plain line per blob when
 * it is finished; `none` prints nothing.
 */
export class Progress {
  readonly #lines = new Map<string, ProgressLine>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly mode: ProgressMode,
    readonly out: ProgressStream = process.stderr,
  ) {}

  /** Announces a blob (shown as waiting on a terminal). */
  add(key: string, label: string, total: number): void {
    if (this.mode === 'none' || this.#lines.has(key)) return;
    this.#lines.set(key, { label, total, done: 0, state: 'waiting', status: '' });
    this.#schedule();
  }

  /** A transfer of the blob begins (again, after a retry). */
  start(key: string, label: string, total: number): void {
    if (this.mode === 'none') return;
    this.add(key, label, total);
    const line = this.#lines.get(key) as ProgressLine;
    if (line.state === 'finished') return;
    line.state = 'copying';
    line.done = 0;
  }

  advance(key: string, bytes: number): void {
    const line = this.#lines.get(key);
    if (line !== undefined) line.done += bytes;
  }

  /** The blob's transfer has reached `bytes`. */
  reach(key: string, bytes: number): void {
    const line = this.#lines.get(key);
    if (line !== undefined && line.state !== 'finished') line.done = bytes;
  }

  /** The blob is done: `status` is e.g. "done", "already present", "skipped". */
  finish(key: string, label: string, total: number, status: string): void {
    if (this.mode === 'none') return;
    this.add(key, label, total);
    const line = this.#lines.get(key) as ProgressLine;
    if (line.state === 'finished') return;
    line.state = 'finished';
    line.done = line.total;
    line.status = status;
    if (this.mode === 'plain') {
      this.out.write(
        `${line.label} ${status}${status === 'done' ? ` (${formatSize(line.total)})` : ''}\n`,
      );
    } else this.#render();
  }

  /** A line of its own (below the blob lines on a terminal). */
  note(text: string): void {
    if (this.mode === 'none') return;
    if (this.mode === 'plain') {
      this.out.write(`${text}\n`);
      return;
    }
    this.close();
    this.out.write(`${text}\n`);
  }

  /** Final redraw; later notes start below it. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.mode === 'tty' && this.#lines.size > 0) this.#render();
    this.#lines.clear();
    this.#drawn = 0;
  }

  #schedule(): void {
    if (this.mode !== 'tty' || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#render(), 100);
    this.#timer.unref();
  }

  /** The text of one line on a terminal of `columns` columns. */
  static renderLine(line: ProgressLine, columns: number): string {
    let status: string;
    if (line.state === 'finished') {
      status = line.status === 'done' ? `done ${formatSize(line.total)}` : line.status;
    } else if (line.state === 'waiting') status = 'waiting';
    else {
      const frac = line.total > 0 ? Math.min(1, line.done / line.total) : 0;
      const width = 20;
      const filled = Math.floor(frac * width);
      const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
      status = `${bar} ${formatSize(line.done)} / ${formatSize(line.total)}`;
    }
    const text = `${line.label} ${status}`;
    return text.length >= columns ? text.slice(0, Math.max(1, columns - 1)) : text;
  }

  #render(): void {
    const columns = this.out.columns && this.out.columns > 10 ? this.out.columns : 80;
    let text = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    for (const line of this.#lines.values())
      text += `\x1b[2K${Progress.renderLine(line, columns)}\n`;
    this.#drawn = this.#lines.size;
    this.out.write(text);
  }
}

function blobLabel(image: ResolvedImage, d: Pick<Descriptor, 'digest'>): string {
  if (d.digest === image.manifest.config.digest) return `Copying config ${shortDigest(d.digest)}`;
  return `Copying blob ${shortDigest(d.digest)}`;
}

/** Wraps a blob stream so that its bytes are counted into `progress`. */
function counted(stream: Readable, progress: Progress, key: string, onEnd?: () => void): Readable {
  if (progress.mode === 'none') return stream;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      progress.advance(key, chunk.length);
      callback(null, chunk);
    },
  });
  return pipeline(stream, counter, (error) => {
    if (!error) onEnd?.();
  });
}

/** A source that answers `resolve` with an already resolved image and counts blob bytes. */
function trackedSource(
  source: ImageSource,
  image: ResolvedImage,
  progress: Progress,
  finishOnEnd = false,
): ImageSource {
  return {
    reference: source.reference,
    resolve: async () => image,
    openBlob: async (d) => {
      const stream = await source.openBlob(d);
      const label = blobLabel(image, d);
      progress.start(d.digest, label, d.size);
      return counted(stream, progress, d.digest, () => {
        if (finishOnEnd) progress.finish(d.digest, label, d.size, 'done');
      });
    },
    close: () => source.close(),
  };
}

// ---------------------------------------------------------------------------
// Option handling shared by the commands

export interface StoreFlags {
  store?: string;
}

export interface RegistryFlags {
  platform?: string;
  creds?: string;
  authfile?: string;
  plainHttp?: boolean;
  insecure?: boolean;
  quiet?: boolean;
}

interface Context {
  store: ImageStore;
  platform: PlatformSelector | undefined;
  progress: Progress;
  flags: RegistryFlags;
  client?: RegistryClient;
}

async function credentialsFor(flags: RegistryFlags): Promise<Credentials | CredentialProvider> {
  if (flags.creds !== undefined && flags.authfile !== undefined) {
    throw new ImageCommandError('--creds and --authfile cannot be used together');
  }
  if (flags.creds !== undefined) return parseCreds(flags.creds);
  if (flags.authfile !== undefined) {
    const file = resolvePath(flags.authfile);
    try {
      await fs.access(file, fs.constants.R_OK);
    } catch (error) {
      throw new ImageCommandError(
        `--authfile ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'}`,
        'EIMAGE_COMMAND',
        { cause: error },
      );
    }
    return dockerCredentialProvider({ files: [file] });
  }
  // Docker's and the containers' credential files, read on the first 401 only.
  return dockerCredentialProvider();
}

export async function registryClientOptions(
  flags: RegistryFlags,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<RegistryClientOptions> {
  const options: RegistryClientOptions = { credentials: await credentialsFor(flags) };
  const plainHttp = flags.plainHttp ? true : parseRegistryList(env.TSOCI_REGISTRY_PLAIN_HTTP);
  const insecure = flags.insecure ? true : parseRegistryList(env.TSOCI_REGISTRY_INSECURE);
  if (plainHttp !== undefined) options.plainHttp = plainHttp;
  if (insecure !== undefined) options.insecure = insecure;
  return options;
}

async function contextFor(store: StoreFlags, flags: RegistryFlags): Promise<Context> {
  const platform = flags.platform === undefined ? undefined : parsePlatform(flags.platform);
  if (flags.creds !== undefined) parseCreds(flags.creds);
  return {
    store: new ImageStore(storeDir(store.store)),
    platform,
    progress: new Progress(progressMode(flags.quiet, process.stderr)),
    flags,
  };
}

async function clientOf(ctx: Context): Promise<RegistryClient> {
  ctx.client ??= new RegistryClient(await registryClientOptions(ctx.flags));
  return ctx.client;
}

/** The store key (name or manifest digest) of a bare reference, or undefined when the store lacks it. */
export async function findInStore(
  store: ImageStore,
  parsed: Extract<ParsedImageRef, { kind: 'name' }>,
): Promise<string | undefined> {
  const images = await store.list();
  const names = new Set(images.map((i) => i.name));
  for (const c of storeCandidates(parsed.text, parsed.ref)) if (names.has(c)) return c;
  const m = /^(?:sha256:)?([0-9a-f]{12,64})$/.exec(parsed.text);
  if (m !== null) {
    const hex = m[1] as string;
    const digests = new Set(
      images.map((i) => i.descriptor.digest).filter((d) => d.startsWith(`sha256:${hex}`)),
    );
    if (digests.size === 1) return [...digests][0];
    if (digests.size > 1) {
      throw new ImageCommandError(
        `${parsed.text} matches ${digests.size} images in store ${store.dir}: give more digits`,
        'EIMAGE_AMBIGUOUS',
      );
    }
  }
  return undefined;
}

function notInStore(parsed: Extract<ParsedImageRef, { kind: 'name' }>, store: ImageStore): Error {
  return new ImageCommandError(
    `image ${JSON.stringify(parsed.text)} not found in store ${store.dir}`,
    'EIMAGE_NOT_FOUND',
  );
}

interface Opened {
  source: ImageSource;
  /** The store key when the image is read from the store. */
  storeKey?: string;
  /** What to call it in messages. */
  label: string;
}

/**
 * Opens an IMAGE argument for reading. A bare name is looked up in the store;
 * when it is not there, `fallback` decides: 'registry' reads the registry
 * directly, 'pull' first pulls it into the store, 'none' fails.
 */
async function openImage(
  ctx: Context,
  text: string,
  fallback: 'registry' | 'pull' | 'none',
): Promise<Opened> {
  const parsed = parseImageRef(text);
  if (parsed.kind === 'local') {
    return { source: await naming(text, () => openImageSource(text)), label: text };
  }
  if (parsed.kind === 'registry') {
    return { source: new RegistrySource(await clientOf(ctx), parsed.ref), label: text };
  }
  const key = await findInStore(ctx.store, parsed);
  if (key !== undefined) return { source: ctx.store.source(key), storeKey: key, label: text };
  if (fallback === 'none') throw notInStore(parsed, ctx.store);
  if (parsed.ref === undefined) {
    throw new ImageCommandError(
      `image ${JSON.stringify(text)} not found in store ${ctx.store.dir} (and it is not a registry reference: ${parsed.refProblem ?? 'invalid'})`,
      'EIMAGE_NOT_FOUND',
    );
  }
  const registryRef = parsed.ref;
  const inRegistry = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      const message = oneLine(error instanceof Error ? error.message : String(error));
      throw new ImageCommandError(
        `image ${JSON.stringify(text)} is not in store ${ctx.store.dir}, and docker://${registryRef}: ${message}${registryHint(error)}`,
        (error as { code?: string }).code ?? 'EIMAGE_NOT_FOUND',
        { cause: error },
      );
    }
  };
  if (fallback === 'registry') {
    const source = new RegistrySource(await clientOf(ctx), registryRef);
    // Resolve now so that a missing image is reported with the whole story.
    const image = await inRegistry(() => source.resolve(ctx.platform));
    return {
      source: { ...forward(source), resolve: async () => image },
      label: `docker://${registryRef}`,
    };
  }
  const name = registryRef.toString();
  const client = await clientOf(ctx);
  await inRegistry(() => importInto(ctx, new RegistrySource(client, registryRef), name));
  return { source: ctx.store.source(name), storeKey: name, label: text };
}

function forward(source: ImageSource): ImageSource {
  return {
    reference: source.reference,
    resolve: (p) => source.resolve(p),
    openBlob: (d) => source.openBlob(d),
    close: () => source.close(),
  };
}

/**
 * Copies `source` into the store under `name`, with progress; returns the
 * manifest digest. The display follows the store's own progress events: the
 * source goes to the store as it is, so a registry's blobs take the store's
 * direct-to-file path (a wrapped stream would be copied and hashed again).
 */
async function importInto(
  ctx: Context,
  source: ImageSource,
  name: string,
  announce = true,
): Promise<string> {
  const progress = ctx.progress;
  let manifest = '';
  const layers = new Set<string>();
  const label = (digest: string) =>
    `Copying ${layers.has(digest) ? 'blob' : 'config'} ${shortDigest(digest)}`;
  try {
    const result = await ctx.store.import(source, name, {
      ...(ctx.platform ? { platform: ctx.platform } : {}),
      onProgress: (event) => {
        switch (event.type) {
          case 'resolved':
            manifest = event.digest;
            for (const l of event.layers) layers.add(l.digest);
            for (const l of event.layers) progress.add(l.digest, label(l.digest), l.size);
            break;
          case 'layer-download-start':
            progress.start(event.digest, label(event.digest), event.total);
            break;
          case 'layer-download-progress':
            progress.reach(event.digest, event.bytes);
            break;
          default:
        }
      },
      onBlob: (d, status) => {
        if (d.digest === manifest) return;
        progress.finish(
          d.digest,
          label(d.digest),
          d.size,
          status === 'stored' ? 'done' : 'already present',
        );
      },
    });
    if (announce)
      progress.note(`Stored ${result.name} (${result.descriptor.digest}) in ${ctx.store.dir}`);
    return result.descriptor.digest;
  } finally {
    progress.close();
  }
}

// ---------------------------------------------------------------------------
// tsoci image pull | import

export async function imagePullCommand(
  g: GlobalOptions,
  refText: string,
  nameArg: string | undefined,
  f: StoreFlags & RegistryFlags,
  mode: 'pull' | 'import',
): Promise<number> {
  exposeCollector();
  void g;
  const ctx = await contextFor(f, f);
  let parsed = parseImageRef(refText);
  if (parsed.kind === 'name') {
    if (mode === 'import') {
      throw new ImageCommandError(
        `image import needs a transport: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://REF (got ${JSON.stringify(refText)}; to fetch NAME from a registry use tsoci image pull)`,
        'EIMAGE_REFERENCE',
      );
    }
    if (parsed.ref === undefined) {
      throw new ImageCommandError(
        `invalid image reference ${JSON.stringify(refText)}: ${parsed.refProblem ?? 'invalid'}`,
        'EIMAGE_REFERENCE',
      );
    }
    parsed = { kind: 'registry', text: `docker://${parsed.ref}`, ref: parsed.ref };
  }
  const name = nameArg ?? defaultImageName(parsed);
  try {
    validateImageName(name);
  } catch (error) {
    throw withReference(refText, error);
  }
  const source =
    parsed.kind === 'registry'
      ? new RegistrySource(await clientOf(ctx), parsed.ref)
      : await naming(refText, () => openImageSource(refText));
  try {
    const digest = await naming(refText, () => importInto(ctx, source, name));
    process.stdout.write(`${digest}\n`);
  } finally {
    await source.close();
  }
  return 0;
}

// ---------------------------------------------------------------------------
// tsoci image push

export async function imagePushCommand(
  g: GlobalOptions,
  imageText: string,
  destText: string | undefined,
  f: StoreFlags & RegistryFlags,
): Promise<number> {
  void g;
  const ctx = await contextFor(f, f);
  let dest: ImageReference;
  if (destText === undefined) {
    const parsed = parseImageRef(imageText);
    if (parsed.kind !== 'name' || parsed.ref === undefined) {
      throw new ImageCommandError(
        `image push ${imageText}: give a destination (docker://[HOST/]NAME[:TAG]): ${parsed.kind === 'name' ? `${JSON.stringify(imageText)} is not a registry reference` : 'the source is not a store image'}`,
      );
    }
    dest = parsed.ref;
  } else {
    const parsed = parseImageRef(destText);
    if (parsed.kind === 'registry') dest = parsed.ref;
    else if (parsed.kind === 'name' && parsed.ref !== undefined) dest = parsed.ref;
    else if (parsed.kind === 'local') {
      throw new ImageCommandError(
        `image push: the destination ${JSON.stringify(destText)} is not a registry (push writes to docker://[HOST/]NAME[:TAG]; skopeo copy writes layouts and archives)`,
        'EIMAGE_REFERENCE',
      );
    } else {
      throw new ImageCommandError(
        `invalid destination ${JSON.stringify(destText)}: ${parsed.kind === 'name' ? parsed.refProblem : ''}`,
        'EIMAGE_REFERENCE',
      );
    }
  }
  const destLabel = `docker://${dest}`;
  const opened = await openImage(ctx, imageText, 'none');
  const progress = ctx.progress;
  try {
    const image = await naming(imageText, () => opened.source.resolve(ctx.platform));
    const client = await clientOf(ctx);
    for (const d of [...image.layers, image.manifest.config])
      progress.add(d.digest, blobLabel(image, d), d.size);
    const result = await naming(destLabel, () =>
      pushImage(
        client,
        dest,
        {
          manifest: { bytes: image.manifestBytes, mediaType: image.manifestDescriptor.mediaType },
          openBlob: async (d) => {
            if (d.digest === image.manifest.config.digest) return image.configBytes;
            progress.start(d.digest, blobLabel(image, d), d.size);
            return counted(await opened.source.openBlob(d), progress, d.digest);
          },
        },
        {
          onBlob: (d, r) =>
            progress.finish(
              d.digest,
              blobLabel(image, d),
              d.size,
              r === 'uploaded' ? 'done' : r === 'exists' ? 'already present' : r,
            ),
        },
      ),
    );
    progress.note(`Pushed ${destLabel} (${result.digest})`);
    process.stdout.write(`${result.digest}\n`);
  } finally {
    progress.close();
    await opened.source.close();
  }
  return 0;
}

// ---------------------------------------------------------------------------
// tsoci image ls | inspect | rm | gc

export interface ListedImage {
  name: string;
  digest: string;
  mediaType: string;
  /** Bytes of the manifest's config and layers as stored (compressed). */
  size: number | null;
  created: string | null;
  platform: string | null;
}

export async function listImages(store: ImageStore): Promise<ListedImage[]> {
  const out: ListedImage[] = [];
  for (const entry of await store.list()) {
    const item: ListedImage = {
      name: entry.name,
      digest: entry.descriptor.digest,
      mediaType: entry.descriptor.mediaType,
      size: null,
      created: null,
      platform: null,
    };
    try {
      const image = await store.resolve(entry.name);
      item.size = image.manifest.config.size + image.layers.reduce((n, l) => n + l.size, 0);
      item.created = image.config.created ?? null;
      item.platform = `${image.config.os}/${image.config.architecture}${image.config.variant ? `/${image.config.variant}` : ''}`;
    } catch {
      // an index without this host's platform, or a damaged entry: listed with what is known
    }
    out.push(item);
  }
  return out;
}

export async function imageListCommand(
  g: GlobalOptions,
  f: StoreFlags & { format?: string; quiet?: boolean },
): Promise<number> {
  void g;
  const format = f.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new ImageCommandError(
      `invalid --format ${JSON.stringify(format)}: expected table or json`,
    );
  }
  const images = await listImages(new ImageStore(storeDir(f.store)));
  if (f.quiet) {
    for (const i of images) process.stdout.write(`${i.name}\n`);
  } else if (format === 'json') {
    process.stdout.write(`${JSON.stringify(images, null, 2)}\n`);
  } else {
    const now = Date.now();
    const rows = [['NAME', 'DIGEST', 'SIZE', 'CREATED']];
    for (const i of images) {
      rows.push([
        i.name,
        shortDigest(i.digest),
        i.size === null ? 'N/A' : formatSize(i.size),
        formatAge(i.created ?? undefined, now),
      ]);
    }
    process.stdout.write(formatTable(rows));
  }
  return 0;
}

export async function imageInspectCommand(
  g: GlobalOptions,
  imageText: string,
  f: StoreFlags & RegistryFlags,
): Promise<number> {
  void g;
  const ctx = await contextFor(f, f);
  const opened = await openImage(ctx, imageText, 'registry');
  try {
    const image = await naming(imageText, () => opened.source.resolve(ctx.platform));
    const doc: Record<string, unknown> = { reference: imageText };
    if (opened.storeKey !== undefined) {
      doc.store = ctx.store.dir;
      if (!opened.storeKey.startsWith('sha256:')) doc.name = opened.storeKey;
    }
    doc.digest = image.manifestDescriptor.digest;
    doc.mediaType = image.manifestDescriptor.mediaType;
    doc.size = image.manifestDescriptor.size;
    if (image.manifestDescriptor.platform !== undefined)
      doc.platform = image.manifestDescriptor.platform;
    doc.manifest = JSON.parse(Buffer.from(image.manifestBytes).toString('utf8'));
    doc.config = JSON.parse(Buffer.from(image.configBytes).toString('utf8'));
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    await opened.source.close();
  }
  return 0;
}

export async function imageRemoveCommand(
  g: GlobalOptions,
  names: string[],
  f: StoreFlags & { force?: boolean },
): Promise<number> {
  void g;
  const store = new ImageStore(storeDir(f.store));
  const missing: string[] = [];
  for (const text of names) {
    const parsed = parseImageRef(text);
    if (parsed.kind !== 'name') {
      throw new ImageCommandError(
        `image rm removes store images by name or digest, not ${JSON.stringify(text)}`,
        'EIMAGE_REFERENCE',
      );
    }
    const key = await findInStore(store, parsed);
    if (key === undefined) {
      missing.push(text);
      continue;
    }
    const targets = key.startsWith('sha256:')
      ? (await store.list()).filter((i) => i.descriptor.digest === key).map((i) => i.name)
      : [key];
    for (const name of targets) {
      if (await store.remove(name)) process.stdout.write(`${name}\n`);
    }
  }
  if (missing.length > 0 && !f.force) {
    throw new ImageCommandError(
      `${missing.length === 1 ? 'image' : 'images'} ${missing.map((m) => JSON.stringify(m)).join(', ')} not found in store ${store.dir}`,
      'EIMAGE_NOT_FOUND',
    );
  }
  return 0;
}

/** `30s`, `10m`, `1h`, `2d` or plain seconds → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) {
    throw new ImageCommandError(
      `invalid duration ${JSON.stringify(text)}: expected a number with ms, s, m, h or d`,
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's'] ?? 1000;
  return Number(m[1]) * unit;
}

export async function imageGcCommand(
  g: GlobalOptions,
  f: StoreFlags & { grace?: string },
): Promise<number> {
  void g;
  const store = new ImageStore(storeDir(f.store));
  const graceMs = f.grace === undefined ? undefined : parseDuration(f.grace);
  const r = await store.gc(graceMs === undefined ? {} : { graceMs });
  process.stdout.write(
    `removed ${r.removedBlobs.length} blobs (${formatSize(r.freedBytes)}) and ${r.removedLayers.length} unpacked layers\n`,
  );
  return 0;
}

// ---------------------------------------------------------------------------
// tsoci bundle

export interface BundleFlags extends StoreFlags, RegistryFlags {
  overlay?: boolean;
  remove?: boolean;
}

// The bundle directory's checks are synchronous: each is one short call,
// cheaper than a thread-pool round trip (ARCHITECTURE.md, Images).

/** Creates the missing parents of `dir`; returns the top-most one created (to remove on failure). */
function makeParents(dir: string): string | undefined {
  return mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
}

/** Refuses a bundle directory that is in the way; returns whether it exists (empty). */
function checkBundleDir(dir: string): boolean {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (!st.isDirectory()) {
    throw new ImageCommandError(
      `bundle directory ${dir} exists and is not a directory`,
      'EIMAGE_EXISTS',
    );
  }
  if (readdirSync(dir).length > 0)
    throw new ImageCommandError(`bundle directory ${dir} is not empty`, 'EIMAGE_EXISTS');
  return true;
}

/**
 * Builds a bundle from any IMAGE. Store images (and bare names, pulled into
 * the store when missing) are unpacked from the store; other references
 * are read straight from their source. Overlay mode needs the layers in the
 * store: an image from elsewhere is imported under a temporary name that is
 * dropped again once the bundle holds its lease (the blobs go at the next gc).
 */
async function buildBundle(
  ctx: Context,
  imageText: string,
  dir: string,
  overlay: boolean | 'store-only',
  config: CreateBundleOptions['config'],
): Promise<Bundle> {
  const opened = await openImage(ctx, imageText, 'pull');
  let tempName: string | undefined;
  try {
    const base = {
      dir,
      ...(ctx.platform ? { platform: ctx.platform } : {}),
      ...(config ? { config } : {}),
      mounter: overlayMounter(),
    };
    if (opened.storeKey !== undefined) {
      return await naming(imageText, () =>
        createBundle({
          ...base,
          store: ctx.store,
          image: opened.storeKey as string,
          overlay: overlay !== false,
        }),
      );
    }
    if (overlay === true) {
      tempName = `tsoci-tmp/bundle-${randomBytes(6).toString('hex')}`;
      const name = tempName;
      await naming(imageText, () => importInto(ctx, opened.source, name, false));
      return await naming(imageText, () =>
        createBundle({ ...base, store: ctx.store, image: name, overlay: true }),
      );
    }
    if (!(opened.source instanceof RegistrySource)) {
      // Local sources are passed as they are: unpacking reads their file ranges directly.
      return await naming(imageText, () => createBundle({ ...base, image: opened.source }));
    }
    const image = await naming(imageText, () => opened.source.resolve(ctx.platform));
    try {
      const source = trackedSource(opened.source, image, ctx.progress, true);
      return await naming(imageText, () => createBundle({ ...base, image: source }));
    } finally {
      ctx.progress.close();
    }
  } finally {
    if (tempName !== undefined) await ctx.store.remove(tempName).catch(() => {});
    await opened.source.close();
  }
}

export async function bundleCommand(
  g: GlobalOptions,
  args: string[],
  f: BundleFlags,
): Promise<number> {
  void g;
  exposeCollector();
  if (f.remove) {
    if (args.length !== 1)
      throw new ImageCommandError(
        'bundle --remove takes exactly one argument: the bundle directory',
      );
    const dir = resolvePath(args[0] as string);
    await naming(dir, () => removeBundle(dir, { mounter: overlayMounter() }));
    return 0;
  }
  if (args.length !== 2) {
    throw new ImageCommandError(
      `bundle needs IMAGE and DIR (got ${args.length} argument${args.length === 1 ? '' : 's'}): tsoci bundle [--overlay] IMAGE DIR`,
    );
  }
  const [imageText, dirArg] = args as [string, string];
  const ctx = await contextFor(f, f);
  parseImageRef(imageText);
  if (f.overlay && process.getuid?.() !== 0) {
    throw new ImageCommandError(
      'bundle --overlay needs root (overlay mounts and overlay whiteouts)',
      'EIMAGE_OVERLAY',
    );
  }
  const dir = resolvePath(dirArg);
  const existed = checkBundleDir(dir);
  const createdParent = makeParents(dir);
  const release = guardInterrupts(() => undoBundleSync(dir, existed, createdParent));
  try {
    await buildBundle(ctx, imageText, dir, f.overlay === true, {
      rootless: process.getuid?.() !== 0,
    });
  } catch (error) {
    if (createdParent !== undefined)
      await fs.rm(createdParent, { recursive: true, force: true }).catch(() => {});
    throw error;
  } finally {
    release();
  }
  return 0;
}

const INTERRUPTS: ReadonlyArray<readonly [NodeJS.Signals, number]> = [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
];

/**
 * Until the returned function is called, SIGINT/SIGTERM/SIGHUP run `undo`
 * (synchronously, between two steps of the work) and exit with 128+n, so an
 * interrupted bundle leaves no half directory and no mount behind.
 */
export function guardInterrupts(undo: () => void): () => void {
  const handlers = INTERRUPTS.map(([signal, n]) => {
    const handler = () => {
      try {
        undo();
      } finally {
        process.exit(128 + n);
      }
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

function isMountPoint(path: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some(
        (line) =>
          (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) =>
            String.fromCharCode(Number.parseInt(o, 8)),
          ) === path,
      );
  } catch {
    return false;
  }
}

/** Removes what an interrupted bundle left: its overlay mount and its directory (or content). */
function undoBundleSync(dir: string, existed: boolean, createdParent?: string): void {
  const rootfs = join(dir, 'rootfs');
  if (isMountPoint(rootfs)) spawnSync('umount', ['-l', rootfs], { stdio: 'ignore' });
  if (createdParent !== undefined) rmSync(createdParent, { recursive: true, force: true });
  else if (!existed) rmSync(dir, { recursive: true, force: true });
  else {
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// tsoci run --image

export interface RunImageFlags extends StoreFlags {
  image?: string;
  bundle?: string;
  consoleSocket?: string;
  pidFile?: string;
  preserveFds?: string;
  pivot?: boolean;
  newKeyring?: boolean;
  detach?: boolean;
  keep?: boolean;
}

/**
 * Where `run --image` puts a container's bundle: below the state root, in a
 * directory whose name is not a valid container id (so `list` and `delete`
 * never mistake it for a container), with a random suffix so that two runs
 * racing for one id never share a bundle.
 */
export const RUN_BUNDLES_DIR = '@bundles';

export function runBundleDir(root: string, id: string, suffix: string): string {
  return join(resolvePath(root), RUN_BUNDLES_DIR, `${id}.${suffix}`);
}

const CONTAINER_ID = /^[A-Za-z0-9_+.-]+$/;

/** The runtime's id rules (checked before anything is written). */
export function checkContainerId(id: string): void {
  if (id === '' || id === '.' || id === '..' || id.length > 1024 || !CONTAINER_ID.test(id)) {
    throw new ImageCommandError(
      `invalid container id ${JSON.stringify(id.slice(0, 80))}: use 1 to 1024 letters, digits, '_', '+', '-' and '.' (not "." or "..")`,
      'ECONTAINER_INVALID_ID',
    );
  }
}

/** The built CLI (dist/bin.js) that the cleanup hook runs. */
export function tsociBinary(): string {
  for (const rel of ['./bin.js', '../../dist/bin.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  const argv1 = process.argv[1];
  if (argv1 !== undefined && existsSync(argv1)) return realpathSync(argv1);
  throw new ImageCommandError('cannot find the tsoci program for the bundle cleanup hook');
}

const HOOK_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The poststop hook that removes a `run --image` bundle when its container
 * is deleted (by `run` itself, or by `tsoci delete` for `--detach`/`--keep`):
 * `tsoci bundle --remove DIR`, which unmounts an overlay rootfs, drops the
 * store lease and deletes the directory.
 */
export function cleanupHook(dir: string, bin = tsociBinary(), node = process.execPath) {
  return {
    path: node,
    args: [node, bin, 'bundle', '--remove', dir],
    env: [process.env.PATH ? `PATH=${process.env.PATH}` : HOOK_PATH_ENV],
    timeout: 300,
  };
}

async function bundleExists(dir: string): Promise<boolean> {
  try {
    await fs.lstat(dir);
    return true;
  } catch {
    return false;
  }
}

export async function runImageCommand(
  g: GlobalOptions,
  id: string,
  f: RunImageFlags,
): Promise<number> {
  const imageText = f.image as string;
  if (f.bundle !== undefined) {
    throw new ImageCommandError('--image and --bundle cannot be used together');
  }
  checkContainerId(id);
  parseImageRef(imageText);
  const { runtimeFor, createOptions } = await import('./lifecycle.js');
  const rt = runtimeFor(g);
  const logger = new Logger(g);
  const exists = await rt.state(id).then(
    () => true,
    (error: { code?: string }) => {
      if (error.code === 'ECONTAINER_NOT_FOUND') return false;
      throw error;
    },
  );
  if (exists) {
    throw new ImageCommandError(`container with id ${id} already exists`, 'ECONTAINER_EXISTS');
  }
  const ctx = await contextFor({ store: f.store }, {});
  const dir = runBundleDir(g.root, id, randomBytes(4).toString('hex'));
  await fs.mkdir(dirname(dir), { recursive: true, mode: 0o711 });
  const root = process.getuid?.() === 0;
  const convert = { rootless: !root, terminal: f.consoleSocket !== undefined };
  let bundle: Bundle;
  // Until the runtime takes over (it forwards signals to the container), an
  // interrupt removes the half-made bundle.
  const release = guardInterrupts(() => undoBundleSync(dir, false));
  try {
    try {
      // Overlay when we can (root, store images): the layers are shared, nothing is copied.
      bundle = await buildBundle(ctx, imageText, dir, root ? 'store-only' : false, convert);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!root || code !== 'EIMAGE_OVERLAY') throw error;
      logger.write('debug', `overlay bundle failed, unpacking instead: ${String(error)}`);
      bundle = await buildBundle(ctx, imageText, dir, false, convert);
    }
    try {
      const config = bundle.config;
      config.hooks = {
        ...config.hooks,
        poststop: [...(config.hooks?.poststop ?? []), cleanupHook(dir)],
      };
      const temp = join(dir, `.config.json.${process.pid}`);
      await fs.writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
      await fs.rename(temp, join(dir, 'config.json'));
    } catch (error) {
      await removeBundle(dir, { mounter: overlayMounter() }).catch(() => {});
      throw error;
    }
  } finally {
    release();
  }
  const opts = { ...createOptions(id, f), bundle: dir };
  try {
    if (f.detach) {
      await rt.create(opts);
      try {
        await rt.start(id);
      } catch (error) {
        await rt.delete(id, { force: true }).catch(() => {});
        throw error;
      }
      return 0;
    }
    const status = await rt.run({ ...opts, keep: f.keep === true, forwardSignals: true });
    return status.exitCode;
  } finally {
    // The hook removed it with the container; a create that failed never ran hooks.
    const containerLeft = await rt.state(id).then(
      (s) => s.bundle === dir,
      () => false,
    );
    if (!containerLeft && (await bundleExists(dir))) {
      await removeBundle(dir, { mounter: overlayMounter() }).catch((error: unknown) =>
        logger.write('warning', `removing bundle ${dir}: ${String(error)}`),
      );
    }
  }
}
