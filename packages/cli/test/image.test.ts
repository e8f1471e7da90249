/**
 * Unit tests of the image commands: reference and option parsing, formatting,
 * progress output and error messages (in-process), plus argument handling of
 * the built CLI. Nothing here needs root or a registry; images are small
 * layouts written by the test.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkContainerId,
  cleanupHook,
  DEFAULT_STORE,
  defaultImageName,
  formatAge,
  formatSize,
  formatTable,
  type ParsedImageRef,
  Progress,
  parseCreds,
  parseDuration,
  parseImageRef,
  parsePlatform,
  parseRegistryList,
  progressMode,
  RUN_BUNDLES_DIR,
  registryClientOptions,
  registryHint,
  runBundleDir,
  shortDigest,
  storeCandidates,
  storeDir,
  withReference,
} from '../src/commands/image.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const tsoci = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [BIN, ...args], {
    reject: false,
    env: { PATH: process.env.PATH, ...env },
    extendEnv: false,
  });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsoci-cli-image-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function msg(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

describe('parseImageRef', () => {
  it('recognises the three local transports, as skopeo splits them', () => {
    expect(parseImageRef('oci:./layout:latest')).toEqual({
      kind: 'local',
      text: 'oci:./layout:latest',
      transport: 'oci',
      path: './layout',
      selector: 'latest',
    });
    expect(parseImageRef('oci:/srv/img')).toMatchObject({ path: '/srv/img' });
    expect(parseImageRef('oci:/srv/img')).not.toHaveProperty('selector');
    // The path ends at the first ':'; the rest is the tag (a whole name here).
    expect(parseImageRef('oci:dir:busybox:1.36')).toMatchObject({
      path: 'dir',
      selector: 'busybox:1.36',
    });
    expect(parseImageRef('oci-archive:img.tar.gz:v2')).toMatchObject({
      transport: 'oci-archive',
      path: 'img.tar.gz',
      selector: 'v2',
    });
    expect(parseImageRef('docker-archive:save.tar:busybox:latest')).toMatchObject({
      transport: 'docker-archive',
      path: 'save.tar',
      selector: 'busybox:latest',
    });
    expect(parseImageRef('docker-archive:save.tar:@1')).toMatchObject({ selector: '@1' });
  });

  it('parses docker:// references with registry, port, tag and digest', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    const r = parseImageRef(`docker://127.0.0.1:5000/team/app@${d}`);
    expect(r.kind).toBe('registry');
    if (r.kind !== 'registry') return;
    expect(r.ref.registry).toBe('127.0.0.1:5000');
    expect(r.ref.repository).toBe('team/app');
    expect(r.ref.digest).toBe(d);
    const hub = parseImageRef('docker://busybox');
    expect(hub.kind === 'registry' && hub.ref.toString()).toBe('docker.io/library/busybox:latest');
  });

  it('treats anything else as a store name that may also be a registry reference', () => {
    const b = parseImageRef('busybox:1.36');
    expect(b.kind).toBe('name');
    expect(b.kind === 'name' && b.ref?.toString()).toBe('docker.io/library/busybox:1.36');
    const local = parseImageRef('localhost:5000/x');
    expect(local.kind === 'name' && local.ref?.registry).toBe('localhost:5000');
    // Valid store names that are not registry references keep the reason.
    const upper = parseImageRef('My_Image');
    expect(upper).toMatchObject({ kind: 'name', text: 'My_Image' });
    expect(upper.kind === 'name' && upper.ref).toBeUndefined();
    expect(upper.kind === 'name' && upper.refProblem).toMatch(/lowercase/);
    // A digest never goes to a registry.
    const digest = parseImageRef('sha256:0123456789ab');
    expect(digest.kind === 'name' && digest.ref).toBeUndefined();
  });

  it('rejects bad references with a message that names them', () => {
    expect(msg(() => parseImageRef(''))).toMatch(/^empty image reference \(use oci:DIR/);
    expect(msg(() => parseImageRef('docker:busybox'))).toBe(
      'invalid image reference "docker:busybox": the registry transport is written docker://[HOST/]NAME[:TAG|@DIGEST]',
    );
    expect(msg(() => parseImageRef('docker://'))).toMatch(
      /^invalid image reference "docker:\/\/": empty reference/,
    );
    expect(msg(() => parseImageRef('docker://busybox:bad tag'))).toMatch(
      /"docker:\/\/busybox:bad tag"/,
    );
    expect(msg(() => parseImageRef('oci:'))).toBe(
      'invalid image reference "oci:": no directory after "oci:"',
    );
    expect(msg(() => parseImageRef('oci-archive::v1'))).toMatch(/no file after "oci-archive:"/);
    expect(msg(() => parseImageRef('oci:dir:'))).toMatch(/empty TAG after the path/);
    expect(msg(() => parseImageRef('docker-archive:x.tar:@one'))).toMatch(/expected @N/);
    expect(msg(() => parseImageRef('dir:/var/tmp/img'))).toMatch(
      /^invalid image reference "dir:\/var\/tmp\/img": unsupported transport "dir:"/,
    );
    expect(msg(() => parseImageRef('containers-storage:busybox'))).toMatch(
      /unsupported transport "containers-storage:"/,
    );
  });
});

describe('store names', () => {
  const name = (text: string) => {
    const p = parseImageRef(text);
    if (p.kind !== 'name') throw new Error('not a name');
    return storeCandidates(p.text, p.ref);
  };

  it('looks a bare reference up as typed, normalised, with :latest and in familiar form', () => {
    expect(name('busybox')).toEqual([
      'busybox',
      'docker.io/library/busybox:latest',
      'busybox:latest',
    ]);
    expect(name('docker.io/library/busybox:1')).toEqual([
      'docker.io/library/busybox:1',
      'busybox:1',
    ]);
    expect(name('127.0.0.1:5000/app')).toEqual(['127.0.0.1:5000/app', '127.0.0.1:5000/app:latest']);
    expect(name('My_Image')).toEqual(['My_Image']);
  });

  it('derives the default import name from the reference', () => {
    const d = (t: string) => defaultImageName(parseImageRef(t) as ParsedImageRef);
    expect(d('docker://busybox')).toBe('docker.io/library/busybox:latest');
    expect(d('127.0.0.1:5000/a/b:v1')).toBe('127.0.0.1:5000/a/b:v1');
    expect(d('oci:/srv/My Layout:v1')).toBe('my-layout:v1');
    expect(d('oci:/srv/layout')).toBe('layout:latest');
    expect(d('oci:dir:busybox:1.36')).toBe('busybox:1.36');
    expect(d('oci-archive:/tmp/app.tar.gz:2.0')).toBe('app:2.0');
    expect(d('docker-archive:/tmp/save.tar:busybox:musl')).toBe('busybox:musl');
    expect(d('docker-archive:/tmp/save.tar:team/app')).toBe('team/app:latest');
    expect(d('docker-archive:/tmp/save.tar:@0')).toBe('save:latest');
  });
});

describe('option parsing', () => {
  it('--platform OS/ARCH[/VARIANT]', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('Linux/ARM64/v8')).toEqual({
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
    });
    for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', 'linux/am d64']) {
      expect(msg(() => parsePlatform(bad))).toBe(
        `invalid --platform ${JSON.stringify(bad)}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8`,
      );
    }
  });

  it('--creds USER:PASSWORD (the password may contain colons)', () => {
    expect(parseCreds('alice:pa:ss')).toEqual({ username: 'alice', password: 'pa:ss' });
    expect(parseCreds('alice:')).toEqual({ username: 'alice', password: '' });
    expect(msg(() => parseCreds('alice'))).toMatch(/^invalid --creds: expected USER:PASSWORD/);
    expect(msg(() => parseCreds(':x'))).toMatch(/user name must not be empty/);
  });

  it('registry client options from flags and the environment', async () => {
    expect(parseRegistryList(undefined)).toBeUndefined();
    expect(parseRegistryList('true')).toBe(true);
    expect(parseRegistryList('*')).toBe(true);
    expect(parseRegistryList('0')).toBe(false);
    expect(parseRegistryList(' a:5000, b ,')).toEqual(['a:5000', 'b']);
    const o = await registryClientOptions({ plainHttp: true, creds: 'u:p' }, {});
    expect(o.plainHttp).toBe(true);
    expect(o.insecure).toBeUndefined();
    expect(o.credentials).toEqual({ username: 'u', password: 'p' });
    const e = await registryClientOptions(
      {},
      { TSOCI_REGISTRY_PLAIN_HTTP: 'h:1', TSOCI_REGISTRY_INSECURE: '1' },
    );
    expect(e.plainHttp).toEqual(['h:1']);
    expect(e.insecure).toBe(true);
    expect(typeof e.credentials).toBe('function');
    await expect(registryClientOptions({ creds: 'a:b', authfile: '/x' })).rejects.toThrow(
      '--creds and --authfile cannot be used together',
    );
    await expect(registryClientOptions({ authfile: join(dir, 'nope.json') })).rejects.toThrow(
      `--authfile ${join(dir, 'nope.json')}: no such file`,
    );
  });

  it('the store: --store, then TSOCI_STORE, then a per-user default', () => {
    expect(storeDir('rel/store', {}, 0)).toBe(join(process.cwd(), 'rel/store'));
    expect(storeDir(undefined, { TSOCI_STORE: '/s' }, 0)).toBe('/s');
    expect(storeDir(undefined, {}, 0)).toBe(DEFAULT_STORE);
    expect(DEFAULT_STORE).toBe('/var/lib/tsoci/images');
    expect(storeDir(undefined, { HOME: '/home/u' }, 1000)).toBe(
      '/home/u/.local/share/tsoci/images',
    );
    expect(storeDir(undefined, { XDG_DATA_HOME: '/x' }, 1000)).toBe('/x/tsoci/images');
  });

  it('durations for gc --grace', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(msg(() => parseDuration('soon'))).toMatch(/^invalid duration "soon"/);
  });

  it('container ids follow the runtime rules; run bundles live where no id can', () => {
    for (const ok of ['a', 'A_b+c.d-1', '...x']) expect(() => checkContainerId(ok)).not.toThrow();
    for (const bad of ['', '.', '..', 'a/b', 'a b', 'x'.repeat(1025)]) {
      expect(msg(() => checkContainerId(bad))).toMatch(/^invalid container id/);
    }
    expect(() => checkContainerId(RUN_BUNDLES_DIR)).toThrow();
    expect(runBundleDir('/run/tsoci', 'web', 'abcd')).toBe('/run/tsoci/@bundles/web.abcd');
  });

  it('the cleanup hook runs `tsoci bundle --remove DIR` with an absolute program', () => {
    const hook = cleanupHook('/run/tsoci/@bundles/x.1', '/opt/tsoci/bin.js', '/usr/bin/node');
    expect(hook.path).toBe('/usr/bin/node');
    expect(hook.args).toEqual([
      '/usr/bin/node',
      '/opt/tsoci/bin.js',
      'bundle',
      '--remove',
      '/run/tsoci/@bundles/x.1',
    ]);
    expect(hook.env[0]).toMatch(/^PATH=/);
  });
});

describe('formatting', () => {
  it('sizes as Docker prints them', () => {
    expect(formatSize(0)).toBe('0B');
    expect(formatSize(999)).toBe('999B');
    expect(formatSize(1000)).toBe('1kB');
    expect(formatSize(4_261_000)).toBe('4.26MB');
    expect(formatSize(123_456_789)).toBe('123MB');
    expect(formatSize(2_000_000_000)).toBe('2GB');
    expect(formatSize(Number.NaN)).toBe('N/A');
  });

  it('ages relative to now', () => {
    const now = Date.parse('2024-06-01T00:00:00Z');
    const ago = (s: number) => formatAge(new Date(now - s * 1000).toISOString(), now);
    expect(ago(0)).toBe('Less than a second ago');
    expect(ago(1)).toBe('1 second ago');
    expect(ago(59)).toBe('59 seconds ago');
    expect(ago(61)).toBe('About a minute ago');
    expect(ago(300)).toBe('5 minutes ago');
    expect(ago(3600)).toBe('About an hour ago');
    expect(ago(5 * 3600)).toBe('5 hours ago');
    expect(ago(3 * 86400)).toBe('3 days ago');
    expect(ago(21 * 86400)).toBe('3 weeks ago');
    expect(ago(90 * 86400)).toBe('3 months ago');
    expect(ago(3 * 365 * 86400)).toBe('3 years ago');
    expect(formatAge(undefined, now)).toBe('N/A');
    expect(formatAge('yesterday', now)).toBe('N/A');
  });

  it('short digests and tables', () => {
    expect(shortDigest(`sha256:${'0123456789abcdef'.repeat(4)}`)).toBe('0123456789ab');
    expect(
      formatTable([
        ['NAME', 'DIGEST'],
        ['a-long-name', 'x'],
      ]),
    ).toBe('NAME          DIGEST\na-long-name   x\n');
  });
});

describe('progress', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, out: { isTTY, columns: 60, write: (t: string) => chunks.push(t) } };
  };

  it('chooses tty, plain or none', () => {
    expect(progressMode(true, { isTTY: true, write: () => true })).toBe('none');
    expect(progressMode(false, { isTTY: true, write: () => true })).toBe('tty');
    expect(progressMode(undefined, { write: () => true })).toBe('plain');
  });

  it('plain: one line per finished blob, nothing while copying', () => {
    const { chunks, out } = sink(false);
    const p = new Progress('plain', out);
    p.add('a', 'Copying blob aaaaaaaaaaaa', 2_500_000);
    p.start('a', 'Copying blob aaaaaaaaaaaa', 2_500_000);
    p.advance('a', 1_000_000);
    expect(chunks).toEqual([]);
    p.finish('a', 'Copying blob aaaaaaaaaaaa', 2_500_000, 'done');
    p.finish('a', 'Copying blob aaaaaaaaaaaa', 2_500_000, 'done');
    p.finish('b', 'Copying blob bbbbbbbbbbbb', 10, 'already present');
    p.note('Stored x');
    p.close();
    expect(chunks.join('')).toBe(
      'Copying blob aaaaaaaaaaaa done (2.5MB)\nCopying blob bbbbbbbbbbbb already present\nStored x\n',
    );
  });

  it('tty: redraws the block in place, with a bar while copying', () => {
    const { chunks, out } = sink(true);
    const p = new Progress('tty', out);
    p.add('a', 'Copying blob aaaaaaaaaaaa', 1000);
    p.add('b', 'Copying blob bbbbbbbbbbbb', 1000);
    p.start('a', 'Copying blob aaaaaaaaaaaa', 1000);
    p.advance('a', 500);
    p.finish('b', 'Copying blob bbbbbbbbbbbb', 1000, 'done');
    p.finish('a', 'Copying blob aaaaaaaaaaaa', 1000, 'done');
    p.close();
    const text = chunks.join('');
    expect(text).toContain('\x1b[2KCopying blob bbbbbbbbbbbb done 1kB\n');
    expect(text).toContain('\x1b[2A');
    expect(text).toMatch(/Copying blob aaaaaaaaaaaa \[=+> *\] 500B \/ 1kB/);
    expect(
      text.endsWith(
        '\x1b[2KCopying blob aaaaaaaaaaaa done 1kB\n\x1b[2KCopying blob bbbbbbbbbbbb done 1kB\n',
      ),
    ).toBe(true);
    const long = Progress.renderLine(
      { label: 'x'.repeat(100), total: 1, done: 0, state: 'waiting', status: '' },
      40,
    );
    expect(long.length).toBe(39);
  });

  it('none: silent', () => {
    const { chunks, out } = sink(true);
    const p = new Progress('none', out);
    p.add('a', 'x', 1);
    p.finish('a', 'x', 1, 'done');
    p.note('y');
    p.close();
    expect(chunks).toEqual([]);
  });
});

describe('error messages', () => {
  it('name the reference once, on one line, with a hint where a flag helps', () => {
    const e = withReference('oci:/x:v1', new Error('no image named "v1"')) as Error;
    expect(e.message).toBe('oci:/x:v1: no image named "v1"');
    const same = new Error('manifest oci:/x:v1 is broken');
    expect(withReference('oci:/x:v1', same)).toBe(same);
    const tls = Object.assign(new Error('fetch failed: ssl3_get_record:wrong version number\n'), {
      code: 'EREGISTRY_HTTP',
    });
    const wrapped = withReference('h:1/x', tls) as Error & { code: string };
    expect(wrapped.message).toBe(
      'h:1/x: fetch failed: ssl3_get_record:wrong version number (the registry seems to speak plain http: use --plain-http)',
    );
    expect(wrapped.code).toBe('EREGISTRY_HTTP');
    const auth = Object.assign(new Error('401: no credentials were found'), {
      code: 'EREGISTRY_AUTH',
    });
    expect(registryHint(auth)).toMatch(/--creds USER:PASSWORD or --authfile FILE/);
    expect(registryHint(new Error('self-signed certificate'))).toMatch(/--insecure/);
    expect(registryHint(new Error('404'))).toBe('');
  });
});

// ---------------------------------------------------------------------------
// The built CLI

/** A one-layer OCI layout (a file and a config) written by hand. */
async function writeLayout(root: string, content: Buffer = Buffer.from('hi\n')): Promise<string> {
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const blobs = join(root, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer) => {
    const d = sha(b);
    await writeFile(join(blobs, d.slice(7)), b);
    return d;
  };
  // A tar with one file, hello.txt ("hi\n"), built by hand (ustar).
  const header = Buffer.alloc(512);
  header.write('hello.txt', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('14500000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  const tar = Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
  const gz = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2020-01-01T00:00:00Z',
      config: { Cmd: ['/hello'] },
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: await put(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: await put(gz),
          size: gz.length,
        },
      ],
    }),
  );
  const md = await put(manifest);
  await writeFile(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(root, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: md,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'v1' },
        },
      ],
    }),
  );
  return md;
}

describe('tsoci image (built CLI)', () => {
  it('lists the image subcommands and bundle in help', async () => {
    const top = await tsoci(['--help']);
    expect(top.stdout).toMatch(/^ {3}image +manage images in the local store/m);
    expect(top.stdout).toMatch(/^ {3}bundle +create a runtime bundle/m);
    const r = await tsoci(['image', '--help']);
    expect(r.exitCode).toBe(0);
    for (const c of ['pull', 'import', 'push', 'ls', 'inspect', 'rm', 'gc']) {
      expect(r.stdout).toMatch(new RegExp(`^ {3}${c} +\\S`, 'm'));
    }
    expect(r.stdout).toMatch(/--store <dir>/);
    const pull = await tsoci(['image', 'pull', '--help']);
    for (const f of [
      '--creds',
      '--authfile',
      '--plain-http',
      '--insecure',
      '--platform',
      '--quiet',
    ]) {
      expect(pull.stdout).toContain(f);
    }
  });

  it('runs young-generation collections while streaming a large layer, and none for a small one', async () => {
    // gc() from the CLI shows in V8's trace as a scavenge for "testing".
    const bundleTraced = async (content: Buffer, name: string) => {
      const layout = join(dir, `layout-${name}`);
      await writeLayout(layout, content);
      const r = await execa(
        process.execPath,
        ['--trace-gc', BIN, 'bundle', '-q', `oci:${layout}:v1`, join(dir, `b-${name}`)],
        { reject: false, env: { PATH: process.env.PATH }, extendEnv: false },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout;
    };
    const big = createHash('sha512');
    const random = Buffer.concat(
      Array.from({ length: 12 * 1024 * 16 }, (_, i) => big.copy().update(String(i)).digest()),
    );
    expect(await bundleTraced(random, 'big')).toMatch(/Scavenge.*testing/);
    expect(await bundleTraced(Buffer.from('hi\n'), 'small')).not.toMatch(/testing/);
  }, 60_000);

  it('imports, lists, inspects and removes with --store or TSOCI_STORE', async () => {
    const layout = join(dir, 'layout');
    const digest = await writeLayout(layout);
    const store = join(dir, 'store');
    const imp = await tsoci(['image', '--store', store, 'import', `oci:${layout}:v1`]);
    expect(imp.exitCode, imp.stderr).toBe(0);
    expect(imp.stdout).toBe(digest);
    expect(imp.stderr).toMatch(/^Stored layout:v1 /m);
    const ls = await tsoci(['image', 'ls'], { TSOCI_STORE: store });
    expect(ls.stdout.split('\n')[1]).toMatch(
      new RegExp(`^layout:v1 +${digest.slice(7, 19)} +\\d+B +\\d+ years ago$`),
    );
    const json = JSON.parse(
      (await tsoci(['image', 'ls', '--format', 'json', '--store', store])).stdout,
    );
    expect(json).toEqual([
      {
        name: 'layout:v1',
        digest,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: expect.any(Number),
        created: '2020-01-01T00:00:00Z',
        platform: 'linux/amd64',
      },
    ]);
    const inspect = JSON.parse(
      (await tsoci(['image', 'inspect', '--store', store, 'layout:v1'])).stdout,
    );
    expect(inspect.digest).toBe(digest);
    expect(inspect.config.config.Cmd).toEqual(['/hello']);
    // A copy bundle works without root: config.json + rootfs.
    const bundle = join(dir, 'deep', 'b');
    const b = await tsoci(['bundle', '--store', store, 'layout:v1', bundle]);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(readFileSync(join(bundle, 'rootfs', 'hello.txt'), 'utf8')).toBe('hi\n');
    expect(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).process.args).toEqual([
      '/hello',
    ]);
    const rmb = await tsoci(['bundle', '--remove', bundle]);
    expect(rmb.exitCode, rmb.stderr).toBe(0);
    expect(existsSync(bundle)).toBe(false);
    const rmi = await tsoci(['image', 'rm', '--store', store, 'layout:v1']);
    expect(rmi.stdout).toBe('layout:v1');
    expect((await tsoci(['image', 'ls', '-q', '--store', store])).stdout).toBe('');
  });

  it('fails with `tsoci: …` naming the reference, and writes nothing', async () => {
    const store = join(dir, 'store');
    const cases: [string[], RegExp][] = [
      [['image', 'import', 'busybox'], /^tsoci: image import needs a transport/],
      [['image', 'import', `oci:${dir}/none:v1`], new RegExp(`^tsoci: oci:${dir}/none:v1: `)],
      [
        ['image', 'inspect', 'dir:/x'],
        /^tsoci: invalid image reference "dir:\/x": unsupported transport/,
      ],
      [
        ['image', 'inspect', 'nothere:1', '--platform', 'linux'],
        /^tsoci: invalid --platform "linux"/,
      ],
      [['image', 'pull', '--creds', 'nopass', 'x'], /^tsoci: invalid --creds/],
      [['image', 'rm', 'ghost'], /^tsoci: image "ghost" not found in store /],
      [
        ['image', 'push', 'ghost:1', 'oci:/tmp/x'],
        /^tsoci: image push: the destination "oci:\/tmp\/x" is not a registry/,
      ],
      [['image', 'ls', '--format', 'xml'], /xml/],
      [['bundle', 'x'], /^tsoci: bundle needs IMAGE and DIR \(got 1 argument\)/],
      [['bundle'], /^tsoci: bundle needs IMAGE and DIR \(got 0 arguments\)/],
      [['bundle', '--remove', 'a', 'b'], /^tsoci: bundle --remove takes exactly one argument/],
      [['image', 'bogus'], /^tsoci: unknown command 'bogus'/],
      [['image', 'ls', 'extra'], /^tsoci: too many arguments for 'ls'/],
      [['image', 'pull'], /^tsoci: missing required argument 'image'/],
      [['bundle', '--remove', dir], /is not a bundle made by createBundle/],
      [
        ['bundle', `oci:${dir}/none`, join(dir, 'b')],
        /^tsoci: oci:.*none: .*not an OCI image layout/,
      ],
      [
        ['run', '--image', 'oci:/x', '--bundle', dir, 'c1'],
        /^tsoci: --image and --bundle cannot be used together/,
      ],
      [['run', '--image', 'oci:/x', 'a/b'], /^tsoci: invalid container id "a\/b"/],
    ];
    for (const [args, pattern] of cases) {
      const r = await tsoci(args, { TSOCI_STORE: store });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
    }
    expect(existsSync(store)).toBe(false);
    expect(existsSync(join(dir, 'b'))).toBe(false);
  });

  it('keeps the image code out of the startup path of other commands', () => {
    // Static imports from bin.js must never reach a chunk that imports @ts-oci/image.
    const dist = fileURLToPath(new URL('../dist/', import.meta.url));
    const seen = new Set<string>();
    const queue = ['bin.js'];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(join(dist, file), 'utf8');
      expect(text, file).not.toMatch(/from\s*["']@ts-oci\/image["']/);
      for (const m of text.matchAll(
        /(?:^|[;\s])import\s*(?:[\w*{},\s$]+from\s*)?["']\.\/([\w.-]+\.js)["']/g,
      )) {
        queue.push(m[1] as string);
      }
    }
    // ... while the image chunk does import it (so the check above can fail).
    const chunks = readdirSync(dist).filter((f) => f.endsWith('.js'));
    expect(
      chunks.some((f) => /from\s*["']@ts-oci\/image["']/.test(readFileSync(join(dist, f), 'utf8'))),
    ).toBe(true);
  });
});
