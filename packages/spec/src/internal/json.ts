/**
 * Turning caller input (JSON text, bytes, or an already-parsed value) into the
 * plain JSON tree the schemas validate and the parsers return.
 *
 * Everything here is iterative: a document nested a million levels deep must
 * produce an answer, not a RangeError.
 */
import { describeError } from './show.js';

export type Segment = string | number;

export type Decoded =
  | { ok: true; value: unknown }
  | { ok: false; message: string; segments: Segment[]; cause?: unknown };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Adds a line and column to V8's "… at position N" so a person can find the spot. */
function syntaxMessage(error: unknown, text: string): string {
  const message = error instanceof SyntaxError ? error.message : describeError(error);
  const m = /at position (\d+)/.exec(message);
  if (m === null || /line \d+/.test(message)) return message;
  const position = Number(m[1]);
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

function parseText(text: string): Decoded {
  // A leading byte-order mark is not JSON, but editors write one; it carries no data.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    return {
      ok: false,
      message: `malformed JSON: ${syntaxMessage(error, body)}`,
      segments: [],
      cause: error,
    };
  }
}

/**
 * Strings and bytes are JSON text; anything else is taken as an already
 * parsed value and copied (see copyValue).
 */
export function decode(input: unknown): Decoded {
  if (typeof input === 'string') return parseText(input);
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    let text: string;
    try {
      text = utf8.decode(input);
    } catch (error) {
      return {
        ok: false,
        message: 'malformed JSON: the bytes are not valid UTF-8',
        segments: [],
        cause: error,
      };
    }
    return parseText(text);
  }
  return copyValue(input);
}

function isCopied(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Sets an own data property even when the key is "__proto__" (which `o[k] = v` would not). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

interface Frame {
  readonly source: Record<string, unknown> | unknown[];
  readonly target: Record<string, unknown> | unknown[];
  readonly keys: readonly string[];
  readonly key: Segment | undefined;
  next: number;
}

function newTarget(source: Record<string, unknown> | unknown[]) {
  return Array.isArray(source) ? [] : {};
}

/**
 * The keys to copy: own enumerable keys of an object; every index of an
 * array, or undefined for a sparse one. Holes are refused rather than filled:
 * filling `new Array(2 ** 32 - 1)` would never finish.
 */
function keysOf(source: Record<string, unknown> | unknown[]): string[] | undefined {
  if (!Array.isArray(source)) return Object.keys(source);
  let present = 0;
  for (const key of Object.keys(source)) if (String(Number(key) >>> 0) === key) present++;
  if (present < source.length) return undefined;
  return Array.from({ length: source.length }, (_, i) => String(i));
}

/**
 * Deep-copies a caller's value into a fresh plain JSON tree: arrays and plain
 * objects are copied (own enumerable string keys), with JSON.stringify's
 * treatment of undefined/functions/symbols (dropped from objects, null in
 * arrays). Other values, including class instances, are kept as they are for
 * the schema to judge. A cycle cannot be JSON and is reported as an issue.
 * The copy means the result never aliases the caller's object, and that
 * "__proto__" keys stay ordinary data.
 */
export function copyValue(root: unknown): Decoded {
  if (!isCopied(root)) return { ok: true, value: root };
  const sparse = (segments: Segment[]): Decoded => ({
    ok: false,
    message: 'an array with holes cannot be JSON',
    segments,
  });
  const rootKeys = keysOf(root);
  if (rootKeys === undefined) return sparse([]);
  const rootTarget = newTarget(root);
  const ancestors = new Set<object>([root]);
  const stack: Frame[] = [
    { source: root, target: rootTarget, keys: rootKeys, key: undefined, next: 0 },
  ];
  const pathTo = (last: Segment): Segment[] => [
    ...stack.slice(1).map((f) => f.key as Segment),
    last,
  ];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    if (frame.next >= frame.keys.length) {
      stack.pop();
      ancestors.delete(frame.source);
      continue;
    }
    const rawKey = frame.keys[frame.next++] as string;
    const isArray = Array.isArray(frame.source);
    let value = (frame.source as Record<string, unknown>)[rawKey];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
      if (!isArray) continue;
      value = null;
    }
    const key: Segment = isArray ? Number(rawKey) : rawKey;
    let stored = value;
    if (isCopied(value)) {
      if (ancestors.has(value)) {
        return { ok: false, message: 'a circular reference cannot be JSON', segments: pathTo(key) };
      }
      const keys = keysOf(value);
      if (keys === undefined) return sparse(pathTo(key));
      stored = newTarget(value);
      ancestors.add(value);
      stack.push({
        source: value,
        target: stored as Record<string, unknown> | unknown[],
        keys,
        key,
        next: 0,
      });
    }
    if (isArray) {
      (frame.target as unknown[])[Number(rawKey)] = stored;
    } else {
      setOwn(frame.target as Record<string, unknown>, rawKey, stored);
    }
  }
  return { ok: true, value: rootTarget };
}

/**
 * zod drops "__proto__" keys from what it parses (to protect its output) and
 * so never validates their values. The parsers instead hand zod a view of the
 * document in which every key of the form \0…\0__proto__ gains one more
 * leading \0: "__proto__" is validated like any other key, the renaming is
 * reversible, and the caller gets the untouched document back.
 */
const ESCAPE = '\u0000';

/** "__proto__" preceded by `min` or more escape characters. */
function isProtoLike(key: string, min: number): boolean {
  let i = 0;
  while (key.charAt(i) === ESCAPE) i++;
  return i >= min && key.slice(i) === '__proto__';
}

/** Reverses the escaping for one key of an issue path. */
export function unescapeKey(key: string): string {
  return isProtoLike(key, 1) ? key.slice(1) : key;
}

/** Only the JSON tree is searched: values kept by reference (class instances) may be cyclic. */
function hasProtoKey(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (!isCopied(value)) continue;
    if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return true;
    for (const child of Object.values(value)) {
      if (isCopied(child)) pending.push(child);
    }
  }
  return false;
}

/** The view zod validates: the document itself, or an escaped copy if it has "__proto__" keys. */
export function validationView(value: unknown): { view: unknown; escaped: boolean } {
  if (!hasProtoKey(value)) return { view: value, escaped: false };
  const escapeKey = (key: string) => (isProtoLike(key, 0) ? `${ESCAPE}${key}` : key);
  const rootTarget = isCopied(value) ? newTarget(value) : value;
  const pending: [Record<string, unknown> | unknown[], Record<string, unknown> | unknown[]][] = [];
  if (isCopied(value)) pending.push([value, rootTarget as Record<string, unknown> | unknown[]]);
  while (pending.length > 0) {
    const [source, target] = pending.pop() as [
      Record<string, unknown> | unknown[],
      Record<string, unknown> | unknown[],
    ];
    for (const key of Object.keys(source)) {
      const child = (source as Record<string, unknown>)[key];
      let stored = child;
      if (isCopied(child)) {
        stored = newTarget(child);
        pending.push([child, stored as Record<string, unknown> | unknown[]]);
      }
      if (Array.isArray(target)) target[Number(key)] = stored;
      else target[escapeKey(key)] = stored;
    }
  }
  return { view: rootTarget, escaped: true };
}
