/**
 * Turning zod issues into tsoci's `path: rule` lines, e.g.
 * `linux.resources.memory.limit: expected an integer, got "1G"`.
 */

import { type Segment, unescapeKey } from './json.js';
import { show } from './show.js';
import type * as z from './z.js';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Dotted path with array indexes in brackets (`mounts[2].destination`); keys
 * that are not identifiers are quoted (`linux.sysctl["net.ipv4.ip_forward"]`),
 * so that a path always names exactly one place in the document.
 */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Undoes the "__proto__" key escaping of validationView in an issue path. */
export function unescapeSegments(path: readonly PropertyKey[], escaped: boolean): Segment[] {
  return path.map((segment) => {
    if (typeof segment === 'number') return segment;
    const key = String(segment);
    return escaped ? unescapeKey(key) : key;
  });
}

const ARTICLES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  record: 'an object',
  array: 'an array',
  null: 'null',
};

function entries(n: number): string {
  return n === 1 ? '1 entry' : `${n} entries`;
}

/**
 * The per-parse zod error map. Checks that carry their own message (integer
 * ranges, patterns, prose rules) never reach it; it phrases zod's built-in
 * issues in the same style.
 */
export const errorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required property is missing';
      return `expected ${ARTICLES[issue.expected] ?? issue.expected}, got ${show(issue.input)}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => show(v));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      return `expected ${expected}, got ${show(issue.input)}`;
    }
    case 'too_small':
      if (issue.origin === 'array' && Array.isArray(issue.input)) {
        const got = issue.input.length === 0 ? 'an empty array' : entries(issue.input.length);
        return `expected at least ${entries(Number(issue.minimum))}, got ${got}`;
      }
      return undefined;
    case 'invalid_format':
      if (issue.format === 'regex' && issue.pattern !== undefined) {
        return `expected a string matching ${issue.pattern}, got ${show(issue.input)}`;
      }
      return undefined;
    default:
      return undefined;
  }
};
