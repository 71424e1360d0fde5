/**
 * Small, dependency-free validators for values that came off the network.
 * Each takes `unknown`, returns a typed value, and throws
 * `ProtocolError('bad_message')` naming the field it refused. Validated
 * objects are rebuilt field by field, so unknown keys (and `__proto__`) never
 * travel further.
 */
import { fromB64u } from './bytes.ts';
import { ProtocolError } from './errors.ts';

/** A JSON object as read from the wire. */
export type Obj = Readonly<Record<string, unknown>>;

function fail(field: string, why: string): never {
  throw new ProtocolError('bad_message', `${field}: ${why}`);
}

/** The value as a plain object (not null, not an array). */
export function object(value: unknown, field = 'message'): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'expected an object');
  return value as Obj;
}

/** A string of at most `max` UTF-16 units, optionally matching `re`. */
export function string(o: Obj, key: string, max: number, re?: RegExp): string {
  const v = o[key];
  if (typeof v !== 'string') fail(key, 'expected a string');
  if (v.length > max) fail(key, `longer than ${max}`);
  if (re && !re.test(v)) fail(key, 'bad format');
  return v;
}

/** An integer in `[min, max]`. */
export function integer(o: Obj, key: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(key, 'expected an integer');
  if (v < min || v > max) fail(key, `out of range [${min}, ${max}]`);
  return v;
}

/** A finite number in `[min, max]` (fractions allowed). */
export function finite(o: Obj, key: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, 'expected a number');
  if (v < min || v > max) fail(key, `out of range [${min}, ${max}]`);
  return v;
}

/** A boolean. */
export function boolean(o: Obj, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(key, 'expected a boolean');
  return v;
}

/** A base64url string that decodes to exactly `bytes` bytes (or at most `maxBytes` when `bytes` is -1). */
export function b64(o: Obj, key: string, bytes: number, maxBytes = bytes): string {
  const limit = bytes >= 0 ? bytes : maxBytes;
  const v = string(o, key, Math.ceil((limit * 4) / 3) + 2);
  let decoded: Uint8Array;
  try {
    decoded = fromB64u(v);
  } catch {
    fail(key, 'invalid base64url');
  }
  if (bytes >= 0 ? decoded.length !== bytes : decoded.length > maxBytes) {
    fail(key, bytes >= 0 ? `expected ${bytes} bytes` : `more than ${maxBytes} bytes`);
  }
  return v;
}

/** A string from a fixed set. */
export function oneOf<const T extends string>(o: Obj, key: string, values: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    fail(key, `expected one of ${values.join(', ')}`);
  return v as T;
}

/** An array of at most `max` items, each checked by `item`. */
export function array<T>(o: Obj, key: string, max: number, item: (v: unknown, field: string) => T): T[] {
  const v = o[key];
  if (!Array.isArray(v)) fail(key, 'expected an array');
  if (v.length > max) fail(key, `more than ${max} items`);
  return v.map((x, i) => item(x, `${key}[${i}]`));
}

/** `check(o, key)` when `key` is present (not undefined), else undefined. */
export function optional<T>(o: Obj, key: string, check: (o: Obj, key: string) => T): T | undefined {
  return o[key] === undefined ? undefined : check(o, key);
}
