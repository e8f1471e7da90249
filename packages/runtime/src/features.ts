import { readFileSync } from 'node:fs';
import { NAMESPACE_KINDS } from '@ts-oci/namespaces';
import type { Features } from '@ts-oci/spec';
import { OCI_RUNTIME_SPEC_VERSION } from '@ts-oci/spec/tables';
import { CAPABILITY_NUMBERS } from './kernel-tables.js';
import { seccompTables } from './native.js';

/** The oldest config version tsoci runs (the 1.0 series is compatible with 1.3). */
export const OCI_VERSION_MIN = '1.0.0';

function capLastCap(): number {
  try {
    return Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10);
  } catch {
    return Math.max(...Object.values(CAPABILITY_NUMBERS));
  }
}

/**
 * The runtime-spec features document (features.md), built from the tables the
 * code itself uses — the planner's capability numbers, the mount option table
 * of @ts-oci/rootfs, the seccomp compiler's supported actions, arches and
 * flags, the cgroup drivers, the hook kinds — so it never claims what is not
 * implemented. Engines feature-detect from it.
 */
export async function features(): Promise<Features> {
  // Loaded here, not at import: `@ts-oci/runtime`'s hot paths must not pay for them.
  const [{ cgroupFeatures }, { HOOK_KIND_NAMES }, { MOUNT_OPTIONS }] = await Promise.all([
    import('@ts-oci/cgroups'),
    import('@ts-oci/hooks'),
    import('@ts-oci/rootfs'),
  ]);
  const seccomp = seccompTables();
  const lastCap = capLastCap();
  const doc = {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_RUNTIME_SPEC_VERSION,
    hooks: [...HOOK_KIND_NAMES],
    mountOptions: Object.keys(MOUNT_OPTIONS).sort(),
    linux: {
      namespaces: [...NAMESPACE_KINDS],
      capabilities: Object.entries(CAPABILITY_NUMBERS)
        .filter(([, n]) => n <= lastCap)
        .map(([name]) => name),
      cgroup: { ...cgroupFeatures() },
      seccomp: {
        enabled: true,
        actions: [...seccomp.supportedActions],
        operators: [...seccomp.operators],
        archs: [...seccomp.supportedArchs],
        knownFlags: [...seccomp.knownFlags],
        supportedFlags: [...seccomp.supportedFlags],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
      netDevices: { enabled: false },
    },
    annotations: {
      'io.github.seccomp.libseccomp.version': seccomp.libseccompVersion,
    },
    potentiallyUnsafeConfigAnnotations: [],
  };
  // The seccomp tables come from the native compiler as plain strings; the
  // test parses this document with parseFeatures, which checks every value.
  return doc as unknown as Features;
}
