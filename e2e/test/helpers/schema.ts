import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './runtime.js';

/** Where the project keeps the runtime-spec copy (shared/ beside the repository). */
export const runtimeSpecDir = path.resolve(repoRoot, '../shared/specs/runtime-spec-v1.3.0');

interface StateSchema {
  required: string[];
  statusEnum: string[];
}

// Used when shared/ is not beside the checkout; the values are those of
// runtime-spec v1.3.0 schema/state-schema.json.
const FALLBACK: StateSchema = {
  required: ['ociVersion', 'id', 'status', 'bundle'],
  statusEnum: ['creating', 'created', 'running', 'stopped'],
};

export function loadStateSchema(): StateSchema {
  const p = path.join(runtimeSpecDir, 'schema/state-schema.json');
  if (!existsSync(p)) return FALLBACK;
  const raw = JSON.parse(readFileSync(p, 'utf8')) as {
    required: string[];
    properties: { status: { enum: string[] } };
  };
  return { required: raw.required, statusEnum: raw.properties.status.enum };
}

/**
 * Checks a state document against the runtime-spec state schema (required
 * fields, types, the status enum) and the Linux rule that pid is present while
 * created or running. Returns the list of violations, empty when it conforms.
 */
export function stateViolations(doc: unknown): string[] {
  const schema = loadStateSchema();
  const errs: string[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return ['not an object'];
  const s = doc as Record<string, unknown>;
  for (const k of schema.required) if (!(k in s)) errs.push(`missing required "${k}"`);
  for (const k of ['ociVersion', 'id', 'status', 'bundle']) {
    if (k in s && typeof s[k] !== 'string') errs.push(`"${k}" is not a string`);
  }
  if (typeof s.status === 'string' && !schema.statusEnum.includes(s.status)) {
    errs.push(`status "${s.status}" is not one of ${schema.statusEnum.join(',')}`);
  }
  if ('pid' in s && (!Number.isInteger(s.pid) || (s.pid as number) < 0)) {
    errs.push('"pid" is not a non-negative integer');
  }
  if (
    (s.status === 'created' || s.status === 'running') &&
    !(typeof s.pid === 'number' && s.pid > 0)
  ) {
    errs.push(`"pid" must be a positive integer while ${s.status}`);
  }
  if ('annotations' in s) {
    const a = s.annotations;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) {
      errs.push('"annotations" is not an object');
    } else {
      for (const [k, v] of Object.entries(a)) {
        if (typeof v !== 'string') errs.push(`annotation "${k}" is not a string`);
      }
    }
  }
  if (typeof s.bundle === 'string' && !path.isAbsolute(s.bundle)) {
    errs.push('"bundle" is not an absolute path');
  }
  return errs;
}
