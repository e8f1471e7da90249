import { defineConfig } from 'tsup';

export default defineConfig({
  // errors and tables load without zod: the CLI's hot commands import only these.
  entry: ['src/index.ts', 'src/errors.ts', 'src/tables.ts'],
  splitting: true,
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
});
