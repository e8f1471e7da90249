// Writes dist/features.template, from which the native front end prints
// `tsoci features` without starting Node (crates/tsoci-cli/src/features.rs).
//
// The tables stay in TypeScript: the template is @ts-oci/runtime's
// `features.template()` (the document with its host facts null, and every
// capability with its number), plus what the front end cannot learn without
// libseccomp: the version and architectures of the libseccomp the runtime's
// addon loaded, with that file's identity (path, device, inode, size,
// mtime). The front end uses them only when dlopen of the same soname finds
// that very file; it probes the seccomp flags and reads cap_last_cap itself.
//
// Format: one header line `tsoci-features-template 1 <cli version>
// <FNV-1a 64 of the rest>`, then the JSON body. Anything the front end does
// not recognise makes it hand `features` to Node, so a failure here only
// costs speed: it leaves a warning and no template, as build-snapshot does.
import { readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { features } from '@ts-oci/runtime';
import { fnv1a64 } from './build-snapshot.mjs';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(pkg, 'dist', 'features.template');
export const FORMAT = 'tsoci-features-template 1';
const LIBSECCOMP_VERSION = 'io.github.seccomp.libseccomp.version';

/** The one libseccomp mapped into this process (after the addon loaded it). */
function mappedLibseccomp() {
  const paths = new Set(
    readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .map((line) => line.replace(/^(\S+\s+){5}/, ''))
      .filter((p) => p.startsWith('/') && /^libseccomp\.so\.\d+(\.|$)/.test(basename(p))),
  );
  if (paths.size !== 1) {
    throw new Error(
      `expected one libseccomp mapped, found ${paths.size}: ${[...paths].join(', ')}`,
    );
  }
  const path = realpathSync([...paths][0]);
  // libtool's names: the soname libseccomp.so.<major> links to libseccomp.so.<major>.<minor>.<micro>.
  const soname = /^(libseccomp\.so\.\d+)/.exec(basename(path))?.[1];
  const st = statSync(path, { bigint: true });
  return {
    soname,
    path,
    dev: String(st.dev),
    ino: String(st.ino),
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
  };
}

export async function templateText(version) {
  const t = await features.template();
  // The host facts of the libseccomp this process now has loaded.
  const doc = await features();
  const body = {
    document: t.document,
    capabilities: t.capabilities,
    libseccomp: {
      ...mappedLibseccomp(),
      version: doc.annotations?.[LIBSECCOMP_VERSION],
      archs: doc.linux?.seccomp?.archs,
    },
  };
  const text = `${JSON.stringify(body)}\n`;
  return `${FORMAT} ${version} ${fnv1a64(Buffer.from(text))}\n${text}`;
}

async function main() {
  rmSync(out, { force: true });
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const tmp = `${out}.tmp`;
  writeFileSync(tmp, await templateText(version));
  renameSync(tmp, out);
  console.log('build-features: dist/features.template');
}

if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  try {
    await main();
  } catch (err) {
    rmSync(out, { force: true });
    rmSync(`${out}.tmp`, { force: true });
    console.warn(
      `build-features: no features template (tsoci features runs in Node): ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
}
