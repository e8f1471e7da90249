/**
 * Content descriptors and platforms (image-spec descriptor.md,
 * image-index.md, schema/content-descriptor.json).
 */

import {
  DIGEST_PATTERN,
  isBase64,
  isUri,
  MEDIA_TYPE_PATTERN,
  REGISTERED_DIGEST_ENCODINGS,
} from '../internal/formats.js';
import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { int64, pattern, stringMap } from '../internal/zod.js';

export const MediaTypeSchema = pattern(MEDIA_TYPE_PATTERN, 'a media type (type/subtype)');

/**
 * A digest: the schema's grammar, plus descriptor.md's fixed encodings for the
 * registered algorithms (rule `digest-encoding`): a sha256 digest with upper
 * case or the wrong length cannot match any content we would compute.
 */
export const DigestSchema = pattern(DIGEST_PATTERN, 'a digest (algorithm:encoded)').check((ctx) => {
  const colon = ctx.value.indexOf(':');
  const encoding = REGISTERED_DIGEST_ENCODINGS[ctx.value.slice(0, colon)];
  if (encoding !== undefined && !encoding.test(ctx.value.slice(colon + 1))) {
    const algorithm = ctx.value.slice(0, colon);
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected ${algorithm === 'sha256' ? '64' : '128'} lowercase hex digits after "${algorithm}:", got ${show(ctx.value)} (descriptor.md#registered-algorithms)`,
      params: { rule: 'digest-encoding' },
    });
  }
});

const UriSchema = z.string().check((ctx) => {
  if (!isUri(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected an RFC 3986 URI, got ${show(ctx.value)}`,
    });
  }
});

/** descriptor.md: `data` is RFC 4648 base64 (rule `base64`); the schema's `media` keyword checks nothing. */
const Base64Schema = z.string().check((ctx) => {
  if (!isBase64(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected RFC 4648 base64 text, got ${show(ctx.value)} (descriptor.md#properties)`,
      params: { rule: 'base64' },
    });
  }
});

export const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
});
export type Platform = z.output<typeof PlatformSchema>;

/**
 * A descriptor. `platform` is not in content-descriptor.json but descriptor.md
 * names it as the extension descriptors of manifests carry, so it is typed and
 * checked wherever it appears.
 */
export const DescriptorSchema = z.looseObject({
  mediaType: MediaTypeSchema,
  digest: DigestSchema,
  size: int64(),
  urls: z.array(UriSchema).optional(),
  annotations: stringMap().optional(),
  data: Base64Schema.optional(),
  artifactType: MediaTypeSchema.optional(),
  platform: PlatformSchema.optional(),
});
export type Descriptor = z.output<typeof DescriptorSchema>;
