/**
 * node:http, node:https and node:tls, loaded on first use with require: a
 * Node 20 start-up snapshot (the CLI's) can contain none of them (their
 * module bodies need what the snapshot builder lacks), so a static import
 * would make every program that bundles this package unsnapshottable; and a
 * process started from a snapshot has no dynamic import(), only require.
 */
import { createRequire } from 'node:module';

let load: NodeJS.Require | undefined;

function builtin<T>(name: string): T {
  load ??= createRequire(import.meta.url);
  return load(name) as T;
}

export const nodeHttp = (): typeof import('node:http') => builtin('node:http');
export const nodeHttps = (): typeof import('node:https') => builtin('node:https');
export const nodeTls = (): typeof import('node:tls') => builtin('node:tls');
