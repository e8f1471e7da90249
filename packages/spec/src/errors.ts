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

  constructor(document: string, issues: readonly SpecIssue[], options?: { cause?: unknown }) {
    const lines = issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`);
    const summary =
      issues.length === 1 ? `invalid ${document}: ${lines[0]}` : `invalid ${document}:\n  ${lines.join('\n  ')}`;
    super(SpecValidationError.CODE, summary, options);
    this.document = document;
    this.issues = issues;
  }
}
