/**
 * Definitions shared by config, state and features: runtime-spec
 * schema/defs.json, plus the prose rules that apply wherever they are used.
 */

import { isSemver } from '../internal/formats.js';
import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { integer, isObject, stringMap, uint32, withRules } from '../internal/zod.js';

/**
 * `ociVersion`. The schema only asks for a string; config.md requires SemVer
 * 2.0.0 (rule `semver`).
 */
export const OciVersionSchema = z.string().check((ctx) => {
  if (!isSemver(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected a SemVer 2.0.0 version such as "1.3.0", got ${show(ctx.value)}`,
      params: { rule: 'semver' },
    });
  }
});

/**
 * `annotations`: string values, and (config.md#annotations) no empty key
 * (rule `annotation-key`). features.md and runtime.md's state use the same
 * convention.
 */
export const AnnotationsSchema = withRules(stringMap(), (value, report) => {
  if (!isObject(value)) return;
  if (Object.hasOwn(value, '')) {
    report('annotation-key', [''], 'annotation keys must not be empty (config.md#annotations)');
  }
});

export const IdMappingSchema = z.looseObject({
  containerID: uint32(),
  hostID: uint32(),
  size: uint32(),
});
export type IdMapping = z.output<typeof IdMappingSchema>;

/** A hook entry; `path` is checked for being absolute by the config (POSIX only). */
export const HookSchema = z.looseObject({
  path: z.string(),
  args: z.array(z.string()).optional(),
  env: z.array(z.string()).optional(),
  timeout: integer(1, Number.POSITIVE_INFINITY, 'an integer of at least 1 (seconds)').optional(),
});
export type Hook = z.output<typeof HookSchema>;

/**
 * A mount. config.md: `uidMappings` and `gidMappings` only come together
 * (rule `mount-idmap-pair`).
 */
export const MountSchema = withRules(
  z.looseObject({
    destination: z.string(),
    source: z.string().optional(),
    options: z.array(z.string()).optional(),
    type: z.string().optional(),
    uidMappings: z.array(IdMappingSchema).optional(),
    gidMappings: z.array(IdMappingSchema).optional(),
  }),
  (value, report) => {
    if (!isObject(value)) return;
    const hasUid = value.uidMappings !== undefined;
    const hasGid = value.gidMappings !== undefined;
    if (hasUid !== hasGid) {
      const missing = hasUid ? 'gidMappings' : 'uidMappings';
      const present = hasUid ? 'uidMappings' : 'gidMappings';
      report(
        'mount-idmap-pair',
        [missing],
        `required when ${present} is set (config.md#posix-platform-mounts)`,
      );
    }
  },
);
export type Mount = z.output<typeof MountSchema>;

/** defs.json's FileMode: permission bits, written in decimal in JSON. */
export const fileMode = () => integer(0, 0o777, 'a file mode (0 to 511, i.e. 0o777)');
