/**
 * Overlay mounts of unpacked layers (the overlay2 way), done with the
 * util-linux `mount`/`umount` programs by default: Node has no mount(2), and
 * this package has no native addon. A caller with one passes an
 * {@link OverlayMounter} (the option string, {@link overlayOptions}, is the
 * same).
 *
 * Lower directories are passed relative to `cwd` (the store's short `l/…`
 * links), as Docker's overlay2 driver does, so that many layers fit in the
 * one page the kernel accepts for mount options.
 */
import { spawn } from 'node:child_process';
import { ImageError } from './errors.js';

/** The kernel copies at most one page of mount options. */
const MAX_OPTIONS = 4095;

export interface OverlayMountSpec {
  /** Lower directories, top-most first (relative to `cwd`, or absolute). */
  lower: readonly string[];
  upper: string;
  work: string;
  target: string;
  /** Working directory of the mount call (what relative lowers are relative to). */
  cwd?: string;
}

function run(
  command: string,
  args: string[],
  cwd?: string,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ImageError(
          'EIMAGE_OVERLAY',
          error.code === 'ENOENT'
            ? `${command} is not installed (util-linux)`
            : `${command}: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    child.on('close', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}

function checkPath(path: string, what: string): void {
  if (/[,:\n]/.test(path) || path === '') {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      `${what} ${JSON.stringify(path)} cannot be used in overlay options (contains ',' or ':')`,
    );
  }
}

/** The `-o` option string for an overlay mount. */
export function overlayOptions(spec: OverlayMountSpec): string {
  if (spec.lower.length === 0)
    throw new ImageError('EIMAGE_OVERLAY', 'an overlay needs at least one lower directory');
  for (const l of spec.lower) checkPath(l, 'lower directory');
  checkPath(spec.upper, 'upper directory');
  checkPath(spec.work, 'work directory');
  const options = `lowerdir=${spec.lower.join(':')},upperdir=${spec.upper},workdir=${spec.work}`;
  if (Buffer.byteLength(options) > MAX_OPTIONS) {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      `overlay mount options are ${Buffer.byteLength(options)} bytes, more than the kernel's ${MAX_OPTIONS} (too many layers: ${spec.lower.length})`,
    );
  }
  return options;
}

export async function mountOverlay(spec: OverlayMountSpec): Promise<void> {
  const options = overlayOptions(spec);
  const { code, stderr } = await run(
    'mount',
    ['-t', 'overlay', 'overlay', '-o', options, spec.target],
    spec.cwd,
  );
  if (code !== 0) {
    throw new ImageError(
      'EIMAGE_OVERLAY',
      `mounting the overlay on ${spec.target} failed: ${stderr || `mount exited with ${code}`}`,
    );
  }
}

/** Unmounts `target`; a path that is not a mount point is fine. */
export async function unmount(target: string): Promise<void> {
  const { code, stderr } = await run('umount', [target]);
  if (code === 0 || /not mounted|no mount point/i.test(stderr)) return;
  throw new ImageError(
    'EIMAGE_OVERLAY',
    `unmounting ${target} failed: ${stderr || `umount exited with ${code}`}`,
  );
}

/**
 * How bundles get their overlay mounted and unmounted. The default runs
 * util-linux's mount(8)/umount(8), since this package has no native code; a
 * program with a native addon passes its own (`@ts-oci/runtime`'s
 * `overlayMounter` mounts in-process, ≈ 5 ms less per bundle than starting
 * mount(8)). `unmount` of a path that is not a mount point must succeed.
 */
export interface OverlayMounter {
  mount(spec: OverlayMountSpec): Promise<void>;
  unmount(target: string): Promise<void>;
}

/** The default {@link OverlayMounter}: mount(8) and umount(8). */
export const utilLinuxMounter: OverlayMounter = { mount: mountOverlay, unmount };
