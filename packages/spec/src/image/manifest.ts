/** Image manifests (image-spec manifest.md, schema/image-manifest-schema.json). */

import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { integer, isObject, stringMap, withRules } from '../internal/zod.js';
import { DescriptorSchema, MediaTypeSchema } from './descriptor.js';
import { DOCKER_MEDIA_TYPES, OCI_MEDIA_TYPES } from './media-types.js';

/** The top-level media types a manifest may declare: OCI's, or Docker schema2's identical shape. */
export const MANIFEST_MEDIA_TYPES = [
  OCI_MEDIA_TYPES.imageManifest,
  DOCKER_MEDIA_TYPES.manifestV2,
] as const;

/** `schemaVersion` of manifests and indexes: always 2, for compatibility with Docker. */
export const SchemaVersionSchema = integer(2, 2, 'the integer 2');

/**
 * manifest.md rules the schema leaves out: a declared `mediaType` names a
 * manifest (rule `manifest-media-type`; Docker schema2 is accepted as well,
 * being the same document), and an artifact whose config is the empty
 * descriptor must set `artifactType` (rule `artifact-type`).
 */
export const ManifestSchema = withRules(
  z.looseObject({
    schemaVersion: SchemaVersionSchema,
    mediaType: MediaTypeSchema.optional(),
    artifactType: MediaTypeSchema.optional(),
    config: DescriptorSchema,
    layers: z.array(DescriptorSchema).min(1),
    subject: DescriptorSchema.optional(),
    annotations: stringMap().optional(),
  }),
  (value, report) => {
    if (!isObject(value)) return;
    const { mediaType } = value;
    if (
      typeof mediaType === 'string' &&
      !(MANIFEST_MEDIA_TYPES as readonly string[]).includes(mediaType)
    ) {
      report(
        'manifest-media-type',
        ['mediaType'],
        `expected one of ${MANIFEST_MEDIA_TYPES.map((t) => show(t)).join(', ')}, got ${show(mediaType)} (manifest.md)`,
      );
    }
    if (
      isObject(value.config) &&
      value.config.mediaType === OCI_MEDIA_TYPES.empty &&
      value.artifactType === undefined
    ) {
      report(
        'artifact-type',
        ['artifactType'],
        'required property is missing (required when config.mediaType is the empty media type; manifest.md)',
      );
    }
  },
);

/** An OCI image manifest (or a Docker schema2 manifest, which has the same shape). */
export type Manifest = z.output<typeof ManifestSchema>;
