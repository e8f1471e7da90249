/**
 * Image configuration (image-spec config.md, schema/config-schema.json).
 *
 * config.md: "Any OPTIONAL field MAY also be set to null, which is equivalent
 * to being absent"; the schema only allows null for four fields. Docker and
 * others do write nulls, so every optional field here is `.nullish()`.
 */

import {
  DIGEST_PATTERN,
  isRfc3339DateTime,
  REGISTERED_DIGEST_ENCODINGS,
} from '../internal/formats.js';
import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { mapOf, stringMap } from '../internal/zod.js';

const DateTimeSchema = z.string().check((ctx) => {
  if (!isRfc3339DateTime(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected an RFC 3339 date-time such as "2015-10-31T22:22:56Z", got ${show(ctx.value)}`,
    });
  }
});

/**
 * A layer DiffID. The schema only asks for a string; config.md defines DiffIDs
 * as digests (rule `diff-id`), and descriptor.md fixes the encodings of the
 * registered algorithms (rule `digest-encoding`).
 */
const DiffIdSchema = z.string().check((ctx) => {
  const v = ctx.value;
  if (!DIGEST_PATTERN.test(v)) {
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `expected a digest (algorithm:encoded), got ${show(v)} (config.md#layer-diffid)`,
      params: { rule: 'diff-id' },
    });
    return;
  }
  const colon = v.indexOf(':');
  const encoding = REGISTERED_DIGEST_ENCODINGS[v.slice(0, colon)];
  if (encoding !== undefined && !encoding.test(v.slice(colon + 1))) {
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `expected lowercase hex of the right length after "${v.slice(0, colon)}:", got ${show(v)} (descriptor.md#registered-algorithms)`,
      params: { rule: 'digest-encoding' },
    });
  }
});

/** Go's `map[string]struct{}` serialised: keys matter, values are (empty) objects. */
const ObjectSetSchema = mapOf(z.looseObject({}));

export const ImageExecConfigSchema = z.looseObject({
  User: z.string().nullish(),
  ExposedPorts: ObjectSetSchema.nullish(),
  Env: z.array(z.string()).nullish(),
  Entrypoint: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Volumes: ObjectSetSchema.nullish(),
  WorkingDir: z.string().nullish(),
  Labels: stringMap().nullish(),
  StopSignal: z.string().nullish(),
  ArgsEscaped: z.boolean().nullish(),
});
export type ImageExecConfig = z.output<typeof ImageExecConfigSchema>;

export const HistorySchema = z.looseObject({
  created: DateTimeSchema.nullish(),
  author: z.string().nullish(),
  created_by: z.string().nullish(),
  comment: z.string().nullish(),
  empty_layer: z.boolean().nullish(),
});
export type History = z.output<typeof HistorySchema>;

export const ImageConfigSchema = z.looseObject({
  created: DateTimeSchema.nullish(),
  author: z.string().nullish(),
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().nullish(),
  'os.features': z.array(z.string()).nullish(),
  variant: z.string().nullish(),
  config: ImageExecConfigSchema.nullish(),
  rootfs: z.looseObject({
    type: z.enum(['layers']),
    diff_ids: z.array(DiffIdSchema),
  }),
  history: z.array(HistorySchema).nullish(),
});

/** An OCI image configuration (also Docker's image JSON, of which it is a subset). */
export type ImageConfig = z.output<typeof ImageConfigSchema>;
