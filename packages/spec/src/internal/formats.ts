/**
 * String formats the specs refer to by RFC rather than by regular expression.
 * Written as small parsers instead of large regexes so that every check is
 * linear in the input (no catastrophic backtracking on hostile strings).
 */

const SEMVER_NUMERIC = /^(?:0|[1-9][0-9]*)$/;
const SEMVER_IDENTIFIER = /^[0-9A-Za-z-]+$/;
const DIGITS = /^[0-9]+$/;

/** SemVer 2.0.0 (https://semver.org/spec/v2.0.0.html), which config.md requires of `ociVersion`. */
export function isSemver(text: string): boolean {
  let rest = text;
  const plus = rest.indexOf('+');
  if (plus !== -1) {
    const build = rest.slice(plus + 1).split('.');
    if (!build.every((id) => SEMVER_IDENTIFIER.test(id))) return false;
    rest = rest.slice(0, plus);
  }
  const dash = rest.indexOf('-');
  if (dash !== -1) {
    const pre = rest.slice(dash + 1).split('.');
    for (const id of pre) {
      if (!SEMVER_IDENTIFIER.test(id)) return false;
      // Numeric pre-release identifiers must not have leading zeros.
      if (DIGITS.test(id) && !SEMVER_NUMERIC.test(id)) return false;
    }
    rest = rest.slice(0, dash);
  }
  const core = rest.split('.');
  return core.length === 3 && core.every((part) => SEMVER_NUMERIC.test(part));
}

const DATE_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * RFC 3339 section 5.6 `date-time`, as image-spec config.md requires of
 * `created`. Only the grammar itself: `T` (either case) between date and
 * time, and an offset of `Z` or `±hh:mm`.
 */
export function isRfc3339DateTime(text: string): boolean {
  const m = DATE_TIME.exec(text);
  if (m === null) return false;
  const [, y, mo, d, h, mi, s, , sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  let offset = 0;
  if (sign !== undefined) {
    const offHour = Number(oh);
    const offMinute = Number(om);
    if (offHour > 23 || offMinute > 59) return false;
    offset = (sign === '-' ? -1 : 1) * (offHour * 60 + offMinute);
  }
  if (second === 60) {
    // A leap second is only ever inserted as the last second of a UTC day.
    const utcMinute = (((hour * 60 + minute - offset) % 1440) + 1440) % 1440;
    if (utcMinute !== 1439) return false;
  }
  return true;
}

const HEX = /^[0-9A-Fa-f]$/;
const UNRESERVED_OR_SUBDELIM = /^[A-Za-z0-9\-._~!$&'()*+,;=]$/;

/** Each character is allowed (unreserved, sub-delims or in `extra`) or starts a `%XX` escape. */
function isUriText(text: string, extra: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '%') {
      if (!HEX.test(text.charAt(i + 1)) || !HEX.test(text.charAt(i + 2))) return false;
      i += 2;
    } else if (!UNRESERVED_OR_SUBDELIM.test(c) && !extra.includes(c)) {
      return false;
    }
  }
  return true;
}

const DEC_OCTET = /^(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$/;
const H16 = /^[0-9A-Fa-f]{1,4}$/;

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => DEC_OCTET.test(p));
}

/** RFC 3986 `IPv6address`: up to eight h16 groups, one `::`, an IPv4 tail counting as two. */
function isIpv6(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups: string[] = [];
  for (const half of halves) {
    if (half !== '') groups.push(...half.split(':'));
  }
  let count = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] ?? '';
    if (i === groups.length - 1 && g.includes('.')) {
      if (!isIpv4(g)) return false;
      count += 2;
    } else if (H16.test(g)) {
      count += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

function isIpLiteral(inner: string): boolean {
  if (inner.startsWith('v') || inner.startsWith('V')) {
    // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ), no %-escapes.
    const dot = inner.indexOf('.');
    if (dot < 2 || dot === inner.length - 1) return false;
    const tail = inner.slice(dot + 1);
    return (
      [...inner.slice(1, dot)].every((c) => HEX.test(c)) &&
      !tail.includes('%') &&
      isUriText(tail, ':')
    );
  }
  return isIpv6(inner);
}

function isAuthority(authority: string): boolean {
  let hostPort = authority;
  const at = authority.indexOf('@');
  if (at !== -1) {
    if (!isUriText(authority.slice(0, at), ':')) return false;
    hostPort = authority.slice(at + 1);
  }
  let port = '';
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1 || !isIpLiteral(hostPort.slice(1, close))) return false;
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return false;
      port = after.slice(1);
    }
  } else {
    const colon = hostPort.indexOf(':');
    const host = colon === -1 ? hostPort : hostPort.slice(0, colon);
    if (!isUriText(host, '')) return false;
    port = colon === -1 ? '' : hostPort.slice(colon + 1);
  }
  return port === '' || DIGITS.test(port);
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/**
 * RFC 3986 `URI` (an absolute URI, optionally with a fragment), as the
 * descriptor schema's `"format": "uri"` asks of `urls[]`.
 */
export function isUri(text: string): boolean {
  const colon = text.indexOf(':');
  if (colon < 1 || !SCHEME.test(text.slice(0, colon))) return false;
  let rest = text.slice(colon + 1);
  const hash = rest.indexOf('#');
  if (hash !== -1) {
    if (!isUriText(rest.slice(hash + 1), ':@/?')) return false;
    rest = rest.slice(0, hash);
  }
  const question = rest.indexOf('?');
  if (question !== -1) {
    if (!isUriText(rest.slice(question + 1), ':@/?')) return false;
    rest = rest.slice(0, question);
  }
  // RFC 3986 allows an empty hier-part ("x:"), but a URL to download content
  // from names something; ajv-formats, the schema's usual validator, agrees.
  if (rest === '') return false;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    const path = slash === -1 ? '' : rest.slice(slash);
    return isAuthority(authority) && isUriText(path, ':@/');
  }
  // path-absolute, path-rootless or path-empty: pchars and slashes, never "//" first.
  return isUriText(rest, ':@/');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** RFC 4648 section 4 base64 (standard alphabet, padded), as descriptor.md requires of `data`. */
export function isBase64(text: string): boolean {
  return BASE64.test(text);
}

/** descriptor.md's digest grammar; the schema gives the same expression. */
export const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The encodings descriptor.md fixes for the registered digest algorithms. */
export const REGISTERED_DIGEST_ENCODINGS: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/** RFC 6838 type/subtype names, as the image-spec schema spells them. */
export const MEDIA_TYPE_PATTERN =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function compareIdentifiers(a: string, b: string): number {
  const aNum = DIGITS.test(a);
  const bNum = DIGITS.test(b);
  if (aNum && bNum) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  if (aNum !== bNum) return aNum ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * SemVer 2.0.0 precedence of two valid versions: negative, zero or positive.
 * Numbers are compared as digit strings so that no identifier overflows.
 */
export function compareSemver(a: string, b: string): number {
  const [aMain = '', aPre] = (a.split('+')[0] ?? '').split(/-(.*)/s);
  const [bMain = '', bPre] = (b.split('+')[0] ?? '').split(/-(.*)/s);
  const aCore = aMain.split('.');
  const bCore = bMain.split('.');
  for (let i = 0; i < 3; i++) {
    const c = compareIdentifiers(aCore[i] ?? '0', bCore[i] ?? '0');
    if (c !== 0) return c;
  }
  if (aPre === undefined || bPre === undefined) {
    // A version without a pre-release ranks above the same version with one.
    return aPre === bPre ? 0 : aPre === undefined ? 1 : -1;
  }
  const aIds = aPre.split('.');
  const bIds = bPre.split('.');
  for (let i = 0; i < Math.min(aIds.length, bIds.length); i++) {
    const c = compareIdentifiers(aIds[i] ?? '', bIds[i] ?? '');
    if (c !== 0) return c;
  }
  return aIds.length - bIds.length;
}
