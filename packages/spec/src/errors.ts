/**
 * The root of tsoci's error hierarchy. Every failure any package reports is a
 * TsociError (or a subclass) carrying a stable `code`, so that callers and the
 * CLI can branch on codes instead of message text. Messages name the object
 * that was wrong: a JSON path, a container id, a file.
 */
export class TsociError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found in a document: where (a JSON path such as `linux.resources.memory.limit`) and what. */
export interface SpecIssue {
  path: string;
  message: string;
}

/**
 * A document (config.json, state, manifest, …) that is not valid JSON or does
 * not satisfy its schema. Lists every problem, not only the first.
 */
export class SpecValidationError extends TsociError {
  static readonly CODE = 'ESPEC_INVALID';
  readonly document: string;
  readonly issues: readonly SpecIssue[];

  /** The message lists at most this many issues (`issues` always has all of them). */
  static readonly MAX_LISTED = 100;

  constructor(document: string, issues: readonly SpecIssue[], options?: { cause?: unknown }) {
    // A hostile document can have a million problems; keep the message printable.
    const listed = issues.slice(0, SpecValidationError.MAX_LISTED);
    const lines = listed.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`);
    if (issues.length > listed.length) lines.push(`… and ${issues.length - listed.length} more`);
    const summary =
      issues.length === 1
        ? `invalid ${document}: ${lines[0]}`
        : `invalid ${document}:\n  ${lines.join('\n  ')}`;
    super(SpecValidationError.CODE, summary, options);
    this.document = document;
    this.issues = issues;
  }
}

/**
 * Renders a value for an error message ("got …") without walking into it or
 * throwing: every package's messages describe bad input the same way.
 */
export { show as describeValue } from './internal/show.js';
