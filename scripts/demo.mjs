#!/usr/bin/env node
// Runs a real container with tsoci: a bundle made from Debian's busybox-static
// (a static binary, so the rootfs is one file plus links) and the default
// config from `tsoci spec`, then `tsoci run`. Needs root and a build.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsoci = join(repo, 'packages/cli/native/tsoci');
const bundle = mkdtempSync(join(tmpdir(), 'tsoci-demo-'));
const root = join(bundle, 'state');
try {
  const rootfs = join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc'])
    mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const a of ['sh', 'echo', 'hostname', 'id', 'ps', 'cat', 'uname'])
    symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  execFileSync(tsoci, ['spec', '--bundle', bundle]);
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.hostname = 'tsoci-demo';
  config.process.args = [
    'sh',
    '-c',
    'echo "hello from a tsoci container"; echo "hostname: $(hostname), pid: $$, user: $(id -un)"; ps',
  ];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  const r = spawnSync(tsoci, ['--root', root, 'run', '--bundle', bundle, 'tsoci-demo'], {
    stdio: 'inherit',
  });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(bundle, { recursive: true, force: true });
}
