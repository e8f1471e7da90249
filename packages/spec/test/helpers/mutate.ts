/**
 * Document mutation for the drift and fuzz tests: fast-check generates small
 * scripts of edits (change a type, delete or insert a field, swap an enum
 * value, push an integer out of range, duplicate an array entry), which are
 * applied to a seed document.
 */
import fc from 'fast-check';
import { type Json, schemaVocabulary } from './specs.js';

export type Path = (string | number)[];

export type Op =
  | { kind: 'replace'; target: number; value: Json }
  | { kind: 'delete'; target: number }
  | { kind: 'insert'; target: number; key: string; value: Json }
  | { kind: 'duplicate'; target: number; index: number };

/** A deterministic seed unless TSOCI_FUZZ_SEED asks for another (fast-check prints it on failure). */
export const FUZZ_SEED = Number(process.env.TSOCI_FUZZ_SEED ?? 20240611);

const vocabulary = schemaVocabulary();

/** Integers at and around every range boundary the schemas use, and non-integers. */
export const NUMBERS: readonly number[] = [
  0,
  1,
  -1,
  0.5,
  -1.5,
  2,
  3,
  7,
  8,
  100,
  127,
  128,
  -128,
  -129,
  255,
  256,
  511,
  512,
  1000,
  32767,
  32768,
  65535,
  65536,
  -32769,
  2147483647,
  2147483648,
  -2147483648,
  -2147483649,
  4294967295,
  4294967296,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  -(2 ** 63),
  -(2 ** 64),
  2 ** 64,
  2 ** 65,
  1e300,
  -1e300,
];

/** Strings the schemas care about, valid and nearly valid. */
export const STRINGS: readonly string[] = [
  ...vocabulary.values,
  ...vocabulary.values.slice(0, 40).map((v) => v.toLowerCase()),
  '',
  ' ',
  'x',
  '/',
  '/abs/path',
  'relative/path',
  'rootfs',
  '1.0.0',
  '1.3.0',
  '0.5.0-dev',
  '1.0.2-rc.1+build.5',
  '1.0',
  'v1.0.0',
  '01.0.0',
  '1.0.0-01',
  'RLIMIT_NOFILE',
  'RLIMIT_nofile',
  'RLIMIT_',
  'CAP_SYS_ADMIN',
  'CAP_FOO_BAR',
  'CAP_1',
  'cap_chown',
  'CHOWN',
  '2MB',
  '64KB',
  '64kB',
  '0MB',
  '1G',
  'MB:0=20;1=70',
  'L3:0=f',
  '0-3,7',
  '0-3;7',
  'a',
  'c',
  'b',
  'p',
  'u',
  'rwm',
  'rwx',
  'paused',
  'sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b',
  'sha256:6C3C624B58DBBCD3C0DD82B4C53F04194D1247C6EEBDAAB7C610CF7D66709B3B',
  'sha256:abc',
  `sha512:${'ab'.repeat(64)}`,
  'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8',
  'sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564',
  'SHA256:abc',
  'sha256',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.empty.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.example+type',
  'text/plain',
  'notamediatype',
  'a/b/c',
  '2015-10-31T22:22:56.015925234Z',
  '2015-10-31T22:22:56+01:00',
  '2016-02-29T00:00:00Z',
  '2015-02-29T00:00:00Z',
  '2015-13-01T00:00:00Z',
  '2015-10-31 22:22:56Z',
  '2015-10-31T25:00:00Z',
  '2015-10-31',
  'yesterday',
  'https://example.com/blob',
  'http://[::1]:5000/v2/x?q=1#frag',
  'http://user@host.example:8080/p%20q',
  'urn:isbn:0451450523',
  'example.com/no-scheme',
  'https://exa mple.com',
  'https://example.com/%zz',
  'http://[1::2::3]/',
  'http://host:80a/',
  'e30=',
  'e30',
  'aGVsbG8gd29ybGQ=',
  'not base64!',
  'layers',
  'windows',
  'linux',
  'amd64',
  '__proto__',
];

/** Keys to insert: every property name of every schema, plus awkward ones. */
export const KEYS: readonly string[] = [
  ...vocabulary.keys,
  '__proto__',
  'constructor',
  'toString',
  '',
  '\n',
  'unknownField',
  'org.example/annotation',
  'eth0',
];

const valueArb: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...STRINGS) },
  { weight: 4, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom<Json>(true, false, null, {}, [], [''], ['CAP_KILL']) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
);

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      target: fc.nat(),
      value: valueArb,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), target: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      target: fc.nat(),
      key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })),
      value: valueArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('duplicate' as const),
      target: fc.nat(),
      index: fc.nat(),
    }),
  },
);

export const scriptArb = fc.array(opArb, { minLength: 1, maxLength: 4 });

/** JSON round trip: a deep copy in which "__proto__" keys stay own data properties. */
export function copy<T extends Json>(doc: T): T {
  return JSON.parse(JSON.stringify(doc)) as T;
}

function setOwn(target: { [key: string]: Json }, key: string, value: Json): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/** Every node of the document, root first (the root's path is []). */
function paths(doc: Json): Path[] {
  const out: Path[] = [];
  const stack: [Json, Path][] = [[doc, []]];
  while (stack.length > 0) {
    const [node, path] = stack.pop() as [Json, Path];
    out.push(path);
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) stack.push([node[i] as Json, [...path, i]]);
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) stack.push([child, [...path, key]]);
    }
  }
  return out;
}

function at(doc: Json, path: Path): Json {
  let node: Json = doc;
  for (const segment of path) node = (node as { [key: string]: Json })[segment] as Json;
  return node;
}

/** Applies one edit; returns the new document (the root may be replaced). */
export function apply(doc: Json, op: Op): Json {
  const all = paths(doc);
  const path = all[op.target % all.length] ?? [];
  const node = at(doc, path);
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const replace = (value: Json): Json => {
    if (last === undefined) return value;
    const parent = at(doc, parentPath);
    if (Array.isArray(parent)) parent[last as number] = value;
    else setOwn(parent as { [key: string]: Json }, String(last), value);
    return doc;
  };
  switch (op.kind) {
    case 'replace':
      return replace(copy(op.value));
    case 'delete': {
      if (last === undefined) return doc;
      const parent = at(doc, parentPath);
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete (parent as { [key: string]: Json })[String(last)];
      return doc;
    }
    case 'insert':
      if (Array.isArray(node)) node.push(copy(op.value));
      else if (typeof node === 'object' && node !== null) setOwn(node, op.key, copy(op.value));
      else return replace(copy(op.value));
      return doc;
    case 'duplicate':
      if (Array.isArray(node) && node.length > 0)
        node.push(copy(node[op.index % node.length] as Json));
      return doc;
  }
}

export function applyAll(seed: Json, script: readonly Op[]): Json {
  let doc = copy(seed);
  for (const op of script) doc = apply(doc, op);
  return doc;
}

// ---------------------------------------------------------------------------
// Deterministic sweeps: random scripts rarely hit one particular field with one
// particular boundary, so every node also gets the systematic treatment.

/** Every node path of a document, root first. */
export function nodePaths(doc: Json): Path[] {
  return paths(doc);
}

export function valueAtPath(doc: Json, path: Path): Json {
  return at(doc, path);
}

/** A copy of `doc` with the node at `path` replaced (path must not be the root). */
export function withValue(doc: Json, path: Path, value: Json): Json {
  const out = copy(doc);
  const parent = at(out, path.slice(0, -1));
  const last = path[path.length - 1] as string | number;
  if (Array.isArray(parent)) parent[last as number] = copy(value);
  else setOwn(parent as { [key: string]: Json }, String(last), copy(value));
  return out;
}

/** A copy of `doc` without the node at `path`. */
export function without(doc: Json, path: Path): Json {
  const out = copy(doc);
  const parent = at(out, path.slice(0, -1));
  const last = path[path.length - 1] as string | number;
  if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete (parent as { [key: string]: Json })[String(last)];
  return out;
}

/** One value of each JSON type, plus a non-integer. */
export const TYPE_PROBES: readonly Json[] = [null, true, 0, 1.5, 'probe', [], {}];

/** Enum values of the same family as `value` (SCMP_ARCH_*, RLIMIT_*, lower-case words, …) and near misses. */
export function enumFamily(value: string): string[] {
  const prefix = /^[A-Z]+_[A-Z]+_|^[A-Z]+_/.exec(value)?.[0];
  const family = vocabulary.values.filter((v) =>
    prefix === undefined ? v === v.toLowerCase() : v.startsWith(prefix),
  );
  return [...family, value.toLowerCase(), value.toUpperCase(), `${value} `, `${value}X`];
}

/** Whether a string is one of the schemas' enum values (so worth an enum sweep). */
export function isVocabularyValue(value: string): boolean {
  return vocabulary.values.includes(value);
}

/**
 * All single-edit variants of `doc` the sweeps try. Array entries at the same
 * place share a schema, so only the first entry of each array is swept (the
 * random scripts cover the others).
 */
export function* sweep(doc: Json): Generator<Json> {
  const seen = new Set<string>();
  for (const path of nodePaths(doc)) {
    if (path.length === 0) continue;
    const position = JSON.stringify(path.map((s) => (typeof s === 'number' ? '*' : s)));
    if (seen.has(position)) continue;
    seen.add(position);
    const node = at(doc, path);
    yield without(doc, path);
    for (const probe of TYPE_PROBES) yield withValue(doc, path, probe);
    if (typeof node === 'number') {
      for (const n of NUMBERS) yield withValue(doc, path, n);
    }
    if (typeof node === 'string' && isVocabularyValue(node)) {
      for (const s of enumFamily(node)) yield withValue(doc, path, s);
    }
  }
}
