import { fileURLToPath } from 'node:url';

/**
 * Where tsoci-init is: `$TSOCI_INIT` when set (tests, packagers), else the
 * binary shipped in this package's native/ directory (same relative path from
 * src/ and dist/).
 */
export function initBinaryPath(): string {
  return process.env.TSOCI_INIT ?? fileURLToPath(new URL('../native/tsoci-init', import.meta.url));
}
