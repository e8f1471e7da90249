/**
 * A token issuer for the registry's `auth: token` mode (the Docker token
 * protocol): a node http server on loopback that checks Basic credentials,
 * grants scopes by a simple rule, and returns JWTs signed RS256 with a key
 * made at test time. The certificate goes into the registry's
 * `rootcertbundle`; each JWT carries it in its `x5c` header.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { type FakeServer, json, selfSignedCertificate, startFake } from './fake.js';

export interface TokenServer extends FakeServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Scopes asked for, per token request, and who asked. */
  issued: { user: string | undefined; scopes: string[]; granted: string[] }[];
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export async function startTokenServer(options: {
  dir: string;
  users: Record<string, string>;
  /** Repositories (prefixes) anyone may pull. */
  publicPrefixes?: string[];
}): Promise<TokenServer> {
  const made = selfSignedCertificate(options.dir, {
    name: 'token',
    subject: '/CN=tsoci-test-token-issuer',
  });
  if (made === undefined) throw new Error('openssl is needed for the token server');
  const { certPath } = made;
  const key = createPrivateKey(made.key);
  const certDer = new X509Certificate(made.cert).raw.toString('base64');
  const service = 'tsoci-test-registry';
  const issuer = 'tsoci-test-issuer';
  const issued: TokenServer['issued'] = [];

  const server = await startFake((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') return json(res, 404, {});
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      if (options.users[name] !== decoded.slice(colon + 1)) {
        return json(res, 401, {
          errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }],
        });
      }
      user = name;
    }
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const name = rest.join(':');
      if (type !== 'repository') return [];
      const isPublic = (options.publicPrefixes ?? []).some((p) => name.startsWith(p));
      const granted =
        user !== undefined ? actions : isPublic ? actions.filter((a) => a === 'pull') : [];
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    issued.push({
      user,
      scopes,
      granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`),
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
    json(res, 200, {
      token,
      access_token: token,
      expires_in: 300,
      issued_at: new Date().toISOString(),
    });
  });
  return { ...server, realm: `${server.url}/token`, service, issuer, certPath, issued };
}
