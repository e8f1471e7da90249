/**
 * HTTP for the registry client, on node:http and node:https (./http.ts says
 * why not fetch).
 *
 * - https by default; plain http only for registries listed in `plainHttp`;
 *   TLS verification off only for registries listed in `insecure` (and only
 *   for their own host, not for storage they redirect to); extra CAs through
 *   `ca`. Keep-alive connection pools, one per kind of TLS setting.
 * - Redirects are followed by hand (at most 10 hops) so that Authorization is
 *   attached only to requests to the origin it belongs to: a blob redirected
 *   to storage on another origin is fetched without it. A redirect from https
 *   to http is refused.
 * - Transient failures are retried with exponential backoff and jitter, a
 *   bounded number of times: connection errors (reset, refused, timeouts),
 *   408, 429 (honouring Retry-After) and 500/502/503/504.
 * - A 401 is answered once: the challenge is recorded, credentials or a token
 *   obtained, and the request repeated (bodies are re-opened, never buffered).
 */

import type { Agent } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Authenticator } from './auth.js';
import { nodeTls } from './builtins.js';
import { parseChallenges } from './challenge.js';
import type { CredentialProvider } from './credentials.js';
import { RegistryError, type RegistryErrorCode, type RegistryErrorEntry } from './errors.js';
import { createAgent, type HttpResponse, httpRequest } from './http.js';
import type { ImageReference } from './reference.js';
import { wireGet } from './wire.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request body that can be opened again for a retry or a 307/308 redirect. */
export interface RequestBody {
  length: number;
  open():
    | Uint8Array
    | Readable
    | AsyncIterable<Uint8Array>
    | Promise<Uint8Array | Readable | AsyncIterable<Uint8Array>>;
}

/** Registries matched by `registry` as written in references (`host:port`), or all with `true`. */
export type RegistryMatcher = boolean | readonly string[];

export interface TransportOptions {
  plainHttp?: RegistryMatcher;
  insecure?: RegistryMatcher;
  ca?: string | Buffer | readonly (string | Buffer)[];
  credentials?: CredentialProvider;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** First backoff delay in ms (default 200), doubled per retry, with jitter. */
  retryDelayMs?: number;
  /** Longest single backoff in ms, also the cap on Retry-After (default 10 s). */
  maxRetryDelayMs?: number;
  userAgent?: string;
  signal?: AbortSignal;
  /** A connection silent this long (no response, or a stalled body) fails and is retried (default 5 min). */
  idleTimeoutMs?: number;
}

export interface RegistryRequest {
  ref: ImageReference;
  method: HttpMethod;
  /** `/v2/…` (relative to the registry) or an absolute URL (an upload location). */
  url: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Token scopes the request needs, e.g. `repository:library/busybox:pull`. */
  scopes: readonly string[];
  /** The statuses that count as success; others become errors. */
  expect: readonly number[];
  /** Names the object in error messages: "manifest docker.io/library/busybox:latest". */
  what: string;
  signal?: AbortSignal;
  /** Overrides the client's retry count (0 for requests whose retry happens a level up). */
  retries?: number;
  /**
   * A blob GET: sent on a connection of its own whose body can be read
   * into the caller's buffers (./wire.ts) instead of through node:http.
   */
  bulk?: boolean;
}

export interface RegistryResponse {
  response: HttpResponse;
  /** The URL that produced `response` (after redirects), for resolving relative Locations. */
  url: string;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const MAX_REDIRECTS = 10;
const MAX_ERROR_BODY = 64 * 1024;

function matches(matcher: RegistryMatcher | undefined, registry: string, host: string): boolean {
  if (matcher === undefined || matcher === false) return false;
  if (matcher === true) return true;
  return matcher.includes(registry) || matcher.includes(host);
}

/** The first error code in an error's cause chain (a RegistryError may wrap the socket error). */
export function networkErrorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isRetryableNetworkError(error: unknown): boolean {
  const code = networkErrorCode(error);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/** The messages (and codes) of an error and its causes, e.g. `connect ECONNREFUSED …`. */
export function describeCause(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    const text =
      typeof code === 'string' && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
    if (!parts.includes(text)) parts.push(text);
    e = e.cause;
  }
  return parts.join(': ') || String(error);
}

/** A RegistryError thrown inside a request body stream (e.g. a digest check) surfaces as such. */
function registryErrorInside(error: unknown): RegistryError | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (e instanceof RegistryError) return e;
    e = e.cause;
  }
  return undefined;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (error instanceof Error && error.name === 'AbortError');
}

/**
 * Reads at most `limit` bytes of a body as text; a longer body is cut off
 * there and its connection closed.
 */
export async function readLimitedText(
  response: HttpResponse,
  limit = MAX_ERROR_BODY,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= limit) break;
    }
  } catch {
    // a broken error body is not worth more than what we got
  } finally {
    response.cancel();
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** Lets go of a body that is not wanted (see HttpResponse.cancel). */
export function cancelBody(response: HttpResponse): void {
  response.cancel();
}

export function parseRegistryErrors(text: string): RegistryErrorEntry[] {
  try {
    const doc = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(doc.errors)) return [];
    return doc.errors.flatMap((e): RegistryErrorEntry[] => {
      if (e === null || typeof e !== 'object') return [];
      const { code, message, detail } = e as Record<string, unknown>;
      if (typeof code !== 'string') return [];
      const entry: RegistryErrorEntry = { code };
      if (typeof message === 'string') entry.message = message;
      if (detail !== undefined) entry.detail = detail;
      return [entry];
    });
  } catch {
    return [];
  }
}

function retryAfterMs(response: HttpResponse): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  if (/^[0-9]+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Destroys a request body stream that will not be (fully) sent. */
function release(body: unknown): void {
  if (
    body !== null &&
    typeof body === 'object' &&
    typeof (body as { destroy?: unknown }).destroy === 'function'
  ) {
    (body as { destroy(): void }).destroy();
  }
}

function discard(response: HttpResponse): Promise<void> {
  return readLimitedText(response, 16 * 1024).then(() => undefined);
}

interface ExchangeRequest {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body?: RequestBody | undefined;
  /** The Authorization for a given hop's URL (undefined: none). */
  authorization: (url: URL) => Promise<string | undefined>;
  registry: string;
  apiHost: string;
  signal?: AbortSignal | undefined;
  retries?: number | undefined;
  bulk?: boolean | undefined;
}

interface ExchangeResult {
  response: HttpResponse;
  url: string;
  attempts: number;
  authorization: string | undefined;
}

export class Transport {
  readonly options: TransportOptions;
  readonly authenticator: Authenticator;
  readonly retries: number;
  readonly #agents = new Map<'http' | 'https' | 'insecure', Agent>();
  #caList: string[] | null | undefined;

  constructor(options: TransportOptions = {}) {
    this.options = options;
    this.retries = Math.max(0, Math.floor(options.retries ?? 3));
    this.authenticator = new Authenticator({
      credentials: options.credentials ?? (() => undefined),
      allowsHttp: (registry) => this.usesHttp(registry),
      requestToken: async (req) => {
        const result = await this.#exchange({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body:
            req.body === undefined
              ? undefined
              : { length: Buffer.byteLength(req.body), open: () => Buffer.from(req.body ?? '') },
          // Credentials go to the realm's origin only, never along a redirect elsewhere.
          authorization: async (hop) =>
            hop.origin === new URL(req.url).origin ? req.authorization : undefined,
          registry: req.registry,
          apiHost: '',
          signal: this.options.signal,
        });
        const text = await readLimitedText(result.response, 1024 * 1024);
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        return {
          status: result.response.status,
          statusText: result.response.statusText,
          json,
          text: result.response.status === 200 ? '' : text,
        };
      },
    });
  }

  usesHttp(registry: string): boolean {
    return matches(this.options.plainHttp, registry, registry);
  }

  /** `http(s)://host[:port]` of a registry's API. */
  baseUrl(ref: ImageReference): string {
    return `${this.usesHttp(ref.registry) ? 'http' : 'https'}://${ref.apiHost}`;
  }

  /** How a hop is made: certificate checks are off only for the insecure registry itself. */
  #kindOf(url: URL, registry: string, apiHost: string): 'http' | 'https' | 'insecure' {
    if (url.protocol !== 'https:') return 'http';
    return matches(this.options.insecure, registry, apiHost) && url.host === apiHost
      ? 'insecure'
      : 'https';
  }

  /** The trusted CAs when `ca` is given (it replaces Node's default roots: keep them and add it). */
  #ca(): string[] | undefined {
    if (this.#caList === undefined) {
      const ca = this.options.ca;
      const extra = ca === undefined ? [] : Array.isArray(ca) ? ca : [ca as string | Buffer];
      this.#caList =
        extra.length === 0 ? null : [...nodeTls().rootCertificates, ...extra.map(String)];
    }
    return this.#caList ?? undefined;
  }

  /** The connection pool for a hop. */
  #agentFor(kind: 'http' | 'https' | 'insecure'): Agent {
    let agent = this.#agents.get(kind);
    if (agent === undefined) {
      agent =
        kind === 'http'
          ? createAgent('http:')
          : kind === 'insecure'
            ? createAgent('https:', { insecure: true })
            : createAgent('https:', { ca: this.#ca() });
      this.#agents.set(kind, agent);
    }
    return agent;
  }

  #backoff(retry: number, response?: HttpResponse): number {
    const base = this.options.retryDelayMs ?? 200;
    const cap = this.options.maxRetryDelayMs ?? 10_000;
    const exponential = Math.min(cap, base * 2 ** (retry - 1));
    let delay = exponential / 2 + (Math.random() * exponential) / 2;
    const after = response === undefined ? undefined : retryAfterMs(response);
    if (after !== undefined) delay = Math.max(delay, Math.min(after, cap));
    return delay;
  }

  /** One logical request: redirects and retries, no status interpretation. */
  async #exchange(req: ExchangeRequest): Promise<ExchangeResult> {
    const signal = req.signal;
    const retries = req.retries ?? this.retries;
    for (let attempt = 1; ; attempt++) {
      let url = new URL(req.url);
      let method = req.method;
      let body = req.body;
      let authorization: string | undefined;
      let response: HttpResponse;
      let opened: unknown;
      try {
        for (let hop = 0; ; hop++) {
          const headers: Record<string, string> = { ...req.headers };
          // Some registry front ends refuse requests without one (fetch sent "node").
          headers['user-agent'] = this.options.userAgent ?? 'tsoci';
          authorization = await req.authorization(url);
          if (authorization !== undefined) headers.authorization = authorization;
          opened = undefined;
          if (body !== undefined) {
            headers['content-length'] = String(body.length);
            opened = await body.open();
          }
          const kind = this.#kindOf(url, req.registry, req.apiHost);
          const idleTimeoutMs = this.options.idleTimeoutMs ?? 300_000;
          if (req.bulk && method === 'GET' && opened === undefined) {
            const ca = kind === 'https' ? this.#ca() : undefined;
            response = await wireGet({
              url,
              headers,
              ...(kind === 'http' ? {} : { tls: { rejectUnauthorized: kind === 'https', ca } }),
              signal,
              idleTimeoutMs,
            });
          } else {
            response = await httpRequest(url, {
              method,
              headers,
              body: opened as Uint8Array | Readable | AsyncIterable<Uint8Array> | undefined,
              agent: this.#agentFor(kind),
              signal,
              idleTimeoutMs,
            });
          }
          const location = response.headers.get('location');
          if (![301, 302, 303, 307, 308].includes(response.status) || location === null) break;
          if (hop >= MAX_REDIRECTS) {
            await discard(response);
            throw new RegistryError(
              'EREGISTRY_HTTP',
              `${req.method} ${req.url}: more than ${MAX_REDIRECTS} redirects`,
              { method: req.method, url: req.url },
            );
          }
          await discard(response);
          release(opened);
          const next = new URL(location, url);
          if (url.protocol === 'https:' && next.protocol !== 'https:') {
            throw new RegistryError(
              'EREGISTRY_HTTP',
              `${req.method} ${url.href}: refusing a redirect from https to ${next.protocol} (${next.href})`,
              { method: req.method, url: url.href },
            );
          }
          if (
            response.status === 303 ||
            ((response.status === 301 || response.status === 302) && method === 'POST')
          ) {
            method = 'GET';
            body = undefined;
          }
          url = next;
        }
      } catch (error) {
        release(opened);
        if (error instanceof RegistryError) throw error;
        const inner = registryErrorInside(error);
        if (inner !== undefined) throw inner;
        if (isAbort(error, signal)) throw error;
        if (attempt <= retries && isRetryableNetworkError(error)) {
          await sleep(this.#backoff(attempt), undefined, signal ? { signal } : undefined);
          continue;
        }
        throw new RegistryError(
          'EREGISTRY_HTTP',
          `${method} ${url.href}: ${describeCause(error)}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`,
          { method, url: url.href, cause: error },
        );
      }
      if (RETRYABLE_STATUS.has(response.status) && attempt <= retries) {
        release(opened);
        const delay = this.#backoff(attempt, response);
        await discard(response);
        await sleep(delay, undefined, signal ? { signal } : undefined);
        continue;
      }
      // A body the server answered early (401, 4xx) may not have been read to its end.
      if (response.status >= 300) release(opened);
      return { response, url: url.href, attempts: attempt, authorization };
    }
  }

  /**
   * Sends a request to a registry, authenticating as needed, and returns the
   * response when its status is one of `req.expect`. Otherwise throws:
   * EREGISTRY_AUTH (401/403), EREGISTRY_NOT_FOUND (404) or EREGISTRY_HTTP,
   * naming `req.what`, the method, the URL, the status and the registry's
   * error codes.
   */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const { ref } = req;
    const base = this.baseUrl(ref);
    const url = new URL(req.url, base).href;
    const registryOrigin = new URL(base).origin;
    let scopes = [...req.scopes];
    const signal = req.signal ?? this.options.signal;
    let result: ExchangeResult | undefined;
    for (let round = 0; round < 2; round++) {
      const currentScopes = scopes;
      result = await this.#exchange({
        method: req.method,
        url,
        headers: req.headers ?? {},
        body: req.body,
        authorization: (hop) =>
          hop.origin === registryOrigin
            ? this.authenticator.authorization(ref, currentScopes)
            : Promise.resolve(undefined),
        registry: ref.registry,
        apiHost: ref.apiHost,
        signal,
        retries: req.retries,
        bulk: req.bulk,
      });
      if (result.response.status !== 401 || new URL(result.url).origin !== registryOrigin) break;
      if (round === 1) break;
      const challenges = parseChallenges(result.response.headers.get('www-authenticate'));
      const sent = result.authorization;
      const describe = () => `${req.what}: ${req.method} ${result?.url ?? url}`;
      await discard(result.response);
      ({ scopes } = await this.authenticator.unauthorized(ref, challenges, scopes, sent, describe));
    }
    if (result === undefined) throw new Error('unreachable');
    const { response } = result;
    if (req.expect.includes(response.status)) return { response, url: result.url };
    const error = await this.statusError(req, result);
    if (response.status === 401 && result.authorization !== undefined) {
      const login = (await this.authenticator.credentialsFor(ref))?.username;
      const what = result.authorization.startsWith('Basic ')
        ? `the registry refused the credentials for ${ref.registry}`
        : login === undefined
          ? `anonymous access was refused; no credentials were found for ${ref.registry}`
          : `the registry refused the token issued to ${JSON.stringify(login)} for ${ref.registry}`;
      throw new RegistryError('EREGISTRY_AUTH', `${error.message} (${what})`, {
        method: req.method,
        url: result.url,
        status: 401,
        registryErrors: error.registryErrors,
      });
    }
    throw error;
  }

  async statusError(
    req: Pick<RegistryRequest, 'method' | 'what'>,
    result: { response: HttpResponse; url: string; attempts?: number },
  ): Promise<RegistryError> {
    const { response } = result;
    let text = '';
    if (req.method === 'HEAD') cancelBody(response);
    else text = await readLimitedText(response);
    const registryErrors = parseRegistryErrors(text);
    const status = response.status;
    const code: RegistryErrorCode =
      status === 401 || status === 403
        ? 'EREGISTRY_AUTH'
        : status === 404
          ? 'EREGISTRY_NOT_FOUND'
          : 'EREGISTRY_HTTP';
    const listed = registryErrors.map((e) => `${e.code}${e.message ? ` (${e.message})` : ''}`);
    const detail =
      listed.length > 0
        ? `: ${listed.join('; ')}`
        : text.trim() !== '' && text.length < 300 && !/^\s*</.test(text)
          ? `: ${text.trim()}`
          : '';
    const attempts = result.attempts ?? 1;
    return new RegistryError(
      code,
      `${req.what}: ${req.method} ${result.url} returned ${status} ${response.statusText}${attempts > 1 ? ` after ${attempts} attempts` : ''}${detail}`,
      { method: req.method, url: result.url, status, registryErrors },
    );
  }
}
