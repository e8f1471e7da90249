/** The container state (runtime.md#state, schema/state-schema.json). */

import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import { integer, isAbsolutePath, isObject, withRules } from '../internal/zod.js';
import { CONTAINER_STATUSES, EXTRA_CONTAINER_STATUSES } from '../tables.js';
import { AnnotationsSchema, OciVersionSchema } from './defs.js';

/**
 * runtime.md rules beyond state-schema.json: on Linux `pid` is required while
 * the container is `created` or `running` (rule `state-pid`), and `bundle` is
 * an absolute path (rule `absolute-path`).
 */
export const StateSchema = withRules(
  z.looseObject({
    ociVersion: OciVersionSchema,
    id: z.string(),
    status: z.enum([...CONTAINER_STATUSES, ...EXTRA_CONTAINER_STATUSES]),
    pid: integer(0, Number.POSITIVE_INFINITY, 'an integer of at least 0').optional(),
    bundle: z.string(),
    annotations: AnnotationsSchema.optional(),
  }),
  (value, report) => {
    if (!isObject(value)) return;
    if ((value.status === 'created' || value.status === 'running') && value.pid === undefined) {
      report(
        'state-pid',
        ['pid'],
        `required property is missing (required when status is ${show(value.status)}; runtime.md#state)`,
      );
    }
    if (typeof value.bundle === 'string' && !isAbsolutePath(value.bundle)) {
      report(
        'absolute-path',
        ['bundle'],
        `expected an absolute path, got ${show(value.bundle)} (runtime.md#state)`,
      );
    }
  },
);

/** A runtime-spec state document, as `tsoci state` prints and hooks receive on stdin. */
export type State = z.output<typeof StateSchema>;
