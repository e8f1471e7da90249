/**
 * A small HTTP/1.1 client for blob GETs, on a socket of its own
 * (node:net / node:tls) read with `onread`: the kernel copies the body
 * straight into memory the receiver chose (for a pull, the 1 MiB buffers
 * that the store writes to its file, ./file-receiver.ts) and nothing is
 * allocated per read. node:http cannot do that: it reads the socket into a
 * fresh 64 KiB buffer and copies every body piece into another one, so a
 * 200 MB pull allocates 400 MB of short-lived buffers in 64 KiB steps (page
 * faults, garbage collections, two thousand callbacks) where this client
 * makes a few hundred large reads into reused memory. Measured on a 2-core
 * VM pulling 165 MB from a loopback registry: ≈ 300 ms of CPU with node:http,
 * ≈ 180 ms this way (see ARCHITECTURE.md, Images).
 *
 * Scope, on purpose: GET without a request body, one request per
 * connection (`Connection: close`), bodies delimited by Content-Length,
 * chunked transfer coding, or the end of the connection. Anything else
 * (other transfer codings, a 101, malformed heads, Content-Length together
 * with Transfer-Encoding) is a protocol error: a blob is verified against
 * its digest anyway, and an error is retried by the caller like a reset.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { BufferPool } from './buffers.js';
import { nodeTls } from './builtins.js';
import { abortError, type HttpResponse, ResponseHeaders } from './http.js';

export interface WireRequest {
  url: URL;
  headers: Record<string, string>;
  /** For https: whether the certificate is verified, and the CAs (default: Node's). */
  tls?: { rejectUnauthorized: boolean; ca?: (string | Buffer)[] | undefined };
  signal?: AbortSignal | undefined;
  /** A silent connection fails with ETIMEDOUT after this long. */
  idleTimeoutMs: number;
}

/** Where body bytes go. */
export interface BodyReceiver {
  /**
   * Memory for the next socket read (non-empty). It must stay untouched
   * until the next `data`, `end` or `error` call: the read may land in it
   * then. `data` may still receive bytes from elsewhere (those that came
   * with the response head): it copies them.
   */
  target(): Uint8Array;
  /** Body bytes, valid only during the call. Throwing fails the response with that error. */
  data(segment: Uint8Array): void;
  /** The whole body was received. */
  end(): void;
  error(error: Error): void;
}

/** Flow control of a body being received. */
export interface BodyControl {
  pause(): void;
  resume(): void;
}

const HEAD_BUFFER = 16 * 1024;
/** Memory for the head (and what comes with it) of each connection. */
const headBuffers = new BufferPool(HEAD_BUFFER, 8);
/** Memory for bodies read as a stream (copied out after each read). */
const streamBuffers = new BufferPool(64 * 1024, 8);
const MAX_HEAD = 64 * 1024;
const MAX_CHUNK_LINE = 4 * 1024;
const MAX_TRAILERS = 64 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;
const STATUS_LINE = /^HTTP\/1\.[01] ([0-9]{3})(?: (.*))?$/;

function codedError(message: string, code: string): Error {
  const error = new Error(message) as Error & { code: string };
  error.code = code;
  return error;
}

/** A malformed response: not retried (the server would answer the same). */
function protocolError(message: string): Error {
  return codedError(message, 'EPROTO_HTTP');
}

/** Ends of bodies: a Content-Length count, chunked framing, or the connection's end. */
interface Framing {
  /** Feeds raw body bytes; calls `emit` with payload pieces (views of `bytes`). True when the body is complete. */
  feed(bytes: Uint8Array, emit: (segment: Uint8Array) => void): boolean;
  /** The connection ended: true if that completes the body. */
  eof(): boolean;
  /** The body is complete without any further byte (an empty one). */
  finished(): boolean;
  /** What was received, for messages. */
  describe(): string;
}

class LengthFraming implements Framing {
  #left: number;
  readonly #total: number;

  constructor(length: number) {
    this.#left = length;
    this.#total = length;
  }

  feed(bytes: Uint8Array, emit: (segment: Uint8Array) => void): boolean {
    if (this.#left === 0) return true;
    const n = Math.min(this.#left, bytes.length);
    this.#left -= n;
    if (n > 0) emit(n === bytes.length ? bytes : bytes.subarray(0, n));
    return this.#left === 0;
  }

  eof(): boolean {
    return this.#left === 0;
  }

  finished(): boolean {
    return this.#left === 0;
  }

  describe(): string {
    return `${this.#total - this.#left} of ${this.#total} bytes (Content-Length)`;
  }
}

class CloseFraming implements Framing {
  #received = 0;

  feed(bytes: Uint8Array, emit: (segment: Uint8Array) => void): boolean {
    this.#received += bytes.length;
    if (bytes.length > 0) emit(bytes);
    return false;
  }

  eof(): boolean {
    return true;
  }

  finished(): boolean {
    return false;
  }

  describe(): string {
    return `${this.#received} bytes`;
  }
}

// States of the chunked decoder.
const SIZE = 0;
const EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_START = 6;
const TRAILER = 7;
const TRAILER_LF = 8;
const FINAL_LF = 9;
const DONE = 10;

/** Transfer-Encoding: chunked (RFC 9112 §7.1), extensions and trailers skipped. */
class ChunkedFraming implements Framing {
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #line = 0;
  #trailers = 0;
  #received = 0;

  feed(bytes: Uint8Array, emit: (segment: Uint8Array) => void): boolean {
    let i = 0;
    const n = bytes.length;
    while (i < n && this.#state !== DONE) {
      if (this.#state === DATA) {
        const take = Math.min(this.#size, n - i);
        emit(bytes.subarray(i, i + take));
        this.#received += take;
        this.#size -= take;
        i += take;
        if (this.#size === 0) this.#state = DATA_CR;
        continue;
      }
      const c = bytes[i++] as number;
      switch (this.#state) {
        case SIZE: {
          const digit =
            c >= 0x30 && c <= 0x39
              ? c - 0x30
              : c >= 0x61 && c <= 0x66
                ? c - 0x57
                : c >= 0x41 && c <= 0x46
                  ? c - 0x37
                  : -1;
          if (digit >= 0) {
            if (++this.#digits > 13) throw protocolError('chunk size too large');
            this.#size = this.#size * 16 + digit;
          } else if (this.#digits > 0 && (c === 0x3b || c === 0x20 || c === 0x09)) {
            this.#state = EXTENSION;
            this.#line = 0;
          } else if (this.#digits > 0 && c === 0x0d) {
            this.#state = SIZE_LF;
          } else {
            throw protocolError('invalid chunk size');
          }
          break;
        }
        case EXTENSION:
          if (c === 0x0d) this.#state = SIZE_LF;
          else if (c === 0x0a || ++this.#line > MAX_CHUNK_LINE)
            throw protocolError('invalid chunk extension');
          break;
        case SIZE_LF:
          if (c !== 0x0a) throw protocolError('invalid chunk size line');
          this.#digits = 0;
          if (this.#size === 0) this.#state = TRAILER_START;
          else this.#state = DATA;
          break;
        case DATA_CR:
          if (c !== 0x0d) throw protocolError('chunk data longer than its size');
          this.#state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== 0x0a) throw protocolError('chunk data longer than its size');
          this.#state = SIZE;
          this.#size = 0;
          break;
        case TRAILER_START:
          if (c === 0x0d) this.#state = FINAL_LF;
          else {
            this.#state = TRAILER;
            this.#trailers++;
          }
          break;
        case TRAILER:
          if (++this.#trailers > MAX_TRAILERS) throw protocolError('trailers too large');
          if (c === 0x0d) this.#state = TRAILER_LF;
          break;
        case TRAILER_LF:
          if (c !== 0x0a) throw protocolError('invalid trailer line');
          this.#state = TRAILER_START;
          break;
        case FINAL_LF:
          if (c !== 0x0a) throw protocolError('invalid end of chunked body');
          this.#state = DONE;
          break;
      }
    }
    return this.#state === DONE;
  }

  eof(): boolean {
    return this.#state === DONE;
  }

  finished(): boolean {
    return this.#state === DONE;
  }

  describe(): string {
    return `${this.#received} bytes (chunked, unfinished)`;
  }
}

interface Head {
  status: number;
  statusText: string;
  headers: Record<string, string>;
}

/** Parses a response head (without its final CRLF CRLF). */
function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (m === null) throw protocolError(`invalid status line ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const h = HEADER_LINE.exec(line);
    if (h === null) throw protocolError(`invalid header line ${JSON.stringify(line)}`);
    const name = (h[1] as string).toLowerCase();
    const value = h[2] as string;
    if (/[\0\r\n]/.test(value)) throw protocolError(`invalid value of header ${name}`);
    const previous = headers[name];
    if (name === 'content-length' && previous !== undefined && previous !== value) {
      throw protocolError('conflicting Content-Length headers');
    }
    headers[name] =
      previous === undefined || name === 'content-length' ? value : `${previous}, ${value}`;
  }
  return { status: Number(m[1]), statusText: m[2] ?? '', headers };
}

function framingOf(head: Head): Framing {
  const te = head.headers['transfer-encoding'];
  const cl = head.headers['content-length'];
  if (head.status === 204 || head.status === 304) return new LengthFraming(0);
  if (te !== undefined) {
    if (cl !== undefined) throw protocolError('both Content-Length and Transfer-Encoding');
    const codings = te.split(',').map((s) => s.trim().toLowerCase());
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      throw protocolError(`unsupported Transfer-Encoding ${JSON.stringify(te)}`);
    }
    return new ChunkedFraming();
  }
  if (cl !== undefined) {
    const length = /^[0-9]{1,15}$/.test(cl) ? Number(cl) : Number.NaN;
    if (!Number.isSafeInteger(length)) throw protocolError(`invalid Content-Length ${cl}`);
    return new LengthFraming(length);
  }
  return new CloseFraming();
}

/** The request head; header names and values are checked (no CR/LF injection from tokens). */
function requestHead(url: URL, headers: Record<string, string>): string {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'connection') continue;
    if (!TOKEN.test(name) || /[\0\r\n]/.test(value)) {
      throw new TypeError(`invalid HTTP header ${JSON.stringify(name)}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return `${head}Connection: close\r\n\r\n`;
}

/**
 * A response whose body has not been read yet. Read it with `receive`
 * (bytes into the receiver's memory) or as a Readable (`body`, copies),
 * or `cancel()` it; either way the connection is closed at the end.
 */
export class WireResponse implements HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  readonly #connection: WireConnection;
  #body: Readable | undefined;

  constructor(connection: WireConnection, head: Head) {
    this.#connection = connection;
    this.status = head.status;
    this.statusText = head.statusText;
    this.headers = new ResponseHeaders(head.headers);
  }

  /** Delivers the body to `receiver` (only once, and not after `body` was used). */
  receive(receiver: BodyReceiver): BodyControl {
    if (this.#body !== undefined) throw new Error('the body is being read as a stream already');
    return this.#connection.receive(receiver);
  }

  get body(): Readable {
    if (this.#body === undefined) {
      const connection = this.#connection;
      const spare = connection.borrow(streamBuffers);
      let control: BodyControl | undefined;
      const stream: Readable = new Readable({
        read() {
          control?.resume();
        },
        destroy(error, callback) {
          connection.close();
          callback(error);
        },
      });
      control = connection.receive({
        target: () => spare,
        data: (segment) => {
          if (!stream.push(Buffer.from(segment))) control?.pause();
        },
        end: () => stream.push(null),
        error: (error) => stream.destroy(error),
      });
      this.#body = stream;
    }
    return this.#body;
  }

  cancel(): void {
    this.#connection.close();
    this.#body?.destroy();
  }
}

/** One connection, one request, one response. */
class WireConnection {
  readonly #socket: Socket;
  readonly #request: WireRequest;
  readonly #head: Buffer;
  /** Pooled memory the socket may read into, given back once it is closed. */
  readonly #borrowed: [BufferPool, Buffer][] = [];
  /** The head so far (copied out of #head between reads). */
  #headBytes: Buffer[] = [];
  #headLength = 0;
  #onHead: ((response: WireResponse) => void) | undefined;
  #onFail: ((error: Error) => void) | undefined;
  #framing: Framing | undefined;
  /** Body bytes that arrived before a receiver was attached. */
  #pending: Buffer[] = [];
  #receiver: BodyReceiver | undefined;
  #done = false;
  readonly #onAbort = (): void => this.#fail(abortError(this.#request.signal as AbortSignal));

  constructor(
    request: WireRequest,
    tls: typeof import('node:tls') | undefined,
    onHead: (r: WireResponse) => void,
    onFail: (e: Error) => void,
  ) {
    this.#request = request;
    this.#onHead = onHead;
    this.#onFail = onFail;
    this.#head = this.borrow(headBuffers);
    const { url } = request;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const secure = tls !== undefined;
    const port = Number(url.port || (secure ? 443 : 80));
    const onread = {
      buffer: () => this.#receiver?.target() ?? this.#head,
      callback: (nread: number, buffer: Uint8Array): boolean => {
        this.#onRead(buffer.subarray(0, nread));
        return true; // flow control is explicit (socket.pause)
      },
    };
    const head = requestHead(url, request.headers);
    this.#socket = secure
      ? tls.connect({
          host,
          port,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ALPNProtocols: ['http/1.1'],
          rejectUnauthorized: request.tls?.rejectUnauthorized ?? true,
          ...(request.tls?.ca ? { ca: request.tls.ca } : {}),
          // tls.connect documents `onread` (as net.connect's); @types/node lacks it.
          onread,
        } as ConnectionOptions)
      : netConnect({ host, port, onread });
    this.#socket.setNoDelay(true);
    this.#socket.setTimeout(request.idleTimeoutMs, () =>
      this.#fail(
        codedError(`no data from the server for ${request.idleTimeoutMs} ms`, 'ETIMEDOUT'),
      ),
    );
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('end', () => this.#onEof());
    this.#socket.on('close', () => this.#onEof());
    request.signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#socket.write(head);
  }

  #onRead(bytes: Uint8Array): void {
    if (this.#done) return;
    try {
      if (this.#framing === undefined) this.#readHead(bytes);
      // Bytes behind undelivered ones wait their turn.
      else if (this.#receiver === undefined || this.#pending.length > 0) {
        this.#pending.push(Buffer.from(bytes));
      } else this.#feed(bytes);
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #readHead(bytes: Uint8Array): void {
    this.#headBytes.push(Buffer.from(bytes));
    this.#headLength += bytes.length;
    for (;;) {
      const all =
        this.#headBytes.length === 1
          ? (this.#headBytes[0] as Buffer)
          : Buffer.concat(this.#headBytes);
      this.#headBytes = [all];
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.#headLength > MAX_HEAD) throw protocolError('response head too large');
        return;
      }
      const head = parseHead(all.toString('latin1', 0, end));
      const rest = all.subarray(end + 4);
      this.#headBytes = [rest];
      this.#headLength = rest.length;
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) throw protocolError('unexpected 101 Switching Protocols');
        continue; // an interim response: the real one follows
      }
      this.#framing = framingOf(head);
      this.#headBytes = [];
      if (rest.length > 0) this.#pending.push(rest);
      // Nothing more is read until the response's owner says where to, and a
      // response nobody reads does not keep the process alive.
      this.#socket.pause();
      this.#socket.unref();
      const onHead = this.#onHead;
      this.#onHead = undefined;
      this.#onFail = undefined;
      onHead?.(new WireResponse(this, head));
      return;
    }
  }

  receive(receiver: BodyReceiver): BodyControl {
    if (this.#receiver !== undefined) throw new Error('the body has a receiver already');
    this.#receiver = receiver;
    this.#socket.ref();
    let paused = false;
    // Bytes that came early go first, then the socket is read; a pause holds both.
    const drain = (): void => {
      try {
        while (this.#pending.length > 0 && !paused && !this.#done) {
          this.#feed(this.#pending.shift() as Buffer);
        }
        if (this.#done || paused || this.#pending.length > 0) return;
        if ((this.#framing as Framing).finished()) {
          // An empty body: nothing to wait for.
          this.#finish();
          receiver.end();
        } else if (this.#error !== undefined) this.#deliverError(this.#error);
        else if (this.#eof) this.#onEof();
        else this.#socket.resume();
      } catch (error) {
        this.#fail(error as Error);
      }
    };
    const control: BodyControl = {
      pause: () => {
        paused = true;
        this.#socket.pause();
      },
      resume: () => {
        paused = false;
        if (!this.#done) drain();
      },
    };
    // From a fresh tick: the caller finishes setting up (and may pause) first.
    queueMicrotask(drain);
    return control;
  }

  #feed(bytes: Uint8Array): void {
    const receiver = this.#receiver as BodyReceiver;
    const complete = (this.#framing as Framing).feed(bytes, (segment) => receiver.data(segment));
    if (complete && !this.#done) {
      this.#finish();
      receiver.end();
    }
  }

  #eof = false;
  #error: Error | undefined;

  #onEof(): void {
    if (this.#done) return;
    this.#eof = true;
    if (this.#framing === undefined) {
      this.#fail(codedError('the server closed the connection without a response', 'ECONNRESET'));
      return;
    }
    if (this.#receiver === undefined || this.#pending.length > 0) return; // told on receive()
    if (this.#framing.eof()) {
      this.#finish();
      this.#receiver.end();
    } else {
      this.#fail(
        codedError(
          `the connection closed after ${this.#framing.describe()} of the body`,
          'ECONNRESET',
        ),
      );
    }
  }

  #fail(error: Error): void {
    if (this.#done) return;
    if (this.#onFail !== undefined) {
      const onFail = this.#onFail;
      this.#finish();
      onFail(error);
      return;
    }
    if (this.#receiver === undefined) {
      // No one reads the body yet: keep the error for receive().
      this.#error ??= error;
      this.#socket.destroy();
      return;
    }
    this.#deliverError(error);
  }

  #deliverError(error: Error): void {
    if (this.#done) return;
    this.#finish();
    this.#receiver?.error(error);
  }

  #finish(): void {
    this.#done = true;
    this.#onHead = undefined;
    this.#onFail = undefined;
    this.#request.signal?.removeEventListener('abort', this.#onAbort);
    this.#socket.destroy();
    // A destroyed socket reads nothing more: its buffers can serve others.
    for (const [pool, buffer] of this.#borrowed.splice(0)) pool.give(buffer);
  }

  /** Memory from `pool` for this connection's reads, given back when it closes. */
  borrow(pool: BufferPool): Buffer {
    const buffer = pool.take();
    if (this.#done) pool.give(buffer);
    else this.#borrowed.push([pool, buffer]);
    return buffer;
  }

  close(): void {
    if (this.#done) return;
    this.#finish();
  }
}

/** Sends a GET and resolves with the response once its head arrived. */
export function wireGet(request: WireRequest): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    if (request.signal?.aborted) {
      reject(abortError(request.signal));
      return;
    }
    try {
      const tls = request.url.protocol === 'https:' ? nodeTls() : undefined;
      new WireConnection(request, tls, resolve, reject);
    } catch (error) {
      reject(error);
    }
  });
}
