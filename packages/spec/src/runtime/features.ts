/**
 * The features structure (features.md, features-linux.md,
 * schema/features-schema.json, schema/features-linux.json).
 *
 * features.md lets every property but ociVersionMin/ociVersionMax be null
 * ("null MUST NOT be confused with an empty value"), which the JSON schema
 * forgets; hence `.nullish()` throughout.
 */

import { compareSemver, isSemver } from '../internal/formats.js';
import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { isObject, pattern, withRules } from '../internal/zod.js';
import {
  CAPABILITY_PATTERN,
  NAMESPACE_TYPES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from '../tables.js';
import { AnnotationsSchema, OciVersionSchema } from './defs.js';

const enabled = () => z.looseObject({ enabled: z.boolean().nullish() });

export const LinuxFeaturesSchema = z.looseObject({
  namespaces: z.array(z.enum(NAMESPACE_TYPES)).nullish(),
  capabilities: z.array(pattern(CAPABILITY_PATTERN, 'a capability name')).nullish(),
  cgroup: z
    .looseObject({
      v1: z.boolean().nullish(),
      v2: z.boolean().nullish(),
      systemd: z.boolean().nullish(),
      systemdUser: z.boolean().nullish(),
      rdma: z.boolean().nullish(),
    })
    .nullish(),
  seccomp: z
    .looseObject({
      enabled: z.boolean().nullish(),
      actions: z.array(z.enum(SECCOMP_ACTIONS)).nullish(),
      operators: z.array(z.enum(SECCOMP_OPERATORS)).nullish(),
      archs: z.array(z.enum(SECCOMP_ARCHES)).nullish(),
      knownFlags: z.array(z.enum(SECCOMP_FLAGS)).nullish(),
      supportedFlags: z.array(z.enum(SECCOMP_FLAGS)).nullish(),
    })
    .nullish(),
  apparmor: enabled().nullish(),
  selinux: enabled().nullish(),
  // features-linux.json has no `memoryPolicy` and only `intelRdt.enabled`;
  // features-linux.md defines the rest. The names are another runtime's
  // vocabulary (possibly newer than ours), so only their types are checked.
  memoryPolicy: z
    .looseObject({
      modes: z.array(z.string()).nullish(),
      flags: z.array(z.string()).nullish(),
    })
    .nullish(),
  intelRdt: z
    .looseObject({
      enabled: z.boolean().nullish(),
      schemata: z.boolean().nullish(),
      monitoring: z.boolean().nullish(),
    })
    .nullish(),
  mountExtensions: z.looseObject({ idmap: enabled().nullish() }).nullish(),
  netDevices: enabled().nullish(),
});
export type LinuxFeatures = z.output<typeof LinuxFeaturesSchema>;

/** features.md: ociVersionMax MUST NOT be less than ociVersionMin (rule `features-version-order`). */
export const FeaturesSchema = withRules(
  z.looseObject({
    ociVersionMin: OciVersionSchema,
    ociVersionMax: OciVersionSchema,
    hooks: z.array(z.string()).nullish(),
    mountOptions: z.array(z.string()).nullish(),
    annotations: AnnotationsSchema.nullish(),
    potentiallyUnsafeConfigAnnotations: z.array(z.string()).nullish(),
    linux: LinuxFeaturesSchema.nullish(),
  }),
  (value, report) => {
    if (!isObject(value)) return;
    const { ociVersionMin: min, ociVersionMax: max } = value;
    if (typeof min !== 'string' || typeof max !== 'string' || !isSemver(min) || !isSemver(max)) {
      return;
    }
    if (compareSemver(max, min) < 0) {
      report(
        'features-version-order',
        ['ociVersionMax'],
        `expected a version not below ociVersionMin ${show(min)}, got ${show(max)} (features.md)`,
      );
    }
  },
);

/** A runtime-spec features document, as `tsoci features` prints. */
export type Features = z.output<typeof FeaturesSchema>;
