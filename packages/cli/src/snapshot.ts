/**
 * The entry of the CLI's V8 startup snapshot (scripts/build-snapshot.mjs
 * bundles it into one CommonJS file and runs `node --build-snapshot` on it).
 * Everything here runs once, at build time; the deserialized process starts
 * at the function given to setDeserializeMainFunction, with every module
 * already evaluated and the code of one validation already compiled.
 */
// Built-in modules the lazily loaded commands use (image pull and bundle:
// hashing, gzip, sockets), compiled into the snapshot rather than on first
// use in every process (node:crypto alone took 6 ms). node:tls cannot be in
// a Node 20 snapshot, so it stays lazy.
import 'node:crypto';
import 'node:net';
import 'node:stream/promises';
import 'node:timers/promises';
import 'node:tty';
import 'node:zlib';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startupSnapshot } from 'node:v8';
import { defaultConfig } from '@ts-oci/spec';
import { main, runAsProgram } from './main.js';

/**
 * Runs `tsoci validate` on the default config: the commander program, the
 * bundle reader, the zod schemas (whose first parse generates their
 * validators) and the plan are what every `create` and `run` goes through.
 * The image blob (TSOCI_SNAPSHOT_KIND=image) then runs an image import and
 * bundle, for the image commands; the container commands start from the
 * blob without them, which is smaller and so deserializes faster. Native
 * addons cannot live in a snapshot, so loading one here is a build error
 * rather than a broken blob.
 */
async function warmUp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsoci-snapshot-'));
  const { dlopen } = process;
  const { write } = process.stdout;
  const { write: writeErr } = process.stderr;
  let printed = '';
  process.dlopen = () => {
    throw new Error('a native addon was loaded while building the startup snapshot');
  };
  process.stdout.write = process.stderr.write = (chunk: string | Uint8Array) => {
    printed += String(chunk);
    return true;
  };
  const warmUpCommand = async (args: string[]) => {
    const code = await main(args);
    if (code !== 0) {
      throw new Error(`the snapshot warm-up (tsoci ${args.join(' ')}) exited ${code}:\n${printed}`);
    }
  };
  try {
    mkdirSync(join(dir, 'rootfs'));
    const config = defaultConfig();
    // What engines send: no terminal (a terminal needs a console socket).
    if (config.process) config.process.terminal = false;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    await warmUpCommand(['validate', '--bundle', dir]);
    if (process.env.TSOCI_SNAPSHOT_KIND !== 'image') return;
    // The image commands: an OCI layout read, verified, imported into a
    // store and unpacked into a bundle compiles the reference parser, the
    // image-spec schemas, the store, the tar reader and the config conversion.
    writeLayout(join(dir, 'layout'));
    const store = join(dir, 'store');
    await warmUpCommand([
      'image',
      '--store',
      store,
      'import',
      '-q',
      `oci:${join(dir, 'layout')}:warm`,
      'warm:1',
    ]);
    await warmUpCommand(['bundle', '-q', '--store', store, 'warm:1', join(dir, 'bundle')]);
  } finally {
    process.stderr.write = writeErr;
    process.stdout.write = write;
    process.dlopen = dlopen;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A one-layer OCI image layout (tag `warm`): an uncompressed tar holding
 * /etc/passwd. Its architecture is never compared with the host's: the
 * warm-up asks for no platform.
 */
function writeLayout(layout: string): void {
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Buffer, mediaType: string) => {
    const digest = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, digest), bytes);
    return { mediaType, digest: `sha256:${digest}`, size: bytes.length };
  };
  const layer = tarOfOneFile('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], User: 'root' },
        rootfs: { type: 'layers', diff_ids: [diffId] },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config,
        layers: [put(layer, 'application/vnd.oci.image.layer.v1.tar')],
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'warm' } }],
    }),
  );
}

/** A ustar archive of one regular file, with its two end-of-archive blocks. */
function tarOfOneFile(name: string, text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) =>
    header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, n: number) =>
    field(offset, length, `${n.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, body.length);
  octal(136, 12, 0);
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 8, 'ustar\x0000');
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

if (!startupSnapshot.isBuildingSnapshot()) {
  throw new Error('dist/snapshot is the input of `node --build-snapshot`, not a program');
}

warmUp().then(
  () => {
    startupSnapshot.setDeserializeMainFunction(() => {
      // argv is [node, ...args]: the native front end ends node's options with `--`.
      runAsProgram(process.argv.slice(1));
    });
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
