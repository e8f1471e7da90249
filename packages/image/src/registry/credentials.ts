/**
 * Registry credentials from Docker `config.json` and containers `auth.json`
 * files (the same format: `{"auths": {"<registry>": {"auth": base64("user:pass")}}}`).
 *
 * Files, in lookup order (the first file with an entry for the registry wins;
 * missing files are skipped, unreadable or malformed ones are errors):
 *   1. `authFile` (option), else `$REGISTRY_AUTH_FILE` (podman's `--authfile`)
 *   2. `$XDG_RUNTIME_DIR/containers/auth.json` (podman's default)
 *   3. `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config/containers/auth.json`)
 *   4. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`
 *
 * Per entry: `auth` (base64 of `user:password`), or `username` + `password`;
 * `identitytoken` (an OAuth2 refresh token, used in the token flow) and
 * `registrytoken` (a bearer token sent as is). Keys may carry a scheme and a
 * `/v1/` or `/v2/` suffix (`https://index.docker.io/v1/`); `index.docker.io`
 * and `registry-1.docker.io` mean `docker.io`. A key with a path
 * (`registry/namespace/repo`, auth.json style) applies to that repository and
 * those below it; the most specific key wins.
 *
 * Credential helpers: `credHelpers: {"<registry>": "<name>"}` and
 * `credsStore: "<name>"` run `docker-credential-<name> get` (found on PATH)
 * with the server URL on stdin, as docker does. In one file, a registry's
 * `credHelpers` entry comes first, then its `auths` entry, then `credsStore`.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RegistryError } from './errors.js';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_REGISTRY } from './reference.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`): exchanged at the token service. */
  identityToken?: string;
  /** A bearer token sent as is (`registrytoken`). */
  registryToken?: string;
}

/**
 * Returns the credentials for a repository of a registry (`docker.io`,
 * `127.0.0.1:5000`, as in ImageReference.registry), or undefined for none.
 */
export type CredentialProvider = (
  registry: string,
  repository: string,
) => Credentials | undefined | Promise<Credentials | undefined>;

export interface CredentialFileOptions {
  /** An explicit auth file, searched first (as podman's `--authfile`). */
  authFile?: string;
  /** Environment to read the variables from (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home directory (default `os.homedir()`). */
  homeDir?: string;
}

export interface LoadCredentialsOptions extends CredentialFileOptions {
  /** Read exactly these files instead of searching (in this order). */
  files?: readonly string[];
  /** Timeout for a credential helper, in milliseconds (default 30 s). */
  helperTimeoutMs?: number;
}

/** The candidate credential files, in lookup order (whether or not they exist). */
export function credentialFilePaths(options: CredentialFileOptions = {}): string[] {
  const env = options.env ?? process.env;
  const home = options.homeDir ?? homedir();
  const paths: string[] = [];
  const explicit = options.authFile ?? env.REGISTRY_AUTH_FILE;
  if (explicit) paths.push(explicit);
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  paths.push(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'auth.json'));
  paths.push(join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json'));
  return [...new Set(paths)];
}

export interface CredentialFileEntry {
  key: string;
  credentials: Credentials;
}

/** One parsed credential file. */
export interface ParsedFile {
  file: string;
  /** Keyed by normalised key: `registry` or `registry/path`. */
  auths: Map<string, CredentialFileEntry>;
  helpers: Map<string, string>;
  store: string | undefined;
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/v2/` → `host:5000`. */
export function normalizeRegistryKey(key: string): string {
  let k = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  k = k.replace(/\/+$/, '').replace(/\/v[12]$/, '');
  const slash = k.indexOf('/');
  const host = (slash === -1 ? k : k.slice(0, slash)).toLowerCase();
  const path = slash === -1 ? '' : k.slice(slash);
  const canonical =
    host === 'index.docker.io' || host === DOCKER_HUB_API_HOST ? DOCKER_HUB_REGISTRY : host;
  return canonical + path;
}

function credentialsError(file: string, message: string, cause?: unknown): RegistryError {
  return new RegistryError('EREGISTRY_CREDENTIALS', `${file}: ${message}`, { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseEntry(file: string, key: string, value: unknown): Credentials {
  if (!isRecord(value))
    throw credentialsError(file, `auths[${JSON.stringify(key)}] is not an object`);
  const str = (field: string): string | undefined => {
    const v = value[field];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      throw credentialsError(file, `auths[${JSON.stringify(key)}].${field} is not a string`);
    }
    return v;
  };
  const credentials: Credentials = {};
  const auth = str('auth');
  if (auth !== undefined) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) {
      throw credentialsError(
        file,
        `auths[${JSON.stringify(key)}].auth is not base64 of "username:password"`,
      );
    }
    credentials.username = decoded.slice(0, colon);
    credentials.password = decoded.slice(colon + 1);
  } else {
    const username = str('username');
    const password = str('password');
    if (username !== undefined) credentials.username = username;
    if (password !== undefined) credentials.password = password;
  }
  const identityToken = str('identitytoken');
  if (identityToken !== undefined) credentials.identityToken = identityToken;
  const registryToken = str('registrytoken');
  if (registryToken !== undefined) credentials.registryToken = registryToken;
  return credentials;
}

function hasSecret(c: Credentials): boolean {
  return (
    c.username !== undefined ||
    c.password !== undefined ||
    c.identityToken !== undefined ||
    c.registryToken !== undefined
  );
}

/** Parses one config.json / auth.json text. `file` names it in errors. */
export function parseCredentialFile(text: string, file: string): ParsedFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw credentialsError(file, `not valid JSON (${(error as Error).message})`, error);
  }
  if (!isRecord(doc)) throw credentialsError(file, 'expected a JSON object');
  const parsed: ParsedFile = { file, auths: new Map(), helpers: new Map(), store: undefined };
  if (doc.auths !== undefined && doc.auths !== null) {
    if (!isRecord(doc.auths)) throw credentialsError(file, '"auths" is not an object');
    for (const [key, value] of Object.entries(doc.auths)) {
      const credentials = parseEntry(file, key, value);
      // Docker writes empty entries next to a credsStore: they are placeholders.
      if (hasSecret(credentials)) parsed.auths.set(normalizeRegistryKey(key), { key, credentials });
    }
  }
  if (doc.credHelpers !== undefined && doc.credHelpers !== null) {
    if (!isRecord(doc.credHelpers)) throw credentialsError(file, '"credHelpers" is not an object');
    for (const [key, value] of Object.entries(doc.credHelpers)) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(value)) {
        throw credentialsError(file, `credHelpers[${JSON.stringify(key)}] is not a helper name`);
      }
      parsed.helpers.set(normalizeRegistryKey(key), value);
    }
  }
  if (doc.credsStore !== undefined && doc.credsStore !== null && doc.credsStore !== '') {
    if (typeof doc.credsStore !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(doc.credsStore)) {
      throw credentialsError(file, '"credsStore" is not a helper name');
    }
    parsed.store = doc.credsStore;
  }
  return parsed;
}

/** Keys to try for a repository, most specific first: `r/a/b/c`, `r/a/b`, `r/a`, `r`. */
function lookupKeys(registry: string, repository: string): string[] {
  const keys: string[] = [];
  const parts = repository === '' ? [] : repository.split('/');
  for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join('/')}`);
  keys.push(registry);
  return keys;
}

/** The server URL a credential helper is asked about. */
function helperServerUrl(registry: string): string {
  return registry === DOCKER_HUB_REGISTRY ? 'https://index.docker.io/v1/' : registry;
}

function runHelper(
  helper: string,
  registry: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  timeout: number,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      program,
      ['get'],
      { env: env as NodeJS.ProcessEnv, timeout, maxBuffer: 1 << 20 },
      (error, stdout) => {
        if (error) {
          if (/credentials not found/i.test(stdout)) {
            resolve(undefined);
            return;
          }
          const detail = stdout.trim() || error.message;
          reject(
            credentialsError(
              file,
              `credential helper ${program} failed for ${registry}: ${detail}`,
              error,
            ),
          );
          return;
        }
        let out: unknown;
        try {
          out = JSON.parse(stdout);
        } catch (parseError) {
          reject(credentialsError(file, `${program} printed invalid JSON`, parseError));
          return;
        }
        if (!isRecord(out) || typeof out.Secret !== 'string') {
          reject(credentialsError(file, `${program} printed no "Secret"`));
          return;
        }
        const username = typeof out.Username === 'string' ? out.Username : '';
        // Docker's convention: the user name "<token>" marks an identity token.
        resolve(
          username === '<token>'
            ? { identityToken: out.Secret }
            : { username, password: out.Secret },
        );
      },
    );
    child.stdin?.end(helperServerUrl(registry));
  });
}

/** Credentials read from Docker/containers credential files. */
export class DockerCredentials {
  /** The files that exist and were read, in lookup order. */
  readonly files: readonly string[];
  readonly #parsed: readonly ParsedFile[];
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #helperTimeoutMs: number;

  constructor(
    parsed: readonly ParsedFile[],
    env: Readonly<Record<string, string | undefined>> = process.env,
    helperTimeoutMs = 30_000,
  ) {
    this.#parsed = parsed;
    this.files = parsed.map((p) => p.file);
    this.#env = env;
    this.#helperTimeoutMs = helperTimeoutMs;
  }

  /** Credentials for `repository` of `registry` (as in ImageReference), or undefined. */
  async get(registry: string, repository = ''): Promise<Credentials | undefined> {
    const reg = normalizeRegistryKey(registry);
    const keys = lookupKeys(reg, repository);
    for (const file of this.#parsed) {
      const helper = file.helpers.get(reg);
      if (helper !== undefined) {
        const found = await runHelper(helper, reg, file.file, this.#env, this.#helperTimeoutMs);
        if (found !== undefined) return found;
      }
      for (const key of keys) {
        const entry = file.auths.get(key);
        if (entry !== undefined) return { ...entry.credentials };
      }
      if (file.store !== undefined) {
        const found = await runHelper(file.store, reg, file.file, this.#env, this.#helperTimeoutMs);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  /** This store as a CredentialProvider for RegistryClient. */
  get provider(): CredentialProvider {
    return (registry, repository) => this.get(registry, repository);
  }
}

/**
 * Reads the credential files (see the module comment for the search order).
 * Missing files are skipped; a file that exists but cannot be parsed is an
 * EREGISTRY_CREDENTIALS error naming it.
 */
export async function loadDockerCredentials(
  options: LoadCredentialsOptions = {},
): Promise<DockerCredentials> {
  const paths = options.files ?? credentialFilePaths(options);
  const parsed: ParsedFile[] = [];
  for (const file of paths) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw credentialsError(file, `cannot be read (${code ?? String(error)})`, error);
    }
    parsed.push(parseCredentialFile(text, file));
  }
  return new DockerCredentials(parsed, options.env ?? process.env, options.helperTimeoutMs);
}

/**
 * A CredentialProvider over the Docker/containers credential files that reads
 * them only when a registry first asks for credentials (a 401), so anonymous
 * pulls from open registries never touch them. Errors (a malformed file)
 * surface on that first use.
 */
export function dockerCredentialProvider(options: LoadCredentialsOptions = {}): CredentialProvider {
  let loaded: Promise<DockerCredentials> | undefined;
  return async (registry, repository) => {
    loaded ??= loadDockerCredentials(options);
    return (await loaded).get(registry, repository);
  };
}
