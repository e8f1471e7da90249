#!/usr/bin/env node
import module from 'node:module';

// Node >= 22.1 keeps V8's compiled code on disk between runs (under
// NODE_COMPILE_CACHE or the temp dir): a CLI that starts once per container
// operation pays for parsing its modules only once. It must be enabled
// before those modules load, hence the dynamic import below. Node 20 lacks it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { main } = await import('./main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // main() reports every error itself; reaching here is a bug in the CLI.
    process.stderr.write(
      `tsoci: internal error: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
