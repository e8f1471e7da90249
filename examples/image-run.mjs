#!/usr/bin/env node
// Runs a container from an image reference, showing the image's progress
// (resolving, per-layer download and unpack, done) on stderr and the
// container's output on stdout, then its exit status.
//
//   sudo node examples/image-run.mjs [--image REF] [--store DIR] [--plain-http HOST:PORT] [-- CMD [ARG...]]
//
// REF is anything @ts-oci/image reads: oci:DIR[:TAG], oci-archive:FILE[:TAG],
// docker-archive:FILE[:NAME:TAG], docker://HOST/NAME:TAG, or NAME[:TAG] (the
// store, then a registry). Without --image the example builds a busybox image
// offline (an OCI layout, see busybox-image.mjs) and runs that. With
// --store, registry images are pulled into the store and, as root, the
// container's rootfs is an overlay of the store's layers; a second run finds
// them unpacked already. CMD replaces the image's Cmd (its Entrypoint stays).
//
// The bundle is made under the runtime's state root and goes with the
// container; the state root is a temporary directory removed at the end.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '../packages/runtime/dist/index.js';
import { makeBusyboxImage } from './busybox-image.mjs';

function size(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * An onProgress callback that prints one line per step to `out`: progress
 * of a layer at most every quarter (a terminal UI would redraw a bar here).
 */
export function progressPrinter(out = process.stderr) {
  const shown = new Map();
  return (e) => {
    const layer = 'index' in e ? `layer ${e.index + 1}/${e.count}` : '';
    switch (e.type) {
      case 'resolving':
        out.write(`resolving ${e.reference}\n`);
        break;
      case 'resolved':
        out.write(
          `resolved ${e.digest} (${e.layers.length} layer${e.layers.length === 1 ? '' : 's'}, ${size(e.totalBytes)})\n`,
        );
        break;
      case 'layer-download-start':
      case 'layer-unpack-start':
        out.write(
          `${layer} ${e.type === 'layer-unpack-start' ? 'unpacking' : 'downloading'} ${size(e.total)}\n`,
        );
        break;
      case 'layer-download-progress':
      case 'layer-unpack-progress': {
        const quarter = Math.floor((4 * e.bytes) / Math.max(1, e.total));
        const key = `${e.type}:${e.index}`;
        if (quarter > (shown.get(key) ?? 0)) {
          shown.set(key, quarter);
          out.write(`${layer} ${Math.min(100, quarter * 25)}%\n`);
        }
        break;
      }
      case 'layer-download-done':
        out.write(`${layer} ${e.cached ? 'already present' : `downloaded ${size(e.bytes)}`}\n`);
        break;
      case 'layer-unpack-done':
        out.write(
          `${layer} ${e.cached ? 'already unpacked' : `unpacked (${e.stats?.entries ?? 0} entries)`}\n`,
        );
        break;
      case 'done':
        out.write(`ready ${e.reference}\n`);
        break;
    }
  };
}

async function main(argv) {
  let image;
  let store;
  const plainHttp = [];
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--image') image = argv[++i];
    else if (argv[i] === '--store') store = path.resolve(argv[++i]);
    else if (argv[i] === '--plain-http') plainHttp.push(argv[++i]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  const args = argv.slice(i + 1);
  const work = mkdtempSync(path.join(tmpdir(), 'tsoci-image-run-'));
  try {
    if (image === undefined) {
      image = makeBusyboxImage(path.join(work, 'layout'), {
        tag: 'v1',
        config: {
          Entrypoint: ['/bin/sh', '-c'],
          Cmd: ['echo "hello from $IMAGE_NAME in $(pwd)"; cat /etc/motd'],
          Env: ['PATH=/bin', 'IMAGE_NAME=busybox'],
          WorkingDir: '/tmp',
        },
      });
    }
    const rt = new Runtime({
      root: path.join(work, 'state'),
      ...(store ? { imageStore: store } : {}),
      ...(plainHttp.length > 0 ? { registry: { plainHttp } } : {}),
    });
    const c = await rt.runContainer(
      {
        id: `image-run-${process.pid}`,
        image,
        ...(args.length > 0 ? { overrides: { args } } : {}),
      },
      { stdio: ['ignore', 'inherit', 'inherit'], onProgress: progressPrinter() },
    );
    try {
      const { exitCode, signal } = await c.wait();
      process.stdout.write(`exit ${exitCode}${signal ? ` (${signal})` : ''}\n`);
      process.exitCode = exitCode === 0 ? 0 : 1;
    } finally {
      await c[Symbol.asyncDispose]();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`image-run: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    process.exitCode = 1;
  });
}
