/**
 * Authentication against real registries on loopback: one with htpasswd
 * (Basic) auth, one with token auth backed by the test's own token issuer
 * (JWTs signed with a key made at test time, trusted via rootcertbundle).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  dockerCredentialProvider,
  loadDockerCredentials,
  pushImage,
  RegistryClient,
  RegistryError,
  RegistrySource,
} from '../../src/registry/index.js';
import { buildImage, pushSourceOf } from './helpers/image.js';
import {
  haveRegistry,
  htpasswdLine,
  type RunningRegistry,
  startRegistry,
} from './helpers/registry.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

// Starting a registry (and, for token auth, an issuer with a fresh RSA key) takes a moment on a busy CI machine.
vi.setConfig({ hookTimeout: 60_000, testTimeout: 30_000 });

const image = buildImage({ label: 'auth' });

describe.skipIf(!haveRegistry)('htpasswd (Basic) auth', () => {
  let dir: string;
  let registry: RunningRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsoci-basic-'));
    await writeFile(join(dir, 'htpasswd'), `${htpasswdLine('alice', 'wonderland')}\n`);
    registry = await startRegistry({
      auth: { htpasswd: { realm: 'tsoci-basic', path: join(dir, 'htpasswd') } },
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails with EREGISTRY_AUTH (401) without credentials', async () => {
    const anonymous = new RegistryClient({ plainHttp: [registry.host] });
    const error = await anonymous
      .getManifest(`${registry.host}/private/app:1`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH', status: 401 });
    expect((error as Error).message).toContain(
      `registry ${registry.host} requires a login and no credentials were found`,
    );
  });

  it('fails with EREGISTRY_AUTH for a wrong password', async () => {
    const wrong = new RegistryClient({
      plainHttp: [registry.host],
      credentials: { username: 'alice', password: 'nope' },
    });
    const error = await wrong
      .getManifest(`${registry.host}/private/app:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH', status: 401 });
    expect((error as Error).message).toContain('refused the credentials');
  });

  it('pushes and pulls with credentials from a docker config.json', async () => {
    const dockerConfig = join(dir, 'docker');
    await mkdir(dockerConfig);
    await writeFile(
      join(dockerConfig, 'config.json'),
      JSON.stringify({
        auths: {
          [`http://${registry.host}`]: { auth: Buffer.from('alice:wonderland').toString('base64') },
        },
      }),
    );
    const credentials = await loadDockerCredentials({
      env: { DOCKER_CONFIG: dockerConfig },
      homeDir: join(dir, 'nohome'),
    });
    const client = new RegistryClient({ plainHttp: [registry.host], credentials });
    await pushImage(client, `${registry.host}/private/app:1`, pushSourceOf(image));
    const got = await client.getManifest(`${registry.host}/private/app:1`);
    expect(got.bytes.equals(image.manifest)).toBe(true);
    const resolved = await new RegistrySource(client, `${registry.host}/private/app:1`).resolve();
    expect(resolved.config.config?.Labels?.['test.label']).toBe('auth');
    // RegistrySource.open reads the same files by default (here via DOCKER_CONFIG)
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dockerConfig;
    try {
      const opened = RegistrySource.open(`${registry.host}/private/app:1`, {
        plainHttp: [registry.host],
      });
      expect((await opened.resolve()).manifestDescriptor.digest).toBe(image.descriptor.digest);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
    }
  });

  it('reads credential files only when a registry asks for a login', async () => {
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{broken');
    const provider = dockerCredentialProvider({ files: [broken] });
    const open = await startRegistry();
    try {
      const client = new RegistryClient({ plainHttp: true, credentials: provider });
      await pushImage(client, `${open.host}/free/app:1`, pushSourceOf(image));
      const error = await client
        .getManifest(`${registry.host}/private/app:1`)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'EREGISTRY_CREDENTIALS' });
      expect((error as Error).message).toContain(broken);
    } finally {
      await open.stop();
    }
  });
});

describe.skipIf(!haveRegistry)('token auth (registry auth: token + test token issuer)', () => {
  let dir: string;
  let tokens: TokenServer;
  let registry: RunningRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsoci-token-'));
    tokens = await startTokenServer({
      dir,
      users: { bob: 'builder' },
      publicPrefixes: ['public/'],
    });
    registry = await startRegistry({
      auth: {
        token: {
          realm: tokens.realm,
          service: tokens.service,
          issuer: tokens.issuer,
          rootcertbundle: tokens.certPath,
        },
      },
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes with a login, asking for pull,push tokens once per scope', async () => {
    const client = new RegistryClient({
      plainHttp: [registry.host],
      credentials: { username: 'bob', password: 'builder' },
    });
    const before = tokens.issued.length;
    await pushImage(client, `${registry.host}/public/app:1`, pushSourceOf(image));
    await pushImage(client, `${registry.host}/team/secret:1`, pushSourceOf(image));
    const issued = tokens.issued.slice(before);
    expect(issued.map((i) => i.scopes.join(' '))).toEqual([
      'repository:public/app:pull,push',
      'repository:team/secret:pull,push',
    ]);
    expect(issued.every((i) => i.user === 'bob')).toBe(true);
  });

  it('pulls anonymously where the issuer allows it', async () => {
    const anonymous = new RegistryClient({ plainHttp: [registry.host] });
    const got = await anonymous.getManifest(`${registry.host}/public/app:1`);
    expect(got.descriptor.digest).toBe(image.descriptor.digest);
    const layer = image.layers[0]?.descriptor;
    if (layer === undefined) throw new Error('no layer');
    const data = await anonymous.readBlob(`${registry.host}/public/app`, layer, {
      maxBytes: 1 << 30,
    });
    expect(data.length).toBe(layer.size);
    expect(tokens.issued.at(-1)).toMatchObject({
      user: undefined,
      scopes: ['repository:public/app:pull'],
    });
  });

  it('refuses an anonymous pull of a private repository with EREGISTRY_AUTH', async () => {
    const anonymous = new RegistryClient({ plainHttp: [registry.host] });
    const error = await anonymous
      .getManifest(`${registry.host}/team/secret:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH', status: 401 });
    expect((error as Error).message).toContain(`/v2/team/secret/manifests/1`);
  });

  it('fails with EREGISTRY_AUTH when the issuer refuses the password', async () => {
    const client = new RegistryClient({
      plainHttp: [registry.host],
      credentials: { username: 'bob', password: 'wrong' },
    });
    const error = await client
      .getManifest(`${registry.host}/team/secret:1`)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EREGISTRY_AUTH', status: 401 });
    expect((error as Error).message).toContain(`token request to ${tokens.url}/token`);
    expect((error as Error).message).toContain('invalid username or password');
  });

  it('pulls a private image with a login, reusing the cached token', async () => {
    const client = new RegistryClient({
      plainHttp: [registry.host],
      credentials: { username: 'bob', password: 'builder' },
    });
    const before = tokens.issued.length;
    const source = new RegistrySource(client, `${registry.host}/team/secret:1`);
    const resolved = await source.resolve();
    for (const layer of resolved.layers) {
      for await (const _ of await source.openBlob(layer)) {
        // drain
      }
    }
    expect(tokens.issued.length - before).toBe(1);
  });
});
