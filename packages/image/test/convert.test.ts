/** Conversion (image-spec conversion.md), rule by rule. */
import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ImageConfig, parseConfig, parseImageConfig } from '@ts-oci/spec';
import { describe, expect, it } from 'vitest';
import { imageConfigToRuntimeConfig, resolveImageUser } from '../src/convert.js';
import { busyboxRoot, tempDir } from './helpers.js';

function image(config: Record<string, unknown>, extra: Record<string, unknown> = {}): ImageConfig {
  return parseImageConfig({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [] },
    config,
    ...extra,
  });
}

describe('imageConfigToRuntimeConfig', () => {
  const rootfs = busyboxRoot(tempDir());

  it('copies the verbatim fields and yields a valid runtime config', () => {
    const config = imageConfigToRuntimeConfig(
      image({
        Entrypoint: ['/bin/app', '--flag'],
        Cmd: ['arg1', 'arg 2'],
        Env: ['PATH=/app/bin', 'FOO=bar=baz'],
        WorkingDir: '/srv',
      }),
      rootfs,
    );
    expect(parseConfig(config)).toBeDefined();
    expect(config.process?.args).toEqual(['/bin/app', '--flag', 'arg1', 'arg 2']);
    // Env verbatim; no default for a name the image sets; HOME added (not in the image's Env)
    expect(config.process?.env).toEqual(['PATH=/app/bin', 'FOO=bar=baz', 'HOME=/root']);
    expect(config.process?.cwd).toBe('/srv');
    expect(config.process?.user).toEqual({ uid: 0, gid: 0 });
    expect(config.process?.terminal).toBe(false);
    expect(config.root).toEqual({ path: 'rootfs', readonly: false });
  });

  it('uses Cmd alone or Entrypoint alone, and lets the caller override', () => {
    expect(imageConfigToRuntimeConfig(image({ Cmd: ['sh'] }), rootfs).process?.args).toEqual([
      'sh',
    ]);
    expect(imageConfigToRuntimeConfig(image({ Entrypoint: ['ep'] }), rootfs).process?.args).toEqual(
      ['ep'],
    );
    const c = imageConfigToRuntimeConfig(image({ Entrypoint: ['ep'], Cmd: ['default'] }), rootfs, {
      args: ['mine'],
      env: ['PATH=/override', 'NEW=1'],
      terminal: true,
    });
    expect(c.process?.args).toEqual(['ep', 'mine']);
    expect(c.process?.env).toEqual(['PATH=/override', 'HOME=/root', 'TERM=xterm', 'NEW=1']);
    expect(() => imageConfigToRuntimeConfig(image({}), rootfs)).toThrow(
      expect.objectContaining({ code: 'EIMAGE_INVALID' }),
    );
  });

  it('sets the implicit annotations, with Labels taking precedence', () => {
    const c = imageConfigToRuntimeConfig(
      image(
        {
          Cmd: ['x'],
          StopSignal: 'SIGINT',
          ExposedPorts: { '80/tcp': {}, '53/udp': {} },
          Volumes: { '/data': {}, '/logs': {} },
          Labels: {
            'org.opencontainers.image.architecture': 'from-label',
            'com.example.label': 'v',
          },
        },
        {
          author: 'Alyssa',
          created: '2015-10-31T22:22:56.015925234Z',
          variant: 'v2',
          'os.version': '10.0',
          'os.features': ['a', 'b'],
        },
      ),
      rootfs,
    );
    expect(c.annotations).toEqual({
      'org.opencontainers.image.os': 'linux',
      'org.opencontainers.image.architecture': 'from-label',
      'org.opencontainers.image.variant': 'v2',
      'org.opencontainers.image.os.version': '10.0',
      'org.opencontainers.image.os.features': 'a,b',
      'org.opencontainers.image.author': 'Alyssa',
      'org.opencontainers.image.created': '2015-10-31T22:22:56.015925234Z',
      'org.opencontainers.image.stopSignal': 'SIGINT',
      'org.opencontainers.image.exposedPorts': '80/tcp,53/udp',
      'io.tsoci.image.volumes': '/data,/logs',
      'com.example.label': 'v',
    });
    const withMounts = imageConfigToRuntimeConfig(
      image({ Cmd: ['x'], Volumes: { '/data': {} } }),
      rootfs,
      {
        volumes: 'tmpfs',
      },
    );
    expect(withMounts.mounts?.at(-1)).toMatchObject({ destination: '/data', type: 'tmpfs' });
  });

  it('resolves Config.User against the rootfs (conversion.md "Config.User")', () => {
    const u = (user: string) => resolveImageUser(user, rootfs);
    // numeric values verbatim; the primary group from /etc/passwd; no additional gids
    expect(u('1000')).toEqual({ uid: 1000, gid: 1000, home: '/home/alice' });
    expect(u('4242')).toEqual({ uid: 4242, gid: 0 });
    expect(u('1000:50')).toEqual({ uid: 1000, gid: 50, home: '/home/alice' });
    // names through /etc/passwd, supplementary groups through /etc/group
    expect(u('alice')).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [100, 10],
      home: '/home/alice',
    });
    expect(u('bob')).toEqual({ uid: 1001, gid: 100, additionalGids: [10, 29], home: '/home/bob' });
    // a group given: no additional gids
    expect(u('alice:wheel')).toEqual({ uid: 1000, gid: 10, home: '/home/alice' });
    expect(u('1001:audio')).toEqual({ uid: 1001, gid: 29, home: '/home/bob' });
    expect(u('bob:0')).toEqual({ uid: 1001, gid: 0, home: '/home/bob' });
    // MUST error for users the container does not know
    for (const bad of ['mallory', 'alice:nogroup', ':10', 'alice:']) {
      expect(() => u(bad)).toThrow(expect.objectContaining({ code: 'EIMAGE_USER' }));
    }
    expect(() => resolveImageUser('alice', undefined)).toThrow(
      expect.objectContaining({ code: 'EIMAGE_USER' }),
    );
    expect(resolveImageUser('7:8', undefined)).toEqual({ uid: 7, gid: 8 });
    const c = imageConfigToRuntimeConfig(image({ Cmd: ['id'], User: 'bob' }), rootfs);
    expect(c.process?.user).toEqual({ uid: 1001, gid: 100, additionalGids: [10, 29] });
    expect(c.process?.env).toContain('HOME=/home/bob');
  });

  it('reads /etc/passwd inside the rootfs only', () => {
    const outside = tempDir();
    writeFileSync(join(outside, 'passwd'), 'mallory:x:666:666::/:/bin/sh\n');
    const root = tempDir();
    mkdirSync(join(root, 'etc'));
    symlinkSync(outside, join(root, 'etc/real'));
    symlinkSync('/etc/real/passwd', join(root, 'etc/passwd'));
    expect(() => resolveImageUser('mallory', root)).toThrow(
      expect.objectContaining({ code: 'EIMAGE_USER' }),
    );
    // a relative symlink inside the rootfs is followed
    const ok = busyboxRoot(tempDir());
    mkdirSync(join(ok, 'lib'));
    writeFileSync(join(ok, 'lib/passwd'), 'carol:x:5:6::/c:/bin/sh\n');
    unlinkSync(join(ok, 'etc/passwd'));
    symlinkSync('../lib/passwd', join(ok, 'etc/passwd'));
    expect(resolveImageUser('carol', ok)).toEqual({ uid: 5, gid: 6, home: '/c' });
  });

  it('makes WorkingDir absolute and supports the rootless base', () => {
    const c = imageConfigToRuntimeConfig(image({ Cmd: ['x'], WorkingDir: 'app' }), rootfs, {
      rootless: true,
    });
    expect(c.process?.cwd).toBe('/app');
    expect(c.linux?.namespaces?.map((n) => n.type)).toContain('user');
  });
});
