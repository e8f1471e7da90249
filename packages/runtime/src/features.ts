import { NAMESPACE_KINDS } from '@ts-oci/namespaces';
import type { Features } from '@ts-oci/spec';
import { OCI_RUNTIME_SPEC_VERSION } from '@ts-oci/spec/tables';
import { CAPABILITY_NUMBERS, hostLastCap } from './kernel-tables.js';
import { seccompTables } from './native.js';

export { lastCapFromText } from './kernel-tables.js';

/** The oldest config version tsoci runs (the 1.0 series is compatible with 1.3). */
export const OCI_VERSION_MIN = '1.0.0';

/** The annotation that names the linked libseccomp's version. */
const LIBSECCOMP_VERSION = 'io.github.seccomp.libseccomp.version';

/** What `features` learns from this host rather than from the code's tables. */
export interface FeaturesHostFacts {
  /** The last capability number this kernel knows (see {@link lastCapFromText}). */
  capLastCap: number;
  /** Architectures the linked libseccomp can put into a filter. */
  seccompArchs: readonly string[];
  /** seccomp(2) filter flags this kernel accepts (the probe of tsoci-seccomp). */
  seccompSupportedFlags: readonly string[];
  /** The linked libseccomp's version. */
  libseccompVersion: string;
}

async function documentTemplate() {
  // Loaded here, not at import: `@ts-oci/runtime`'s hot paths must not pay for them.
  const [{ cgroupFeatures }, { HOOK_KIND_NAMES }, { MOUNT_OPTIONS }] = await Promise.all([
    import('@ts-oci/cgroups'),
    import('@ts-oci/hooks'),
    import('@ts-oci/rootfs'),
  ]);
  const seccomp = seccompTables();
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_RUNTIME_SPEC_VERSION,
    hooks: [...HOOK_KIND_NAMES],
    mountOptions: Object.keys(MOUNT_OPTIONS).sort(),
    linux: {
      namespaces: [...NAMESPACE_KINDS],
      capabilities: null as string[] | null,
      cgroup: { ...cgroupFeatures() },
      seccomp: {
        enabled: true,
        actions: [...seccomp.supportedActions],
        operators: [...seccomp.operators],
        archs: null as string[] | null,
        knownFlags: [...seccomp.knownFlags],
        supportedFlags: null as string[] | null,
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
      netDevices: { enabled: false },
    },
    annotations: {
      [LIBSECCOMP_VERSION]: null as string | null,
    },
    potentiallyUnsafeConfigAnnotations: [] as string[],
  };
}

/**
 * The host-independent part of the features document, and what is needed to
 * apply the host facts. The native front end prints `tsoci features` from a
 * copy of it made at build time (`dist/features.template`), so the tables
 * are typed once, here.
 */
export interface FeaturesTemplate {
  /**
   * The document with every host fact `null`, in its place:
   * `linux.capabilities`, `linux.seccomp.archs`, `linux.seccomp.supportedFlags`
   * and the `io.github.seccomp.libseccomp.version` annotation.
   */
  document: Awaited<ReturnType<typeof documentTemplate>>;
  /** Every capability of the planner's table with its number, in kernel order. */
  capabilities: Array<[name: string, number: number]>;
}

async function template(): Promise<FeaturesTemplate> {
  return {
    document: await documentTemplate(),
    capabilities: Object.entries(CAPABILITY_NUMBERS).sort(([, a], [, b]) => a - b),
  };
}

function hostFacts(): FeaturesHostFacts {
  const seccomp = seccompTables();
  return {
    capLastCap: hostLastCap(),
    seccompArchs: seccomp.supportedArchs,
    seccompSupportedFlags: seccomp.supportedFlags,
    libseccompVersion: seccomp.libseccompVersion,
  };
}

/** The features document: `t` with the host facts `h` in their places. */
export function applyHostFacts(t: FeaturesTemplate, h: FeaturesHostFacts): Features {
  // A deep copy whose keys keep their order: the CLI prints it as is.
  const doc = structuredClone(t.document);
  doc.linux.capabilities = t.capabilities.filter(([, n]) => n <= h.capLastCap).map(([c]) => c);
  doc.linux.seccomp.archs = [...h.seccompArchs];
  doc.linux.seccomp.supportedFlags = [...h.seccompSupportedFlags];
  doc.annotations[LIBSECCOMP_VERSION] = h.libseccompVersion;
  // The seccomp tables come from the native compiler as plain strings; the
  // test parses this document with parseFeatures, which checks every value.
  return doc as unknown as Features;
}

/**
 * The runtime-spec features document (features.md), built from the tables the
 * code itself uses — the planner's capability numbers, the mount option table
 * of @ts-oci/rootfs, the seccomp compiler's supported actions, arches and
 * flags, the cgroup drivers, the hook kinds — so it never claims what is not
 * implemented. Engines feature-detect from it.
 *
 * `features.template()` is its host-independent part (see
 * {@link FeaturesTemplate}); `features()` is that template with this host's
 * facts applied.
 */
export async function features(): Promise<Features> {
  return applyHostFacts(await template(), hostFacts());
}
features.template = template;
