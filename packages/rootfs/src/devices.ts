import { MAX_MAJOR, MAX_MINOR, S_IF } from './kernel.js';
import { containerPath } from './paths.js';
import { octal, show } from './show.js';
import type { DeviceNode, DeviceType } from './types.js';

const node = (path: string, major: number, minor: number): Readonly<DeviceNode> =>
  Object.freeze({ path, type: 'c', major, minor, fileMode: 0o666, uid: 0, gid: 0 });

/**
 * The devices config-linux.md ("Default Devices") requires in every
 * container, with the numbers of Documentation/admin-guide/devices.txt and
 * the 0666 root-owned mode every runtime uses. /dev/console and /dev/ptmx
 * are not nodes: the console is a bind of the pty, ptmx a symlink.
 */
export const DEFAULT_DEVICES: readonly Readonly<DeviceNode>[] = Object.freeze([
  node('/dev/null', 1, 3),
  node('/dev/zero', 1, 5),
  node('/dev/full', 1, 7),
  node('/dev/random', 1, 8),
  node('/dev/urandom', 1, 9),
  node('/dev/tty', 5, 0),
]);

const DEVICE_TYPES: readonly DeviceType[] = ['c', 'b', 'u', 'p'];

const TYPE_BITS: Readonly<Record<DeviceType, number>> = {
  c: S_IF.CHR,
  u: S_IF.CHR,
  b: S_IF.BLK,
  p: S_IF.FIFO,
};

const MAX_UINT32 = 0xffffffff;

type Report = (path: string, message: string) => void;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Checks one `linux.devices[i]` entry; returns the node, or undefined after reporting why not. */
export function checkDevice(raw: unknown, at: string, report: Report): DeviceNode | undefined {
  if (!isObject(raw)) {
    report(at, `must be an object, got ${show(raw)}`);
    return undefined;
  }
  let ok = true;
  const fail = (field: string, message: string): void => {
    report(`${at}.${field}`, message);
    ok = false;
  };

  let path = '';
  if (raw.path === undefined) fail('path', 'is required');
  else {
    const checked = containerPath(raw.path);
    if (!checked.ok) fail('path', checked.message);
    // config-linux.md says "full path"; unlike mount destinations there is no
    // legacy relative form to honour.
    else if (checked.relative) fail('path', `must be an absolute path, got ${show(raw.path)}`);
    else path = checked.path;
  }

  let type: DeviceType | undefined;
  if (raw.type === undefined) fail('type', 'is required');
  else if (
    typeof raw.type !== 'string' ||
    !(DEVICE_TYPES as readonly string[]).includes(raw.type)
  ) {
    fail('type', `must be one of "c", "b", "u", "p", got ${show(raw.type)}`);
  } else type = raw.type as DeviceType;

  // FIFOs have no device numbers: config-linux.md makes them optional for "p"
  // and mknod(2) ignores them, so whatever is there is ignored too.
  let major = 0;
  let minor = 0;
  if (raw.type !== 'p') {
    const numbers = [
      ['major', MAX_MAJOR],
      ['minor', MAX_MINOR],
    ] as const;
    for (const [field, max] of numbers) {
      const value = raw[field];
      if (value === undefined) {
        // With an unknown type, "required" would be a guess; the type error suffices.
        if (type !== undefined) fail(field, `is required for type ${show(type)}`);
      } else if (!integerIn(value, 0, max)) {
        fail(field, `must be an integer between 0 and ${max}, got ${show(value)}`);
      } else if (field === 'major') major = value;
      else minor = value;
    }
  }

  let fileMode = 0o666;
  if (raw.fileMode !== undefined) {
    const mode = raw.fileMode;
    // Tools that copy st_mode from the host node include the S_IFMT bits;
    // runc strips them, so they are accepted when they agree with `type`.
    if (!integerIn(mode, 0, S_IF.FMT | 0o7777)) {
      fail(
        'fileMode',
        `must be a permission mode between 0 and 4095 (0o7777), in decimal, got ${show(mode)}`,
      );
    } else {
      const bits = mode & S_IF.FMT;
      if (bits !== 0 && type !== undefined && bits !== TYPE_BITS[type]) {
        fail(
          'fileMode',
          `file type bits ${octal(bits)} do not match device type ${show(type)} (${octal(TYPE_BITS[type])})`,
        );
      }
      fileMode = mode & ~S_IF.FMT;
    }
  }

  const ids = { uid: 0, gid: 0 };
  for (const field of ['uid', 'gid'] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (!integerIn(value, 0, MAX_UINT32)) {
      fail(field, `must be an integer between 0 and ${MAX_UINT32}, got ${show(value)}`);
    } else ids[field] = value;
  }

  if (!ok || type === undefined) return undefined;
  return { path, type, major, minor, fileMode, uid: ids.uid, gid: ids.gid };
}
