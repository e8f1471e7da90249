import { readFileSync } from 'node:fs';
import {
  buildRootfsPlan,
  type MountOp,
  type RootfsConfig,
  type RootfsIssue,
  RootfsPlanError,
  type RootfsPlanOptions,
  validateRootfs,
} from '../src/index.js';

export const BUNDLE = '/run/bundles/c1';

/** The smallest config that yields a plan: a root and a mount namespace. */
export function minimal(extra: Record<string, unknown> = {}): RootfsConfig {
  return {
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'mount' }] },
    ...extra,
  } as RootfsConfig;
}

/** A config with one mount and otherwise `minimal()`. */
export function withMount(mount: Record<string, unknown>): RootfsConfig {
  return minimal({ mounts: [mount] });
}

export function plan(config: unknown, opts: Partial<RootfsPlanOptions> = {}) {
  return buildRootfsPlan(config as RootfsConfig, { bundleDir: BUNDLE, ...opts });
}

/** The single MountOp a one-mount config produces. */
export function mountOp(mount: Record<string, unknown>): MountOp {
  const op = plan(withMount(mount)).mounts[0];
  if (!op) throw new Error('no mount in plan');
  return op;
}

/** The MountOp of a tmpfs at /mnt with these options. */
export function tmpfsWith(...options: string[]): MountOp {
  return mountOp({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options });
}

export function issues(config: unknown, opts: Partial<RootfsPlanOptions> = {}): RootfsIssue[] {
  return validateRootfs(config as RootfsConfig, { bundleDir: BUNDLE, ...opts });
}

/** Issues rendered as `path: message`, the way they appear in error text. */
export function problems(config: unknown, opts: Partial<RootfsPlanOptions> = {}): string[] {
  return issues(config, opts).map((i) => `${i.path}: ${i.message}`);
}

export function warnings(config: unknown, opts: Partial<RootfsPlanOptions> = {}): string[] {
  const out: string[] = [];
  validateRootfs(config as RootfsConfig, {
    bundleDir: BUNDLE,
    ...opts,
    onWarning: (w) => out.push(`${w.path}: ${w.message}`),
  });
  return out;
}

/** The error buildRootfsPlan throws; fails the test if it does not throw one. */
export function planError(config: unknown, opts: Partial<RootfsPlanOptions> = {}): RootfsPlanError {
  try {
    plan(config, opts);
  } catch (error) {
    if (error instanceof RootfsPlanError) return error;
    throw error;
  }
  throw new Error('buildRootfsPlan did not throw');
}

export function fixture(name: string): RootfsConfig {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}
