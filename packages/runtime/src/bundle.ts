import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TsociError } from '@ts-oci/spec/errors';

/** A bundle directory that cannot be used as asked. */
export class BundleError extends TsociError {
  static readonly EXISTS = 'EBUNDLE_CONFIG_EXISTS';
  static readonly NOT_FOUND = 'EBUNDLE_NOT_FOUND';
}

/**
 * Writes the default `config.json` (what `runc spec` writes) into `bundleDir`.
 * Never overwrites: the file is created with O_EXCL, so a concurrent writer or
 * an existing config makes this fail instead of losing the user's file.
 */
export async function writeDefaultConfig(
  bundleDir: string,
  opts: { rootless?: boolean } = {},
): Promise<string> {
  const path = join(bundleDir, 'config.json');
  const { defaultConfig } = await import('@ts-oci/spec');
  const text = `${JSON.stringify(defaultConfig({ rootless: opts.rootless === true }), null, '\t')}\n`;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o666);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new BundleError(BundleError.EXISTS, `${path} exists: remove it first`, { cause: err });
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new BundleError(BundleError.NOT_FOUND, `bundle directory ${bundleDir} does not exist`, {
        cause: err,
      });
    }
    throw new BundleError('EBUNDLE_IO', `cannot create ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    await handle.writeFile(text);
    await handle.close();
  } catch (err) {
    // Leave no half-written config behind: the file is ours, we just created it.
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw new BundleError('EBUNDLE_IO', `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return path;
}
