/**
 * Access to the official OCI specifications the tests compare against: their
 * JSON schemas (compiled with ajv as the oracle), their test documents and the
 * examples embedded in their markdown.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const here = dirname(fileURLToPath(import.meta.url));
/** The monorepo root (this file is packages/spec/test/helpers/specs.ts). */
export const REPO_ROOT = resolve(here, '../../../..');

/**
 * The specs live outside the repository (they are reference data, not ours to
 * vendor). A missing directory is a broken test setup, never a reason to skip.
 */
export const SPECS_DIR = process.env.TSOCI_SPECS_DIR ?? resolve(REPO_ROOT, '../shared/specs');

function requireDir(path: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new Error(
      `OCI specifications not found at ${path}; set TSOCI_SPECS_DIR to the directory holding runtime-spec-v1.3.0/ and image-spec-v1.1.1/`,
    );
  }
  return path;
}

export const RUNTIME_SPEC_DIR = requireDir(join(SPECS_DIR, 'runtime-spec-v1.3.0'));
export const IMAGE_SPEC_DIR = requireDir(join(SPECS_DIR, 'image-spec-v1.1.1'));

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SpecFile {
  /** Path relative to SPECS_DIR, for test names. */
  name: string;
  text: string;
}

/** Every `<dir>/**\/<good|bad>/*.json` under a spec's schema/test, grouped by verdict. */
export function testDocuments(
  specDir: string,
): { kind: string; verdict: 'good' | 'bad'; file: SpecFile }[] {
  const root = join(specDir, 'schema', 'test');
  if (!existsSync(root)) return [];
  const out: { kind: string; verdict: 'good' | 'bad'; file: SpecFile }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
      } else if (entry.name.endsWith('.json')) {
        const verdict = dirname(path).split('/').pop();
        if (verdict !== 'good' && verdict !== 'bad') continue;
        const kind = relative(root, dirname(dirname(path)));
        out.push({
          kind,
          verdict,
          file: { name: relative(SPECS_DIR, path), text: readFileSync(path, 'utf8') },
        });
      }
    }
  };
  walk(root);
  return out.sort((a, b) => a.file.name.localeCompare(b.file.name));
}

/**
 * The JSON examples of a markdown file: fenced blocks whose info string starts
 * with `json`, with the `mediatype=` the image spec annotates its examples with
 * (the image-spec's own Go tests validate exactly those against its schemas).
 */
export function markdownExamples(
  path: string,
): { mediaType?: string; line: number; text: string }[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: { mediaType?: string; line: number; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```json(.*)$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++)
      body.push(lines[i] ?? '');
    const mediaType = /mediatype=([^&\s]+)/.exec(open[1] ?? '')?.[1];
    const example = { line: start + 1, text: body.join('\n') };
    out.push(
      mediaType === undefined ? example : { ...example, mediaType: decodeURIComponent(mediaType) },
    );
  }
  return out;
}

/** The full config.json example at the end of config.md. */
export function configMdExample(): Json {
  const examples = markdownExamples(join(RUNTIME_SPEC_DIR, 'config.md'));
  const full = examples.find((e) => e.text.startsWith('{') && e.text.includes('"ociVersion"'));
  if (full === undefined) throw new Error('config.md: full configuration example not found');
  return JSON.parse(full.text) as Json;
}

/** The largest whole-document JSON example in a markdown file that parses and has `key`. */
export function markdownDocument(path: string, key: string): Json {
  let best: { doc: Json; size: number } | undefined;
  for (const e of markdownExamples(path)) {
    if (!e.text.startsWith('{')) continue;
    try {
      const doc = JSON.parse(e.text) as Json;
      const isDoc = typeof doc === 'object' && doc !== null && !Array.isArray(doc) && key in doc;
      if (isDoc && (best === undefined || e.text.length > best.size)) {
        best = { doc, size: e.text.length };
      }
    } catch {
      // Partial examples (fragments with trailing commas) are not documents.
    }
  }
  if (best === undefined) throw new Error(`${path}: no JSON document example with ${key}`);
  return best.doc;
}

// ---------------------------------------------------------------------------
// The oracle: ajv compiled from the official schemas.

type Schema = { [key: string]: unknown };

/**
 * The schemas declare draft-04, which Ajv 8 no longer ships (the separate
 * ajv-draft-04 package is not a dependency). What they use of draft-04 reads
 * the same under Ajv's default draft-07: no boolean exclusiveMinimum/Maximum
 * (asserted below), no dependencies. The draft-04 `id` keywords are dropped:
 * they are informational URLs under which the relative `$ref`s would not
 * resolve; each file gets a `$id` named after itself instead, which is how the
 * files refer to each other. Ajv then runs with strict:false so that unknown
 * keywords (the image spec's `media`) are ignored as draft-04 requires.
 */
function prepare(node: unknown, file: string): void {
  if (Array.isArray(node)) {
    for (const item of node) prepare(item, file);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Schema;
  if (
    typeof schema.exclusiveMinimum === 'boolean' ||
    typeof schema.exclusiveMaximum === 'boolean'
  ) {
    throw new Error(
      `${file}: draft-04 boolean exclusiveMinimum/Maximum needs a real draft-04 validator`,
    );
  }
  if (typeof schema.id === 'string') delete schema.id;
  // The known defect of runtime-spec v1.3.0 defs.json (see specs/README.md).
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#definitions/')) {
    schema.$ref = `#/${schema.$ref.slice(1)}`;
  }
  for (const [key, value] of Object.entries(schema)) {
    // `properties` and `definitions` map names to schemas; a property called
    // "id" would be a schema, never an id keyword, and is handled per value.
    if (key === 'properties' || key === 'definitions' || key === 'patternProperties') {
      for (const child of Object.values(value as Schema)) prepare(child, file);
    } else {
      prepare(value, file);
    }
  }
}

function compileDir(dir: string, base: string): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
  addFormats(ajv);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Schema;
    delete schema.$schema;
    prepare(schema, file);
    schema.$id = `${base}/${file}`;
    ajv.addSchema(schema);
  }
  return ajv;
}

const RUNTIME_BASE = 'https://tsoci.test/runtime-spec';
const IMAGE_BASE = 'https://tsoci.test/image-spec';
let runtimeAjv: Ajv | undefined;
let imageAjv: Ajv | undefined;

export type OracleKind =
  | 'config'
  | 'state'
  | 'features'
  | 'descriptor'
  | 'manifest'
  | 'index'
  | 'imageConfig'
  | 'layout';

const ORACLE_FILES: Record<OracleKind, [runtime: boolean, file: string]> = {
  config: [true, 'config-schema.json'],
  state: [true, 'state-schema.json'],
  features: [true, 'features-schema.json'],
  descriptor: [false, 'content-descriptor.json'],
  manifest: [false, 'image-manifest-schema.json'],
  index: [false, 'image-index-schema.json'],
  imageConfig: [false, 'config-schema.json'],
  layout: [false, 'image-layout-schema.json'],
};

export function oracle(kind: OracleKind): ValidateFunction {
  const [runtime, file] = ORACLE_FILES[kind];
  if (runtime) runtimeAjv ??= compileDir(join(RUNTIME_SPEC_DIR, 'schema'), RUNTIME_BASE);
  else imageAjv ??= compileDir(join(IMAGE_SPEC_DIR, 'schema'), IMAGE_BASE);
  const ajv = runtime ? runtimeAjv : imageAjv;
  const validate = ajv?.getSchema(`${runtime ? RUNTIME_BASE : IMAGE_BASE}/${file}`);
  if (validate === undefined) throw new Error(`schema ${file} did not compile`);
  return validate;
}

/** Every property name and every enum value the official schemas mention (mutation material). */
export function schemaVocabulary(): { keys: string[]; values: string[] } {
  const keys = new Set<string>();
  const values = new Set<string>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const schema = node as Schema;
    if (typeof schema.properties === 'object' && schema.properties !== null) {
      for (const key of Object.keys(schema.properties)) keys.add(key);
    }
    if (Array.isArray(schema.enum)) {
      for (const v of schema.enum) if (typeof v === 'string') values.add(v);
    }
    for (const value of Object.values(schema)) visit(value);
  };
  for (const dir of [join(RUNTIME_SPEC_DIR, 'schema'), join(IMAGE_SPEC_DIR, 'schema')]) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      visit(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    }
  }
  return { keys: [...keys].sort(), values: [...values].sort() };
}
