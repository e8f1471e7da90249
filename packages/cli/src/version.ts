import { OCI_RUNTIME_SPEC_VERSION } from '@ts-oci/spec/tables';

declare const __TSOCI_COMMIT__: string;

// Replaced at build time by tsup; vitest runs the sources, where it is absent.
const COMMIT = typeof __TSOCI_COMMIT__ === 'string' ? __TSOCI_COMMIT__ : 'unknown';

export const TSOCI_VERSION = '0.1.0';

/**
 * runc's shape: `<name> version X`, then `key: value` lines that go-runc
 * parses. The native front end (crates/tsoci-cli) prints the same text.
 */
export function versionText(): string {
  return [
    `tsoci version ${TSOCI_VERSION}`,
    `commit: ${COMMIT}`,
    `spec: ${OCI_RUNTIME_SPEC_VERSION}`,
  ].join('\n');
}
