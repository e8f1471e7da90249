import { describe, expect, it } from 'vitest';
import { InvalidReferenceError, parseReference } from '../../src/registry/index.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['library/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['user/app:v1', 'docker.io', 'user/app', 'v1', undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['index.docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['registry-1.docker.io/user/app', 'docker.io', 'user/app', 'latest', undefined],
    ['quay.io/org/app:tag', 'quay.io', 'org/app', 'tag', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/app', 'localhost:5000', 'app', 'latest', undefined],
    ['127.0.0.1:5000/a/b/c:t', '127.0.0.1:5000', 'a/b/c', 't', undefined],
    ['[::1]:5000/app', '[::1]:5000', 'app', 'latest', undefined],
    [`busybox@${D}`, 'docker.io', 'library/busybox', undefined, D],
    [`ghcr.io/o/app:1@${D}`, 'ghcr.io', 'o/app', '1', D],
    ['a.b/x_y__z-w.v--u:_T.a-g', 'a.b', 'x_y__z-w.v--u', '_T.a-g', undefined],
    ['Example.COM/app', 'Example.COM', 'app', 'latest', undefined],
  ])('%s', (text, registry, repository, tag, digest) => {
    const ref = parseReference(text);
    expect(ref.registry).toBe(registry);
    expect(ref.repository).toBe(repository);
    expect(ref.tag).toBe(tag);
    expect(ref.digest).toBe(digest);
  });

  it('prints the fully qualified form and the reference used in URLs', () => {
    expect(parseReference('busybox').toString()).toBe('docker.io/library/busybox:latest');
    const pinned = parseReference(`quay.io/o/a:1@${D}`);
    expect(pinned.toString()).toBe(`quay.io/o/a:1@${D}`);
    expect(pinned.reference).toBe(D);
    expect(parseReference('busybox').apiHost).toBe('registry-1.docker.io');
    expect(parseReference('localhost:5000/a').apiHost).toBe('localhost:5000');
    expect(parseReference('busybox').withDigest(D).toString()).toBe(
      `docker.io/library/busybox:latest@${D}`,
    );
  });

  it.each([
    ['', 'empty reference'],
    ['Busybox', 'repository name must be lowercase'],
    ['docker.io/Library/busybox', 'repository name must be lowercase'],
    ['quay.io/org/App:1', 'repository name must be lowercase'],
    ['busybox@sha256:abc', 'expected 64 lowercase hex digits'],
    [`busybox@sha256:${'A'.repeat(64)}`, 'expected 64 lowercase hex digits'],
    [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm "md5"'],
    ['busybox@', 'invalid digest'],
    ['busybox:', 'invalid tag'],
    [`busybox:${'t'.repeat(129)}`, 'invalid tag'],
    ['busybox:-x', 'invalid tag'],
    ['bad..name', 'invalid repository path component'],
    ['a//b', 'empty path component'],
    ['quay.io/', 'missing repository name after the registry'],
    [':tag', 'missing repository name'],
    ['quay.io:99999/a', 'invalid registry port'],
    ['bad_host.io/a', 'invalid registry host'],
    ['[::1/a', 'unterminated "["'],
    ['busy box', 'whitespace'],
    [`quay.io/${'a'.repeat(250)}`, 'longer than 255'],
    ['x'.repeat(2000), 'longer than 1024'],
  ])('rejects %j (%s)', (text, reason) => {
    let error: unknown;
    try {
      parseReference(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidReferenceError);
    expect(error).toMatchObject({ code: 'EREFERENCE_INVALID', input: text });
    expect((error as InvalidReferenceError).reason).toContain(reason);
    expect((error as Error).message).toContain(reason);
  });

  // No catastrophic backtracking: these finish well within the test timeout.
  it('rejects hostile input without backtracking', () => {
    for (const text of ['a'.repeat(1000), `${'a-'.repeat(400)}!`, `${'a.'.repeat(300)}/b`]) {
      try {
        parseReference(text);
        throw new Error(`accepted ${text.slice(0, 20)}…`);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidReferenceError);
      }
    }
  });
});
