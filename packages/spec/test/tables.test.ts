/**
 * The enumeration tables are what `tsoci features` will advertise, so they
 * must match the spec exactly: the schema enums, the features.md list of
 * capabilities, and (for capabilities) the running kernel.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  CAPABILITY_PATTERN,
  CONTAINER_STATUSES,
  DEVICE_TYPES,
  IO_PRIORITY_CLASSES,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  NAMESPACE_TYPES,
  PERSONALITY_DOMAINS,
  RLIMIT_PATTERN,
  RLIMIT_TYPES,
  ROOTFS_PROPAGATIONS,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from '../src/tables.js';
import { markdownDocument, RUNTIME_SPEC_DIR } from './helpers/specs.js';

type Schema = { [key: string]: unknown };

function schemaFile(name: string): Schema {
  return JSON.parse(readFileSync(join(RUNTIME_SPEC_DIR, 'schema', name), 'utf8')) as Schema;
}

const defsLinux = (schemaFile('defs-linux.json').definitions ?? {}) as Record<string, Schema>;

function enumOf(definition: string): unknown[] {
  const values = defsLinux[definition]?.enum;
  if (!Array.isArray(values)) throw new Error(`defs-linux.json has no enum ${definition}`);
  return values;
}

describe('tables match the schema enumerations', () => {
  const cases: [string, readonly string[], unknown[]][] = [
    ['NamespaceType', NAMESPACE_TYPES, enumOf('NamespaceType')],
    ['SeccompAction', SECCOMP_ACTIONS, enumOf('SeccompAction')],
    ['SeccompArch', SECCOMP_ARCHES, enumOf('SeccompArch')],
    ['SeccompFlag', SECCOMP_FLAGS, enumOf('SeccompFlag')],
    ['SeccompOperators', SECCOMP_OPERATORS, enumOf('SeccompOperators')],
    ['RootfsPropagation', ROOTFS_PROPAGATIONS, enumOf('RootfsPropagation')],
    ['SchedulerPolicy', SCHEDULER_POLICIES, enumOf('SchedulerPolicy')],
    ['SchedulerFlag', SCHEDULER_FLAGS, enumOf('SchedulerFlag')],
    ['MemoryPolicyMode', MEMORY_POLICY_MODES, enumOf('MemoryPolicyMode')],
    ['MemoryPolicyFlag', MEMORY_POLICY_FLAGS, enumOf('MemoryPolicyFlag')],
    ['PersonalityDomain', PERSONALITY_DOMAINS, enumOf('PersonalityDomain')],
    [
      'process.ioPriority.class',
      IO_PRIORITY_CLASSES,
      (
        (
          ((schemaFile('config-schema.json').properties as Schema).process as Schema)
            .properties as Schema
        ).ioPriority as { properties: { class: { enum: unknown[] } } }
      ).properties.class.enum,
    ],
    [
      'state status',
      CONTAINER_STATUSES,
      ((schemaFile('state-schema.json').properties as Schema).status as { enum: unknown[] }).enum,
    ],
  ];
  for (const [name, table, schemaEnum] of cases) {
    it(name, () => {
      expect([...table].sort()).toEqual([...(schemaEnum as string[])].sort());
      expect(new Set(table).size).toBe(table.length);
    });
  }

  it('device types', () => {
    expect(defsLinux.FileType?.pattern).toBe('^[cbup]$');
    expect([...DEVICE_TYPES].sort()).toEqual(['b', 'c', 'p', 'u']);
  });
});

describe('capabilities', () => {
  it('are the list of features.md, in kernel order', () => {
    const features = markdownDocument(join(RUNTIME_SPEC_DIR, 'features.md'), 'ociVersionMin') as {
      linux: { capabilities: string[] };
    };
    expect([...CAPABILITIES]).toEqual(features.linux.capabilities);
    expect(CAPABILITIES.indexOf('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE')).toBe(40);
  });

  it('have the shape the schemas ask for', () => {
    for (const cap of CAPABILITIES) expect(cap).toMatch(CAPABILITY_PATTERN);
    for (const rlimit of RLIMIT_TYPES) expect(rlimit).toMatch(RLIMIT_PATTERN);
    expect(RLIMIT_TYPES).toHaveLength(16);
    expect(new Set(RLIMIT_TYPES).size).toBe(16);
  });

  it('cover every capability of the running kernel', () => {
    const lastCap = '/proc/sys/kernel/cap_last_cap';
    expect(process.platform).toBe('linux');
    expect(existsSync(lastCap)).toBe(true);
    expect(CAPABILITIES.length - 1).toBeGreaterThanOrEqual(Number(readFileSync(lastCap, 'utf8')));
  });
});
