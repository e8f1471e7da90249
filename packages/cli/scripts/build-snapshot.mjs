// Builds the CLI's V8 startup snapshots, dist/snapshot/<key>.blob (container
// commands) and <key>.image.blob (image commands), which the native front
// end starts node from (crates/tsoci-cli/src/handoff.rs).
//
// 1. src/snapshot.ts and everything it imports (the workspace packages' dist,
//    zod, commander) are bundled into one CommonJS file: a snapshot is built
//    from a single script. `import.meta.url` is replaced, file by file, by
//    the URL the file has on disk, so the packages still find their native
//    addons and tsoci-init relative to themselves.
// 2. `node --snapshot-blob … --build-snapshot` runs it, once per blob (see
//    snapshot.ts).
// 3. The blobs are named by a key of this node binary and of dist/: the front
//    end computes the same key and uses a blob only with the node that
//    built it, from this very directory.
//
// TSOCI_SNAPSHOT=0 skips it (the front end then loads dist/bin.js);
// TSOCI_SNAPSHOT_DEBUG=1 leaves the bundle unminified, for readable profiles.
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkg, 'dist');
const outDir = join(dist, 'snapshot');

/** FNV-1a 64, as in handoff.rs. */
export function fnv1a64(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/** The blob name for `node` and `distDir`; mirrors snapshot_key in handoff.rs. */
export function snapshotKey(node, distDir) {
  const real = realpathSync(node);
  const st = statSync(real, { bigint: true });
  const sec = st.mtimeNs / 1_000_000_000n;
  const nsec = (st.mtimeNs % 1_000_000_000n).toString().padStart(9, '0');
  const text = `tsoci-snapshot 1\n${real}\n${st.dev}\n${st.ino}\n${st.size}\n${sec}.${nsec}\n${realpathSync(distDir)}\n`;
  return fnv1a64(Buffer.from(text));
}

/**
 * The addon file napi-rs's generated loader (`native/binding.cjs`) would pick
 * on this machine, when there is exactly one candidate. The loader spends
 * ≈ 1 ms per addon on platform detection before it loads the same file, and
 * a blob runs only where it was built, so the blob loads the file directly.
 */
function addonFile(nativeDir) {
  let names;
  try {
    names = readdirSync(nativeDir);
  } catch {
    return undefined;
  }
  const platform = `.${process.platform}-${process.arch}`;
  const candidates = names.filter(
    (n) => n.endsWith('.node') && (n.includes(`${platform}.`) || n.includes(`${platform}-`)),
  );
  return candidates.length === 1 ? candidates[0] : undefined;
}

const importMetaUrl = {
  name: 'tsoci-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const url = JSON.stringify(pathToFileURL(args.path).href);
      let contents = text.replaceAll('import.meta.url', url);
      for (const quote of ['"', "'"]) {
        const loader = `${quote}../native/binding.cjs${quote}`;
        if (!contents.includes(loader)) continue;
        const nativeDir = join(dirname(args.path), '..', 'native');
        const file = addonFile(nativeDir);
        if (!file) continue;
        // `createRequire(url)(loader)` becomes a bare process.dlopen of the
        // file: the module system's resolution and package.json lookups
        // cost ≈ 1 ms more than the dlopen itself, in every command that
        // loads an addon. A loader used in any other shape is a build error
        // here rather than a silent millisecond lost.
        const call = `createRequire(${url})(${loader})`;
        const uses = contents.split(loader).length - 1;
        if (contents.split(call).length - 1 !== uses) {
          throw new Error(
            `${args.path}: ${loader} is loaded other than as createRequire(import.meta.url)(${loader}); update build-snapshot.mjs`,
          );
        }
        const direct = `((m) => (process.dlopen(m, ${JSON.stringify(join(nativeDir, file))}), m.exports))({ exports: {} })`;
        contents = contents.replaceAll(call, direct);
      }
      return { contents, loader: args.path.endsWith('ts') ? 'ts' : 'js' };
    });
  },
};

async function main() {
  if (['0', 'false', 'off', 'no'].includes(process.env.TSOCI_SNAPSHOT ?? '')) {
    console.log('build-snapshot: skipped (TSOCI_SNAPSHOT=0)');
    return;
  }
  rmSync(outDir, { recursive: true, force: true });
  const work = join(outDir, '.build');
  await build({
    entry: { snapshot: join(pkg, 'src/snapshot.ts') },
    outDir: work,
    format: ['cjs'],
    platform: 'node',
    target: 'node20',
    noExternal: [/.*/],
    splitting: false,
    sourcemap: false,
    dts: false,
    clean: false,
    minify: process.env.TSOCI_SNAPSHOT_DEBUG !== '1',
    keepNames: true,
    silent: true,
    config: false,
    define: { __TSOCI_COMMIT__: JSON.stringify(commit()) },
    esbuildPlugins: [importMetaUrl],
  });
  const key = snapshotKey(process.execPath, dist);
  // Two blobs of the same bundle, differing in their warm-up (snapshot.ts):
  // <key>.blob for the container commands, <key>.image.blob for the image
  // ones. handoff.rs picks one per command line.
  for (const [kind, name] of [
    ['lifecycle', `${key}.blob`],
    ['image', `${key}.image.blob`],
  ]) {
    const tmp = join(work, name);
    execFileSync(
      process.execPath,
      ['--snapshot-blob', tmp, '--build-snapshot', join(work, 'snapshot.cjs')],
      // Node warns that some built-ins are "not yet fully verified" in
      // snapshots; the e2e suite runs every command through the blob.
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, NODE_NO_WARNINGS: '1', TSOCI_SNAPSHOT_KIND: kind },
      },
    );
    renameSync(tmp, join(outDir, name));
  }
  rmSync(work, { recursive: true, force: true });
  console.log(
    `build-snapshot: dist/snapshot/${key}.blob and ${key}.image.blob for ${process.execPath} ${process.version}`,
  );
}

function commit() {
  if (process.env.TSOCI_COMMIT) return process.env.TSOCI_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: pkg, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  mkdirSync(outDir, { recursive: true });
  try {
    await main();
  } catch (err) {
    // The snapshot only makes start-up faster: a node that cannot build one
    // (a future version, say) still gets a working CLI through dist/bin.js.
    // The e2e suite checks that the blob exists and is used, so CI notices.
    rmSync(outDir, { recursive: true, force: true });
    console.warn(
      `build-snapshot: no start-up snapshot for node ${process.version} (tsoci loads dist/bin.js): ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
}
