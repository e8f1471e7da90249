/**
 * The blob client's HTTP/1.1 (src/registry/wire.ts) against raw TCP servers
 * on loopback that write exactly the bytes a test wants, split over as many
 * reads as it wants: framing (Content-Length, chunked, until close), bodies
 * cut short, malformed heads, interim responses, the idle timeout, aborts,
 * and where the body bytes land.
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WireResponse, wireGet } from '../../src/registry/wire.js';
import { listenLocal } from './helpers/fake.js';

interface RawServer {
  url: string;
  /** Request heads as received. */
  requests: string[];
  close: () => Promise<void>;
}

let servers: RawServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** A server that answers each request head with `respond(socket)`. */
async function raw(respond: (socket: Socket) => void | Promise<void>): Promise<RawServer> {
  const requests: string[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      requests.push(head);
      void respond(socket);
    };
    socket.on('data', onData);
  });
  const { port, close } = await listenLocal(server);
  const s: RawServer = { url: `http://127.0.0.1:${port}`, requests, close };
  servers.push(s);
  return s;
}

const tick = () => new Promise((r) => setTimeout(r, 2));

/** Writes `bytes` in pieces of `size`, pausing between them so that they arrive as separate reads. */
async function dribble(socket: Socket, bytes: Buffer | string, size: number): Promise<void> {
  const data = Buffer.from(bytes);
  for (let i = 0; i < data.length; i += size) {
    socket.write(data.subarray(i, i + size));
    await tick();
  }
}

const get = (url: string, extra: Partial<Parameters<typeof wireGet>[0]> = {}) =>
  wireGet({ url: new URL(url), headers: {}, idleTimeoutMs: 10_000, ...extra });

/**
 * Reads a body with a receiver that offers `size` bytes of memory per read
 * (as the file receiver does), and counts how many pieces landed in it.
 */
function collect(
  response: WireResponse,
  size = 4096,
): Promise<{ body: Buffer; inPlace: number; copied: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let memory = Buffer.alloc(size);
    let inPlace = 0;
    let copied = 0;
    response.receive({
      target: () => memory,
      data: (segment) => {
        if (segment.buffer === memory.buffer) inPlace++;
        else copied++;
        parts.push(Buffer.from(segment));
        memory = Buffer.alloc(size); // a fresh target each time: stale ones are detectable
      },
      end: () => resolve({ body: Buffer.concat(parts), inPlace, copied }),
      error: reject,
    });
  });
}

const BODY = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));

describe('wire: framing', () => {
  it('reads a Content-Length body into the receiver memory, the head split over many reads', async () => {
    const server = await raw(async (socket) => {
      await dribble(socket, `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nX-A: 1\r\n`, 5);
      await dribble(socket, 'X-A: 2\r\n\r\n', 3);
      await dribble(socket, BODY, 700);
    });
    const response = await get(`${server.url}/v2/a/blobs/x?y=1`, {
      headers: { authorization: 'Bearer t', range: 'bytes=0-' },
    });
    expect(response.status).toBe(200);
    expect(response.statusText).toBe('OK');
    expect(response.headers.get('X-a')).toBe('1, 2');
    const { body, inPlace } = await collect(response);
    expect(body.equals(BODY)).toBe(true);
    expect(inPlace).toBeGreaterThan(0);
    const request = server.requests[0] ?? '';
    expect(request.startsWith('GET /v2/a/blobs/x?y=1 HTTP/1.1\r\n')).toBe(true);
    expect(request).toContain(`\r\nHost: ${new URL(server.url).host}\r\n`);
    expect(request).toContain('\r\nauthorization: Bearer t\r\n');
    expect(request).toContain('\r\nConnection: close\r\n');
  });

  it('decodes a chunked body with extensions and trailers, whatever the read boundaries', async () => {
    const small = BODY.subarray(0, 300);
    const chunks = [small.subarray(0, 1), small.subarray(1, 100), small.subarray(100)];
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
      ...chunks.flatMap((c, i) => [
        Buffer.from(`${c.length.toString(16)}${i === 1 ? ';name=value' : ''}\r\n`),
        c,
        Buffer.from('\r\n'),
      ]),
      Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'),
    ]);
    for (const size of [1, 7, 4096]) {
      const server = await raw((socket) => dribble(socket, wire, size));
      const { body } = await collect(await get(server.url));
      expect(body.equals(small)).toBe(true);
    }
  });

  it('ends a body without length or chunks at the end of the connection', async () => {
    const server = await raw(async (socket) => {
      await dribble(socket, 'HTTP/1.0 200 OK\r\n\r\n', 100);
      await dribble(socket, BODY, 1000);
      socket.end();
    });
    const { body } = await collect(await get(server.url));
    expect(body.equals(BODY)).toBe(true);
  });

  it('ends an empty body at once, whether or not the server closes the connection', async () => {
    const server = await raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'); // and stays open
    });
    expect((await collect(await get(server.url))).body.length).toBe(0);
  });

  it('skips interim 1xx responses', async () => {
    const server = await raw((socket) =>
      dribble(
        socket,
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        9,
      ),
    );
    const response = await get(server.url);
    expect(response.status).toBe(200);
    expect((await collect(response)).body.toString()).toBe('ok');
  });

  it('hands bytes that came with the head to the receiver, copied', async () => {
    const server = await raw((socket) => {
      socket.write(
        Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n'), BODY]),
      );
    });
    const { body, copied } = await collect(await get(server.url));
    expect(body.equals(BODY)).toBe(true);
    expect(copied).toBeGreaterThan(0);
  });

  it('reads a body as a stream too', async () => {
    const server = await raw((socket) => {
      socket.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${BODY.length}\r\n\r\n`);
      void dribble(socket, BODY, 1000);
    });
    const response = await get(server.url);
    expect(response.status).toBe(404);
    const parts: Buffer[] = [];
    for await (const chunk of response.body) parts.push(chunk as Buffer);
    expect(Buffer.concat(parts).equals(BODY)).toBe(true);
  });
});

describe('wire: flow control', () => {
  const BIG = Buffer.alloc(4 * 1024 * 1024, 1);
  /** 4 MiB, sent 64 KiB at a time: a pause lands mid-body. */
  const bigServer = () =>
    raw(async (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG.length}\r\n\r\n`);
      await dribble(socket, BIG, 64 * 1024);
      socket.end();
    });

  /** Receives with a receiver that can be paused, counting what arrives while it is. */
  function pausable(response: WireResponse) {
    const memory = Buffer.alloc(64 * 1024);
    let received = 0;
    let whilePaused = 0;
    let isPaused = false;
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const control = response.receive({
      target: () => memory,
      data: (segment) => {
        received += segment.length;
        if (isPaused) whilePaused += segment.length;
      },
      end: () => settle?.resolve(),
      error: (e) => settle?.reject(e),
    });
    return {
      pause: () => {
        isPaused = true;
        control.pause();
      },
      resume: () => {
        isPaused = false;
        control.resume();
      },
      state: () => ({ received, whilePaused }),
      done,
    };
  }

  it('delivers nothing while paused, from before the first byte on', async () => {
    const server = await bigServer();
    const r = pausable(await get(server.url));
    r.pause(); // before any delivery
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.state()).toEqual({ received: 0, whilePaused: 0 });
    r.resume();
    await r.done;
    expect(r.state().received).toBe(BIG.length);
  });

  it('stops delivering when paused mid-body and goes on when resumed', async () => {
    const server = await bigServer();
    const r = pausable(await get(server.url));
    while (r.state().received === 0) await tick();
    r.pause();
    const at = r.state().received;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.state()).toEqual({ received: at, whilePaused: 0 });
    r.resume();
    await r.done;
    expect(r.state().received).toBe(BIG.length);
  });
});

describe('wire: failures', () => {
  it('fails a body that ends before its Content-Length, saying how far it got', async () => {
    const server = await raw(async (socket) => {
      await dribble(socket, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345', 100);
      socket.end();
    });
    await expect(collect(await get(server.url))).rejects.toMatchObject({
      code: 'ECONNRESET',
      message: expect.stringContaining('after 5 of 10 bytes'),
    });
  });

  it('fails a chunked body cut inside a chunk', async () => {
    const server = await raw(async (socket) => {
      await dribble(socket, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n12345', 100);
      socket.destroy();
    });
    await expect(collect(await get(server.url))).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('fails when the connection closes before a response', async () => {
    const server = await raw((socket) => {
      socket.destroy();
    });
    await expect(get(server.url)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it.each([
    [
      'both Content-Length and Transfer-Encoding',
      'Content-Length: 3\r\nTransfer-Encoding: chunked',
    ],
    ['unsupported Transfer-Encoding', 'Transfer-Encoding: gzip, chunked'],
    ['conflicting Content-Length', 'Content-Length: 3\r\nContent-Length: 4'],
    ['invalid Content-Length', 'Content-Length: -1'],
    ['invalid header line', 'Bad header'],
    ['invalid header line', ' folded: value'],
  ])('refuses a head with %s', async (message, headers) => {
    const server = await raw((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\n${headers}\r\n\r\nabc`);
    });
    await expect(get(server.url)).rejects.toMatchObject({
      code: 'EPROTO_HTTP',
      message: expect.stringContaining(message),
    });
  });

  it.each([
    ['invalid status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['invalid status line', 'ICY 200 OK\r\n\r\n'],
    ['unexpected 101', 'HTTP/1.1 101 Switching Protocols\r\n\r\n'],
    ['invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ])('refuses a response with an %s', async (message, wire) => {
    const server = await raw((socket) => {
      socket.write(wire);
    });
    const failure = await get(server.url)
      .then((response) => collect(response))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toMatchObject({
      code: 'EPROTO_HTTP',
      message: expect.stringContaining(message),
    });
  });

  it('refuses a head that never ends', async () => {
    const server = await raw(async (socket) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      for (let i = 0; i < 70 && !socket.destroyed; i++) {
        socket.write(`X-Filler-${i}: ${'x'.repeat(1000)}\r\n`);
        await tick();
      }
    });
    await expect(get(server.url)).rejects.toMatchObject({
      code: 'EPROTO_HTTP',
      message: expect.stringContaining('head too large'),
    });
  });

  it('refuses header values that would split the request, before connecting', async () => {
    const server = await raw((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    await expect(
      get(server.url, { headers: { authorization: 'Bearer x\r\nX-Injected: 1' } }),
    ).rejects.toThrow(/invalid HTTP header "authorization"/);
    expect(server.requests).toEqual([]);
  });

  it('fails with ETIMEDOUT when the server goes silent mid-body', async () => {
    const server = await raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123');
    });
    await expect(collect(await get(server.url, { idleTimeoutMs: 100 }))).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
  });

  it('stops with an AbortError when aborted mid-body', async () => {
    const server = await raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123');
    });
    const controller = new AbortController();
    const response = await get(server.url, { signal: controller.signal });
    const reading = collect(response);
    controller.abort();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
  });
});
