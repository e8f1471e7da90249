/**
 * Platforms (image-index.md `platform`): the host's, and choosing the best
 * manifest of an index for a wanted one.
 */
import { endianness } from 'node:os';
import type { Descriptor } from '@ts-oci/spec';
import type { PlatformSelector } from './source.js';

/** Node's `process.arch` → GOARCH, the vocabulary of image-index.md. */
const ARCHITECTURES: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** The platform this process runs on, as an image index names it. */
export function hostPlatform(): PlatformSelector {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  let architecture = ARCHITECTURES[process.arch] ?? process.arch;
  if (process.arch === 'ppc64' && endianness() === 'BE') architecture = 'ppc64';
  const platform: PlatformSelector = { os, architecture };
  if (process.arch === 'arm') {
    const vars = (process.config as { variables?: Record<string, unknown> }).variables;
    const armVersion = vars?.arm_version;
    platform.variant = `v${typeof armVersion === 'string' || typeof armVersion === 'number' ? armVersion : '7'}`;
  } else if (process.arch === 'arm64') {
    platform.variant = 'v8';
  }
  return platform;
}

/** Normalises spellings image-index.md and containerd treat as equal. */
function normalize(p: { os: string; architecture: string; variant?: string | undefined | null }): {
  os: string;
  architecture: string;
  variant: string;
} {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  if (architecture === 'aarch64') architecture = 'arm64';
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64';
  if (architecture === 'i386') architecture = '386';
  if (architecture === 'armhf') {
    architecture = 'arm';
    variant = 'v7';
  }
  if (architecture === 'armel') {
    architecture = 'arm';
    variant = 'v6';
  }
  if (architecture === 'arm64' && (variant === '8' || variant === 'v8')) variant = '';
  if (architecture === 'amd64' && variant === 'v1') variant = '';
  if (architecture === 'arm' && /^[5-8]$/.test(variant)) variant = `v${variant}`;
  return { os, architecture, variant };
}

/**
 * How well `candidate` serves `wanted`: 0 = not at all; higher is better.
 * An arm v7 host can run v6 and v5 images (less preferred), as containerd's
 * matcher allows; an unspecified variant is accepted after the exact one.
 */
export function platformScore(
  wanted: PlatformSelector,
  candidate: { os: string; architecture: string; variant?: string | undefined | null },
): number {
  const w = normalize(wanted);
  const c = normalize(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return 0;
  if (w.variant === c.variant) return 100;
  if (c.variant === '') return 50;
  if (w.variant === '') return 40;
  if (w.architecture === 'arm') {
    const wv = Number(w.variant.slice(1));
    const cv = Number(c.variant.slice(1));
    if (Number.isInteger(wv) && Number.isInteger(cv) && cv < wv) return 10 + cv;
  }
  return 0;
}

export function formatPlatform(p: {
  os: string;
  architecture: string;
  variant?: string | undefined | null;
}): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * The best manifest of `manifests` for `wanted`; entries without a platform
 * never match (they may be attestations or other artifacts). First wins among
 * equals, as the index order expresses preference.
 */
export function selectPlatform(
  manifests: readonly Descriptor[],
  wanted: PlatformSelector,
): Descriptor | undefined {
  let best: Descriptor | undefined;
  let bestScore = 0;
  for (const d of manifests) {
    if (d.platform === undefined) continue;
    const score = platformScore(wanted, d.platform);
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best;
}
