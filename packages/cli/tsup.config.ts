import { execFileSync } from 'node:child_process';
import { defineConfig } from 'tsup';

// The commit goes into `tsoci --version` (engines parse the `commit:` line).
function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export default defineConfig({
  entry: ['src/index.ts', 'src/bin.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  // One chunk per lazily imported command, so `tsoci state` does not load `create`.
  splitting: true,
  define: { __TSOCI_COMMIT__: JSON.stringify(process.env.TSOCI_COMMIT ?? gitCommit()) },
});
