/** WWW-Authenticate parsing, scope merging and credential files (no network). */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeScopes } from '../../src/registry/auth.js';
import { parseChallenges } from '../../src/registry/challenge.js';
import {
  credentialFilePaths,
  loadDockerCredentials,
  normalizeRegistryKey,
} from '../../src/registry/index.js';

describe('parseChallenges', () => {
  it('reads a bearer challenge with a quoted, comma-holding scope', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull,push',
        },
      },
    ]);
  });

  it('reads several challenges, token values, escapes and odd spacing', () => {
    expect(
      parseChallenges(
        'Basic realm="basic-realm" , Bearer realm = "https://a/t?x=1" ,error=insufficient_scope, Foo x="a\\"b"',
      ),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'basic-realm' } },
      { scheme: 'bearer', params: { realm: 'https://a/t?x=1', error: 'insufficient_scope' } },
      { scheme: 'foo', params: { x: 'a"b' } },
    ]);
  });

  it('never throws on junk', () => {
    for (const junk of [
      '',
      '=',
      '"',
      ',,,',
      'Bearer realm="unterminated',
      '\u0000==',
      'Bearer =x',
    ]) {
      expect(() => parseChallenges(junk)).not.toThrow();
    }
    expect(parseChallenges(null)).toEqual([]);
  });
});

describe('mergeScopes', () => {
  it('merges actions per resource and sorts', () => {
    expect(
      mergeScopes([
        'repository:b:pull',
        'repository:a:push',
        'repository:a:pull',
        'repository:a:pull',
        'registry:catalog:*',
      ]),
    ).toEqual(['registry:catalog:*', 'repository:a:pull,push', 'repository:b:pull']);
  });
});

describe('credential files', () => {
  let dir: string;
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsoci-creds-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the search order as podman and docker do', () => {
    expect(
      credentialFilePaths({
        env: {
          REGISTRY_AUTH_FILE: '/a/auth.json',
          XDG_RUNTIME_DIR: '/run/user/1',
          DOCKER_CONFIG: '/d',
        },
        homeDir: '/home/u',
      }),
    ).toEqual([
      '/a/auth.json',
      '/run/user/1/containers/auth.json',
      '/home/u/.config/containers/auth.json',
      '/d/config.json',
    ]);
    expect(credentialFilePaths({ env: { XDG_CONFIG_HOME: '/x' }, homeDir: '/h' })).toEqual([
      '/x/containers/auth.json',
      '/h/.docker/config.json',
    ]);
  });

  it('normalises registry keys', () => {
    expect(normalizeRegistryKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistryKey('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeRegistryKey('http://Localhost:5000/v2/')).toBe('localhost:5000');
    expect(normalizeRegistryKey('quay.io/org/repo')).toBe('quay.io/org/repo');
  });

  it('reads auth, username/password and tokens; the first file with an entry wins', async () => {
    const home = join(dir, 'home');
    await mkdir(join(home, '.docker'), { recursive: true });
    await mkdir(join(home, '.config', 'containers'), { recursive: true });
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
          'quay.io': { username: 'quser', password: 'qpass' },
          'ghcr.io': { identitytoken: 'refresh-me' },
          'only-docker.example': { auth: b64('d:1') },
          'empty.example': {},
        },
      }),
    );
    await writeFile(
      join(home, '.config', 'containers', 'auth.json'),
      JSON.stringify({
        auths: {
          'quay.io': { auth: b64('podman:wins') },
          'quay.io/team/app': { auth: b64('scoped:yes') },
        },
      }),
    );
    const store = await loadDockerCredentials({ env: {}, homeDir: home });
    expect(store.files).toEqual([
      join(home, '.config', 'containers', 'auth.json'),
      join(home, '.docker', 'config.json'),
    ]);
    expect(await store.get('docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(await store.get('quay.io', 'other/app')).toEqual({
      username: 'podman',
      password: 'wins',
    });
    expect(await store.get('quay.io', 'team/app')).toEqual({ username: 'scoped', password: 'yes' });
    expect(await store.get('quay.io', 'team/app/sub')).toEqual({
      username: 'scoped',
      password: 'yes',
    });
    expect(await store.get('quay.io', 'team/application')).toEqual({
      username: 'podman',
      password: 'wins',
    });
    expect(await store.get('ghcr.io')).toEqual({ identityToken: 'refresh-me' });
    expect(await store.get('only-docker.example')).toEqual({ username: 'd', password: '1' });
    expect(await store.get('empty.example')).toBeUndefined();
    expect(await store.get('nowhere.example')).toBeUndefined();

    // REGISTRY_AUTH_FILE comes first.
    const authFile = join(dir, 'explicit.json');
    await writeFile(
      authFile,
      JSON.stringify({ auths: { 'quay.io': { auth: b64('explicit:1') } } }),
    );
    const explicit = await loadDockerCredentials({
      env: { REGISTRY_AUTH_FILE: authFile },
      homeDir: home,
    });
    expect(await explicit.get('quay.io', 'x/y')).toEqual({ username: 'explicit', password: '1' });
    // DOCKER_CONFIG replaces ~/.docker.
    const dockerConfig = join(dir, 'dockercfg');
    await mkdir(dockerConfig, { recursive: true });
    await writeFile(
      join(dockerConfig, 'config.json'),
      JSON.stringify({ auths: { 'x.io': { auth: b64('x:y') } } }),
    );
    const viaEnv = await loadDockerCredentials({
      env: { DOCKER_CONFIG: dockerConfig },
      homeDir: join(dir, 'none'),
    });
    expect(await viaEnv.get('x.io')).toEqual({ username: 'x', password: 'y' });
  });

  it('names the file and the problem for malformed files', async () => {
    const bad = join(dir, 'bad.json');
    for (const [content, problem] of [
      ['{not json', 'not valid JSON'],
      ['[]', 'expected a JSON object'],
      ['{"auths": 3}', '"auths" is not an object'],
      [
        JSON.stringify({ auths: { 'a.io': { auth: b64('nocolon') } } }),
        'auths["a.io"].auth is not base64 of "username:password"',
      ],
      [
        JSON.stringify({ auths: { 'a.io': { username: 7 } } }),
        'auths["a.io"].username is not a string',
      ],
      [
        JSON.stringify({ credHelpers: { 'a.io': '../evil' } }),
        'credHelpers["a.io"] is not a helper name',
      ],
    ] as const) {
      await writeFile(bad, content);
      const error = await loadDockerCredentials({ files: [bad] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'EREGISTRY_CREDENTIALS' });
      expect((error as Error).message).toContain(bad);
      expect((error as Error).message).toContain(problem);
    }
  });

  it('asks credential helpers (credHelpers before auths before credsStore)', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const helper = join(bin, 'docker-credential-fake');
    await writeFile(
      helper,
      `#!/bin/sh
read server
case "$server" in
  helped.example) echo '{"ServerURL":"helped.example","Username":"helper-user","Secret":"helper-secret"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"idtoken"}' ;;
  broken.example) echo 'boom' >&2; exit 3 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
`,
    );
    await chmod(helper, 0o755);
    const file = join(dir, 'helpers.json');
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          'helped.example': { auth: b64('file:loses') },
          'plain.example': { auth: b64('file:wins') },
        },
        credHelpers: { 'helped.example': 'fake', 'broken.example': 'fake' },
        credsStore: 'fake',
      }),
    );
    const store = await loadDockerCredentials({
      files: [file],
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(await store.get('helped.example')).toEqual({
      username: 'helper-user',
      password: 'helper-secret',
    });
    expect(await store.get('plain.example')).toEqual({ username: 'file', password: 'wins' });
    expect(await store.get('docker.io')).toEqual({ identityToken: 'idtoken' });
    expect(await store.get('unknown.example')).toBeUndefined();
    await expect(store.get('broken.example')).rejects.toMatchObject({
      code: 'EREGISTRY_CREDENTIALS',
    });
  });
});
