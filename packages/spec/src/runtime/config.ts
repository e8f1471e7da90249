/**
 * config.json (runtime-spec config.md, schema/config-schema.json).
 *
 * Every object is a looseObject: config.md#extensibility requires unknown
 * properties to be ignored, and tsoci keeps them so that a config read and
 * written back is unchanged. Unknown values of enumerated fields are errors
 * (config.md#valid-values).
 */

import { show } from '../internal/show.js';
import * as z from '../internal/z.js';
import {
  anyInteger,
  int32,
  isAbsolutePath,
  isObject,
  pattern,
  type Report,
  uint32,
  uint64,
  withRules,
} from '../internal/zod.js';
import {
  CAPABILITY_PATTERN,
  HOOK_NAMES,
  IO_PRIORITY_CLASSES,
  RLIMIT_PATTERN,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
} from '../tables.js';
import { AnnotationsSchema, HookSchema, MountSchema, OciVersionSchema } from './defs.js';
import { LinuxSchema } from './linux.js';
import { FreeBsdSchema, SolarisSchema, VmSchema, WindowsSchema, ZosSchema } from './platforms.js';

/**
 * A capability name. The schema accepts any string; config.md says valid
 * values are the capabilities(7) names, and tsoci holds every entry to their
 * shape (rule `capability-name`) while leaving unknown-but-well-formed names
 * to the runtime, which must warn rather than fail on them.
 */
const CapabilityNameSchema = z.string().check((ctx) => {
  if (!CAPABILITY_PATTERN.test(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected a capability name matching ${CAPABILITY_PATTERN.source}, got ${show(ctx.value)}`,
      params: { rule: 'capability-name' },
    });
  }
});

export const CapabilitiesSchema = z.looseObject({
  bounding: z.array(CapabilityNameSchema).optional(),
  effective: z.array(CapabilityNameSchema).optional(),
  inheritable: z.array(CapabilityNameSchema).optional(),
  permitted: z.array(CapabilityNameSchema).optional(),
  ambient: z.array(CapabilityNameSchema).optional(),
});
export type Capabilities = z.output<typeof CapabilitiesSchema>;

export const RlimitSchema = z.looseObject({
  type: pattern(RLIMIT_PATTERN, 'an rlimit type'),
  soft: uint64(),
  hard: uint64(),
});
export type Rlimit = z.output<typeof RlimitSchema>;

/** config.md: duplicated rlimit types are an error (rule `rlimit-unique`). */
const RlimitsSchema = withRules(z.array(RlimitSchema), (value, report) => {
  if (!Array.isArray(value)) return;
  const seen = new Map<string, number>();
  value.forEach((rlimit, i) => {
    if (!isObject(rlimit) || typeof rlimit.type !== 'string') return;
    const first = seen.get(rlimit.type);
    if (first === undefined) {
      seen.set(rlimit.type, i);
    } else {
      report(
        'rlimit-unique',
        [i, 'type'],
        `duplicate rlimit type ${show(rlimit.type)} (also at index ${first}; config.md#posix-process)`,
      );
    }
  });
});

export const UserSchema = z.looseObject({
  uid: uint32().optional(),
  gid: uint32().optional(),
  umask: uint32().optional(),
  additionalGids: z.array(uint32()).optional(),
  username: z.string().optional(),
});
export type User = z.output<typeof UserSchema>;

/** config.md lists `priority` as required; the schema does not (rule `io-priority`). */
export const IoPrioritySchema = withRules(
  z.looseObject({
    class: z.enum(IO_PRIORITY_CLASSES),
    priority: int32().optional(),
  }),
  (value, report) => {
    if (isObject(value) && value.priority === undefined) {
      report('io-priority', ['priority'], 'required property is missing (config.md#linux-process)');
    }
  },
);
export type IoPriority = z.output<typeof IoPrioritySchema>;

export const SchedulerSchema = z.looseObject({
  policy: z.enum(SCHEDULER_POLICIES),
  nice: int32().optional(),
  priority: int32().optional(),
  flags: z.array(z.enum(SCHEDULER_FLAGS)).optional(),
  runtime: uint64().optional(),
  deadline: uint64().optional(),
  period: uint64().optional(),
});
export type Scheduler = z.output<typeof SchedulerSchema>;

const CPU_LIST = /^[0-9, -]*$/;

export const ProcessSchema = z.looseObject({
  terminal: z.boolean().optional(),
  consoleSize: z.looseObject({ height: uint64(), width: uint64() }).optional(),
  user: UserSchema.optional(),
  args: z.array(z.string()).optional(),
  commandLine: z.string().optional(),
  env: z.array(z.string()).optional(),
  cwd: z.string(),
  capabilities: CapabilitiesSchema.optional(),
  rlimits: RlimitsSchema.optional(),
  noNewPrivileges: z.boolean().optional(),
  apparmorProfile: z.string().optional(),
  oomScoreAdj: anyInteger().optional(),
  scheduler: SchedulerSchema.optional(),
  selinuxLabel: z.string().optional(),
  ioPriority: IoPrioritySchema.optional(),
  execCPUAffinity: z
    .looseObject({
      initial: pattern(CPU_LIST, 'a CPU list').optional(),
      final: pattern(CPU_LIST, 'a CPU list').optional(),
    })
    .optional(),
});
export type Process = z.output<typeof ProcessSchema>;

export const RootSchema = z.looseObject({
  path: z.string(),
  readonly: z.boolean().optional(),
});
export type Root = z.output<typeof RootSchema>;

export const HooksSchema = z.looseObject({
  prestart: z.array(HookSchema).optional(),
  createRuntime: z.array(HookSchema).optional(),
  createContainer: z.array(HookSchema).optional(),
  startContainer: z.array(HookSchema).optional(),
  poststart: z.array(HookSchema).optional(),
  poststop: z.array(HookSchema).optional(),
});
export type Hooks = z.output<typeof HooksSchema>;

/**
 * config.md rules that depend on the platform, i.e. on whether the document
 * has a `windows` section: everywhere else `root` is required (rule
 * `root-required`), `process.args` needs an entry (`process-args`),
 * `process.user` needs `uid` and `gid` (`process-user`), and `process.cwd`
 * and hook paths are absolute (`absolute-path`).
 */
function posixRules(value: unknown, report: Report): void {
  if (!isObject(value) || value.windows !== undefined) return;
  if (value.root === undefined) {
    report(
      'root-required',
      ['root'],
      'required property is missing (required on every platform but Windows; config.md#root)',
    );
  }
  const proc = value.process;
  if (isObject(proc)) {
    if (proc.args === undefined) {
      report(
        'process-args',
        ['process', 'args'],
        'required property is missing (at least one entry is required on non-Windows platforms; config.md#process)',
      );
    } else if (Array.isArray(proc.args) && proc.args.length === 0) {
      report(
        'process-args',
        ['process', 'args'],
        'expected at least 1 entry, got an empty array (config.md#process)',
      );
    }
    if (typeof proc.cwd === 'string' && !isAbsolutePath(proc.cwd)) {
      report(
        'absolute-path',
        ['process', 'cwd'],
        `expected an absolute path, got ${show(proc.cwd)} (config.md#process)`,
      );
    }
    if (isObject(proc.user)) {
      for (const key of ['uid', 'gid'] as const) {
        if (proc.user[key] === undefined) {
          report(
            'process-user',
            ['process', 'user', key],
            'required property is missing (config.md#posix-platform-user)',
          );
        }
      }
    }
  }
  if (isObject(value.hooks)) {
    for (const name of HOOK_NAMES) {
      const list = value.hooks[name];
      if (!Array.isArray(list)) continue;
      list.forEach((hook, i) => {
        if (isObject(hook) && typeof hook.path === 'string' && !isAbsolutePath(hook.path)) {
          report(
            'absolute-path',
            ['hooks', name, i, 'path'],
            `expected an absolute path, got ${show(hook.path)} (config.md#posix-platform-hooks)`,
          );
        }
      });
    }
  }
}

export const ConfigSchema = withRules(
  z.looseObject({
    ociVersion: OciVersionSchema,
    root: RootSchema.optional(),
    mounts: z.array(MountSchema).optional(),
    process: ProcessSchema.optional(),
    hostname: z.string().optional(),
    domainname: z.string().optional(),
    hooks: HooksSchema.optional(),
    annotations: AnnotationsSchema.optional(),
    linux: LinuxSchema.optional(),
    solaris: SolarisSchema.optional(),
    windows: WindowsSchema.optional(),
    vm: VmSchema.optional(),
    zos: ZosSchema.optional(),
    freebsd: FreeBsdSchema.optional(),
  }),
  posixRules,
);

/** A runtime-spec config.json document. */
export type Config = z.output<typeof ConfigSchema>;
