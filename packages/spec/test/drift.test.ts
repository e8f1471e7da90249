/**
 * Drift test: the official JSON schemas, compiled with ajv, are the oracle.
 * Thousands of mutated documents (of the specs' examples, their good
 * fixtures and kitchen-sink documents) go through both ajv and our zod
 * schemas, and the two must agree, except where this file documents a
 * deliberate difference: a rule the spec's prose states and the schema does
 * not (zod stricter), or a schema defect or prose allowance (zod looser).
 * Every such case is listed in DIFFERENCES with its reason and a concrete
 * example, and every divergence seen during the run must be explained by one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ImageConfigSchema } from '../src/image/config.js';
import { DescriptorSchema } from '../src/image/descriptor.js';
import { IndexSchema } from '../src/image/image-index.js';
import { ImageLayoutSchema } from '../src/image/layout.js';
import { ManifestSchema } from '../src/image/manifest.js';
import { type RuledIssue, validateWith } from '../src/parse.js';
import { ConfigSchema } from '../src/runtime/config.js';
import { FeaturesSchema } from '../src/runtime/features.js';
import { StateSchema } from '../src/runtime/state.js';
import { applyAll, FUZZ_SEED, scriptArb, sweep } from './helpers/mutate.js';
import {
  configSeeds,
  descriptorSeeds,
  featuresSeeds,
  imageConfigSeeds,
  indexSeeds,
  kitchenSinkConfig,
  layoutSeeds,
  manifestSeeds,
  otherPlatformConfigs,
  stateSeeds,
} from './helpers/seeds.js';
import { type Json, type OracleKind, oracle } from './helpers/specs.js';

const SCHEMAS: Record<OracleKind, z.ZodType> = {
  config: ConfigSchema,
  state: StateSchema,
  features: FeaturesSchema,
  descriptor: DescriptorSchema,
  manifest: ManifestSchema,
  index: IndexSchema,
  imageConfig: ImageConfigSchema,
  layout: ImageLayoutSchema,
};

const SEEDS: Record<OracleKind, () => Json[]> = {
  config: configSeeds,
  state: stateSeeds,
  features: featuresSeeds,
  descriptor: descriptorSeeds,
  manifest: manifestSeeds,
  index: indexSeeds,
  imageConfig: imageConfigSeeds,
  layout: layoutSeeds,
};

/** Mutated documents per kind; config is the big one. */
const RUNS: Record<OracleKind, number> = {
  config: 4000,
  state: 800,
  features: 800,
  descriptor: 800,
  manifest: 1200,
  index: 1000,
  imageConfig: 1200,
  layout: 200,
};

// ---------------------------------------------------------------------------
// Where zod and the JSON schemas deliberately differ.

interface Difference {
  id: string;
  kinds: readonly OracleKind[];
  direction: 'zod-stricter' | 'zod-looser';
  reason: string;
  /** zod-stricter: this zod issue is due to the difference. */
  explainsIssue?: (issue: RuledIssue, doc: Json) => boolean;
  /** zod-looser: this ajv error is due to the difference. */
  explainsError?: (error: ErrorObject, doc: Json) => boolean;
  example: Json;
}

const SHA = 'sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b';
const MINIMAL = { ociVersion: '1.3.0', root: { path: 'rootfs' } };
const PROCESS = { cwd: '/', args: ['sh'], user: { uid: 0, gid: 0 } };
const descriptor = (extra: object = {}) => ({
  mediaType: 'application/octet-stream',
  digest: SHA,
  size: 1,
  ...extra,
});
const manifest = (extra: object = {}) => ({
  schemaVersion: 2,
  config: descriptor(),
  layers: [descriptor()],
  ...extra,
});
const imageConfig = (extra: object = {}) => ({
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: [SHA] },
  ...extra,
});

/** A rule from the spec's prose that the schema does not state; its issues are tagged with the id. */
function prose(
  id: string,
  kinds: readonly OracleKind[],
  reason: string,
  example: Json,
): Difference {
  return {
    id,
    kinds,
    direction: 'zod-stricter',
    reason,
    explainsIssue: (issue) => issue.rule === id,
    example,
  };
}

function valueAt(doc: Json, segments: readonly (string | number)[]): unknown {
  let node: unknown = doc;
  for (const s of segments) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[s];
  }
  return node;
}

function startsWith(segments: readonly (string | number)[], prefix: readonly (string | number)[]) {
  return prefix.every((p, i) => segments[i] === p);
}

const DIFFERENCES: readonly Difference[] = [
  prose(
    'semver',
    ['config', 'state', 'features'],
    'config.md: ociVersion MUST be SemVer 2.0.0; the schema only asks for a string',
    { ...MINIMAL, ociVersion: '1.0' },
  ),
  prose(
    'annotation-key',
    ['config', 'state', 'features'],
    'config.md#annotations: keys MUST NOT be empty; mapStringString does not constrain the empty key at all',
    { ...MINIMAL, annotations: { '': 'x' } },
  ),
  prose(
    'root-required',
    ['config'],
    'config.md#root: root is REQUIRED on every platform but Windows; the schema makes it optional',
    { ociVersion: '1.3.0' },
  ),
  prose(
    'process-args',
    ['config'],
    'config.md#process: args needs at least one entry on non-Windows platforms; the schema makes it optional',
    { ...MINIMAL, process: { cwd: '/', user: { uid: 0, gid: 0 } } },
  ),
  prose(
    'process-user',
    ['config'],
    'config.md#posix-platform-user: uid and gid are REQUIRED on POSIX platforms; the schema makes them optional',
    { ...MINIMAL, process: { ...PROCESS, user: { uid: 0 } } },
  ),
  prose(
    'absolute-path',
    ['config', 'state'],
    'process.cwd, hook paths, namespace paths, masked/readonly paths and the state bundle MUST be absolute; the schema has plain strings',
    { ...MINIMAL, process: { ...PROCESS, cwd: 'relative' } },
  ),
  prose(
    'capability-name',
    ['config'],
    'config.md#linux-process: capabilities are capabilities(7) names; the config schema accepts any string, tsoci holds them to the CAP_[A-Z_]+ shape of features-linux.json',
    { ...MINIMAL, process: { ...PROCESS, capabilities: { bounding: ['chown'] } } },
  ),
  prose(
    'rlimit-unique',
    ['config'],
    'config.md#posix-process: duplicated rlimit types MUST be an error',
    {
      ...MINIMAL,
      process: {
        ...PROCESS,
        rlimits: [
          { type: 'RLIMIT_NOFILE', soft: 1, hard: 1 },
          { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 },
        ],
      },
    },
  ),
  prose(
    'io-priority',
    ['config'],
    'config.md#linux-process: ioPriority.priority is REQUIRED; the schema only requires class',
    { ...MINIMAL, process: { ...PROCESS, ioPriority: { class: 'IOPRIO_CLASS_BE' } } },
  ),
  prose(
    'mount-idmap-pair',
    ['config'],
    'config.md#posix-platform-mounts: uidMappings MUST be specified along with gidMappings and vice versa',
    { ...MINIMAL, mounts: [{ destination: '/x', uidMappings: [] }] },
  ),
  prose(
    'namespace-unique',
    ['config'],
    'config-linux.md#namespaces: duplicated namespace types MUST be an error',
    { ...MINIMAL, linux: { namespaces: [{ type: 'pid' }, { type: 'pid' }] } },
  ),
  prose(
    'device-numbers',
    ['config'],
    'config-linux.md#devices: major and minor are REQUIRED unless type is "p"; the schema makes them optional',
    { ...MINIMAL, linux: { devices: [{ type: 'c', path: '/dev/x' }] } },
  ),
  prose(
    'device-cgroup-type',
    ['config'],
    'config-linux.md#allowed-device-list: type is one of a, c, b; the schema has a plain string',
    { ...MINIMAL, linux: { resources: { devices: [{ allow: true, type: 'x' }] } } },
  ),
  prose(
    'device-cgroup-access',
    ['config'],
    'config-linux.md#allowed-device-list: access is a composition of r, w and m; the schema has a plain string',
    { ...MINIMAL, linux: { resources: { devices: [{ allow: true, access: 'rwx' }] } } },
  ),
  prose(
    'weight-device',
    ['config'],
    'config-linux.md#block-io: a weightDevice entry MUST set weight or leafWeight',
    { ...MINIMAL, linux: { resources: { blockIO: { weightDevice: [{ major: 8, minor: 0 }] } } } },
  ),
  prose(
    'throttle-rate',
    ['config'],
    'config-linux.md#block-io: throttle entries REQUIRE rate; the schema makes it optional',
    {
      ...MINIMAL,
      linux: { resources: { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0 }] } } },
    },
  ),
  prose(
    'seccomp-listener',
    ['config'],
    'config-linux.md#seccomp: listenerMetadata MUST NOT be set without listenerPath',
    { ...MINIMAL, linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'm' } } },
  ),
  prose(
    'memory-policy-mode',
    ['config'],
    'config-linux.md#memory-policy: mode is REQUIRED; the schema makes it optional',
    { ...MINIMAL, linux: { memoryPolicy: { nodes: '0' } } },
  ),
  prose(
    'personality-domain',
    ['config'],
    'config-linux.md#personality: domain is REQUIRED; the schema makes it optional',
    { ...MINIMAL, linux: { personality: {} } },
  ),
  prose(
    'state-pid',
    ['state'],
    'runtime.md#state: pid is REQUIRED on Linux while status is created or running',
    { ociVersion: '1.3.0', id: 'x', status: 'running', bundle: '/b' },
  ),
  prose(
    'features-version-order',
    ['features'],
    'features.md: ociVersionMax MUST NOT be less than ociVersionMin',
    { ociVersionMin: '1.2.0', ociVersionMax: '1.0.0' },
  ),
  prose(
    'digest-encoding',
    ['descriptor', 'manifest', 'index', 'imageConfig'],
    'descriptor.md#registered-algorithms: sha256/sha512 digests MUST be 64/128 lowercase hex digits; the schema only checks the generic grammar',
    descriptor({ digest: 'sha256:ABC' }),
  ),
  prose(
    'base64',
    ['descriptor', 'manifest', 'index'],
    'descriptor.md: data MUST be RFC 4648 base64; the schema\'s "media" keyword validates nothing',
    descriptor({ data: 'not base64!' }),
  ),
  prose(
    'manifest-media-type',
    ['manifest'],
    'manifest.md: a declared mediaType MUST be the OCI manifest type (Docker schema2 is accepted too: same document)',
    manifest({ mediaType: 'text/plain' }),
  ),
  prose(
    'artifact-type',
    ['manifest'],
    'manifest.md: artifactType MUST be set when config.mediaType is the empty media type',
    manifest({ config: descriptor({ mediaType: 'application/vnd.oci.empty.v1+json' }) }),
  ),
  prose(
    'index-media-type',
    ['index'],
    'image-index.md: a declared mediaType MUST be the OCI index type (Docker manifest lists are accepted too)',
    { schemaVersion: 2, manifests: [], mediaType: 'text/plain' },
  ),
  prose(
    'diff-id',
    ['imageConfig'],
    'config.md#layer-diffid: DiffIDs are digests; the schema has plain strings',
    imageConfig({ rootfs: { type: 'layers', diff_ids: ['layer1'] } }),
  ),
  {
    id: 'map-keys',
    kinds: ['config', 'state', 'features', 'descriptor', 'manifest', 'index', 'imageConfig'],
    direction: 'zod-stricter',
    reason:
      'string maps are written as patternProperties ".{1,}", which (unanchored, "." not matching line ends) leaves keys that are empty or only line terminators unconstrained; zod checks every value',
    explainsIssue: (issue) => {
      const last = issue.segments.at(-1);
      return typeof last === 'string' && /^[\n\r\u2028\u2029]*$/.test(last);
    },
    example: { ...MINIMAL, linux: { sysctl: { '\n': 1 } } },
  },
  {
    id: 'vm-iomems',
    kinds: ['config'],
    direction: 'zod-stricter',
    reason:
      'config-vm.json writes vm.hwConfig.iomems "items" in tuple form, so only the first entry is checked; config-vm.md means an array of entries',
    explainsIssue: (issue) =>
      startsWith(issue.segments, ['vm', 'hwConfig', 'iomems']) && Number(issue.segments[3]) >= 1,
    example: {
      ...MINIMAL,
      vm: { kernel: { path: '/k' }, hwConfig: { iomems: [{ firstMFN: 1, nrMFNs: 1 }, {}] } },
    },
  },
  {
    id: 'descriptor-platform',
    kinds: ['descriptor', 'manifest', 'index'],
    direction: 'zod-stricter',
    reason:
      'descriptor.md names platform as the descriptor extension for manifests; content-descriptor.json does not define it, tsoci checks it wherever it appears',
    explainsIssue: (issue) =>
      issue.segments.includes('platform') &&
      !(issue.segments[0] === 'manifests' && issue.segments[2] === 'platform'),
    example: descriptor({ platform: { os: 'linux' } }),
  },
  {
    id: 'index-descriptor',
    kinds: ['index'],
    direction: 'zod-stricter',
    reason:
      "image-index.md: manifests[] entries are descriptors, so their data and artifactType are checked as in any descriptor; the index schema's item schema omits them",
    explainsIssue: (issue) =>
      issue.segments[0] === 'manifests' &&
      (issue.segments[2] === 'data' || issue.segments[2] === 'artifactType'),
    example: { schemaVersion: 2, manifests: [descriptor({ artifactType: 'nope' })] },
  },
  {
    id: 'features-linux-extra',
    kinds: ['features'],
    direction: 'zod-stricter',
    reason:
      'features-linux.md defines linux.memoryPolicy and linux.intelRdt.schemata/monitoring; features-linux.json lacks them, so their types go unchecked there',
    explainsIssue: (issue) =>
      startsWith(issue.segments, ['linux', 'memoryPolicy']) ||
      startsWith(issue.segments, ['linux', 'intelRdt', 'schemata']) ||
      startsWith(issue.segments, ['linux', 'intelRdt', 'monitoring']),
    example: {
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.0.0',
      linux: { memoryPolicy: { modes: 1 } },
    },
  },
  {
    id: 'rfc3339',
    kinds: ['imageConfig'],
    direction: 'zod-stricter',
    reason:
      'config.md: created is RFC 3339 section 5.6; ajv-formats also accepts a whitespace separator and offsets without a colon (+0100, +01)',
    explainsIssue: (issue, doc) => {
      const value = valueAt(doc, issue.segments);
      return (
        issue.message.startsWith('expected an RFC 3339 date-time') &&
        typeof value === 'string' &&
        (/^\d{4}-\d\d-\d\d\s/.test(value) || /[+-]\d\d(\d\d)?$/.test(value))
      );
    },
    example: imageConfig({ created: '2015-10-31 22:22:56Z' }),
  },
  {
    id: 'uri-authority',
    kinds: ['descriptor', 'manifest', 'index'],
    direction: 'zod-stricter',
    reason:
      'urls[] are RFC 3986 URIs; ajv-formats\' uri expression begins the authority with "/?/", so "scheme://bad-authority" passes as "scheme:/" plus a path',
    explainsIssue: (issue, doc) => {
      const value = valueAt(doc, issue.segments);
      return (
        issue.message.startsWith('expected an RFC 3986 URI') &&
        typeof value === 'string' &&
        /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)
      );
    },
    example: descriptor({ urls: ['http://::'] }),
  },
  {
    id: 'features-null',
    kinds: ['features'],
    direction: 'zod-looser',
    reason:
      'features.md: every property but ociVersionMin/ociVersionMax MAY be null; the schema does not allow null',
    explainsError: (error) =>
      error.data === null && !['/ociVersionMin', '/ociVersionMax'].includes(error.instancePath),
    example: {
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.0.0',
      hooks: null,
      linux: { seccomp: null },
    },
  },
  {
    id: 'image-config-null',
    kinds: ['imageConfig'],
    direction: 'zod-looser',
    reason:
      'image-spec config.md: any OPTIONAL field MAY be null, equivalent to absent; the schema only allows null for Entrypoint, Cmd, Volumes and Labels',
    explainsError: (error) =>
      error.data === null &&
      !['/architecture', '/os', '/rootfs', '/rootfs/type', '/rootfs/diff_ids'].includes(
        error.instancePath,
      ),
    example: imageConfig({ created: null, config: { Env: null, User: null } }),
  },
  {
    id: 'state-paused',
    kinds: ['state'],
    direction: 'zod-looser',
    reason:
      'runtime.md#state lets runtimes add statuses; runc and crun report "paused" and engines read it, so tsoci accepts it (and no other extra value)',
    explainsError: (error) =>
      error.instancePath === '/status' && error.keyword === 'enum' && error.data === 'paused',
    example: { ociVersion: '1.3.0', id: 'x', status: 'paused', pid: 1, bundle: '/b' },
  },
];

// ---------------------------------------------------------------------------

function explainIssue(kind: OracleKind, issue: RuledIssue, doc: Json): boolean {
  return DIFFERENCES.some((d) => d.kinds.includes(kind) && d.explainsIssue?.(issue, doc) === true);
}

function explainError(kind: OracleKind, error: ErrorObject, doc: Json): boolean {
  return DIFFERENCES.some((d) => d.kinds.includes(kind) && d.explainsError?.(error, doc) === true);
}

/**
 * ajv reports a failed anyOf/oneOf both for the alternative and for the
 * combinator; the combinator's own error is explained by its children.
 */
function structuralError(error: ErrorObject): boolean {
  return error.keyword === 'anyOf' || error.keyword === 'oneOf';
}

type Verdict = 'agree-valid' | 'agree-invalid' | 'zod-stricter' | 'zod-looser';

/** Runs both validators; returns the verdict and a description of anything unexplained. */
function compare(kind: OracleKind, doc: Json): { verdict: Verdict; unexplained: string | null } {
  const validate = oracle(kind);
  const ajvOk = validate(doc) as boolean;
  const errors = validate.errors ?? [];
  // JSON text in, as callers usually have it (and so "__proto__" keys are exercised).
  const result = validateWith(SCHEMAS[kind], JSON.stringify(doc));
  if (ajvOk === result.ok) {
    return { verdict: ajvOk ? 'agree-valid' : 'agree-invalid', unexplained: null };
  }
  const context = () => `document: ${JSON.stringify(doc).slice(0, 2000)}`;
  if (!result.ok) {
    const bad = result.issues.filter((i) => !explainIssue(kind, i, doc));
    return {
      verdict: 'zod-stricter',
      unexplained:
        bad.length === 0
          ? null
          : `zod rejects what the schema accepts: ${JSON.stringify(bad)}\n${context()}`,
    };
  }
  const bad = errors.filter((e) => !structuralError(e) && !explainError(kind, e, doc));
  return {
    verdict: 'zod-looser',
    unexplained:
      bad.length === 0
        ? null
        : `zod accepts what the schema rejects: ${JSON.stringify(bad.map(({ instancePath, message, data }) => ({ instancePath, message, data })))}\n${context()}`,
  };
}

describe('documented differences from the official schemas', () => {
  for (const d of DIFFERENCES) {
    it(`${d.id} (${d.direction}): ${d.reason}`, () => {
      const kind = d.kinds[0] as OracleKind;
      const validate = oracle(kind);
      const ajvOk = validate(d.example) as boolean;
      const result = validateWith(SCHEMAS[kind], JSON.stringify(d.example));
      if (d.direction === 'zod-stricter') {
        expect(ajvOk).toBe(true);
        expect(result.ok).toBe(false);
        // This example shows exactly this difference and nothing else.
        expect(result.issues.filter((i) => !d.explainsIssue?.(i, d.example))).toEqual([]);
      } else {
        expect(ajvOk).toBe(false);
        expect(result.ok).toBe(true);
        const errors = (validate.errors ?? []).filter((e) => !structuralError(e));
        expect(errors.filter((e) => !d.explainsError?.(e, d.example))).toEqual([]);
      }
    });
  }

  it('every prose rule the sources can report is documented here', () => {
    const srcDir = fileURLToPath(new URL('../src', import.meta.url));
    const rules = new Set<string>();
    const visit = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (entry.name.endsWith('.ts')) {
          const text = readFileSync(path, 'utf8');
          for (const m of text.matchAll(/report\(\s*'([a-z0-9-]+)'/g)) rules.add(m[1] as string);
          for (const m of text.matchAll(/rule: '([a-z0-9-]+)'/g)) rules.add(m[1] as string);
        }
      }
    };
    visit(srcDir);
    expect(rules.size).toBeGreaterThan(20);
    const documented = new Set(DIFFERENCES.map((d) => d.id));
    expect([...rules].filter((r) => !documented.has(r))).toEqual([]);
  });
});

/** For config, the seeds that between them set every field; the other kinds sweep all seeds. */
function sweepSeeds(kind: OracleKind): Json[] {
  return kind === 'config' ? [kitchenSinkConfig(), ...otherPlatformConfigs()] : SEEDS[kind]();
}

describe('zod agrees with ajv on systematic single edits', () => {
  for (const kind of Object.keys(SCHEMAS) as OracleKind[]) {
    it(`${kind}: every node deleted, retyped, and every number and enum value swept`, () => {
      const failures: string[] = [];
      let count = 0;
      for (const seed of sweepSeeds(kind)) {
        for (const doc of sweep(seed)) {
          count++;
          const { unexplained } = compare(kind, doc);
          if (unexplained !== null && failures.length < 5) failures.push(unexplained);
        }
      }
      expect(failures).toEqual([]);
      expect(count).toBeGreaterThan(10);
    });
  }
});

describe('zod agrees with ajv on randomly mutated documents', () => {
  for (const kind of Object.keys(SCHEMAS) as OracleKind[]) {
    it(`${kind}: ${RUNS[kind]} mutations`, () => {
      const seeds = SEEDS[kind]();
      for (const seed of seeds)
        expect(compare(kind, seed)).toEqual({ verdict: 'agree-valid', unexplained: null });

      const tally: Record<Verdict, number> = {
        'agree-valid': 0,
        'agree-invalid': 0,
        'zod-stricter': 0,
        'zod-looser': 0,
      };
      fc.assert(
        fc.property(fc.nat(seeds.length - 1), scriptArb, (index, script) => {
          const doc = applyAll(seeds[index] as Json, script);
          const { verdict, unexplained } = compare(kind, doc);
          tally[verdict]++;
          if (unexplained !== null) throw new Error(unexplained);
        }),
        { numRuns: RUNS[kind], seed: FUZZ_SEED },
      );
      // The corpus must exercise both verdicts, or the comparison proves little.
      expect(tally['agree-valid']).toBeGreaterThan(RUNS[kind] / 20);
      expect(tally['agree-invalid']).toBeGreaterThan(RUNS[kind] / 20);
    });
  }
});
