/** Small fake HTTP servers on 127.0.0.1 for fault injection (closed by `close()`). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import { join } from 'node:path';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  bodyLength: number;
}

export interface FakeServer {
  host: string;
  url: string;
  requests: SeenRequest[];
  close: () => Promise<void>;
}

export type FakeHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  seen: SeenRequest[],
) => void | Promise<void>;

/**
 * Listens on an ephemeral port of 127.0.0.1; `close` destroys the open
 * connections first, so a test never waits for a client's keep-alive.
 */
export async function listenLocal(
  server: NetServer,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function startFake(handler: FakeHandler): Promise<FakeServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyLength: body.length,
      });
      Promise.resolve(handler(req, res, body, requests)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  const { port, close } = await listenLocal(server);
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, requests, close };
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * A self-signed certificate made with openssl in `dir` (files `<name>.key`
 * and `<name>.crt`), for `subject`; with `ip`, also valid for that address.
 * Undefined when openssl is missing.
 */
export function selfSignedCertificate(
  dir: string,
  options: { name?: string; subject?: string; ip?: string } = {},
): { key: Buffer; cert: Buffer; keyPath: string; certPath: string } | undefined {
  const name = options.name ?? 'tls';
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'];
  args.push('-keyout', keyPath, '-out', certPath, '-subj', options.subject ?? '/CN=127.0.0.1');
  if (options.ip !== undefined) args.push('-addext', `subjectAltName=IP:${options.ip}`);
  try {
    execFileSync('openssl', args, { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath };
}

/** An https server on 127.0.0.1 with `tls`, shaped as a FakeServer (no request log). */
export async function startHttpsFake(
  tls: { key: Buffer; cert: Buffer },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<FakeServer> {
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, handler);
  const { port, close } = await listenLocal(server);
  const host = `127.0.0.1:${port}`;
  return { host, url: `https://${host}`, requests: [], close };
}
