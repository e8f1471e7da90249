/**
 * One HTTP/1.1 exchange on node:http / node:https, for the registry
 * transport (./transport.ts does redirects, retries and authentication).
 *
 * Not the global fetch: Node's fetch is a bundled copy of undici that is
 * compiled on first use (≈ 50 ms and ≈ 40 MB of peak RSS in a CLI process
 * that pulls an image), and its bodies are web streams, one promise per
 * chunk plus a copy into a Node Buffer. node:http is part of every Node
 * process already and hands out Buffers through a Node stream, so a blob can
 * be hashed and written chunk by chunk with no further copy. See
 * ARCHITECTURE.md (Images).
 */
import type * as http from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { nodeHttp, nodeHttps } from './builtins.js';

/** Response headers, looked up case-insensitively; repeated headers are joined with ", ". */
export class ResponseHeaders {
  readonly #raw: http.IncomingHttpHeaders;

  constructor(raw: http.IncomingHttpHeaders) {
    this.#raw = raw;
  }

  get(name: string): string | null {
    const value = this.#raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/** A response of node:http (./http.ts) or of the blob client (./wire.ts). */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  /** The body as a byte stream. */
  readonly body: Readable;
  /**
   * Lets go of a body that is not wanted. Whoever receives a response reads
   * its body to the end or cancels it: an unread body keeps its connection
   * busy (and, for node:http, referenced, which keeps the process alive).
   */
  cancel(): void;
}

/** A node:http response. */
class NodeResponse implements HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  readonly body: http.IncomingMessage;

  constructor(message: http.IncomingMessage) {
    this.status = message.statusCode ?? 0;
    this.statusText = message.statusMessage ?? '';
    this.headers = new ResponseHeaders(message.headers);
    this.body = message;
  }

  cancel(): void {
    // A body that arrived whole (HEAD, empty, small) is drained: its
    // connection goes back to the pool. One still arriving is cut off.
    if (this.body.complete) this.body.resume();
    else this.body.destroy();
  }
}

export type HttpBody = Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface HttpRequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: HttpBody | undefined;
  /** The connection pool (it carries the TLS settings for https). */
  agent: http.Agent;
  signal?: AbortSignal | undefined;
  /**
   * A connection that stays silent this long, waiting for the response or
   * in the middle of its body, fails with ETIMEDOUT (retried like a reset).
   */
  idleTimeoutMs: number;
}

/** The error an aborted request fails with (as fetch's: name AbortError). */
export function abortError(signal: AbortSignal): Error {
  const error = new Error('This operation was aborted', { cause: signal.reason }) as Error & {
    code: string;
  };
  error.name = 'AbortError';
  error.code = 'ABORT_ERR';
  return error;
}

function timeoutError(ms: number): Error {
  const error = new Error(`no data from the server for ${ms} ms`) as Error & { code: string };
  error.code = 'ETIMEDOUT';
  return error;
}

/**
 * Sends a request and resolves with the response once its headers arrived
 * (or rejects with the socket's error). Errors after that (a reset, the idle
 * timeout, an abort) are errors of `response.body`.
 */
export function httpRequest(url: URL, options: HttpRequestOptions): Promise<HttpResponse> {
  const { signal } = options;
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const request = (url.protocol === 'https:' ? nodeHttps() : nodeHttp()).request(url, {
      method: options.method,
      headers: options.headers,
      agent: options.agent,
    });
    let response: http.IncomingMessage | undefined;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    // Whatever is still running (the request, or the response's body) stops with `error`.
    const stop = (error: Error): void => {
      if (response !== undefined && !response.complete) response.destroy(error);
      else request.destroy(error);
      fail(error);
    };
    const onAbort = (): void => stop(abortError(signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    request.setTimeout(options.idleTimeoutMs, () => stop(timeoutError(options.idleTimeoutMs)));
    request.on('error', fail);
    request.on('close', () => signal?.removeEventListener('abort', onAbort));
    request.on('response', (res) => {
      response = res;
      // A reset between now and the moment the caller starts reading must not
      // crash the process as an unhandled 'error'; readers attach their own.
      res.on('error', () => {});
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      if (options.method === 'HEAD') {
        // No body: answer once it has ended, when its connection is back in the
        // pool (else the next request, sent at once, opens another one).
        res.once('end', () => resolve(new NodeResponse(res)));
        res.once('error', reject);
        res.resume();
        return;
      }
      resolve(new NodeResponse(res));
    });
    const body = options.body;
    if (body === undefined) {
      request.end();
    } else if (body instanceof Uint8Array) {
      request.end(body);
    } else {
      const source = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
      // A failing body (e.g. content that does not match its digest) fails the request with its error.
      pipeline(source, request, (error) => {
        if (error) fail(error);
      });
    }
  });
}

export interface AgentOptions {
  /** Skip certificate verification. */
  insecure?: boolean;
  /** Trusted CA certificates (replacing the default set: callers pass the default roots too). */
  ca?: (string | Buffer)[];
}

/**
 * A keep-alive connection pool: the manifest, the config and the blobs of a
 * pull reuse connections. Idle pooled sockets do not keep the process alive
 * (Node unrefs them) and are closed after 15 s.
 */
export function createAgent(protocol: 'http:' | 'https:', options: AgentOptions = {}): http.Agent {
  const common = { keepAlive: true, timeout: 15_000 };
  if (protocol === 'http:') return new (nodeHttp().Agent)(common);
  return new (nodeHttps().Agent)({
    ...common,
    ...(options.insecure ? { rejectUnauthorized: false } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
}
