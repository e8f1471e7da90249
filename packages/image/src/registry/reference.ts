/**
 * Image references: `[host[:port]/]name[:tag][@digest]`, normalised the way
 * Docker does (docker.io for a name without a registry, `library/` for a
 * single-component Docker Hub name, `latest` when neither tag nor digest is
 * given).
 *
 * Grammar (distribution-spec "Pulling manifests" for names and tags, and the
 * Docker reference grammar for the registry part):
 *   name      := [registry "/"] component ("/" component)*
 *   registry  := (domain | IPv4 | "[" IPv6 "]") [":" port]
 *   component := [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
 *   tag       := [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
 *   digest    := "sha256:" 64 lowercase hex | "sha512:" 128 lowercase hex
 * The first component is a registry when it contains "." or ":", is
 * "localhost", or has upper case letters (repository names never do).
 *
 * Every check is a bounded, linear-time test: inputs are length-limited
 * before any regular expression runs.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidReferenceError } from './errors.js';

export const DOCKER_HUB_REGISTRY = 'docker.io';
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
export const DEFAULT_TAG = 'latest';

const MAX_REFERENCE_LENGTH = 1024;
/** Docker's limit on `registry/repository`. */
const MAX_NAME_LENGTH = 255;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DOMAIN_LABEL = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const PORT = /^[0-9]{1,5}$/;
const DIGEST_ALGORITHM = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/;

/** Registered digest algorithms (image-spec descriptor.md) and their encodings. */
export const DIGEST_ENCODINGS: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/**
 * Why `digest` is not a usable digest, or undefined when it is one: a
 * registered algorithm followed by its exact encoding.
 */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0) return 'expected "algorithm:encoded", e.g. "sha256:" and 64 hex digits';
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (!DIGEST_ALGORITHM.test(algorithm))
    return `invalid digest algorithm ${JSON.stringify(algorithm)}`;
  const encoding = DIGEST_ENCODINGS[algorithm];
  if (encoding === undefined) {
    return `unsupported digest algorithm ${JSON.stringify(algorithm)} (supported: ${Object.keys(DIGEST_ENCODINGS).join(', ')})`;
  }
  if (!encoding.test(encoded)) {
    const digits = algorithm === 'sha256' ? 64 : 128;
    return `expected ${digits} lowercase hex digits after "${algorithm}:"`;
  }
  return undefined;
}

/** A parsed, normalised image reference. Immutable. */
export class ImageReference {
  /** The registry as written in references: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** The repository path, e.g. `library/busybox`. */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;

  constructor(registry: string, repository: string, tag?: string, digest?: string) {
    this.registry = registry;
    this.repository = repository;
    this.tag = tag;
    this.digest = digest;
  }

  /** What goes into `/v2/<name>/manifests/<reference>`: the digest when there is one, else the tag. */
  get reference(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  /** `host[:port]` to connect to (Docker Hub's API lives on registry-1.docker.io). */
  get apiHost(): string {
    return this.registry === DOCKER_HUB_REGISTRY ? DOCKER_HUB_API_HOST : this.registry;
  }

  /** The same repository at a digest (the tag is kept for display). */
  withDigest(digest: string): ImageReference {
    const problem = digestProblem(digest);
    if (problem !== undefined)
      throw new InvalidReferenceError(digest, `invalid digest: ${problem}`);
    return new ImageReference(this.registry, this.repository, this.tag, digest);
  }

  /** The same repository at a tag (without a digest). */
  withTag(tag: string): ImageReference {
    if (!TAG.test(tag)) throw new InvalidReferenceError(tag, tagProblem());
    return new ImageReference(this.registry, this.repository, tag, undefined);
  }

  /** The same reference in another repository of the same registry. */
  withRepository(repository: string): ImageReference {
    const parsed = parseReference(`${this.registry}/${repository}`);
    return new ImageReference(this.registry, parsed.repository, this.tag, this.digest);
  }

  /** `registry/repository` without tag or digest. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  /** The fully qualified form, e.g. `docker.io/library/busybox:latest`. */
  toString(): string {
    return `${this.name}${this.tag === undefined ? '' : `:${this.tag}`}${this.digest === undefined ? '' : `@${this.digest}`}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function tagProblem(): string {
  return 'invalid tag: expected [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}';
}

function registryProblem(registry: string): string | undefined {
  let host = registry;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return 'unterminated "[" in IPv6 registry address';
    const rest = host.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return 'unexpected text after "]" in registry address';
      port = rest.slice(1);
    }
    if (!isIPv6(host.slice(1, close))) return `invalid IPv6 address ${host.slice(0, close + 1)}`;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) {
      port = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
    if (!isIPv4(host)) {
      for (const label of host.split('.')) {
        if (!DOMAIN_LABEL.test(label)) return `invalid registry host ${JSON.stringify(host)}`;
      }
    }
  }
  if (port !== undefined) {
    if (!PORT.test(port) || Number(port) < 1 || Number(port) > 65535) {
      return `invalid registry port ${JSON.stringify(port)}`;
    }
  }
  return undefined;
}

/**
 * Parses `[host[:port]/]name[:tag][@digest]`. Throws InvalidReferenceError
 * (code EREFERENCE_INVALID) whose `reason` names the rule that failed.
 */
export function parseReference(text: string): ImageReference {
  if (typeof text !== 'string') throw new InvalidReferenceError(String(text), 'not a string');
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(text, reason);
  };
  if (text === '') fail('empty reference');
  if (text.length > MAX_REFERENCE_LENGTH) fail(`longer than ${MAX_REFERENCE_LENGTH} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(text)) fail('contains whitespace or control characters');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) fail(`invalid digest ${JSON.stringify(digest)}: ${problem}`);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`${tagProblem()}, got ${JSON.stringify(tag)}`);
  }

  if (rest === '') fail('missing repository name');
  let registry = DOCKER_HUB_REGISTRY;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      registry = first;
      path = rest.slice(slash + 1);
      const problem = registryProblem(registry);
      if (problem !== undefined) fail(problem);
    }
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API_HOST) {
    registry = DOCKER_HUB_REGISTRY;
  }

  if (path === '') fail('missing repository name after the registry');
  for (const component of path.split('/')) {
    if (component === '') fail('empty path component in repository name');
    if (!PATH_COMPONENT.test(component)) {
      if (component !== component.toLowerCase() && PATH_COMPONENT.test(component.toLowerCase())) {
        fail(`repository name must be lowercase, got ${JSON.stringify(component)}`);
      }
      fail(
        `invalid repository path component ${JSON.stringify(component)}: expected lowercase letters and digits separated by ".", "_", "__" or "-"`,
      );
    }
  }
  if (registry === DOCKER_HUB_REGISTRY && !path.includes('/')) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    fail(`repository name longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return new ImageReference(registry, path, tag, digest);
}

/** Accepts a reference or its text. */
export function toReference(ref: ImageReference | string): ImageReference {
  return typeof ref === 'string' ? parseReference(ref) : ref;
}
