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
 * Native addons cannot live in a snapshot, so loading one here is a build
 * error rather than a broken blob.
 */
async function warmUp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsoci-snapshot-'));
  const { dlopen } = process;
  const { write } = process.stdout;
  let printed = '';
  process.dlopen = () => {
    throw new Error('a native addon was loaded while building the startup snapshot');
  };
  process.stdout.write = (chunk: string | Uint8Array) => {
    printed += String(chunk);
    return true;
  };
  try {
    mkdirSync(join(dir, 'rootfs'));
    const config = defaultConfig();
    // What engines send: no terminal (a terminal needs a console socket).
    if (config.process) config.process.terminal = false;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const code = await main(['validate', '--bundle', dir]);
    if (code !== 0) {
      throw new Error(`the snapshot warm-up (tsoci validate) exited ${code}:\n${printed}`);
    }
  } finally {
    process.stdout.write = write;
    process.dlopen = dlopen;
    rmSync(dir, { recursive: true, force: true });
  }
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
