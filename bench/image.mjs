#!/usr/bin/env node
// Image timings: `tsoci bundle` against `umoci unpack` and plain `tar -x` of
// the same layers, `tsoci image pull` against `skopeo copy` from a local
// docker-registry, peak RSS of `tsoci bundle`, and overlay-mode bundles of an
// image whose layers are already unpacked. Plain .mjs with no dependencies
// (Node 20 cannot strip TypeScript types). Run as root; see bench/README.md.
//
// The image (several gzip layers of random-content files, >= 200 MB by
// default) is built here, in a temp dir, with GNU tar and node:zlib. Every
// tool is started with only PATH in its environment. Samples are
// interleaved (iteration i runs each tool once, in a rotating order), and
// only medians and ratios are printed: nothing is asserted (DESIGN.md).

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, release } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { PATH_ONLY, which } from './lib.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GNU_TIME = '/usr/bin/time';
const REGISTRY = '/usr/bin/docker-registry';

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = {
    sizeMb: 240,
    layers: 4,
    iterations: 5,
    rssRuns: 3,
    only: null,
    json: null,
    keep: false,
    workdir: null,
    tsoci: path.join(repoRoot, 'packages/cli/native/tsoci'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--size-mb') o.sizeMb = Number(next());
    else if (a === '--layers') o.layers = Number(next());
    else if (a === '--iterations') o.iterations = Number(next());
    else if (a === '--rss-runs') o.rssRuns = Number(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--json') o.json = next();
    else if (a === '--workdir') o.workdir = next();
    else if (a === '--keep') o.keep = true;
    else if (a === '--tsoci') o.tsoci = next();
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node bench/image.mjs [--size-mb 240] [--layers 4] [--iterations 5] [--rss-runs 3]\n' +
          '       [--only unpack,pull,rss,overlay] [--json out.json] [--workdir DIR] [--keep] [--tsoci path]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!(o.sizeMb > 0) || !(o.layers >= 1) || !(o.iterations >= 1)) throw new Error('bad numbers');
  return o;
}

// ---------------------------------------------------------------- processes

/** Spawns with only PATH; resolves { code, ms, stdout, stderr }. */
function exec(file, args, { cwd } = {}) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, args, { env: PATH_ONLY, stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err) => resolve({ code: -1, ms: 0, stdout, stderr: String(err) }));
    child.on('close', (code) => {
      resolve({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr });
    });
  });
}

async function must(what, file, args, opts) {
  const r = await exec(file, args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r;
}

/** Runs a sequence of commands as one timed step. */
async function steps(list) {
  let ms = 0;
  for (const [what, file, args] of list) ms += (await must(what, file, args)).ms;
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------- the image

/** Text-like content (compresses about 3:1, like binaries and text in real images). */
const WORDS = randomBytes(48 * 1024)
  .toString('base64')
  .replace(/[+/]/g, ' ');

function content(size) {
  // Half random bytes (incompressible), half text.
  if (Math.random() < 0.5) return randomBytes(size);
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const start = Math.floor(Math.random() * (WORDS.length - 1024));
    const n = Math.min(size - off, 256 + Math.floor(Math.random() * 768));
    off += out.write(WORDS.slice(start, start + n), off, 'latin1');
  }
  return out;
}

const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function hashFile(file) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk);
  return `sha256:${h.digest('hex')}`;
}

/**
 * Builds an OCI layout at `dir/layout` (tag `bench`): `layers` gzip layers of
 * about sizeMb/layers MB each, in 1/3 small files (1–32 KiB, many
 * directories) and 2/3 large files (1–12 MB). The last layer also deletes
 * files of the first one (whiteouts) and replaces a directory (opaque).
 */
async function buildImage(dir, sizeMb, layerCount, retired) {
  const layout = path.join(dir, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const perLayer = Math.floor((sizeMb * 1e6) / layerCount);
  const layers = [];
  const diffIds = [];
  let files = 0;
  let uncompressed = 0;
  for (let l = 0; l < layerCount; l++) {
    const tree = path.join(dir, `tree${l}`);
    const top = `layer${l}`;
    let small = 0;
    let n = 0;
    while (small < perLayer / 3) {
      const d = path.join(tree, top, `d${Math.floor(n / 50)}`);
      if (n % 50 === 0) mkdirSync(d, { recursive: true });
      const size = 1024 + Math.floor(Math.random() * 31 * 1024);
      writeFileSync(path.join(d, `f${n}`), content(size));
      small += size;
      n++;
    }
    let big = 0;
    mkdirSync(path.join(tree, top, 'big'), { recursive: true });
    // The rest of the layer in large files (the last one takes what is left).
    const bigTotal = Math.max(1e6, perLayer - small);
    for (let b = 0; big < bigTotal; b++) {
      const size = Math.min(1e6 + Math.floor(Math.random() * 11e6), bigTotal - big);
      writeFileSync(path.join(tree, top, 'big', `b${b}`), content(size));
      big += size;
      n++;
    }
    const names = [top];
    if (l === layerCount - 1 && layerCount > 1) {
      // Whiteouts of ten files of layer 0 and an opaque replacement of one of its dirs.
      mkdirSync(path.join(tree, 'layer0', 'd0'), { recursive: true });
      for (let i = 0; i < 10; i++) writeFileSync(path.join(tree, 'layer0', 'd0', `.wh.f${i}`), '');
      mkdirSync(path.join(tree, 'layer0', 'd1'), { recursive: true });
      writeFileSync(path.join(tree, 'layer0', 'd1', '.wh..wh..opq'), '');
      writeFileSync(path.join(tree, 'layer0', 'd1', 'replaced'), 'x\n');
      names.push('layer0');
    }
    const tarFile = path.join(dir, `layer${l}.tar`);
    const t = spawnSync(
      'tar',
      [
        '-C',
        tree,
        '--sort=name',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '-cf',
        tarFile,
        ...names,
      ],
      { env: PATH_ONLY, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
    retired.push(tree);
    diffIds.push(await hashFile(tarFile));
    uncompressed += statSync(tarFile).size;
    const gz = path.join(dir, `layer${l}.tar.gz`);
    await pipeline(createReadStream(tarFile), createGzip({ level: 6 }), createWriteStream(gz));
    rmSync(tarFile);
    const digest = await hashFile(gz);
    const size = statSync(gz).size;
    spawnSync('mv', [gz, path.join(blobs, digest.slice(7))], { env: PATH_ONLY });
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size });
    files += n;
  }
  const put = (bytes) => {
    const d = sha256(bytes);
    writeFileSync(path.join(blobs, d.slice(7)), bytes);
    return d;
  };
  const config = Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch,
      os: 'linux',
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
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
      layers,
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
          annotations: { 'org.opencontainers.image.ref.name': 'bench' },
        },
      ],
    }),
  );
  const compressed = layers.reduce((a, l) => a + l.size, 0);
  return { layout, tag: 'bench', layers, files, compressed, uncompressed };
}

// ---------------------------------------------------------------- registry

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRegistry(dir) {
  const port = await freePort();
  const config = path.join(dir, 'registry.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'registry-data')}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: bench\n`,
  );
  const child = spawn(REGISTRY, ['serve', config], { env: PATH_ONLY, stdio: 'ignore' });
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      await r.body?.cancel();
      if (r.status === 200) return { host: `127.0.0.1:${port}`, child };
    } catch {
      // not yet
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('docker-registry did not start');
}

// ---------------------------------------------------------------- output

const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const fmtMb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  for (const r of rows)
    console.log(
      r
        .map((cell, c) => String(cell ?? '').padEnd(widths[c] + 2))
        .join('')
        .trimEnd(),
    );
}

// ---------------------------------------------------------------- main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root (overlay mounts, owners)');
  const want = (part) => o.only === null || o.only.includes(part);
  const node = process.execPath;
  // The native front end (packages/cli/native/tsoci) is run as it is; a
  // dist/bin.js through this node.
  const tsoci = (...args) =>
    o.tsoci.endsWith('.js') ? [node, [o.tsoci, ...args]] : [o.tsoci, args];
  if (!existsSync(o.tsoci)) throw new Error(`${o.tsoci} not found: pnpm build first`);
  const umoci = which('umoci');
  const skopeo = which('skopeo');
  const tar = which('tar');
  const haveTime = existsSync(GNU_TIME);

  const version = (file, args) => {
    if (!file) return null;
    const r = spawnSync(file, args, { encoding: 'utf8', env: PATH_ONLY });
    return r.status === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : null;
  };
  const machine = {
    node: process.version,
    kernel: release(),
    cpus: cpus().length,
    tsoci: version(...tsoci('--version')),
    umoci: version(umoci, ['--version']),
    skopeo: version(skopeo, ['--version']),
    tar: version(tar, ['--version']),
  };
  console.log(
    `${machine.tsoci ?? 'tsoci ?'}; ${machine.umoci ?? 'no umoci'}; ${machine.skopeo ?? 'no skopeo'}; ${machine.tar ?? 'no tar'}; node ${machine.node}; kernel ${machine.kernel}; ${machine.cpus} CPUs; env = PATH only`,
  );
  const work = o.workdir ?? mkdtempSync('/tmp/tsoci-bench-image-');
  mkdirSync(work, { recursive: true });
  const results = { machine, image: {}, rows: [] };
  // Directories removed only when the run ends (see `retire` below).
  const retired = [];
  let registry;
  try {
    console.log(`building the image in ${work} (${o.sizeMb} MB in ${o.layers} gzip layers) …`);
    const t0 = Date.now();
    const img = await buildImage(work, o.sizeMb, o.layers, retired);
    results.image = {
      layers: img.layers.length,
      files: img.files,
      uncompressedBytes: img.uncompressed,
      compressedBytes: img.compressed,
    };
    console.log(
      `  ${img.layers.length} layers, ${img.files} files, ${fmtMb(img.uncompressed)} uncompressed, ${fmtMb(img.compressed)} gzip (built in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    const ref = `${img.layout}:${img.tag}`;
    const out = (name) => path.join(work, name);
    // Each removal is followed by sync(1): the removed tree's freed blocks
    // (discarded on this ext4 mount) and the tool's own dirty pages are then
    // written out before the next timed run, instead of stalling whichever
    // tool happens to run next.
    const clean = (...dirs) => {
      for (const d of dirs) {
        spawnSync('umount', ['-l', path.join(d, 'rootfs')], { stdio: 'ignore' });
        rmSync(d, { recursive: true, force: true });
      }
      spawnSync('sync', [], { stdio: 'ignore' });
    };
    // Unpacked trees are not removed between samples but together, once the
    // unpack and RSS rows are done (before the pulls). ext4 (ext4_create's recently_deleted) passes over inodes freed within
    // the last minute or so, reading inode tables as it goes: right after a
    // 244 MB tree was removed, tar -x of the same layers took 4.3 s instead
    // of 2.2 s here, so a removal before each sample measured the removal
    // more than the tool. Without room for them all, each tree goes at once
    // (as it did before), and the output says so.
    const trees = (o.iterations + 1) * 3 + o.rssRuns * 2 + 4;
    const { bavail, bsize } = statfsSync(work);
    const deferRemoval = bavail * bsize > trees * img.uncompressed * 1.5;
    if (!deferRemoval) {
      console.log(
        `  (no room for ${trees} unpacked copies: each is removed right after its sample, which slows the next one)`,
      );
    }
    const retire = (...dirs) => {
      if (!deferRemoval) return clean(...dirs);
      retired.push(...dirs);
      // The sample's dirty pages are written out before the next one starts.
      spawnSync('sync', [], { stdio: 'ignore' });
    };
    const rows = [];
    const add = (name, samples, note = '') => {
      const row = { name, median: median(samples), samples, note };
      rows.push(row);
      results.rows.push(row);
      return row;
    };

    // --- overlay bundles of an image whose layers are unpacked already (first:
    // a bundle creates a few inodes, and after the removals of the sections
    // below ext4 would make each of them slow; see `retire`)
    if (want('overlay')) {
      const store = out('store');
      await must(
        'import',
        ...tsoci('image', '--store', store, 'import', '-q', `oci:${ref}`, 'bench:1'),
      );
      const first = await must(
        'first overlay bundle',
        ...tsoci('bundle', '-q', '--overlay', '--store', store, 'bench:1', out('o-first')),
      );
      add('overlay bundle, first (unpacks layers into the store)', [first.ms]);
      await must('bundle --remove', ...tsoci('bundle', '--remove', out('o-first')));
      // The layers just unpacked into the store are written out first, as
      // after every sample: the timed bundles start from layers at rest.
      spawnSync('sync', [], { stdio: 'ignore' });
      const create = [];
      const remove = [];
      const version = [];
      console.log(`overlay bundles ${o.iterations}x …`);
      for (let i = 0; i < o.iterations; i++) {
        create.push(
          (
            await must(
              'overlay bundle',
              ...tsoci('bundle', '-q', '--overlay', '--store', store, 'bench:1', out('o')),
            )
          ).ms,
        );
        remove.push((await must('bundle --remove', ...tsoci('bundle', '--remove', out('o')))).ms);
        version.push((await must('tsoci --version', ...tsoci('--version'))).ms);
      }
      add('overlay bundle, layers already unpacked', create);
      add('bundle --remove (unmount + delete)', remove);
      add('tsoci --version (CLI start-up, for scale)', version);
      // Its unpacked layers would slow the unpack rows' file creation too.
      retire(store);
    }

    // --- bundle vs umoci unpack vs tar -x (copy into a fresh dir, warm page cache)
    if (want('unpack')) {
      let serial = 0;
      const fresh = (name) => out(`${name}-${serial++}`);
      const tools = [
        [
          'tsoci bundle',
          async () => {
            const dir = fresh('b-tsoci');
            const ms = (await must('tsoci bundle', ...tsoci('bundle', '-q', `oci:${ref}`, dir))).ms;
            retire(dir);
            return ms;
          },
        ],
      ];
      if (umoci) {
        tools.push([
          'umoci unpack',
          async () => {
            const dir = fresh('b-umoci');
            const ms = (await must('umoci unpack', umoci, ['unpack', '--image', ref, dir])).ms;
            retire(dir);
            return ms;
          },
        ]);
      }
      if (tar) {
        tools.push([
          'tar -x (gzip layers)',
          async () => {
            const dir = fresh('b-tar');
            mkdirSync(dir);
            const ms = await steps(
              img.layers.map((l) => [
                'tar -x',
                tar,
                ['-xzf', path.join(img.layout, 'blobs', 'sha256', l.digest.slice(7)), '-C', dir],
              ]),
            );
            retire(dir);
            return ms;
          },
        ]);
      }
      const samples = new Map(tools.map(([n]) => [n, []]));
      console.log(`unpacking ${o.iterations}x with ${tools.map(([n]) => n).join(', ')} …`);
      // One untimed round warms the page cache for everyone.
      for (const [, run] of tools) await run();
      for (let i = 0; i < o.iterations; i++) {
        for (let k = 0; k < tools.length; k++) {
          const [n, run] = tools[(i + k) % tools.length];
          samples.get(n).push(await run());
        }
      }
      for (const [n] of tools) add(n, samples.get(n));
    }

    // --- peak RSS
    if (want('rss') && haveTime) {
      // `command(dir)` is [file, args] unpacking into `dir`, a fresh one per run.
      const rss = async (what, name, command) => {
        const xs = [];
        for (let i = 0; i < o.rssRuns; i++) {
          const dir = out(`${name}-${i}`);
          const [file, args] = command(dir);
          const r = await must(what, GNU_TIME, ['-f', '%M', file, ...args]);
          xs.push(Number(r.stderr.trim().split('\n').at(-1)) * 1024);
          retire(dir);
        }
        return median(xs);
      };
      console.log('peak RSS (GNU time -f %M) …');
      const t = await rss('tsoci bundle', 'r-tsoci', (dir) =>
        tsoci('bundle', '-q', `oci:${ref}`, dir),
      );
      results.rows.push({ name: 'peak RSS tsoci bundle', bytes: t });
      if (umoci) {
        const u = await rss('umoci unpack', 'r-umoci', (dir) => [
          umoci,
          ['unpack', '--image', ref, dir],
        ]);
        results.rows.push({ name: 'peak RSS umoci unpack', bytes: u });
      }
    }

    // The unpacked trees go before the pulls, which write few files; the
    // sync in `clean` writes the removal out first.
    clean(...retired.splice(0));

    // --- pull from a local registry
    if (want('pull') && existsSync(REGISTRY) && skopeo) {
      registry = await startRegistry(work);
      const remote = `${registry.host}/bench/image:bench`;
      console.log(`seeding ${remote} with skopeo …`);
      await must('skopeo copy (seed)', skopeo, [
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${ref}`,
        `docker://${remote}`,
      ]);
      const tools = [
        [
          'tsoci image pull',
          async () => {
            const store = out('p-store');
            const ms = (
              await must(
                'tsoci pull',
                ...tsoci('image', '--store', store, 'pull', '-q', '--plain-http', remote),
              )
            ).ms;
            rmSync(store, { recursive: true, force: true });
            return ms;
          },
        ],
        [
          'skopeo copy (to oci:)',
          async () => {
            const dir = out('p-skopeo');
            const ms = (
              await must('skopeo copy', skopeo, [
                'copy',
                '-q',
                '--src-tls-verify=false',
                `docker://${remote}`,
                `oci:${dir}:bench`,
              ])
            ).ms;
            rmSync(dir, { recursive: true, force: true });
            return ms;
          },
        ],
      ];
      const samples = new Map(tools.map(([n]) => [n, []]));
      console.log(`pulling ${o.iterations}x …`);
      for (const [, run] of tools) await run();
      for (let i = 0; i < o.iterations; i++) {
        for (let k = 0; k < tools.length; k++) {
          const [n, run] = tools[(i + k) % tools.length];
          samples.get(n).push(await run());
        }
      }
      for (const [n] of tools) add(n, samples.get(n));
      if (haveTime) {
        // The median of --rss-runs pulls into an empty store, as for the other RSS rows.
        const store = out('r-store');
        const xs = [];
        for (let i = 0; i < o.rssRuns; i++) {
          const r = await must('rss pull', GNU_TIME, [
            '-f',
            '%M',
            ...[...tsoci('image', '--store', store, 'pull', '-q', '--plain-http', remote)].flat(),
          ]);
          xs.push(Number(r.stderr.trim().split('\n').at(-1)) * 1024);
          rmSync(store, { recursive: true, force: true });
        }
        results.rows.push({ name: 'peak RSS tsoci image pull', bytes: median(xs) });
      }
    } else if (want('pull')) {
      console.log('pull: not available (needs /usr/bin/docker-registry and skopeo)');
    }

    // --- report
    console.log('');
    console.log(
      `image: ${img.layers.length} gzip layers, ${img.files} files, ${fmtMb(img.uncompressed)} (${fmtMb(img.compressed)} compressed); ${o.iterations} iterations, medians`,
    );
    table([
      ['step', 'median', 'min', 'max'],
      ...rows.map((r) => [
        r.name,
        fmtMs(r.median),
        fmtMs(Math.min(...r.samples)),
        fmtMs(Math.max(...r.samples)),
      ]),
    ]);
    const m = (n) => rows.find((r) => r.name === n)?.median;
    const ratio = (a, b) =>
      m(a) !== undefined && m(b) !== undefined ? (m(a) / m(b)).toFixed(2) : 'n/a';
    console.log('');
    table([
      ['ratio (A/B of medians, < 1: A faster)', ''],
      ['tsoci bundle / umoci unpack', ratio('tsoci bundle', 'umoci unpack')],
      ['tsoci bundle / tar -x', ratio('tsoci bundle', 'tar -x (gzip layers)')],
      ['tsoci image pull / skopeo copy', ratio('tsoci image pull', 'skopeo copy (to oci:)')],
      [
        'overlay bundle (unpacked) / tsoci bundle (copy)',
        ratio('overlay bundle, layers already unpacked', 'tsoci bundle'),
      ],
    ]);
    const rssRows = results.rows.filter((r) => r.bytes !== undefined);
    if (rssRows.length > 0) {
      console.log('');
      table([['peak RSS (median)', ''], ...rssRows.map((r) => [r.name, fmtMb(r.bytes)])]);
    }
    if (o.json) writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    if (registry) registry.child.kill('SIGKILL');
    spawnSync(
      'sh',
      ['-c', `grep -o " ${work}/[^ ]*" /proc/self/mountinfo | xargs -r -n1 umount -l`],
      {
        env: PATH_ONLY,
        stdio: 'ignore',
      },
    );
    for (const dir of retired) rmSync(dir, { recursive: true, force: true });
    if (!o.keep && o.workdir === null) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench/image.mjs: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
