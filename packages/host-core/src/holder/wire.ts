/**
 * The wire between the daemon and the session holder (holder.ts) on the
 * holder's unix socket: length-prefixed binary frames. Each frame is a
 * 4-byte big-endian body length, then the body: one type byte, then
 *
 * - `JSON` (1): a UTF-8 JSON object — a call, its reply, or an event;
 * - `TO_HOLDER` (2) / `FROM_HOLDER` (3): a 4-byte attachment id and one
 *   terminal frame (docs/protocol.md §6) as the device sent it, or as the
 *   holder's attachment sends it to the device.
 *
 * A body is at most `MAX_BODY` bytes; a longer length, an unknown type, a
 * short terminal frame or JSON that is not an object is refused with
 * `bad_message` (the socket is then closed by its reader): a local trust
 * boundary, checked all the same.
 */
import { join } from 'node:path';
import { ProtocolError } from '@pocketshell/protocol';
import type { StatePaths } from '../state/paths.ts';

/** The session holder's socket in a state folder. */
export function holderSocket(paths: StatePaths): string {
  return join(paths.root, 'holder.sock');
}

/**
 * The wire's version, in `hello`'s answer. An upgraded daemon may meet a
 * holder of the version before it (the holder keeps the shells across the
 * upgrade); a different version is refused with `unsupported`, saying how
 * to end the old holder.
 */
export const HOLDER_WIRE_VERSION = 1;

export const FRAME_JSON = 1;
export const FRAME_TO_HOLDER = 2;
export const FRAME_FROM_HOLDER = 3;

/** Largest body: a snapshot (≤ 60 KiB), a data frame (16 KiB) or a listing fit well under it. */
export const MAX_BODY = 1024 * 1024;

/** One decoded frame. */
export type HolderFrame =
  | { readonly type: typeof FRAME_JSON; readonly message: Record<string, unknown> }
  | {
      readonly type: typeof FRAME_TO_HOLDER | typeof FRAME_FROM_HOLDER;
      readonly attachment: number;
      readonly payload: Uint8Array;
    };

/** Encodes a JSON message. */
export function encodeJson(message: Record<string, unknown>): Uint8Array {
  const text = Buffer.from(JSON.stringify(message), 'utf8');
  if (text.length + 1 > MAX_BODY) throw new ProtocolError('bad_message', 'holder message too large');
  const out = Buffer.allocUnsafe(5 + text.length);
  out.writeUInt32BE(text.length + 1, 0);
  out[4] = FRAME_JSON;
  text.copy(out, 5);
  return out;
}

/** Encodes one terminal frame of attachment `attachment`. */
export function encodeTerm(
  type: typeof FRAME_TO_HOLDER | typeof FRAME_FROM_HOLDER,
  attachment: number,
  payload: Uint8Array,
): Uint8Array {
  if (payload.length + 5 > MAX_BODY) throw new ProtocolError('bad_message', 'terminal frame too large');
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUInt32BE(payload.length + 5, 0);
  out[4] = type;
  out.writeUInt32BE(attachment >>> 0, 5);
  out.set(payload, 9);
  return out;
}

/**
 * Splits a byte stream into frames. `push` returns the frames completed by
 * `chunk`, or throws `ProtocolError` `bad_message` at the first bad one
 * (the stream cannot be trusted after that).
 */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  #failed = false;

  push(chunk: Uint8Array): HolderFrame[] {
    if (this.#failed) throw new ProtocolError('bad_message', 'holder stream already failed');
    this.#buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk]);
    const out: HolderFrame[] = [];
    try {
      while (this.#buf.length >= 4) {
        const len = this.#buf.readUInt32BE(0);
        if (len < 1 || len > MAX_BODY) throw new ProtocolError('bad_message', `holder frame of ${len} bytes`);
        if (this.#buf.length < 4 + len) break;
        const body = this.#buf.subarray(4, 4 + len);
        this.#buf = this.#buf.subarray(4 + len);
        out.push(decodeBody(body));
      }
    } catch (error) {
      this.#failed = true;
      throw error;
    }
    return out;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#buf.length;
  }
}

function decodeBody(body: Buffer): HolderFrame {
  const type = body[0];
  if (type === FRAME_JSON) {
    let message: unknown;
    try {
      message = JSON.parse(body.subarray(1).toString('utf8'));
    } catch {
      throw new ProtocolError('bad_message', 'holder message is not JSON');
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      throw new ProtocolError('bad_message', 'holder message is not an object');
    return { type, message: message as Record<string, unknown> };
  }
  if (type === FRAME_TO_HOLDER || type === FRAME_FROM_HOLDER) {
    if (body.length < 5) throw new ProtocolError('bad_message', 'short terminal frame');
    // A copy: the reader's buffer is reused.
    return { type, attachment: body.readUInt32BE(1), payload: new Uint8Array(body.subarray(5)) };
  }
  throw new ProtocolError('bad_message', `unknown holder frame type ${type}`);
}

/** A string field of a message, checked (non-empty unless `empty`, at most `max` characters). */
export function str(m: Record<string, unknown>, key: string, max = 256, empty = false): string {
  const v = m[key];
  if (typeof v !== 'string' || v.length > max || (!empty && v.length === 0))
    throw new ProtocolError('bad_message', `holder message: ${key} must be a string`);
  return v;
}

/** An optional string field. */
export function optStr(m: Record<string, unknown>, key: string, max = 256): string | undefined {
  return m[key] === undefined ? undefined : str(m, key, max);
}

/** A whole-number field in [min, max]. */
export function int(m: Record<string, unknown>, key: string, min = 0, max = 2 ** 32 - 1): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ProtocolError('bad_message', `holder message: ${key} must be a whole number`);
  return v;
}

/** An object field. */
export function obj(m: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = m[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ProtocolError('bad_message', `holder message: ${key} must be an object`);
  return v as Record<string, unknown>;
}
