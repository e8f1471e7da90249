#!/usr/bin/env node
import module from 'node:module';

// Node >= 22.1 keeps V8's compiled code on disk between runs (under
// NODE_COMPILE_CACHE or the temp dir): a CLI that starts once per container
// operation pays for parsing its modules only once. It must be enabled
// before those modules load, hence the dynamic import below. Node 20 lacks it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { runAsProgram } = await import('./main.js');

runAsProgram(process.argv.slice(2));
