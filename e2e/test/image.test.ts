/**
 * tsoci's own image commands, end to end with the built CLI: `image
 * import|pull|push|ls|inspect|rm`, `bundle` (copy and overlay), `run --image`,
 * a real registry (Debian's docker-registry) on loopback, and bad input.
 *
 * The images are built here, at test time, by plain code (GNU tar for the
 * layers, hand-written manifest/config/index), so nothing of tsoci's image
 * package is trusted to make what it then reads. umoci and skopeo serve as
 * oracles where they are installed.
 *
 * runc and crun have no image commands: with TSOCI_RUNTIME pointing at them
 * the whole file is skipped, and the test titles say so.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runtimeOnPty } from './helpers/console.js';
import { pidAlive, useE2E, waitFor } from './helpers/context.js';
import { describeResult, type RuntimeResult, rt } from './helpers/runtime.js';

const SKIP =
  rt.name === 'tsoci'
    ? ''
    : ` [skipped: ${rt.name === 'unknown' ? rt.target : rt.name} has no image commands (image, bundle and run --image are tsoci's own)]`;
const suite = SKIP === '' ? describe : describe.skip;

const REGISTRY_BIN = '/usr/bin/docker-registry';
const haveRegistry = existsSync(REGISTRY_BIN);
const haveUmoci = hasCommand('umoci');
const haveSkopeo = hasCommand('skopeo');
const haveHtpasswd = hasCommand('htpasswd');

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ctx = useE2E('img');

// ---------------------------------------------------------------------------
// The test image, written by hand

const sha256 = (b: Uint8Array | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (digest: string): string => digest.slice('sha256:'.length);

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };
const OTHER_ARCH = process.arch === 's390x' ? 'ppc64le' : 's390x';
const MOTD = 'hello from layer three\n';
const CMD = ['sh', '-c', 'cat /etc/motd; ls /data; echo "cwd=$(pwd) e2e=$E2E"; exit 7'];

interface Fixture {
  dir: string;
  layout: string;
  tag: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
  /** tar of the layout. */
  ociArchive: string;
  /** `docker save` (classic) of the same layers and config. */
  dockerArchive: string;
  dockerName: string;
  /** The first half of ociArchive. */
  brokenArchive: string;
  /** A copy of the layout with one byte of file content changed in the (plain tar) top layer. */
  corruptLayout: string;
  /** A copy of the layout with one byte flipped in the middle of the gzip base layer. */
  corruptGzipLayout: string;
  /** The OTHER_ARCH manifest of the "multi" index. */
  otherDigest: string;
}

/** A tar of `names` (relative to `dir`), reproducible, owned by root. */
function tarOf(dir: string, names: string[]): Buffer {
  return execFileSync(
    'tar',
    [
      '-C',
      dir,
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@1700000000',
      '-cf',
      '-',
      ...names,
    ],
    { maxBuffer: 1 << 30 },
  );
}

function buildFixture(): Fixture {
  const dir = mkdtempSync('/tmp/te2e-img-fixture-');
  chmodSync(dir, 0o755);
  // Layer 1: busybox and its applets.
  const l1 = path.join(dir, 'l1');
  mkdirSync(path.join(l1, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(l1, 'bin/busybox'));
  chmodSync(path.join(l1, 'bin/busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', path.join(l1, 'bin', a));
  // Layer 2: users, a file that layer 3 deletes, a motd that layer 3 replaces.
  const l2 = path.join(dir, 'l2');
  mkdirSync(path.join(l2, 'etc'), { recursive: true });
  mkdirSync(path.join(l2, 'data'), { recursive: true });
  writeFileSync(path.join(l2, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(path.join(l2, 'etc/group'), 'root:x:0:\n');
  writeFileSync(path.join(l2, 'etc/motd'), 'layer two\n');
  writeFileSync(path.join(l2, 'data/old.txt'), 'deleted by layer three\n');
  // Layer 3: a whiteout, a new file, a replaced file.
  const l3 = path.join(dir, 'l3');
  mkdirSync(path.join(l3, 'etc'), { recursive: true });
  mkdirSync(path.join(l3, 'data'), { recursive: true });
  writeFileSync(path.join(l3, 'etc/motd'), MOTD);
  writeFileSync(path.join(l3, 'data/.wh.old.txt'), '');
  writeFileSync(path.join(l3, 'data/new.txt'), 'new\n');

  const tars = [tarOf(l1, ['bin']), tarOf(l2, ['data', 'etc']), tarOf(l3, ['data', 'etc'])];
  const diffIds = tars.map((t) => sha256(t));
  const layout = path.join(dir, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const putBlob = (b: Buffer): string => {
    const d = sha256(b);
    writeFileSync(path.join(blobs, hex(d)), b);
    return d;
  };
  // Two gzip layers and one plain tar layer.
  const layerBlobs = [gzipSync(tars[0] as Buffer), gzipSync(tars[1] as Buffer), tars[2] as Buffer];
  const layers = layerBlobs.map((b, i) => ({
    mediaType:
      i < 2
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.oci.image.layer.v1.tar',
    digest: putBlob(b),
    size: b.length,
  }));
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-02T03:04:05Z',
      architecture: ARCH[process.arch] ?? process.arch,
      os: 'linux',
      config: { Cmd: CMD, Env: ['PATH=/bin', 'E2E=image'], WorkingDir: '/data' },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [{ created_by: 'tsoci e2e' }],
    }),
  );
  const configDigest = putBlob(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers,
    }),
  );
  const manifestDigest = putBlob(manifest);
  const tag = 'v1';
  // A multi-platform index (tag "multi"): this host's manifest and one for OTHER_ARCH.
  const otherConfig = Buffer.from(
    JSON.stringify({
      architecture: OTHER_ARCH,
      os: 'linux',
      config: { Cmd: ['other'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const otherManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: putBlob(otherConfig),
        size: otherConfig.length,
      },
      layers,
    }),
  );
  const otherDigest = putBlob(otherManifest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: otherDigest,
          size: otherManifest.length,
          platform: { os: 'linux', architecture: OTHER_ARCH },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          platform: { os: 'linux', architecture: ARCH[process.arch] ?? process.arch },
        },
      ],
    }),
  );
  const indexDigest = putBlob(index);
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
        {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          digest: indexDigest,
          size: index.length,
          annotations: { 'org.opencontainers.image.ref.name': 'multi' },
        },
      ],
    }),
  );

  const ociArchive = path.join(dir, 'layout.tar');
  writeFileSync(ociArchive, tarOf(layout, ['blobs', 'index.json', 'oci-layout']));
  const brokenArchive = path.join(dir, 'broken.tar');
  const whole = readFileSync(ociArchive);
  writeFileSync(brokenArchive, whole.subarray(0, Math.floor(whole.length / 2)));

  // docker save, classic: manifest.json, <config>.json, <id>/layer.tar.
  const save = path.join(dir, 'save');
  mkdirSync(save);
  writeFileSync(path.join(save, `${hex(configDigest)}.json`), config);
  const layerFiles = tars.map((t, i) => {
    const id = hex(diffIds[i] as string);
    mkdirSync(path.join(save, id));
    writeFileSync(path.join(save, id, 'layer.tar'), t);
    return `${id}/layer.tar`;
  });
  const dockerName = 'e2e/saved:latest';
  writeFileSync(
    path.join(save, 'manifest.json'),
    JSON.stringify([
      { Config: `${hex(configDigest)}.json`, RepoTags: [dockerName], Layers: layerFiles },
    ]),
  );
  const dockerArchive = path.join(dir, 'saved.tar');
  writeFileSync(dockerArchive, tarOf(save, readdirSync(save).sort()));

  // Two corrupt copies: a flipped byte in the plain layer's file data (only the
  // digest check can notice) and one in the middle of the gzip base layer.
  const corruptLayout = path.join(dir, 'corrupt');
  cpSync(layout, corruptLayout, { recursive: true });
  const plain = path.join(corruptLayout, 'blobs', 'sha256', hex(layers[2]?.digest ?? ''));
  const plainBytes = readFileSync(plain);
  const at = plainBytes.indexOf(Buffer.from(MOTD));
  if (at < 0) throw new Error('motd not found in layer 3');
  plainBytes[at] = 'H'.charCodeAt(0);
  writeFileSync(plain, plainBytes);
  const corruptGzipLayout = path.join(dir, 'corrupt-gzip');
  cpSync(layout, corruptGzipLayout, { recursive: true });
  const victim = path.join(corruptGzipLayout, 'blobs', 'sha256', hex(layers[0]?.digest ?? ''));
  const bytes = readFileSync(victim);
  const mid = Math.floor(bytes.length / 2);
  bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
  writeFileSync(victim, bytes);

  return {
    dir,
    layout,
    tag,
    manifestDigest,
    configDigest,
    layerDigests: layers.map((l) => l.digest),
    diffIds,
    ociArchive,
    dockerArchive,
    dockerName,
    brokenArchive,
    corruptLayout,
    corruptGzipLayout,
    otherDigest,
  };
}

let fx: Fixture;
if (SKIP === '') {
  beforeAll(() => {
    fx = buildFixture();
  });
  afterAll(() => {
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });
}

// ---------------------------------------------------------------------------
// Helpers

/** Mount points at or below `prefix` (this test's directories). */
function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) =>
      p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    )
    .filter((p) => p === prefix || p.startsWith(`${prefix}/`));
}

function mountType(mountpoint: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === mountpoint) return line.slice(line.indexOf(' - ') + 3).split(' ')[0];
  }
  return undefined;
}

// Safety net, registered after useE2E so that it runs before its teardown:
// nothing a failed test mounted under its directory may survive it.
afterEach(() => {
  if (ctx.base === '') return;
  for (const m of mountsUnder(ctx.base).reverse()) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

function storeOf(): string {
  return path.join(ctx.base, 'store');
}

/** `tsoci image --store <test store> …` */
function image(
  args: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<RuntimeResult> {
  return ctx.rt(['image', '--store', storeOf(), ...args], opts);
}

function ok(r: RuntimeResult): RuntimeResult {
  expect(r.exitCode, describeResult(r)).toBe(0);
  return r;
}

function failed(r: RuntimeResult, pattern: RegExp): void {
  expect(r.exitCode, describeResult(r)).not.toBe(0);
  expect(String(r.stderr), describeResult(r)).toMatch(/^tsoci: /m);
  expect(String(r.stderr), describeResult(r)).toMatch(pattern);
}

async function importFixture(name = 'e2e/busybox:v1'): Promise<string> {
  const r = ok(await image(['import', '--quiet', `oci:${fx.layout}:${fx.tag}`, name]));
  return String(r.stdout).trim();
}

function storeIndexNames(): string[] {
  const file = path.join(storeOf(), 'index.json');
  if (!existsSync(file)) return [];
  const index = JSON.parse(readFileSync(file, 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  return index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '');
}

function ingestLeftovers(): string[] {
  const d = path.join(storeOf(), 'tsoci', 'ingest');
  return existsSync(d) ? readdirSync(d) : [];
}

function runBundles(): string[] {
  const d = path.join(ctx.root, '@bundles');
  return existsSync(d) ? readdirSync(d) : [];
}

function fileHash(p: string): string {
  return sha256(readFileSync(p));
}

/** Checks a rootfs against the three layers: busybox, users, the whiteout, the new motd. */
function expectImageRootfs(rootfs: string): void {
  expect(fileHash(path.join(rootfs, 'bin/busybox'))).toBe(fileHash('/bin/busybox'));
  expect(statSync(path.join(rootfs, 'bin/busybox')).mode & 0o777).toBe(0o755);
  expect(readlinkSync(path.join(rootfs, 'bin/sh'))).toBe('busybox');
  expect(readFileSync(path.join(rootfs, 'etc/motd'), 'utf8')).toBe(MOTD);
  expect(readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
  expect(existsSync(path.join(rootfs, 'data/old.txt'))).toBe(false);
  expect(existsSync(path.join(rootfs, 'data/.wh.old.txt'))).toBe(false);
  expect(readFileSync(path.join(rootfs, 'data/new.txt'), 'utf8')).toBe('new\n');
}

interface BundleConfig {
  process: { args: string[]; env: string[]; cwd: string; terminal?: boolean };
  root: { path: string };
  hooks?: { poststop?: { path: string; args?: string[] }[] };
}

function readConfig(dir: string): BundleConfig {
  return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as BundleConfig;
}

// ---------------------------------------------------------------------------
// A registry on loopback

interface Registry {
  host: string;
  dir: string;
  stop(): Promise<void>;
  log(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function startRegistry(
  options: { htpasswd?: string; tls?: boolean } = {},
): Promise<Registry> {
  const dir = mkdtempSync('/tmp/te2e-img-registry-');
  const scheme = options.tls ? 'https' : 'http';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let auth = '';
    if (options.htpasswd !== undefined) {
      writeFileSync(path.join(dir, 'htpasswd'), `${options.htpasswd}\n`);
      auth = `auth:\n  htpasswd:\n    realm: e2e\n    path: ${path.join(dir, 'htpasswd')}\n`;
    }
    let tls = '';
    if (options.tls) {
      // A self-signed certificate for 127.0.0.1: only --insecure accepts it.
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          path.join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      tls = `  tls:\n    certificate: ${path.join(dir, 'cert.pem')}\n    key: ${path.join(dir, 'key.pem')}\n`;
    }
    const config = path.join(dir, 'config.yml');
    writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: e2e-${port}\n${tls}${auth}`,
    );
    const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
    };
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const ready = options.tls
          ? execFileSync(
              'curl',
              ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `${scheme}://127.0.0.1:${port}/v2/`],
              {
                encoding: 'utf8',
              },
            )
          : String(
              await fetch(`http://127.0.0.1:${port}/v2/`).then(async (r) => {
                await r.body?.cancel();
                return r.status;
              }),
            );
        if (ready === '200' || ready === '401') {
          return {
            host: `127.0.0.1:${port}`,
            dir,
            log: () => output,
            stop: async () => {
              await stop();
              rmSync(dir, { recursive: true, force: true });
            },
          };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop();
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('docker-registry did not start');
}

// ---------------------------------------------------------------------------

suite(`tsoci image import / ls / inspect / rm${SKIP}`, () => {
  it('imports an OCI layout, lists it as a table and as JSON, and inspects it', async () => {
    const digest = await importFixture();
    expect(digest).toBe(fx.manifestDigest);

    const table = ok(await image(['ls']));
    const lines = String(table.stdout).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+DIGEST\s+SIZE\s+CREATED$/);
    expect(lines).toHaveLength(2);
    const cells = (lines[1] ?? '').split(/\s{3,}/);
    expect(cells[0]).toBe('e2e/busybox:v1');
    expect(cells[1]).toBe(hex(fx.manifestDigest).slice(0, 12));
    expect(cells[2]).toMatch(/^[0-9.]+(B|kB|MB)$/);
    expect(cells[3]).toMatch(/ago$/);

    const json = JSON.parse(String(ok(await image(['ls', '--format', 'json'])).stdout)) as {
      name: string;
      digest: string;
      size: number;
      created: string;
    }[];
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({
      name: 'e2e/busybox:v1',
      digest: fx.manifestDigest,
      created: '2024-01-02T03:04:05Z',
    });
    const blobSize = [...fx.layerDigests, fx.configDigest]
      .map((d) => statSync(path.join(fx.layout, 'blobs/sha256', hex(d))).size)
      .reduce((a, b) => a + b, 0);
    expect(json[0]?.size).toBe(blobSize);
    expect(String(ok(await image(['ls', '-q'])).stdout)).toBe('e2e/busybox:v1\n');

    const inspect = JSON.parse(String(ok(await image(['inspect', 'e2e/busybox:v1'])).stdout)) as {
      digest: string;
      name: string;
      manifest: { layers: { digest: string }[]; config: { digest: string } };
      config: { config: { Cmd: string[] }; rootfs: { diff_ids: string[] } };
    };
    expect(inspect.digest).toBe(fx.manifestDigest);
    expect(inspect.name).toBe('e2e/busybox:v1');
    expect(inspect.manifest.layers.map((l) => l.digest)).toEqual(fx.layerDigests);
    expect(inspect.manifest.config.digest).toBe(fx.configDigest);
    expect(inspect.config.config.Cmd).toEqual(CMD);
    expect(inspect.config.rootfs.diff_ids).toEqual(fx.diffIds);

    // Found by digest prefix, and straight from the layout without the store.
    const byDigest = JSON.parse(
      String(ok(await image(['inspect', hex(fx.manifestDigest).slice(0, 12)])).stdout),
    ) as { digest: string };
    expect(byDigest.digest).toBe(fx.manifestDigest);
    const direct = JSON.parse(
      String(ok(await image(['inspect', `oci:${fx.layout}:${fx.tag}`])).stdout),
    ) as { digest: string; name?: string };
    expect(direct.digest).toBe(fx.manifestDigest);
    expect(direct.name).toBeUndefined();
  });

  it.skipIf(!haveUmoci)(
    `stores an image that umoci can unpack (the store is an OCI layout)${haveUmoci ? '' : ' [skipped: umoci is not installed]'}`,
    async () => {
      await importFixture();
      const out = path.join(ctx.base, 'umoci');
      execFileSync('umoci', ['unpack', '--image', `${storeOf()}:e2e/busybox:v1`, out], {
        stdio: 'pipe',
      });
      expectImageRootfs(path.join(out, 'rootfs'));
    },
  );

  it('imports oci-archive and docker-archive images with the same layers', async () => {
    const a = ok(await image(['import', '-q', `oci-archive:${fx.ociArchive}:${fx.tag}`]));
    expect(String(a.stdout).trim()).toBe(fx.manifestDigest);
    ok(await image(['import', '-q', `docker-archive:${fx.dockerArchive}:${fx.dockerName}`]));
    const names = String(ok(await image(['ls', '-q'])).stdout)
      .trim()
      .split('\n');
    // Default names: <archive name>:<tag>, and the archive's own NAME:TAG.
    expect(names.sort()).toEqual(['e2e/saved:latest', 'layout:v1']);
    const saved = JSON.parse(String(ok(await image(['inspect', fx.dockerName])).stdout)) as {
      config: { rootfs: { diff_ids: string[] } };
    };
    expect(saved.config.rootfs.diff_ids).toEqual(fx.diffIds);
    const dir = path.join(ctx.base, 'from-docker');
    ok(await ctx.rt(['bundle', '--store', storeOf(), fx.dockerName, dir]));
    expectImageRootfs(path.join(dir, 'rootfs'));
  });

  it('--platform chooses from a multi-platform index', async () => {
    const multi = `oci:${fx.layout}:multi`;
    const host = ok(await image(['import', '-q', multi, 'm:host']));
    expect(String(host.stdout).trim()).toBe(fx.manifestDigest);
    const other = ok(
      await image(['import', '-q', '--platform', `linux/${OTHER_ARCH}`, multi, 'm:other']),
    );
    expect(String(other.stdout).trim()).toBe(fx.otherDigest);
    const stored = JSON.parse(String(ok(await image(['inspect', 'm:other'])).stdout)) as {
      config: { architecture: string };
    };
    expect(stored.config.architecture).toBe(OTHER_ARCH);
    const direct = JSON.parse(
      String(ok(await image(['inspect', '--platform', `linux/${OTHER_ARCH}`, multi])).stdout),
    ) as { digest: string; platform: { architecture: string } };
    expect(direct.digest).toBe(fx.otherDigest);
    expect(direct.platform.architecture).toBe(OTHER_ARCH);
    failed(await image(['import', '--platform', 'linux/mips64le', multi, 'm:x']), /mips64le/);
    failed(await image(['import', '--platform', 'mips64le', multi, 'm:x']), /invalid --platform/);
    expect(String(ok(await image(['ls', '-q'])).stdout)).toBe('m:host\nm:other\n');
  });

  it('prints plain progress lines when stderr is not a terminal, and none with --quiet', async () => {
    const r = ok(await image(['import', `oci:${fx.layout}:${fx.tag}`, 'p:1']));
    const err = String(r.stderr);
    for (const d of fx.layerDigests) {
      expect(err).toMatch(new RegExp(`^Copying blob ${hex(d).slice(0, 12)} done \\(`, 'm'));
    }
    expect(err).toMatch(new RegExp(`^Copying config ${hex(fx.configDigest).slice(0, 12)} `, 'm'));
    expect(err).toMatch(/^Stored p:1 \(sha256:[0-9a-f]{64}\)/m);
    expect(err).not.toContain('\x1b[');
    const again = ok(await image(['import', `oci:${fx.layout}:${fx.tag}`, 'p:2']));
    expect(String(again.stderr)).toMatch(/already present/);
    const quiet = ok(await image(['import', '-q', `oci:${fx.layout}:${fx.tag}`, 'p:3']));
    expect(String(quiet.stderr)).toBe('');
    expect(String(quiet.stdout)).toBe(`${fx.manifestDigest}\n`);
  });

  it('redraws progress in place on a terminal', async () => {
    const out = await runtimeOnPty(
      [
        '--root',
        ctx.root,
        'image',
        'import',
        '--store',
        storeOf(),
        `oci:${fx.layout}:${fx.tag}`,
        'tty:1',
      ],
      '',
    );
    expect(out.exitCode, out.output).toBe(0);
    expect(out.output).toContain('\x1b[2K');
    expect(out.output).toMatch(/Copying blob [0-9a-f]{12} done/);
  });

  it('removes images by name and by digest; a missing one is an error unless --force', async () => {
    await importFixture('e2e/a:1');
    await importFixture('e2e/b:1');
    expect(String(ok(await image(['rm', 'e2e/a:1'])).stdout)).toBe('e2e/a:1\n');
    expect(String(ok(await image(['ls', '-q'])).stdout)).toBe('e2e/b:1\n');
    failed(await image(['inspect', 'e2e/a:1']), /e2e\/a:1/);
    failed(await image(['rm', 'e2e/a:1']), /image "e2e\/a:1" not found in store/);
    ok(await image(['rm', '--force', 'e2e/a:1']));
    ok(await image(['rm', `sha256:${hex(fx.manifestDigest).slice(0, 16)}`]));
    expect(String(ok(await image(['ls', '-q'])).stdout)).toBe('');
    expect(storeIndexNames()).toEqual([]);
  });

  it('--store works before and after the subcommand, and TSOCI_STORE is honoured', async () => {
    const other = path.join(ctx.base, 'other-store');
    ok(
      await ctx.rt([
        'image',
        'import',
        '-q',
        '--store',
        other,
        `oci:${fx.layout}:${fx.tag}`,
        'x:1',
      ]),
    );
    expect(String(ok(await ctx.rt(['image', '--store', other, 'ls', '-q'])).stdout)).toBe('x:1\n');
    expect(String(ok(await ctx.rt(['image', 'ls', '-q', '--store', other])).stdout)).toBe('x:1\n');
    const env = ok(await ctx.rt(['image', 'ls', '-q'], { env: { TSOCI_STORE: other } }));
    expect(String(env.stdout)).toBe('x:1\n');
    // An empty store lists nothing and is not created by ls.
    const empty = path.join(ctx.base, 'none');
    expect(String(ok(await ctx.rt(['image', 'ls', '--store', empty])).stdout)).toMatch(/^NAME/);
    expect(existsSync(empty)).toBe(false);
  });
});

suite(`tsoci bundle${SKIP}`, () => {
  it('creates a bundle from an OCI layout (the umoci unpack equivalent)', async () => {
    const dir = path.join(ctx.base, 'b', 'mybundle');
    const r = ok(await ctx.rt(['bundle', `oci:${fx.layout}:${fx.tag}`, dir]));
    expect(String(r.stdout)).toBe('');
    expect(readdirSync(dir).sort()).toEqual(['.tsoci-bundle.json', 'config.json', 'rootfs']);
    expectImageRootfs(path.join(dir, 'rootfs'));
    const config = readConfig(dir);
    expect(config.process.args).toEqual(CMD);
    expect(config.process.cwd).toBe('/data');
    expect(config.process.env).toContain('E2E=image');
    expect(config.root.path).toBe('rootfs');
    // The runtime accepts it as it is.
    const run = await ctx.rt(['run', '--bundle', dir, ctx.id('bundle')]);
    expect(run.exitCode, describeResult(run)).toBe(7);
    expect(String(run.stdout)).toBe(`${MOTD}new.txt\ncwd=/data e2e=image\n`);
  });

  it('creates a bundle from a store image and from an oci-archive', async () => {
    await importFixture();
    for (const [i, ref] of ['e2e/busybox:v1', `oci-archive:${fx.ociArchive}:${fx.tag}`].entries()) {
      const dir = path.join(ctx.base, `b${i}`);
      ok(await ctx.rt(['bundle', '--store', storeOf(), ref, dir]));
      expectImageRootfs(path.join(dir, 'rootfs'));
    }
  });

  it('--overlay mounts the store layers; bundle --remove unmounts and deletes it', async () => {
    await importFixture();
    const dir = path.join(ctx.base, 'ovl');
    ok(await ctx.rt(['bundle', '--overlay', '--store', storeOf(), 'e2e/busybox:v1', dir]));
    const rootfs = path.join(dir, 'rootfs');
    expect(mountType(rootfs)).toBe('overlay');
    expectImageRootfs(rootfs);
    // Writes land in the bundle's upper dir, never in the shared layers.
    writeFileSync(path.join(rootfs, 'etc/motd'), 'changed\n');
    const second = path.join(ctx.base, 'ovl2');
    ok(await ctx.rt(['bundle', '--overlay', '--store', storeOf(), 'e2e/busybox:v1', second]));
    expect(readFileSync(path.join(second, 'rootfs/etc/motd'), 'utf8')).toBe(MOTD);
    const run = await ctx.rt(['run', '--bundle', second, ctx.id('ovl')]);
    expect(run.exitCode, describeResult(run)).toBe(7);
    for (const d of [dir, second]) {
      ok(await ctx.rt(['bundle', '--remove', d]));
      expect(existsSync(d)).toBe(false);
    }
    expect(mountsUnder(ctx.base)).toEqual([]);
  });

  it('--overlay from a transport reference leaves no name in the store', async () => {
    const dir = path.join(ctx.base, 'ovl');
    ok(
      await ctx.rt([
        'bundle',
        '-q',
        '--overlay',
        '--store',
        storeOf(),
        `oci:${fx.layout}:${fx.tag}`,
        dir,
      ]),
    );
    expect(mountType(path.join(dir, 'rootfs'))).toBe('overlay');
    expectImageRootfs(path.join(dir, 'rootfs'));
    expect(storeIndexNames()).toEqual([]);
    ok(await ctx.rt(['bundle', '--remove', dir]));
    expect(mountsUnder(ctx.base)).toEqual([]);
  });

  it('refuses a non-empty directory and a directory that is not a bundle', async () => {
    const dir = ctx.dir('full');
    writeFileSync(path.join(dir, 'keep'), 'x');
    failed(await ctx.rt(['bundle', `oci:${fx.layout}:${fx.tag}`, dir]), /not empty/);
    expect(readdirSync(dir)).toEqual(['keep']);
    failed(await ctx.rt(['bundle', '--remove', dir]), /not a bundle/);
    expect(readdirSync(dir)).toEqual(['keep']);
    failed(await ctx.rt(['bundle', `oci:${fx.layout}:${fx.tag}`]), /IMAGE and DIR/);
  });
});

suite(`tsoci run --image${SKIP}`, () => {
  it('runs a store image in the foreground, exits with its status, and leaves nothing', async () => {
    await importFixture();
    const id = ctx.id('run');
    const r = await ctx.rt(['run', '--image', 'e2e/busybox:v1', id], {
      env: { TSOCI_STORE: storeOf() },
    });
    expect(r.exitCode, describeResult(r)).toBe(7);
    expect(String(r.stdout)).toBe(`${MOTD}new.txt\ncwd=/data e2e=image\n`);
    expect((await ctx.rt(['state', id])).exitCode).not.toBe(0);
    expect(runBundles()).toEqual([]);
    expect(mountsUnder(ctx.base)).toEqual([]);
  });

  it('runs an image straight from a layout (copy mode)', async () => {
    const id = ctx.id('run');
    const r = await ctx.rt(['run', '--image', `oci:${fx.layout}:${fx.tag}`, id], {
      env: { TSOCI_STORE: storeOf() },
    });
    expect(r.exitCode, describeResult(r)).toBe(7);
    expect(String(r.stdout)).toContain('cwd=/data');
    expect(runBundles()).toEqual([]);
    expect(storeIndexNames()).toEqual([]);
  });

  it('--keep keeps the bundle until delete; --detach until delete --force', async () => {
    await importFixture();
    const env = { TSOCI_STORE: storeOf() };
    const kept = ctx.id('keep');
    const r = await ctx.rt(['run', '--keep', '--image', 'e2e/busybox:v1', kept], { env });
    expect(r.exitCode, describeResult(r)).toBe(7);
    const st = JSON.parse(String(ok(await ctx.rt(['state', kept])).stdout)) as {
      status: string;
      bundle: string;
    };
    expect(st.status).toBe('stopped');
    expect(st.bundle.startsWith(path.join(ctx.root, '@bundles', `${kept}.`))).toBe(true);
    expect(mountType(path.join(st.bundle, 'rootfs'))).toBe('overlay');
    ok(await ctx.rt(['delete', kept]));
    expect(existsSync(st.bundle)).toBe(false);
    expect(mountsUnder(ctx.base)).toEqual([]);

    const detached = ctx.id('det');
    const d = await ctx.rt(['run', '--detach', '--image', 'e2e/busybox:v1', detached], {
      env,
      stdout: 'ignore',
      stderr: 'ignore',
    });
    expect(d.exitCode, describeResult(d)).toBe(0);
    const ds = JSON.parse(String(ok(await ctx.rt(['state', detached])).stdout)) as {
      pid: number;
      bundle: string;
    };
    expect(existsSync(path.join(ds.bundle, 'rootfs/bin/busybox'))).toBe(true);
    const config = readConfig(ds.bundle);
    expect(config.hooks?.poststop?.at(-1)?.args?.slice(-3)).toEqual([
      'bundle',
      '--remove',
      ds.bundle,
    ]);
    ok(await ctx.rt(['delete', '--force', detached]));
    await waitFor(() => !pidAlive(ds.pid), 'the detached container to die');
    expect(existsSync(ds.bundle)).toBe(false);
    expect(runBundles()).toEqual([]);
    expect(mountsUnder(ctx.base)).toEqual([]);
  });

  it('fails clearly on a missing image and a bad reference, creating nothing', async () => {
    const env = { TSOCI_STORE: storeOf() };
    const id = ctx.id('bad');
    failed(
      await ctx.rt(['run', '--image', 'oci:/nonexistent-e2e-layout:v1', id], { env }),
      /oci:\/nonexistent-e2e-layout:v1/,
    );
    failed(await ctx.rt(['run', '--image', 'dir:/x', id], { env }), /unsupported transport "dir:"/);
    failed(
      await ctx.rt(['run', '--image', `oci:${fx.layout}:nope`, id], { env }),
      /no image named "nope"/,
    );
    expect((await ctx.rt(['state', id])).exitCode).not.toBe(0);
    expect(runBundles()).toEqual([]);
    failed(
      await ctx.rt(['run', '--image', `oci:${fx.layout}:${fx.tag}`, '--bundle', ctx.base, id]),
      /--image and --bundle/,
    );
  });
});

suite(`image errors: nothing half-written${SKIP}`, () => {
  it('a bad reference names itself and creates nothing', async () => {
    const dir = path.join(ctx.base, 'nb');
    for (const [ref, msg] of [
      ['docker:/busybox', /docker:\/\//],
      ['oci:', /no directory after "oci:"/],
      ['docker-archive:/x.tar:@x', /@N/],
      ['Bad_Name', /"Bad_Name" not found in store .*lowercase/],
      ['docker://127.0.0.1:5000/UPPER', /UPPER/],
    ] as const) {
      failed(await ctx.rt(['bundle', '--store', storeOf(), ref, dir]), msg);
      expect(existsSync(dir)).toBe(false);
    }
    failed(await image(['import', 'busybox']), /image import needs a transport/);
    expect(existsSync(storeOf())).toBe(false);
  });

  it('a missing image: no tag in a layout, no such store name, no such layout', async () => {
    const dir = path.join(ctx.base, 'nb');
    failed(await ctx.rt(['bundle', `oci:${fx.layout}:missing`, dir]), /no image named "missing"/);
    failed(await image(['inspect', 'sha256:0123456789abcdef']), /not found in store/);
    failed(
      await ctx.rt(['bundle', `oci:${path.join(ctx.base, 'nolayout')}`, dir]),
      /nolayout.*not an OCI image layout/,
    );
    failed(
      await image(['push', 'no/such:image', 'docker://127.0.0.1:1/x:y']),
      /not found in store/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('a broken archive leaves no store entry and no partial blob', async () => {
    await importFixture('keep:1');
    const before = readFileSync(path.join(storeOf(), 'index.json'), 'utf8');
    failed(
      await image(['import', `oci-archive:${fx.brokenArchive}:${fx.tag}`, 'broken:1']),
      /broken\.tar/,
    );
    expect(readFileSync(path.join(storeOf(), 'index.json'), 'utf8')).toBe(before);
    expect(ingestLeftovers()).toEqual([]);
    failed(
      await image(['import', 'docker-archive:/etc/passwd', 'x:1']),
      /docker-archive:\/etc\/passwd/,
    );
    const dir = path.join(ctx.base, 'nb');
    failed(
      await ctx.rt(['bundle', `oci-archive:${fx.brokenArchive}:${fx.tag}`, dir]),
      /broken\.tar/,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('a corrupt layer fails the digest check and leaves no bundle (copy and overlay)', async () => {
    const dir = path.join(ctx.base, 'nested', 'nb');
    const top = hex(fx.layerDigests[2] ?? '');
    failed(
      await ctx.rt(['bundle', `oci:${fx.corruptLayout}:${fx.tag}`, dir]),
      new RegExp(`oci:${fx.corruptLayout}:${fx.tag}: .*(digest|${top.slice(0, 12)})`),
    );
    expect(existsSync(path.join(ctx.base, 'nested'))).toBe(false);
    failed(
      await ctx.rt(['bundle', `oci:${fx.corruptGzipLayout}:${fx.tag}`, dir]),
      /corrupt-gzip:v1: /,
    );
    expect(existsSync(path.join(ctx.base, 'nested'))).toBe(false);
    // One store each: a store that already holds a good copy of a blob never reads it again.
    for (const [i, layout] of [fx.corruptLayout, fx.corruptGzipLayout].entries()) {
      const store = i === 0 ? storeOf() : path.join(ctx.base, 'store2');
      failed(
        await ctx.rt(['bundle', '--overlay', '--store', store, `oci:${layout}:${fx.tag}`, dir]),
        /corrupt/,
      );
      expect(existsSync(path.join(ctx.base, 'nested'))).toBe(false);
    }
    expect(storeIndexNames()).toEqual([]);
    expect(ingestLeftovers()).toEqual([]);
    expect(mountsUnder(ctx.base)).toEqual([]);
    failed(
      await image(['import', `oci:${fx.corruptLayout}:${fx.tag}`, 'corrupt:1']),
      /digest|sha256/,
    );
    expect(storeIndexNames()).toEqual([]);
  });
});

suite(`interrupted bundles${SKIP}`, () => {
  it('SIGINT while a bundle is being unpacked removes it and exits 130', async () => {
    // A layout with one 48 MB layer of random data: slow enough to catch mid-way.
    const layout = path.join(ctx.base, 'big-layout');
    const blobs = path.join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const tree = ctx.dir('big-tree');
    for (let i = 0; i < 6; i++) writeFileSync(path.join(tree, `f${i}`), randomBytes(8 << 20));
    const tar = tarOf(tree, readdirSync(tree).sort());
    const put = (b: Buffer) => {
      const d = sha256(b);
      writeFileSync(path.join(blobs, hex(d)), b);
      return d;
    };
    const config = Buffer.from(
      JSON.stringify({
        architecture: ARCH[process.arch] ?? process.arch,
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: put(config),
          size: config.length,
        },
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar',
            digest: put(tar),
            size: tar.length,
          },
        ],
      }),
    );
    const md = put(manifest);
    writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      path.join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: md,
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': 'big' },
          },
        ],
      }),
    );
    const dir = path.join(ctx.base, 'parent', 'bundle');
    const child = spawn(rt.file, [...rt.prefix, 'bundle', '-q', `oci:${layout}:big`, dir], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor(() => existsSync(path.join(dir, 'rootfs', 'f0')), 'the unpack to begin', 20_000);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(path.join(ctx.base, 'parent'))).toBe(false);
  });
});

const registrySuite = haveRegistry ? suite : describe.skip;
const REGISTRY_NOTE = haveRegistry ? '' : ` [skipped: ${REGISTRY_BIN} is not installed]`;

registrySuite(`image push / pull with a registry on loopback${SKIP}${REGISTRY_NOTE}`, () => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('pushes a store image, pulls it back by name, and runs it', async () => {
    await importFixture();
    const remote = `${reg.host}/e2e/busybox:v1`;
    const push = ok(await image(['push', '--plain-http', 'e2e/busybox:v1', `docker://${remote}`]));
    expect(String(push.stdout).trim()).toBe(fx.manifestDigest);
    expect(String(push.stderr)).toMatch(/^Pushed docker:\/\//m);
    if (haveSkopeo) {
      const raw = execFileSync(
        'skopeo',
        ['inspect', '--raw', '--tls-verify=false', `docker://${remote}`],
        { encoding: 'utf8' },
      );
      expect(sha256(raw)).toBe(fx.manifestDigest);
    }
    ok(await image(['rm', 'e2e/busybox:v1']));
    const pull = ok(await image(['pull', '--plain-http', remote]));
    expect(String(pull.stdout).trim()).toBe(fx.manifestDigest);
    expect(String(pull.stderr)).toMatch(/^Copying blob [0-9a-f]{12} /m);
    expect(String(ok(await image(['ls', '-q'])).stdout)).toBe(`${remote}\n`);
    // A bare name finds the pulled image in the store.
    const id = ctx.id('reg');
    const run = await ctx.rt(['run', '--image', remote, id], { env: { TSOCI_STORE: storeOf() } });
    expect(run.exitCode, describeResult(run)).toBe(7);
    expect(String(run.stdout)).toContain(MOTD);
  });

  it('push without a destination uses the name; inspect and bundle read the registry', async () => {
    const remote = `${reg.host}/e2e/named:v2`;
    await importFixture(remote);
    ok(await image(['push', '-q', '--plain-http', remote]));
    const other = path.join(ctx.base, 'other');
    const inspect = JSON.parse(
      String(
        ok(await ctx.rt(['image', 'inspect', '--store', other, '--plain-http', remote])).stdout,
      ),
    ) as { digest: string };
    expect(inspect.digest).toBe(fx.manifestDigest);
    const dir = path.join(ctx.base, 'rb');
    ok(await ctx.rt(['bundle', '-q', '--plain-http', `docker://${remote}`, dir]));
    expectImageRootfs(path.join(dir, 'rootfs'));
    // A bare name missing from the store is pulled into it by bundle.
    const dir2 = path.join(ctx.base, 'rb2');
    ok(await ctx.rt(['bundle', '-q', '--store', other, '--plain-http', remote, dir2]));
    expect(String(ok(await ctx.rt(['image', 'ls', '-q', '--store', other])).stdout)).toBe(
      `${remote}\n`,
    );
  });

  it('a missing repository or tag is a clear 404 and leaves nothing', async () => {
    const missing = `${reg.host}/e2e/nothing:here`;
    failed(await image(['pull', '--plain-http', missing]), /e2e\/nothing:here.*404/);
    expect(storeIndexNames()).toEqual([]);
    expect(ingestLeftovers()).toEqual([]);
    const dir = path.join(ctx.base, 'nb');
    failed(await ctx.rt(['bundle', '--store', storeOf(), '--plain-http', missing, dir]), /404/);
    expect(existsSync(dir)).toBe(false);
    // https against a plain-http registry says what to do.
    failed(await image(['pull', missing]), /--plain-http/);
  });
});

const authSuite = haveRegistry && haveHtpasswd ? suite : describe.skip;
authSuite(`a registry that requires a login${SKIP}${REGISTRY_NOTE}`, () => {
  let reg: Registry;
  beforeAll(async () => {
    const line = execFileSync('htpasswd', ['-nbB', 'alice', 's3cret'], { encoding: 'utf8' }).trim();
    reg = await startRegistry({ htpasswd: line });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('401 without or with wrong credentials; --creds and --authfile work', async () => {
    await importFixture();
    const remote = `${reg.host}/e2e/private:v1`;
    // No credential files of the caller's are read: HOME points into the test dir.
    const env = { HOME: ctx.base };
    failed(
      await image(['push', '--plain-http', 'e2e/busybox:v1', remote], { env }),
      /401.*--creds/,
    );
    failed(
      await image(['push', '--plain-http', '--creds', 'alice:wrong', 'e2e/busybox:v1', remote], {
        env,
      }),
      /401|refused the credentials/,
    );
    ok(
      await image(
        ['push', '-q', '--plain-http', '--creds', 'alice:s3cret', 'e2e/busybox:v1', remote],
        { env },
      ),
    );
    failed(await image(['pull', '--plain-http', remote, 'p:1'], { env }), /private:v1.*401/);
    expect(storeIndexNames()).toEqual(['e2e/busybox:v1']);
    const authfile = path.join(ctx.base, 'auth.json');
    writeFileSync(
      authfile,
      JSON.stringify({
        auths: { [reg.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } },
      }),
    );
    const pull = ok(
      await image(['pull', '-q', '--plain-http', '--authfile', authfile, remote, 'p:1'], { env }),
    );
    expect(String(pull.stdout).trim()).toBe(fx.manifestDigest);
    failed(
      await image(['pull', '--plain-http', '--authfile', `${authfile}.missing`, remote], { env }),
      /--authfile .*no such file/,
    );
  });
});

const haveOpenssl = hasCommand('openssl') && hasCommand('curl');
const tlsSuite = haveRegistry && haveOpenssl ? suite : describe.skip;
tlsSuite(`a registry with a self-signed certificate${SKIP}${REGISTRY_NOTE}`, () => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('is refused without --insecure, used with it; --plain-http does not reach it', async () => {
    await importFixture();
    const remote = `${reg.host}/e2e/tls:v1`;
    failed(await image(['push', 'e2e/busybox:v1', remote]), /certificate.*--insecure/);
    ok(await image(['push', '-q', '--insecure', 'e2e/busybox:v1', remote]));
    failed(await image(['pull', '--plain-http', remote, 'x:1']), /e2e\/tls:v1/);
    const pull = ok(await image(['pull', '-q', '--insecure', remote, 'x:1']));
    expect(String(pull.stdout).trim()).toBe(fx.manifestDigest);
    // run --image takes the registry settings from the environment.
    ok(await image(['rm', 'x:1']));
    const id = ctx.id('tls');
    const run = await ctx.rt(['run', '--image', remote, id], {
      env: { TSOCI_STORE: path.join(ctx.base, 'fresh'), TSOCI_REGISTRY_INSECURE: reg.host },
    });
    expect(run.exitCode, describeResult(run)).toBe(7);
    expect(String(run.stderr)).toMatch(/^Stored /m);
  });
});
