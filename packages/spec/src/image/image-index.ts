/** Image indexes (image-spec image-index.md, schema/image-index-schema.json). */

import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { isObject, stringMap, withRules } from '../internal/zod.js';
import { DescriptorSchema, MediaTypeSchema } from './descriptor.js';
import { SchemaVersionSchema } from './manifest.js';
import { DOCKER_MEDIA_TYPES, OCI_MEDIA_TYPES } from './media-types.js';

/** The top-level media types an index may declare: OCI's, or Docker's manifest list. */
export const INDEX_MEDIA_TYPES = [
  OCI_MEDIA_TYPES.imageIndex,
  DOCKER_MEDIA_TYPES.manifestListV2,
] as const;

/**
 * `manifests[]` entries are full descriptors (image-index.md), so `data` and
 * `artifactType` are checked here as in any descriptor although the index
 * schema does not list them. A declared `mediaType` must name an index (rule
 * `index-media-type`).
 */
export const IndexSchema = withRules(
  z.looseObject({
    schemaVersion: SchemaVersionSchema,
    mediaType: MediaTypeSchema.optional(),
    artifactType: MediaTypeSchema.optional(),
    manifests: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
    annotations: stringMap().optional(),
  }),
  (value, report) => {
    if (!isObject(value)) return;
    const { mediaType } = value;
    if (
      typeof mediaType === 'string' &&
      !(INDEX_MEDIA_TYPES as readonly string[]).includes(mediaType)
    ) {
      report(
        'index-media-type',
        ['mediaType'],
        `expected one of ${INDEX_MEDIA_TYPES.map((t) => show(t)).join(', ')}, got ${show(mediaType)} (image-index.md)`,
      );
    }
  },
);

/** An OCI image index (or a Docker manifest list, which has the same shape). */
export type Index = z.output<typeof IndexSchema>;
