/**
 * Image references with transport prefixes, as skopeo spells them:
 *
 *   oci:DIR[:TAG]                 an OCI image layout directory
 *   oci-archive:FILE[:TAG]        a tar (optionally gzip/zstd) of a layout
 *   docker-archive:FILE[:NAME:TAG | :@N]   a `docker save` archive
 *
 * Other transports (the registry's `docker://`) plug in with
 * `registerTransport`. As in skopeo, the path ends at the first ':'.
 */
import { ImageError } from '../errors.js';
import type { ImageSource } from '../source.js';
import { ArchiveFiles } from './archive.js';
import { DockerArchiveSource } from './docker-archive.js';
import { DirFiles } from './files.js';
import { OciLayoutSource } from './oci-layout.js';

export interface TransportReference {
  transport: string;
  /** Everything after `transport:`. */
  rest: string;
  /** For file transports: the directory or archive. */
  path?: string;
  /** For oci/oci-archive: the ref.name; for docker-archive: NAME:TAG. */
  tag?: string;
  /** For docker-archive: `@N`. */
  index?: number;
}

/** Opens the rest of a reference (everything after `transport:`) as a source. */
export type TransportOpener = (rest: string) => Promise<ImageSource>;

const transports = new Map<string, TransportOpener>([
  // `docker://[registry/]repository[:tag|@digest]`: the registry client,
  // loaded on first use. Re-register 'docker' to pass client options
  // (credentials, plain http, …).
  [
    'docker',
    async (rest: string) => {
      if (!rest.startsWith('//')) {
        throw new ImageError(
          'EIMAGE_REFERENCE',
          `docker transport references look like docker://REPOSITORY[:TAG], got docker:${rest}`,
        );
      }
      const { RegistryClient, RegistrySource } = await import('../registry/index.js');
      return new RegistrySource(new RegistryClient(), rest.slice(2));
    },
  ],
]);

/** Adds (or replaces) a transport, e.g. `registerTransport('docker', openRegistry)` for `docker://…`. */
export function registerTransport(name: string, opener: TransportOpener): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || BUILTIN.includes(name)) {
    throw new ImageError('EIMAGE_REFERENCE', `cannot register transport ${JSON.stringify(name)}`);
  }
  transports.set(name, opener);
}

const BUILTIN = ['oci', 'oci-archive', 'docker-archive'];

/**
 * Whether `ref` starts with a transport this package opens (`oci:`,
 * `oci-archive:`, `docker-archive:` or a registered one, `docker:` included),
 * as opposed to a bare image name such as `busybox:1.36` or `host:5000/app`.
 */
export function isTransportReference(ref: string): boolean {
  const m = /^([a-z][a-z0-9-]*):/.exec(ref);
  if (m === null) return false;
  const name = m[1] as string;
  return BUILTIN.includes(name) || transports.has(name);
}

/** Splits a reference into its parts (no I/O). */
export function parseImageReference(ref: string): TransportReference {
  const colon = ref.indexOf(':');
  if (colon <= 0) {
    throw new ImageError(
      'EIMAGE_REFERENCE',
      `image reference ${JSON.stringify(ref)} has no transport (use oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG]${transports.size > 0 ? `, ${[...transports.keys()].map((t) => `${t}:…`).join(', ')}` : ''})`,
    );
  }
  const transport = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  if (!BUILTIN.includes(transport)) {
    if (!transports.has(transport)) {
      throw new ImageError(
        'EIMAGE_REFERENCE',
        `unknown transport ${JSON.stringify(transport)} in ${JSON.stringify(ref)}`,
      );
    }
    return { transport, rest };
  }
  const sep = rest.indexOf(':');
  const path = sep === -1 ? rest : rest.slice(0, sep);
  const selector = sep === -1 ? undefined : rest.slice(sep + 1);
  if (path === '')
    throw new ImageError('EIMAGE_REFERENCE', `image reference ${JSON.stringify(ref)} has no path`);
  const out: TransportReference = { transport, rest, path };
  if (selector === undefined || selector === '') return out;
  if (transport === 'docker-archive' && selector.startsWith('@')) {
    const n = Number(selector.slice(1));
    if (!Number.isInteger(n) || n < 0 || selector.length < 2) {
      throw new ImageError(
        'EIMAGE_REFERENCE',
        `invalid image index ${JSON.stringify(selector)} in ${JSON.stringify(ref)}`,
      );
    }
    out.index = n;
    return out;
  }
  out.tag = selector;
  return out;
}

/** Opens any image reference as an ImageSource. Close it when done. */
export async function openImageSource(ref: string): Promise<ImageSource> {
  const parsed = parseImageReference(ref);
  const opener = transports.get(parsed.transport);
  if (opener !== undefined) return opener(parsed.rest);
  const path = parsed.path as string;
  switch (parsed.transport) {
    case 'oci':
      return new OciLayoutSource(new DirFiles(path), ref, parsed.tag);
    case 'oci-archive':
      return new OciLayoutSource(await ArchiveFiles.open(path), ref, parsed.tag);
    default: {
      const selector: { name?: string; index?: number } = {};
      if (parsed.tag !== undefined) selector.name = parsed.tag;
      if (parsed.index !== undefined) selector.index = parsed.index;
      return new DockerArchiveSource(await ArchiveFiles.open(path), ref, selector);
    }
  }
}
