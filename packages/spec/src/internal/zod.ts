/**
 * Building blocks shared by every schema in this package, so that the same
 * JSON-schema notion (uint32, a pattern, an enum, a string map) is checked and
 * reported the same way everywhere.
 */

import { show } from './show.js';
import * as z from './z.js';

/** Where a prose rule reports its problem, relative to the checked value. */
export type Report = (rule: string, path: readonly (string | number)[], message: string) => void;

/** A plain JSON object (what looseObject accepted, or something a rule must not trust yet). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An integer in [min, max]. The JSON schemas' int64/uint64 bounds are not
 * representable as doubles; `min`/`max` are the doubles JSON.parse makes of
 * the schema literals, so this agrees with a JSON-schema validator on every
 * value JSON.parse can produce. `label` names the range in messages.
 */
export function integer(min: number, max: number, label: string) {
  return z
    .number({
      error: (iss) =>
        iss.input === undefined ? undefined : `expected an integer, got ${show(iss.input)}`,
    })
    .check((ctx) => {
      const v = ctx.value;
      if (!Number.isInteger(v)) {
        ctx.issues.push({
          code: 'custom',
          input: v,
          message: `expected an integer, got ${show(v)}`,
        });
      } else if (v < min || v > max) {
        ctx.issues.push({ code: 'custom', input: v, message: `expected ${label}, got ${show(v)}` });
      }
    });
}

// 2 ** 63 and 2 ** 64 are the doubles nearest to 9223372036854775807 and
// 18446744073709551615, i.e. what JSON.parse makes of the schema's bounds.
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;

export const int8 = () => integer(-128, 127, 'an int8 (-128 to 127)');
export const int16 = () => integer(-32768, 32767, 'an int16 (-32768 to 32767)');
export const int32 = () => integer(-2147483648, 2147483647, 'an int32 (-2147483648 to 2147483647)');
export const int64 = () =>
  integer(-TWO_63, TWO_63, 'an int64 (-9223372036854775808 to 9223372036854775807)');
export const uint8 = () => integer(0, 255, 'a uint8 (0 to 255)');
export const uint16 = () => integer(0, 65535, 'a uint16 (0 to 65535)');
export const uint32 = () => integer(0, 4294967295, 'a uint32 (0 to 4294967295)');
export const uint64 = () => integer(0, TWO_64, 'a uint64 (0 to 18446744073709551615)');
/** Any JSON integer (`"type": "integer"` with no bounds). */
export const anyInteger = () =>
  integer(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 'an integer');

/** A string matching `pattern`; `what` names the expected thing in messages. */
export function pattern(re: RegExp, what: string) {
  // RegExp#source escapes "/"; the schemas (and readers) write it bare.
  const shown = re.source.replace(/\\\//g, '/');
  return z.string().regex(re, {
    error: (iss) => `expected ${what} matching ${shown}, got ${show(iss.input)}`,
  });
}

/** An object whose every value is a string (the schemas' `mapStringString`). */
export const stringMap = () => z.record(z.string(), z.string());

/** An object whose every value matches `value`. */
export function mapOf<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value);
}

/**
 * Attaches checks that come from the specification's prose rather than from
 * its JSON schema. They run even when other parts of the document are already
 * invalid (so one parse reports every problem), hence `check` receives an
 * unvalidated value and must test every type it relies on. Each report is
 * tagged with a rule id; the drift test uses the tags to tell deliberate
 * differences from the official schema apart from mistakes.
 */
export function withRules<T extends z.ZodType>(
  schema: T,
  check: (value: unknown, report: Report) => void,
): T {
  return schema.superRefine(
    (value, ctx) => {
      check(value, (rule, path, message) => {
        ctx.addIssue({ code: 'custom', message, path: [...path], params: { rule }, input: value });
      });
    },
    { when: () => true },
  );
}

/** Tests the path rule shared by cwd, hook paths, namespace paths, masked paths. */
export function isAbsolutePath(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith('/');
}
