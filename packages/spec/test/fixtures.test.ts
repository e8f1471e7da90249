/**
 * The specifications' own verdicts: every `good` test document of the runtime
 * spec parses and every `bad` one is rejected, and every example the image
 * spec annotates with a media type parses with the matching parser.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecValidationError } from '../src/errors.js';
import {
  parseConfig,
  parseDescriptor,
  parseFeatures,
  parseImageConfig,
  parseImageLayout,
  parseIndex,
  parseManifest,
  parseState,
} from '../src/parse.js';
import {
  configMdExample,
  IMAGE_SPEC_DIR,
  markdownExamples,
  RUNTIME_SPEC_DIR,
  testDocuments,
} from './helpers/specs.js';

const RUNTIME_PARSERS: Record<string, (input: unknown) => unknown> = {
  config: parseConfig,
  state: parseState,
  features: parseFeatures,
};

const IMAGE_PARSERS: Record<string, (input: unknown) => unknown> = {
  'application/vnd.oci.descriptor.v1+json': parseDescriptor,
  'application/vnd.oci.image.manifest.v1+json': parseManifest,
  'application/vnd.oci.image.index.v1+json': parseIndex,
  'application/vnd.oci.image.config.v1+json': parseImageConfig,
  'application/vnd.oci.layout.header.v1+json': parseImageLayout,
};

function parserFor(parsers: Record<string, (input: unknown) => unknown>, kind: string) {
  const parse = parsers[kind];
  if (parse === undefined) throw new Error(`no parser for test documents of kind "${kind}"`);
  return parse;
}

describe('runtime-spec schema/test documents', () => {
  const documents = testDocuments(RUNTIME_SPEC_DIR);

  it('finds the test documents of config, state and features', () => {
    const kinds = new Set(documents.map((d) => `${d.kind}/${d.verdict}`));
    for (const kind of ['config', 'state', 'features']) {
      expect(kinds).toContain(`${kind}/good`);
      expect(kinds).toContain(`${kind}/bad`);
    }
  });

  for (const { kind, verdict, file } of documents) {
    const parse = parserFor(RUNTIME_PARSERS, kind);
    if (verdict === 'good') {
      it(`accepts ${file.name}`, () => {
        const parsed = parse(file.text);
        // Nothing added, nothing lost: the parsed document is the JSON document.
        expect(parsed).toEqual(JSON.parse(file.text));
      });
    } else {
      it(`rejects ${file.name}`, () => {
        expect(() => parse(file.text)).toThrow(SpecValidationError);
      });
    }
  }

  it('accepts the full example of config.md', () => {
    expect(parseConfig(configMdExample())).toEqual(configMdExample());
  });
});

describe('image-spec examples', () => {
  it('ships no schema/test documents of its own (examples in the markdown are its test corpus)', () => {
    // Should a later image-spec add good/bad documents, this fails and they must be wired in.
    expect(testDocuments(IMAGE_SPEC_DIR)).toEqual([]);
  });

  const examples = [
    'descriptor.md',
    'manifest.md',
    'image-index.md',
    'image-layout.md',
    'config.md',
  ]
    .flatMap((file) => markdownExamples(join(IMAGE_SPEC_DIR, file)).map((e) => ({ ...e, file })))
    .filter((e) => e.mediaType !== undefined);

  it('finds an example of every image document type', () => {
    expect(new Set(examples.map((e) => e.mediaType))).toEqual(new Set(Object.keys(IMAGE_PARSERS)));
  });

  for (const e of examples) {
    it(`accepts the ${e.mediaType} example at ${e.file}:${e.line}`, () => {
      const parse = parserFor(IMAGE_PARSERS, e.mediaType ?? '');
      expect(parse(e.text)).toEqual(JSON.parse(e.text));
    });
  }
});
