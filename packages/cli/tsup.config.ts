import { execFileSync } from 'node:child_process';
import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// The commit goes into `tsoci --version` (engines parse the `commit:` line).
function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export default defineConfig({
  ...packageBuild,
  entry: ['src/index.ts', 'src/bin.ts'],
  dts: { entry: 'src/index.ts' },
  // Start-up time is the CLI's budget: commander is bundled and the output
  // minified (one small file instead of a module tree; see ARCHITECTURE.md).
  noExternal: ['commander'],
  // commander is CommonJS: give the ESM chunks a real `require` for its node: imports.
  banner: {
    js: "import { createRequire as __tsociRequire } from 'node:module'; const require = __tsociRequire(import.meta.url);",
  },
  minify: true,
  keepNames: true,
  define: { __TSOCI_COMMIT__: JSON.stringify(process.env.TSOCI_COMMIT ?? gitCommit()) },
});
