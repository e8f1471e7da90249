/**
 * Test harness: a real CNCF distribution registry (Debian's docker-registry)
 * on 127.0.0.1 at a free port, with its storage in a temp dir, killed and
 * removed by `stop()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BIN = process.env.TSOCI_REGISTRY_BIN ?? '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

/**
 * The registry tests need `docker-registry` (and skopeo for the interop
 * tests). Outside CI they are skipped when the tools are missing; in CI a
 * missing tool fails the run, so that a setup that forgot to install them is
 * noticed.
 */
export const haveRegistry = existsSync(REGISTRY_BIN) || process.env.CI === 'true';
export const haveSkopeo = existsSync(SKOPEO_BIN) || process.env.CI === 'true';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningRegistry {
  /** `127.0.0.1:<port>`, as written in references. */
  host: string;
  port: number;
  url: string;
  dir: string;
  /** What the registry printed (for failure messages). */
  log: () => string;
  stop: () => Promise<void>;
}

export interface RegistryAuthConfig {
  htpasswd?: { realm: string; path: string };
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
}

function yamlAuth(auth: RegistryAuthConfig | undefined): string {
  if (auth?.htpasswd) {
    return `auth:\n  htpasswd:\n    realm: ${auth.htpasswd.realm}\n    path: ${auth.htpasswd.path}\n`;
  }
  if (auth?.token) {
    const t = auth.token;
    return `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.rootcertbundle}\n`;
  }
  return '';
}

export async function startRegistry(
  options: { auth?: RegistryAuthConfig } = {},
): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'tsoci-registry-'));
  let lastError: unknown;
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: tsoci-test-secret-${port}
${yamlAuth(options.auth)}`,
    );
    const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    try {
      await waitReady(child, `http://127.0.0.1:${port}/v2/`, () => output);
    } catch (error) {
      lastError = error;
      await kill(child);
      continue;
    }
    return {
      host: `127.0.0.1:${port}`,
      port,
      url: `http://127.0.0.1:${port}`,
      dir,
      log: () => output,
      stop: async () => {
        await kill(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

async function waitReady(child: ChildProcess, url: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    }
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer at ${url} within 15 s:\n${log()}`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A bcrypt htpasswd line (`htpasswd -nbB`, else python3's crypt with libxcrypt). */
export function htpasswdLine(user: string, password: string): string {
  try {
    return execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim();
  } catch {
    const hash = execFileSync(
      'python3',
      [
        '-W',
        'ignore',
        '-c',
        'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))',
        password,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    return `${user}:${hash}`;
  }
}
