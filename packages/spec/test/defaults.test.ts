/**
 * `defaultConfig` against the real `runc spec`: the same document but for
 * ociVersion. runc is a test prerequisite (CI installs Debian's runc); a
 * machine without it fails here with instructions rather than skipping.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/defaults.js';
import { parseConfig } from '../src/parse.js';
import { OCI_RUNTIME_SPEC_VERSION } from '../src/tables.js';

function findRunc(): string {
  const candidates = [
    process.env.TSOCI_RUNC,
    '/usr/sbin/runc',
    '/usr/bin/runc',
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'runc')),
  ];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error(
    'runc not found (looked in /usr/sbin, /usr/bin and PATH): install it (apt-get install runc) or set TSOCI_RUNC',
  );
}

/** What `runc spec [--rootless]` writes, read from a fresh temporary bundle directory. */
function runcSpec(rootless: boolean): Record<string, unknown> {
  const runc = findRunc();
  const dir = mkdtempSync(join(tmpdir(), 'tsoci-spec-'));
  try {
    execFileSync(runc, ['spec', '--bundle', dir, ...(rootless ? ['--rootless'] : [])], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withoutVersion(config: object): Record<string, unknown> {
  const { ociVersion: _ignored, ...rest } = config as Record<string, unknown>;
  return rest;
}

describe('defaultConfig', () => {
  it('has the content of `runc spec`', () => {
    expect(withoutVersion(defaultConfig())).toEqual(withoutVersion(runcSpec(false)));
  });

  it('has the content of `runc spec --rootless` (mapping the current user to root)', () => {
    expect(withoutVersion(defaultConfig({ rootless: true }))).toEqual(
      withoutVersion(runcSpec(true)),
    );
  });

  it('declares the spec version tsoci implements', () => {
    expect(defaultConfig().ociVersion).toBe('1.3.0');
    expect(OCI_RUNTIME_SPEC_VERSION).toBe('1.3.0');
  });

  it('maps the given ids in rootless mode', () => {
    const config = defaultConfig({ rootless: true, uid: 1000, gid: 1001 });
    expect(config.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(config.linux?.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
  });

  it('is valid', () => {
    expect(parseConfig(defaultConfig())).toEqual(defaultConfig());
    expect(parseConfig(defaultConfig({ rootless: true }))).toEqual(
      defaultConfig({ rootless: true }),
    );
  });

  it('returns a fresh deep object each call', () => {
    const a = defaultConfig();
    const b = defaultConfig();
    expect(a).toEqual(b);
    a.process?.capabilities?.bounding?.push('CAP_SYS_ADMIN');
    a.mounts?.[2]?.options?.push('x');
    a.linux?.namespaces?.pop();
    expect(defaultConfig()).toEqual(b);
    expect(b.process?.capabilities?.bounding).toEqual([
      'CAP_AUDIT_WRITE',
      'CAP_KILL',
      'CAP_NET_BIND_SERVICE',
    ]);
    // The capability sets do not share arrays either.
    expect(a.process?.capabilities?.effective).toHaveLength(3);
  });
});
