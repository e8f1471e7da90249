import type { DeviceCgroup } from '@ts-oci/spec';

/** An allowed-device-list entry with the spec's defaults filled in. */
export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  /** `'*'` for any. */
  major: number | '*';
  minor: number | '*';
  /** A non-empty combination of r, w, m. */
  access: string;
}

/**
 * config-linux.md: unset type means `a`, unset major/minor mean `*`. An unset
 * or empty access is taken as `rwm` (what crun does; runc refuses it).
 * Negative numbers are runc's spelling of the wildcard.
 */
export function normalizeDeviceRule(rule: DeviceCgroup): DeviceRule {
  const type = rule.type === 'c' || rule.type === 'b' ? rule.type : 'a';
  const num = (n: number | undefined): number | '*' => (n === undefined || n < 0 ? '*' : n);
  const access =
    rule.access === undefined || rule.access === '' ? 'rwm' : canonicalAccess(rule.access);
  return { allow: rule.allow, type, major: num(rule.major), minor: num(rule.minor), access };
}

function canonicalAccess(access: string): string {
  return ['r', 'w', 'm'].filter((c) => access.includes(c)).join('');
}

function isWildcardAll(r: DeviceRule): boolean {
  return r.type === 'a' && r.major === '*' && r.minor === '*' && r.access === 'rwm';
}

/**
 * The lines a rule becomes in v1's devices.allow / devices.deny. The kernel
 * reads a leading `a` as "everything" whatever follows, so a type-`a` rule
 * that is narrower than everything is split into its `c` and `b` halves.
 */
export function v1DeviceLines(r: DeviceRule): string[] {
  if (isWildcardAll(r)) return ['a'];
  const spec = `${r.major}:${r.minor} ${r.access}`;
  if (r.type === 'a') return [`c ${spec}`, `b ${spec}`];
  return [`${r.type} ${spec}`];
}

/**
 * The devices runc allows in every container after the config's own rules
 * (libcontainer/specconv AllowedDevices): mknod of anything, null, zero, full,
 * random, urandom, tty, ptmx, /dev/pts/*, /dev/net/tun. Exported so the
 * runtime can append them the same way.
 */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceCgroup[] = Object.freeze([
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
]);

function covers(outer: DeviceRule, inner: DeviceRule): boolean {
  const typeOk = outer.type === 'a' || outer.type === inner.type;
  const majorOk = outer.major === '*' || outer.major === inner.major;
  const minorOk = outer.minor === '*' || outer.minor === inner.minor;
  const accessOk = [...inner.access].every((c) => outer.access.includes(c));
  return typeOk && majorOk && minorOk && accessOk;
}

/**
 * What a device list amounts to, for a host that cannot enforce device rules
 * (cgroup v2 without an eBPF filter):
 * - `none`: no rules, nothing to enforce;
 * - `allow-all`: the effective policy is "everything", which needs no filter;
 * - `default`: deny everything, then allow at most the default devices
 *   ({@link DEFAULT_ALLOWED_DEVICES}); what every runc/tsoci config says;
 * - `custom`: anything else.
 */
export function classifyDeviceRules(
  rules: readonly DeviceCgroup[],
): 'none' | 'allow-all' | 'default' | 'custom' {
  if (rules.length === 0) return 'none';
  const norm = rules.map(normalizeDeviceRule);
  let last = -1;
  norm.forEach((r, i) => {
    if (isWildcardAll(r)) last = i;
  });
  // Rules before the last catch-all are overridden by it.
  const base = norm[last];
  if (base === undefined) return 'custom';
  const rest = norm.slice(last + 1);
  if (base.allow) return rest.every((r) => r.allow) ? 'allow-all' : 'custom';
  const defaults = DEFAULT_ALLOWED_DEVICES.map(normalizeDeviceRule);
  const ok = rest.every((r) => r.allow && defaults.some((d) => covers(d, r)));
  return ok ? 'default' : 'custom';
}
