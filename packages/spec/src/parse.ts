/**
 * The parsers: JSON text, bytes or an already-parsed value in, a typed and
 * validated document out, or one SpecValidationError naming every problem.
 *
 * The contract is that nothing but SpecValidationError ever escapes, whatever
 * the input (hostile JSON, cycles, throwing getters), because callers such as
 * `tsoci create` must turn every bad input into one clean error message.
 */

import { type SpecIssue, SpecValidationError } from './errors.js';
import { type ImageConfig, ImageConfigSchema } from './image/config.js';
import { type Descriptor, DescriptorSchema } from './image/descriptor.js';
import {
  type DockerArchiveManifest,
  DockerArchiveManifestSchema,
  type DockerRepositories,
  DockerRepositoriesSchema,
} from './image/docker.js';
import { type Index, IndexSchema } from './image/image-index.js';
import { type ImageLayout, ImageLayoutSchema } from './image/layout.js';
import { type Manifest, ManifestSchema } from './image/manifest.js';
import { errorMap, formatPath, unescapeSegments } from './internal/issues.js';
import { decode, type Segment, validationView } from './internal/json.js';
import { describeError } from './internal/show.js';
import type * as z from './internal/z.js';
import { type Config, ConfigSchema } from './runtime/config.js';
import { type Features, FeaturesSchema } from './runtime/features.js';
import { type State, StateSchema } from './runtime/state.js';

export interface ParseOptions {
  /**
   * How error messages name the document, e.g. the file it came from
   * ("/run/bundle/config.json"). Each parser has a sensible default.
   */
  document?: string;
}

/** A SpecIssue with its raw path and the prose rule it comes from, if any (for the drift tests). */
export interface RuledIssue extends SpecIssue {
  segments: Segment[];
  rule?: string;
}

export type Validation<T> =
  | { ok: true; value: T; issues: [] }
  | { ok: false; issues: RuledIssue[]; cause?: unknown };

/**
 * Validates `input` against `schema`. Returns the caller's document (parsed or
 * copied), not zod's output: the schemas never transform, and zod's output
 * would lose "__proto__" keys.
 */
export function validateWith<T>(schema: z.ZodType<T>, input: unknown): Validation<T> {
  try {
    const decoded = decode(input);
    if (!decoded.ok) {
      return {
        ok: false,
        issues: [
          {
            path: formatPath(decoded.segments),
            message: decoded.message,
            segments: decoded.segments,
          },
        ],
        cause: decoded.cause,
      };
    }
    const { view, escaped } = validationView(decoded.value);
    const result = schema.safeParse(view, { reportInput: true, error: errorMap });
    if (result.success) return { ok: true, value: decoded.value as T, issues: [] };
    const issues = result.error.issues.map((issue): RuledIssue => {
      const segments = unescapeSegments(issue.path, escaped);
      const out: RuledIssue = { path: formatPath(segments), message: issue.message, segments };
      const rule = issue.code === 'custom' ? issue.params?.rule : undefined;
      if (typeof rule === 'string') out.rule = rule;
      return out;
    });
    return { ok: false, issues };
  } catch (error) {
    // Only reachable through hostile already-parsed values (throwing getters,
    // proxies): report rather than leak whatever was thrown.
    return {
      ok: false,
      issues: [{ path: '', message: `could not be read: ${describeError(error)}`, segments: [] }],
      cause: error,
    };
  }
}

function parser<T>(schema: z.ZodType<T>, defaultDocument: string) {
  return (input: unknown, options?: ParseOptions): T => {
    const result = validateWith(schema, input);
    if (result.ok) return result.value;
    const issues = result.issues.map(({ path, message }) => ({ path, message }));
    throw new SpecValidationError(options?.document ?? defaultDocument, issues, {
      cause: result.cause,
    });
  };
}

/** Parses and validates a runtime-spec config.json. */
export const parseConfig: (input: unknown, options?: ParseOptions) => Config = parser(
  ConfigSchema,
  'config.json',
);

/** Parses and validates a runtime-spec state document. */
export const parseState: (input: unknown, options?: ParseOptions) => State = parser(
  StateSchema,
  'state',
);

/** Parses and validates a runtime-spec features document. */
export const parseFeatures: (input: unknown, options?: ParseOptions) => Features = parser(
  FeaturesSchema,
  'features',
);

/** Parses and validates an image-spec content descriptor. */
export const parseDescriptor: (input: unknown, options?: ParseOptions) => Descriptor = parser(
  DescriptorSchema,
  'descriptor',
);

/** Parses and validates an image manifest (OCI, or Docker schema2). */
export const parseManifest: (input: unknown, options?: ParseOptions) => Manifest = parser(
  ManifestSchema,
  'image manifest',
);

/** Parses and validates an image index (OCI, or a Docker manifest list). */
export const parseIndex: (input: unknown, options?: ParseOptions) => Index = parser(
  IndexSchema,
  'image index',
);

/** Parses and validates an image configuration. */
export const parseImageConfig: (input: unknown, options?: ParseOptions) => ImageConfig = parser(
  ImageConfigSchema,
  'image config',
);

/** Parses and validates the `oci-layout` file of an image layout. */
export const parseImageLayout: (input: unknown, options?: ParseOptions) => ImageLayout = parser(
  ImageLayoutSchema,
  'oci-layout',
);

/** Parses and validates the `manifest.json` of a `docker save` archive. */
export const parseDockerArchiveManifest: (
  input: unknown,
  options?: ParseOptions,
) => DockerArchiveManifest = parser(DockerArchiveManifestSchema, 'manifest.json');

/** Parses and validates the `repositories` file of a `docker save` archive. */
export const parseDockerRepositories: (
  input: unknown,
  options?: ParseOptions,
) => DockerRepositories = parser(DockerRepositoriesSchema, 'repositories');

/**
 * Checks a config.json without throwing: the list of problems, empty when the
 * document is valid. For `tsoci validate` and editors.
 */
export function validateConfig(input: unknown): SpecIssue[] {
  const result = validateWith(ConfigSchema, input);
  return result.ok ? [] : result.issues.map(({ path, message }) => ({ path, message }));
}
