import { TsociError } from '@ts-oci/spec/errors';

/**
 * One problem with the rootfs part of a config: `path` is the JSON path in
 * config.json (`mounts[2].destination`), or `bundleDir` for the option of that
 * name. Structurally a `SpecIssue`, so callers can merge both kinds of list.
 */
export interface RootfsIssue {
  path: string;
  message: string;
}

/** Renders issues the way every tsoci validation error does: `path: message`. */
export function formatIssue(issue: RootfsIssue): string {
  return `${issue.path === '' ? '(root)' : issue.path}: ${issue.message}`;
}

/**
 * The config cannot be turned into a rootfs plan. Carries every problem found,
 * not only the first, so that one run of `tsoci create` shows them all.
 */
export class RootfsPlanError extends TsociError {
  static readonly CODE = 'EROOTFS_PLAN';
  readonly issues: readonly RootfsIssue[];

  constructor(issues: readonly RootfsIssue[], options?: { cause?: unknown }) {
    const lines = issues.map(formatIssue);
    const message =
      lines.length === 1
        ? `invalid root filesystem configuration: ${lines[0]}`
        : `invalid root filesystem configuration (${lines.length} problems):\n  ${lines.join('\n  ')}`;
    super(RootfsPlanError.CODE, message, options);
    this.issues = issues;
  }
}
