// Builds the native `tsoci` front end (crates/tsoci-cli) into native/tsoci.
// A script rather than a one-liner because the binary embeds two facts of
// the build: the commit (for `--version`) and this node's path, the last
// resort when a hand-off finds no `node` on PATH.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const crates = join(pkg, '../../crates');

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: pkg, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

execFileSync(
  'cargo',
  [
    'build',
    '--release',
    '--locked',
    '--manifest-path',
    join(crates, 'Cargo.toml'),
    '-p',
    'tsoci-cli',
  ],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      TSOCI_COMMIT: process.env.TSOCI_COMMIT ?? gitCommit(),
      TSOCI_BUILD_NODE: process.execPath,
    },
  },
);
mkdirSync(join(pkg, 'native'), { recursive: true });
// Copy then rename: a running `tsoci` keeps its old inode (no ETXTBSY).
const tmp = join(pkg, 'native', '.tsoci.tmp');
copyFileSync(join(crates, 'target/release/tsoci'), tmp);
chmodSync(tmp, 0o755);
renameSync(tmp, join(pkg, 'native', 'tsoci'));
