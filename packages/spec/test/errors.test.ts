/**
 * What users see: every problem of a document in one error, each as
 * `json.path: rule`, and unknown content kept untouched.
 */
import { describe, expect, it } from 'vitest';
import { SpecValidationError, TsociError } from '../src/errors.js';
import { parseConfig, parseState, validateConfig } from '../src/parse.js';
import { kitchenSinkConfig } from './helpers/seeds.js';

const MINIMAL = { ociVersion: '1.3.0', root: { path: 'rootfs' } };

/** The issues of an invalid config, as `path: message` lines. */
function lines(input: unknown): string[] {
  return validateConfig(input).map((i) => `${i.path}: ${i.message}`);
}

function thrown(fn: () => unknown): SpecValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SpecValidationError) return error;
    throw error;
  }
  throw new Error('expected a SpecValidationError');
}

describe('issue paths and rules', () => {
  it('names the JSON path and the rule, with the offending value', () => {
    expect(lines({ ...MINIMAL, linux: { resources: { memory: { limit: '1G' } } } })).toEqual([
      'linux.resources.memory.limit: expected an integer, got "1G"',
    ]);
  });

  it('writes array indexes in brackets', () => {
    expect(
      lines({ ...MINIMAL, mounts: [{ destination: '/a' }, { destination: '/b' }, {}] }),
    ).toEqual(['mounts[2].destination: required property is missing']);
  });

  it('quotes keys that are not identifiers', () => {
    expect(lines({ ...MINIMAL, linux: { sysctl: { 'net.ipv4.ip_forward': 1 } } })).toEqual([
      'linux.sysctl["net.ipv4.ip_forward"]: expected a string, got 1',
    ]);
  });

  it('reports integer ranges by type name', () => {
    expect(
      lines({
        ...MINIMAL,
        linux: { uidMappings: [{ containerID: -1, hostID: 4294967296, size: 1.5 }] },
      }),
    ).toEqual([
      'linux.uidMappings[0].containerID: expected a uint32 (0 to 4294967295), got -1',
      'linux.uidMappings[0].hostID: expected a uint32 (0 to 4294967295), got 4294967296',
      'linux.uidMappings[0].size: expected an integer, got 1.5',
    ]);
  });

  it('lists the valid values of an enumeration', () => {
    expect(lines({ ...MINIMAL, linux: { rootfsPropagation: 'rshared' } })).toEqual([
      'linux.rootfsPropagation: expected one of "private", "shared", "slave", "unbindable", got "rshared"',
    ]);
  });

  it('rejects unknown values of enumerated fields', () => {
    expect(
      lines({
        ...MINIMAL,
        linux: {
          namespaces: [{ type: 'net' }],
          seccomp: {
            defaultAction: 'SCMP_ACT_DENY',
            architectures: ['SCMP_ARCH_Z80'],
            syscalls: [
              {
                names: ['read'],
                action: 'SCMP_ACT_ALLOW',
                args: [{ index: 0, value: 1, op: 'SCMP_CMP_IS' }],
              },
            ],
          },
        },
      }),
    ).toEqual([
      'linux.namespaces[0].type: expected one of "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time", got "net"',
      expect.stringMatching(
        /^linux\.seccomp\.defaultAction: expected one of "SCMP_ACT_KILL", .*, got "SCMP_ACT_DENY"$/,
      ),
      expect.stringMatching(
        /^linux\.seccomp\.architectures\[0\]: expected one of .*"SCMP_ARCH_RISCV64", got "SCMP_ARCH_Z80"$/,
      ),
      expect.stringMatching(
        /^linux\.seccomp\.syscalls\[0\]\.args\[0\]\.op: expected one of .*, got "SCMP_CMP_IS"$/,
      ),
    ]);
  });

  it('checks rlimit types and capability names by their shape', () => {
    expect(
      lines({
        ...MINIMAL,
        process: {
          cwd: '/',
          args: ['sh'],
          user: { uid: 0, gid: 0 },
          rlimits: [{ type: 'nofile', soft: 1, hard: 1 }],
          capabilities: { bounding: ['CAP_CHOWN', 'chown', 'CAP_FUTURE_THING'] },
        },
      }),
    ).toEqual([
      'process.capabilities.bounding[1]: expected a capability name matching ^CAP_[A-Z_]+$, got "chown"',
      'process.rlimits[0].type: expected an rlimit type matching ^RLIMIT_[A-Z]+$, got "nofile"',
    ]);
  });

  it('reports prose rules with the section they come from', () => {
    expect(
      lines({
        ...MINIMAL,
        linux: {
          namespaces: [{ type: 'pid' }, { type: 'network', path: 'netns' }, { type: 'pid' }],
          maskedPaths: ['proc/kcore'],
        },
      }),
    ).toEqual([
      'linux.namespaces[1].path: expected an absolute path, got "netns" (config-linux.md#namespaces)',
      'linux.namespaces[2].type: duplicate namespace type "pid" (also at index 0; config-linux.md#namespaces)',
      'linux.maskedPaths[0]: expected an absolute path, got "proc/kcore" (config-linux.md#masked-paths)',
    ]);
  });

  it('reports a value of the wrong type without dumping it', () => {
    expect(
      lines({ ...MINIMAL, mounts: { destination: '/x' }, hostname: ['a'.repeat(1000)] }),
    ).toEqual([
      'mounts: expected an array, got an object',
      'hostname: expected a string, got an array',
    ]);
    const long = lines({ ...MINIMAL, hostname: 42, domainname: 'x', process: 'x'.repeat(1000) });
    expect(long).toEqual([
      'process: expected an object, got "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"',
      'hostname: expected a string, got 42',
    ]);
  });

  it('reports a document that is not an object at the root', () => {
    expect(validateConfig([])).toEqual([{ path: '', message: 'expected an object, got an array' }]);
    expect(thrown(() => parseConfig('"1.3.0"')).message).toBe(
      'invalid config.json: (root): expected an object, got "1.3.0"',
    );
  });
});

describe('SpecValidationError', () => {
  it('lists every problem of the document at once', () => {
    const error = thrown(() =>
      parseConfig({
        ociVersion: 'one',
        root: {},
        process: { cwd: 'tmp', args: [], user: { uid: 0 } },
        linux: { resources: { memory: { limit: '1G', swap: true } } },
      }),
    );
    expect(error).toBeInstanceOf(TsociError);
    expect(error.code).toBe('ESPEC_INVALID');
    expect(error.document).toBe('config.json');
    expect(error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'ociVersion: expected a SemVer 2.0.0 version such as "1.3.0", got "one"',
      'root.path: required property is missing',
      'linux.resources.memory.limit: expected an integer, got "1G"',
      'linux.resources.memory.swap: expected an integer, got true',
      'process.args: expected at least 1 entry, got an empty array (config.md#process)',
      'process.cwd: expected an absolute path, got "tmp" (config.md#process)',
      'process.user.gid: required property is missing (config.md#posix-platform-user)',
    ]);
    expect(error.message).toBe(
      [
        'invalid config.json:',
        '  ociVersion: expected a SemVer 2.0.0 version such as "1.3.0", got "one"',
        '  root.path: required property is missing',
        '  linux.resources.memory.limit: expected an integer, got "1G"',
        '  linux.resources.memory.swap: expected an integer, got true',
        '  process.args: expected at least 1 entry, got an empty array (config.md#process)',
        '  process.cwd: expected an absolute path, got "tmp" (config.md#process)',
        '  process.user.gid: required property is missing (config.md#posix-platform-user)',
      ].join('\n'),
    );
  });

  it('puts a single problem on one line and names the document as asked', () => {
    const error = thrown(() =>
      parseState(
        { ociVersion: '1.3.0', id: 'c', status: 'running', bundle: '/b' },
        { document: '/run/tsoci/c/state.json' },
      ),
    );
    expect(error.message).toBe(
      'invalid /run/tsoci/c/state.json: pid: required property is missing (required when status is "running"; runtime.md#state)',
    );
  });

  it('names the JSON syntax problem and where it is', () => {
    const text = '{\n  "ociVersion": "1.3.0",\n  "root": {"path": "rootfs"},\n}';
    const error = thrown(() => parseConfig(text));
    // V8's own wording varies between Node versions; the position and line/column must be there.
    expect(error.issues).toEqual([
      {
        path: '',
        message: expect.stringMatching(/^malformed JSON: .*position 57.*line 4,? column 1/),
      },
    ]);
    expect(error.message).toMatch(/^invalid config\.json: \(root\): malformed JSON: /);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(thrown(() => parseConfig('')).message).toBe(
      'invalid config.json: (root): malformed JSON: Unexpected end of JSON input',
    );
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(thrown(() => parseConfig(Buffer.from([0x7b, 0xff, 0x7d]))).message).toBe(
      'invalid config.json: (root): malformed JSON: the bytes are not valid UTF-8',
    );
  });

  it('keeps the message printable when a document has thousands of problems', () => {
    const namespaces = Array.from({ length: 5000 }, () => ({ type: 'pid' }));
    const error = thrown(() => parseConfig({ ...MINIMAL, linux: { namespaces } }));
    expect(error.issues).toHaveLength(4999);
    const messageLines = error.message.split('\n');
    expect(messageLines).toHaveLength(1 + SpecValidationError.MAX_LISTED + 1);
    expect(messageLines.at(-1)).toBe(`  … and ${4999 - SpecValidationError.MAX_LISTED} more`);
  });
});

describe('input forms', () => {
  const text = JSON.stringify(kitchenSinkConfig());

  it('accepts a string, a Buffer, an ArrayBuffer or a parsed value alike', () => {
    const expected = JSON.parse(text);
    expect(parseConfig(text)).toEqual(expected);
    expect(parseConfig(Buffer.from(text))).toEqual(expected);
    expect(parseConfig(new TextEncoder().encode(text).buffer)).toEqual(expected);
    expect(parseConfig(JSON.parse(text))).toEqual(expected);
  });

  it('ignores a UTF-8 byte-order mark', () => {
    expect(parseConfig(`\ufeff${text}`)).toEqual(JSON.parse(text));
    expect(
      parseConfig(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])),
    ).toEqual(JSON.parse(text));
  });

  it('returns a copy of a parsed value, never the caller object', () => {
    const input = kitchenSinkConfig();
    const parsed = parseConfig(input);
    expect(parsed).not.toBe(input);
    expect(parsed.process).not.toBe(input.process);
    (parsed.process as { cwd: string }).cwd = '/changed';
    expect((input.process as { cwd: string }).cwd).toBe('/root');
  });

  it('treats undefined like JSON.stringify does', () => {
    expect(parseConfig({ ...MINIMAL, hostname: undefined, mounts: undefined })).toEqual(MINIMAL);
    expect(
      lines({
        ...MINIMAL,
        process: { cwd: '/', args: ['sh', undefined], user: { uid: 0, gid: 0 } },
      }),
    ).toEqual(['process.args[1]: expected a string, got null']);
  });
});

describe('unknown content', () => {
  it('is kept on a round trip, at every level', () => {
    const doc = {
      ...kitchenSinkConfig(),
      'org.example.top': { nested: [1, { deep: true }] },
      process: {
        ...(kitchenSinkConfig().process as object),
        'org.example.process': 'x',
        user: { uid: 0, gid: 0, 'org.example.user': null },
      },
      linux: {
        ...(kitchenSinkConfig().linux as object),
        resources: { oomScoreAdj: 100, memory: { limit: 1, extra: [1, 2, 3] } },
        newFeature: { enabled: true },
      },
      hooks: { postmortem: [{ path: 'anything' }] },
    };
    const text = JSON.stringify(doc);
    const parsed = parseConfig(text);
    expect(parsed).toEqual(doc);
    expect(JSON.stringify(parsed)).toBe(text);
  });

  it('keeps "__proto__" keys as plain data and validates them', () => {
    const text =
      '{"ociVersion":"1.3.0","root":{"path":"rootfs"},"__proto__":{"polluted":true},"annotations":{"__proto__":"x"}}';
    const parsed = parseConfig(text) as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(parsed.polluted).toBeUndefined();
    expect(Object.keys(parsed)).toEqual(['ociVersion', 'root', '__proto__', 'annotations']);
    expect(JSON.stringify(parsed)).toBe(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    expect(
      lines('{"ociVersion":"1.3.0","root":{"path":"rootfs"},"annotations":{"__proto__":1}}'),
    ).toEqual(['annotations.__proto__: expected a string, got 1']);
    // The escaping that makes this work is reversible, also for look-alike keys.
    const lookAlike =
      '{"ociVersion":"1.3.0","root":{"path":"rootfs"},"annotations":{"__proto__":"a","\\u0000__proto__":2}}';
    expect(lines(lookAlike)).toEqual(['annotations["\\u0000__proto__"]: expected a string, got 2']);
  });

  it('keeps "__proto__" keys of an already-parsed value as data', () => {
    const input = JSON.parse('{"ociVersion":"1.3.0","root":{"path":"rootfs"},"__proto__":{"x":1}}');
    const parsed = parseConfig(input) as Record<string, unknown>;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(parsed.x).toBeUndefined();
  });
});
