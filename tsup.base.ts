import type { Options } from 'tsup';

/**
 * What every package builds: ESM for Node 20 with .d.ts and source maps, one
 * chunk per lazily imported module (splitting) so commands load only what
 * they use. Packages spread this and add their own entries or bundling.
 */
export const packageBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
};
