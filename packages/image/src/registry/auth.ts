/**
 * Registry authentication: anonymous, Basic, and the Docker/OCI token flow.
 *
 * The client learns a registry's scheme from its first 401 (`WWW-Authenticate`)
 * and from then on authorises requests up front, so that streamed uploads are
 * never sent twice. Bearer tokens come from the challenge's `realm` with its
 * `service` and the operation's `scope`s (`repository:<name>:pull[,push]`),
 * and are cached per realm, service and scope set until shortly before they
 * expire; concurrent requests for the same scopes share one token request.
 *
 * Credentials (Basic to the registry, or Basic to the token realm) are only
 * sent over https, unless the registry itself was configured as plain http.
 */
import type { Challenge } from './challenge.js';
import type { CredentialProvider, Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import type { ImageReference } from './reference.js';

/** Merges `type:name:actions` scopes of the same resource and sorts them. */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    const last = scope.lastIndexOf(':');
    if (last <= 0) continue;
    const resource = scope.slice(0, last);
    const actions = byResource.get(resource) ?? new Set<string>();
    for (const action of scope.slice(last + 1).split(',')) if (action !== '') actions.add(action);
    byResource.set(resource, actions);
  }
  return [...byResource]
    .map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`)
    .sort();
}

export function repositoryScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Sends a request without registry auth (token realm requests): supplied by the transport. */
export type TokenRequester = (request: {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Authorization for the realm's origin only. */
  authorization?: string;
  registry: string;
}) => Promise<{ status: number; statusText: string; json: unknown; text: string }>;

export interface AuthenticatorOptions {
  credentials: CredentialProvider;
  requestToken: TokenRequester;
  /** Whether plain http is acceptable for this registry (then credentials may travel over http). */
  allowsHttp: (registry: string) => boolean;
  /** Sent as `client_id` in OAuth2 refresh-token requests. */
  clientId?: string;
  now?: () => number;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function hasLogin(c: Credentials | undefined): c is Credentials & { username: string } {
  return c?.username !== undefined && c.username !== '';
}

export class Authenticator {
  readonly #options: AuthenticatorOptions;
  /** The chosen challenge per registry (ImageReference.registry). */
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #pending = new Map<string, Promise<CachedToken>>();
  readonly #credentials = new Map<string, Promise<Credentials | undefined>>();

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Credentials for a repository, asked of the provider once per client. */
  credentialsFor(ref: ImageReference): Promise<Credentials | undefined> {
    const key = `${ref.registry}/${ref.repository}`;
    let found = this.#credentials.get(key);
    if (found === undefined) {
      found = Promise.resolve(this.#options.credentials(ref.registry, ref.repository));
      this.#credentials.set(key, found);
      // A failing provider (a broken helper) should not be cached forever.
      found.catch(() => this.#credentials.delete(key));
    }
    return found;
  }

  /**
   * The Authorization header for a request to `ref`'s registry needing
   * `scopes`, or undefined for an anonymous request.
   */
  async authorization(ref: ImageReference, scopes: readonly string[]): Promise<string | undefined> {
    const challenge = this.#challenges.get(ref.registry);
    if (challenge === undefined) return undefined;
    const credentials = await this.credentialsFor(ref);
    if (challenge.scheme === 'basic') {
      if (!hasLogin(credentials)) return undefined;
      // The registry itself is only spoken to over http when `plainHttp` names it.
      return basic(credentials.username, credentials.password ?? '');
    }
    if (credentials?.registryToken !== undefined) return `Bearer ${credentials.registryToken}`;
    const token = await this.#token(ref, challenge, scopes, credentials);
    return `Bearer ${token.value}`;
  }

  /**
   * Handles a 401 from the registry: records the challenge and drops the
   * token that was refused, and returns the scopes to ask for on the retry
   * (plus any the challenge names). Throws EREGISTRY_AUTH when a retry cannot
   * help (no usable challenge, no credentials for Basic, or the same Basic
   * credentials were already refused).
   */
  async unauthorized(
    ref: ImageReference,
    challenges: readonly Challenge[],
    scopes: readonly string[],
    sent: string | undefined,
    describe: () => string,
  ): Promise<{ scopes: string[] }> {
    const challenge =
      challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ??
      challenges.find((c) => c.scheme === 'basic');
    if (challenge === undefined) {
      throw new RegistryError(
        'EREGISTRY_AUTH',
        `${describe()}: 401 Unauthorized without a usable WWW-Authenticate challenge`,
        { status: 401 },
      );
    }
    const credentials = await this.credentialsFor(ref);
    this.#challenges.set(ref.registry, challenge);
    const nextScopes = [...scopes];
    if (challenge.scheme === 'basic') {
      if (!hasLogin(credentials)) {
        throw new RegistryError(
          'EREGISTRY_AUTH',
          `${describe()}: 401 Unauthorized: registry ${ref.registry} requires a login and no credentials were found for it`,
          { status: 401 },
        );
      }
      if (sent?.startsWith('Basic ')) {
        throw new RegistryError(
          'EREGISTRY_AUTH',
          `${describe()}: 401 Unauthorized: the registry refused the credentials for ${ref.registry} (user ${JSON.stringify(credentials.username)})`,
          { status: 401 },
        );
      }
      return { scopes: nextScopes };
    }
    // Bearer: a registry may name the scope it wants (insufficient_scope).
    if (challenge.params.scope) nextScopes.push(...challenge.params.scope.split(' '));
    if (sent?.startsWith('Bearer ')) {
      // Forget the refused token so that the retry asks for a fresh one.
      const value = sent.slice('Bearer '.length);
      for (const [key, token] of this.#tokens) if (token.value === value) this.#tokens.delete(key);
    }
    return { scopes: nextScopes };
  }

  #requireSecureCredentials(registry: string, to: string, url: string): void {
    if (url.startsWith('http://') && !this.#options.allowsHttp(registry)) {
      throw new RegistryError(
        'EREGISTRY_AUTH',
        `refusing to send credentials for ${registry} to ${to} over plain http (${url})`,
      );
    }
  }

  #token(
    ref: ImageReference,
    challenge: Challenge,
    scopes: readonly string[],
    credentials: Credentials | undefined,
  ): Promise<CachedToken> {
    const realm = challenge.params.realm ?? '';
    const service = challenge.params.service;
    const merged = mergeScopes(scopes);
    const login = hasLogin(credentials) ? credentials.username : '';
    const key = JSON.stringify([realm, service ?? '', merged, login]);
    const cached = this.#tokens.get(key);
    if (cached !== undefined && cached.expiresAt > this.#now()) return Promise.resolve(cached);
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#fetchToken(ref, realm, service, merged, credentials).then(
        (token) => {
          this.#tokens.set(key, token);
          this.#pending.delete(key);
          return token;
        },
        (error: unknown) => {
          this.#pending.delete(key);
          throw error;
        },
      );
      this.#pending.set(key, pending);
    }
    return pending;
  }

  async #fetchToken(
    ref: ImageReference,
    realm: string,
    service: string | undefined,
    scopes: readonly string[],
    credentials: Credentials | undefined,
  ): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(
        'EREGISTRY_AUTH',
        `registry ${ref.registry} named an invalid token realm ${JSON.stringify(realm)}`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new RegistryError(
        'EREGISTRY_AUTH',
        `registry ${ref.registry} named a token realm that is not http(s): ${realm}`,
      );
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    let response: Awaited<ReturnType<TokenRequester>>;
    if (credentials?.identityToken !== undefined) {
      // OAuth2 refresh-token grant, as docker does with an identity token.
      this.#requireSecureCredentials(ref.registry, `token realm ${url.origin}`, url.href);
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credentials.identityToken,
        client_id: this.#options.clientId ?? 'tsoci',
      });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      headers['content-type'] = 'application/x-www-form-urlencoded';
      response = await this.#options.requestToken({
        method: 'POST',
        url: url.href,
        headers,
        body: form.toString(),
        registry: ref.registry,
      });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      let authorization: string | undefined;
      if (hasLogin(credentials)) {
        this.#requireSecureCredentials(ref.registry, `token realm ${url.origin}`, url.href);
        authorization = basic(credentials.username, credentials.password ?? '');
      }
      response = await this.#options.requestToken({
        method: 'GET',
        url: url.href,
        headers,
        ...(authorization === undefined ? {} : { authorization }),
        registry: ref.registry,
      });
    }
    const where = `token request to ${url.origin}${url.pathname} for ${ref.registry} (scope ${scopes.join(' ') || '(none)'})`;
    if (response.status === 401 || response.status === 403) {
      throw new RegistryError(
        'EREGISTRY_AUTH',
        `${where}: ${response.status} ${response.statusText}${hasLogin(credentials) ? '' : ' (no credentials were found for this registry)'}${detailOf(response.text)}`,
        { status: response.status, url: url.href },
      );
    }
    if (response.status !== 200) {
      throw new RegistryError(
        'EREGISTRY_AUTH',
        `${where}: unexpected status ${response.status} ${response.statusText}${detailOf(response.text)}`,
        { status: response.status, url: url.href },
      );
    }
    const body = response.json as Record<string, unknown> | null;
    const token =
      body !== null && typeof body === 'object'
        ? typeof body.token === 'string' && body.token !== ''
          ? body.token
          : typeof body.access_token === 'string' && body.access_token !== ''
            ? body.access_token
            : undefined
        : undefined;
    if (token === undefined) {
      throw new RegistryError('EREGISTRY_AUTH', `${where}: the response holds no token`, {
        url: url.href,
      });
    }
    // Docker's token spec: expires_in defaults to 60 s and is at least 60 s.
    const expiresIn =
      typeof body?.expires_in === 'number' && body.expires_in > 60 ? body.expires_in : 60;
    let issuedAt = this.#now();
    if (typeof body?.issued_at === 'string') {
      const parsed = Date.parse(body.issued_at);
      // Trust the server's clock only within reason.
      if (!Number.isNaN(parsed) && Math.abs(parsed - issuedAt) < 60_000) issuedAt = parsed;
    }
    const margin = Math.min(10_000, expiresIn * 100);
    return { value: token, expiresAt: issuedAt + expiresIn * 1000 - margin };
  }
}

function detailOf(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  return `: ${trimmed.length > 300 ? `${trimmed.slice(0, 300)}…` : trimmed}`;
}
