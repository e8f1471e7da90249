/**
 * The `linux` section of config.json (config-linux.md, schema/config-linux.json
 * and schema/defs-linux.json).
 */

import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import {
  int64,
  isAbsolutePath,
  isObject,
  mapOf,
  pattern,
  type Report,
  stringMap,
  uint16,
  uint32,
  uint64,
  withRules,
} from '../internal/zod.js';
import {
  DEVICE_CGROUP_TYPES,
  DEVICE_TYPES,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  NAMESPACE_TYPES,
  PERSONALITY_DOMAINS,
  ROOTFS_PROPAGATIONS,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from '../tables.js';
import { fileMode, IdMappingSchema } from './defs.js';

/** Reports relative entries of a path list (maskedPaths, readonlyPaths); the spec wants container-absolute paths. */
function absoluteEntries(anchor: string) {
  return (value: unknown, report: Report) => {
    if (!Array.isArray(value)) return;
    value.forEach((entry, i) => {
      if (typeof entry === 'string' && !isAbsolutePath(entry)) {
        report('absolute-path', [i], `expected an absolute path, got ${show(entry)} (${anchor})`);
      }
    });
  };
}

export const NamespaceSchema = z.looseObject({
  type: z.enum(NAMESPACE_TYPES),
  path: z.string().optional(),
});
export type Namespace = z.output<typeof NamespaceSchema>;

/**
 * config-linux.md: duplicated types are an error (rule `namespace-unique`) and
 * `path` is absolute in the runtime mount namespace (rule `absolute-path`).
 */
const NamespacesSchema = withRules(z.array(NamespaceSchema), (value, report) => {
  if (!Array.isArray(value)) return;
  const seen = new Map<string, number>();
  value.forEach((ns, i) => {
    if (!isObject(ns)) return;
    if (typeof ns.type === 'string') {
      const first = seen.get(ns.type);
      if (first === undefined) {
        seen.set(ns.type, i);
      } else {
        report(
          'namespace-unique',
          [i, 'type'],
          `duplicate namespace type ${show(ns.type)} (also at index ${first}; config-linux.md#namespaces)`,
        );
      }
    }
    if (typeof ns.path === 'string' && !isAbsolutePath(ns.path)) {
      report(
        'absolute-path',
        [i, 'path'],
        `expected an absolute path, got ${show(ns.path)} (config-linux.md#namespaces)`,
      );
    }
  });
});

/** config-linux.md: `major`/`minor` are required unless the device is a FIFO (rule `device-numbers`). */
export const DeviceSchema = withRules(
  z.looseObject({
    type: z.enum(DEVICE_TYPES),
    path: z.string(),
    fileMode: fileMode().optional(),
    major: int64().optional(),
    minor: int64().optional(),
    uid: uint32().optional(),
    gid: uint32().optional(),
  }),
  (value, report) => {
    if (!isObject(value) || value.type === 'p' || typeof value.type !== 'string') return;
    for (const key of ['major', 'minor'] as const) {
      if (value[key] === undefined) {
        report(
          'device-numbers',
          [key],
          `required property is missing (required unless type is "p"; config-linux.md#devices)`,
        );
      }
    }
  },
);
export type Device = z.output<typeof DeviceSchema>;

/**
 * An allowed-device-list entry. The schema leaves `type` and `access` free-form;
 * config-linux.md lists the values (rules `device-cgroup-type` and
 * `device-cgroup-access`).
 */
export const DeviceCgroupSchema = withRules(
  z.looseObject({
    allow: z.boolean(),
    type: z.string().optional(),
    major: int64().optional(),
    minor: int64().optional(),
    access: z.string().optional(),
  }),
  (value, report) => {
    if (!isObject(value)) return;
    const { type, access } = value;
    if (typeof type === 'string' && !(DEVICE_CGROUP_TYPES as readonly string[]).includes(type)) {
      report(
        'device-cgroup-type',
        ['type'],
        `expected one of "a", "c", "b", got ${show(type)} (config-linux.md#allowed-device-list)`,
      );
    }
    if (typeof access === 'string' && !/^[rwm]*$/.test(access)) {
      report(
        'device-cgroup-access',
        ['access'],
        `expected a combination of "r", "w" and "m", got ${show(access)} (config-linux.md#allowed-device-list)`,
      );
    }
  },
);
export type DeviceCgroup = z.output<typeof DeviceCgroupSchema>;

const blockIoDevice = {
  major: int64(),
  minor: int64(),
};

/** config-linux.md: each entry sets `weight`, `leafWeight` or both (rule `weight-device`). */
const WeightDeviceSchema = withRules(
  z.looseObject({ ...blockIoDevice, weight: uint16().optional(), leafWeight: uint16().optional() }),
  (value, report) => {
    if (isObject(value) && value.weight === undefined && value.leafWeight === undefined) {
      report(
        'weight-device',
        [],
        'expected weight or leafWeight, got neither (config-linux.md#block-io)',
      );
    }
  },
);

/** config-linux.md: `rate` is required; the schema forgot it (rule `throttle-rate`). */
const ThrottleDeviceSchema = withRules(
  z.looseObject({ ...blockIoDevice, rate: uint64().optional() }),
  (value, report) => {
    if (isObject(value) && value.rate === undefined) {
      report('throttle-rate', ['rate'], 'required property is missing (config-linux.md#block-io)');
    }
  },
);

export const BlockIoSchema = z.looseObject({
  weight: uint16().optional(),
  leafWeight: uint16().optional(),
  weightDevice: z.array(WeightDeviceSchema).optional(),
  throttleReadBpsDevice: z.array(ThrottleDeviceSchema).optional(),
  throttleWriteBpsDevice: z.array(ThrottleDeviceSchema).optional(),
  throttleReadIOPSDevice: z.array(ThrottleDeviceSchema).optional(),
  throttleWriteIOPSDevice: z.array(ThrottleDeviceSchema).optional(),
});
export type BlockIo = z.output<typeof BlockIoSchema>;

export const MemorySchema = z.looseObject({
  limit: int64().optional(),
  reservation: int64().optional(),
  swap: int64().optional(),
  kernel: int64().optional(),
  kernelTCP: int64().optional(),
  swappiness: uint64().optional(),
  disableOOMKiller: z.boolean().optional(),
  useHierarchy: z.boolean().optional(),
  checkBeforeUpdate: z.boolean().optional(),
});
export type Memory = z.output<typeof MemorySchema>;

export const CpuSchema = z.looseObject({
  shares: uint64().optional(),
  quota: int64().optional(),
  burst: uint64().optional(),
  period: uint64().optional(),
  realtimeRuntime: int64().optional(),
  realtimePeriod: uint64().optional(),
  cpus: z.string().optional(),
  mems: z.string().optional(),
  idle: int64().optional(),
});
export type Cpu = z.output<typeof CpuSchema>;

export const HugepageLimitSchema = z.looseObject({
  pageSize: pattern(/^[1-9][0-9]*[KMG]B$/, 'a page size'),
  limit: uint64(),
});
export type HugepageLimit = z.output<typeof HugepageLimitSchema>;

export const NetworkSchema = z.looseObject({
  classID: uint32().optional(),
  priorities: z.array(z.looseObject({ name: z.string(), priority: uint32() })).optional(),
});
export type Network = z.output<typeof NetworkSchema>;

export const RdmaSchema = z.looseObject({
  hcaHandles: uint32().optional(),
  hcaObjects: uint32().optional(),
});
export type Rdma = z.output<typeof RdmaSchema>;

export const ResourcesSchema = z.looseObject({
  devices: z.array(DeviceCgroupSchema).optional(),
  memory: MemorySchema.optional(),
  cpu: CpuSchema.optional(),
  pids: z.looseObject({ limit: int64() }).optional(),
  blockIO: BlockIoSchema.optional(),
  hugepageLimits: z.array(HugepageLimitSchema).optional(),
  network: NetworkSchema.optional(),
  rdma: mapOf(RdmaSchema).optional(),
  unified: stringMap().optional(),
});
export type Resources = z.output<typeof ResourcesSchema>;

export const SyscallArgSchema = z.looseObject({
  index: uint32(),
  value: uint64(),
  valueTwo: uint64().optional(),
  op: z.enum(SECCOMP_OPERATORS),
});
export type SyscallArg = z.output<typeof SyscallArgSchema>;

export const SyscallSchema = z.looseObject({
  names: z.array(z.string()).min(1),
  action: z.enum(SECCOMP_ACTIONS),
  errnoRet: uint32().optional(),
  args: z.array(SyscallArgSchema).optional(),
});
export type Syscall = z.output<typeof SyscallSchema>;

/** config-linux.md: `listenerMetadata` MUST NOT be set without `listenerPath` (rule `seccomp-listener`). */
export const SeccompSchema = withRules(
  z.looseObject({
    defaultAction: z.enum(SECCOMP_ACTIONS),
    defaultErrnoRet: uint32().optional(),
    architectures: z.array(z.enum(SECCOMP_ARCHES)).optional(),
    flags: z.array(z.enum(SECCOMP_FLAGS)).optional(),
    listenerPath: z.string().optional(),
    listenerMetadata: z.string().optional(),
    syscalls: z.array(SyscallSchema).optional(),
  }),
  (value, report) => {
    if (
      isObject(value) &&
      value.listenerMetadata !== undefined &&
      value.listenerPath === undefined
    ) {
      report(
        'seccomp-listener',
        ['listenerMetadata'],
        'must not be set without listenerPath (config-linux.md#seccomp)',
      );
    }
  },
);
export type Seccomp = z.output<typeof SeccompSchema>;

export const IntelRdtSchema = z.looseObject({
  closID: z.string().optional(),
  schemata: z.array(z.string()).optional(),
  l3CacheSchema: z.string().optional(),
  memBwSchema: pattern(/^MB:[^\n]*$/, 'a memory bandwidth schema').optional(),
  enableMonitoring: z.boolean().optional(),
});
export type IntelRdt = z.output<typeof IntelRdtSchema>;

/** config-linux.md makes `mode` required; the schema does not (rule `memory-policy-mode`). */
export const MemoryPolicySchema = withRules(
  z.looseObject({
    mode: z.enum(MEMORY_POLICY_MODES).optional(),
    nodes: z.string().optional(),
    flags: z.array(z.enum(MEMORY_POLICY_FLAGS)).optional(),
  }),
  (value, report) => {
    if (isObject(value) && value.mode === undefined) {
      report(
        'memory-policy-mode',
        ['mode'],
        'required property is missing (config-linux.md#memory-policy)',
      );
    }
  },
);
export type MemoryPolicy = z.output<typeof MemoryPolicySchema>;

/** config-linux.md makes `domain` required; the schema does not (rule `personality-domain`). */
export const PersonalitySchema = withRules(
  z.looseObject({
    domain: z.enum(PERSONALITY_DOMAINS).optional(),
    flags: z.array(z.string()).optional(),
  }),
  (value, report) => {
    if (isObject(value) && value.domain === undefined) {
      report(
        'personality-domain',
        ['domain'],
        'required property is missing (config-linux.md#personality)',
      );
    }
  },
);
export type Personality = z.output<typeof PersonalitySchema>;

export const TimeOffsetSchema = z.looseObject({
  secs: int64().optional(),
  nanosecs: uint32().optional(),
});
export type TimeOffset = z.output<typeof TimeOffsetSchema>;

export const LinuxSchema = z.looseObject({
  namespaces: NamespacesSchema.optional(),
  uidMappings: z.array(IdMappingSchema).optional(),
  gidMappings: z.array(IdMappingSchema).optional(),
  timeOffsets: z
    .looseObject({ boottime: TimeOffsetSchema.optional(), monotonic: TimeOffsetSchema.optional() })
    .optional(),
  devices: z.array(DeviceSchema).optional(),
  netDevices: mapOf(z.looseObject({ name: z.string().optional() })).optional(),
  cgroupsPath: z.string().optional(),
  resources: ResourcesSchema.optional(),
  intelRdt: IntelRdtSchema.optional(),
  memoryPolicy: MemoryPolicySchema.optional(),
  sysctl: stringMap().optional(),
  seccomp: SeccompSchema.optional(),
  rootfsPropagation: z.enum(ROOTFS_PROPAGATIONS).optional(),
  maskedPaths: withRules(
    z.array(z.string()),
    absoluteEntries('config-linux.md#masked-paths'),
  ).optional(),
  readonlyPaths: withRules(
    z.array(z.string()),
    absoluteEntries('config-linux.md#readonly-paths'),
  ).optional(),
  mountLabel: z.string().optional(),
  personality: PersonalitySchema.optional(),
});
export type Linux = z.output<typeof LinuxSchema>;
