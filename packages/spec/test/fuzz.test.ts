/**
 * Robustness: whatever a parser is given, it returns a document or throws a
 * SpecValidationError. Never a TypeError or RangeError, never a hang, never a
 * change to Object.prototype. The time bound is the test timeout (no timed
 * assertions: see DESIGN.md, Tests).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecValidationError } from '../src/errors.js';
import {
  parseConfig,
  parseDescriptor,
  parseDockerArchiveManifest,
  parseDockerRepositories,
  parseFeatures,
  parseImageConfig,
  parseImageLayout,
  parseIndex,
  parseManifest,
  parseState,
  validateConfig,
} from '../src/parse.js';
import { applyAll, FUZZ_SEED, scriptArb } from './helpers/mutate.js';
import { configMdExample } from './helpers/specs.js';

const PARSERS = [
  parseConfig,
  parseState,
  parseFeatures,
  parseDescriptor,
  parseManifest,
  parseIndex,
  parseImageConfig,
  parseImageLayout,
  parseDockerArchiveManifest,
  parseDockerRepositories,
];

/** Calls `parse` and checks the outcome is a value or a well-formed SpecValidationError. */
function expectContained(parse: (input: unknown) => unknown, input: unknown): 'ok' | 'invalid' {
  try {
    parse(input);
    return 'ok';
  } catch (error) {
    if (!(error instanceof SpecValidationError)) {
      throw new Error(`leaked ${String(error)}`, { cause: error });
    }
    const malformed = error.issues.filter(
      (i) => typeof i.path !== 'string' || typeof i.message !== 'string' || i.message === '',
    );
    if (error.issues.length === 0 || malformed.length > 0 || typeof error.message !== 'string') {
      throw new Error(`malformed SpecValidationError: ${JSON.stringify(error.issues.slice(0, 5))}`);
    }
    return 'invalid';
  }
}

let prototypeKeys: string[];
beforeAll(() => {
  prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
});
afterAll(() => {
  // Nothing any parser saw may have reached Object.prototype.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

describe('parseConfig on mutated spec examples', () => {
  const seed = configMdExample();
  const text = JSON.stringify(seed);

  it('contains every outcome of 3000 structural mutations', { timeout: 20_000 }, () => {
    const outcomes = { ok: 0, invalid: 0 };
    fc.assert(
      fc.property(scriptArb, fc.nat(2), (script, form) => {
        const doc = applyAll(seed, script);
        const json = JSON.stringify(doc);
        const input = form === 0 ? json : form === 1 ? Buffer.from(json) : doc;
        const outcome = expectContained(parseConfig, input);
        outcomes[outcome]++;
        // The non-throwing form agrees with the throwing one.
        if (form === 0 && (validateConfig(input).length === 0) !== (outcome === 'ok')) {
          throw new Error('validateConfig and parseConfig disagree');
        }
      }),
      { numRuns: 3000, seed: FUZZ_SEED },
    );
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.invalid).toBeGreaterThan(0);
  });

  it('contains every outcome of 3000 corruptions of the JSON text', { timeout: 20_000 }, () => {
    const edit = fc.record({
      at: fc.nat(text.length),
      remove: fc.nat(20),
      insert: fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.constantFrom(
          '{',
          '}',
          '[',
          ']',
          ',',
          ':',
          '"',
          '\\',
          '\\u0000',
          '1e999',
          '-',
          'null',
          '"__proto__":',
        ),
      ),
    });
    fc.assert(
      fc.property(
        fc.array(edit, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (edits, truncate) => {
          let corrupted = text;
          for (const e of edits) {
            corrupted = corrupted.slice(0, e.at) + e.insert + corrupted.slice(e.at + e.remove);
          }
          if (truncate) corrupted = corrupted.slice(0, edits[0]?.at ?? 0);
          expectContained(parseConfig, corrupted);
          expectContained(parseConfig, Buffer.from(corrupted));
        },
      ),
      { numRuns: 3000, seed: FUZZ_SEED },
    );
  });
});

describe('every parser on arbitrary values', () => {
  it('contains 500 arbitrary JavaScript values each', { timeout: 20_000 }, () => {
    fc.assert(
      fc.property(
        fc.anything({
          maxDepth: 4,
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
          withUnicodeString: true,
        }),
        (value) => {
          for (const parse of PARSERS) expectContained(parse, value);
        },
      ),
      { numRuns: 500, seed: FUZZ_SEED },
    );
  });

  it('contains arbitrary bytes and JSON text', { timeout: 20_000 }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.json({ maxDepth: 4 }), (bytes, json) => {
        for (const parse of PARSERS) {
          expectContained(parse, bytes);
          expectContained(parse, json);
        }
      }),
      { numRuns: 500, seed: FUZZ_SEED },
    );
  });
});

describe('hostile inputs', () => {
  const MINIMAL = { ociVersion: '1.3.0', root: { path: 'rootfs' } };
  const deep = (n: number, inner = '1') => '['.repeat(n) + inner + ']'.repeat(n);

  it('survives nesting a million levels deep', { timeout: 20_000 }, () => {
    const inUnknown = `{"ociVersion":"1.3.0","root":{"path":"r"},"x":${deep(1_000_000)}}`;
    expect(expectContained(parseConfig, inUnknown)).toBe('ok');
    const inKnown = `{"ociVersion":"1.3.0","root":{"path":"r"},"linux":${deep(1_000_000)}}`;
    expect(expectContained(parseConfig, inKnown)).toBe('invalid');
    const protoDeep = `{"ociVersion":"1.3.0","root":{"path":"r"},"x":${'{"__proto__":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    expect(expectContained(parseConfig, protoDeep)).toBe('ok');
    let value: unknown = 1;
    for (let i = 0; i < 200_000; i++) value = [value];
    expect(expectContained(parseConfig, { ...MINIMAL, x: value })).toBe('ok');
  });

  it('survives huge strings and arrays in validated places', { timeout: 20_000 }, () => {
    const long = 'A'.repeat(1_000_000);
    for (const parse of PARSERS) expectContained(parse, long);
    expectContained(parseConfig, {
      ...MINIMAL,
      linux: {
        resources: { hugepageLimits: [{ pageSize: `1${'0'.repeat(1_000_000)}x`, limit: 1 }] },
      },
    });
    expectContained(parseDescriptor, {
      mediaType: `a/${'b'.repeat(1_000_000)}`,
      digest: `sha256:${'a'.repeat(1_000_000)}!`,
      size: 1,
      urls: [`https://${'a'.repeat(1_000_000)}`, `x:${'%'.repeat(100_000)}`],
      data: `${'QUFB'.repeat(250_000)}=`,
    });
    expectContained(parseConfig, { ...MINIMAL, ociVersion: `1.0.0-${'0.'.repeat(300_000)}0` });
    const namespaces = Array.from({ length: 20_000 }, (_, i) => ({
      type: i % 2 ? 'pid' : 'mount',
    }));
    expect(expectContained(parseConfig, { ...MINIMAL, linux: { namespaces } })).toBe('invalid');
  });

  it('reports values that cannot be JSON instead of crashing on them', () => {
    const cyclic: Record<string, unknown> = { ...MINIMAL, linux: {} };
    (cyclic.linux as Record<string, unknown>).self = cyclic;
    expect(validateConfig(cyclic)).toEqual([
      { path: 'linux.self', message: 'a circular reference cannot be JSON' },
    ]);
    const throwing = Object.defineProperty({ ...MINIMAL }, 'process', {
      enumerable: true,
      get() {
        throw new RangeError('boom');
      },
    });
    expect(validateConfig(throwing)).toEqual([
      { path: '', message: 'could not be read: RangeError: boom' },
    ]);
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new TypeError('no keys');
        },
      },
    );
    for (const parse of PARSERS) expectContained(parse, trap);
    expect(validateConfig({ ...MINIMAL, hostname: 10n, domainname: Symbol('x') })).toEqual([
      { path: 'hostname', message: 'expected a string, got 10n' },
    ]);
    expect(
      validateConfig({
        ...MINIMAL,
        process: {
          cwd: '/',
          args: ['sh'],
          user: { uid: Number.NaN, gid: Number.POSITIVE_INFINITY },
        },
      }),
    ).toEqual([
      { path: 'process.user.uid', message: 'expected an integer, got NaN' },
      { path: 'process.user.gid', message: 'expected an integer, got Infinity' },
    ]);
    class Node {
      self: Node = this;
    }
    expect(validateConfig({ ...MINIMAL, x: new Node(), hostname: new Node() })).toEqual([
      { path: 'hostname', message: 'expected a string, got an object' },
    ]);
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point
    expect(validateConfig({ ...MINIMAL, mounts: [, { destination: '/' }] })).toEqual([
      { path: 'mounts', message: 'an array with holes cannot be JSON' },
    ]);
    const huge: unknown[] = [];
    huge.length = 2 ** 32 - 1;
    expect(validateConfig({ ...MINIMAL, x: huge })).toEqual([
      { path: 'x', message: 'an array with holes cannot be JSON' },
    ]);
    expectContained(parseConfig, Object.freeze({ ...MINIMAL, mounts: Object.freeze([]) }));
    expectContained(parseConfig, Object.assign(Object.create(null), MINIMAL));
    expectContained(
      parseConfig,
      new (class Config {
        ociVersion = '1.3.0';
      })(),
    );
  });

  it('treats prototype-looking keys as data everywhere', () => {
    const keys = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];
    for (const key of keys) {
      const payload = `{"${key}":{"polluted":true,"ociVersion":"x"}}`;
      const text = `{"ociVersion":"1.3.0","root":{"path":"rootfs"},"${key}":${payload},"annotations":{"${key}":"v"},"linux":{"sysctl":{"${key}":"1"},"netDevices":{"${key}":{"name":"n"}}}}`;
      const parsed = parseConfig(text) as Record<string, unknown>;
      expect(JSON.stringify(parsed)).toBe(text);
      expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
      expect(parsed.polluted).toBeUndefined();
      for (const parse of PARSERS) expectContained(parse, text);
    }
  });
});
