/**
 * The terminal channel's frame codec (docs/protocol.md §6). Every message on a
 * `term:` data channel is one frame whose first byte is its type: `0x00` +
 * raw terminal bytes, or `0x01` + UTF-8 JSON control. Host → device controls
 * are `attached`, `exit`, `title` and `bell`; device → host controls are
 * `resize` and `ack`. Encoders check what they are given; the parsers are
 * strict, take the raw frame and throw `ProtocolError('bad_message')` for
 * anything else. No Node APIs: the web client uses this too.
 */
import { concat, fromUtf8, utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { integer, type Obj, object, optional, string } from './schema.ts';

/** First byte of a terminal data frame. */
export const FRAME_DATA = 0x00;
/** First byte of a JSON control frame. */
export const FRAME_CONTROL = 0x01;
/** Largest control JSON, in bytes (without the type byte). */
export const MAX_CONTROL_BYTES = 4096;
/** Terminal columns and rows are in `[1, MAX_TERM_SIZE]`. */
export const MAX_TERM_SIZE = 1000;
/** Largest screen snapshot announced by `attached`, in bytes. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024;
/** Longest session id in an `attached` control (UTF-16 units). */
export const MAX_SESSION_ID_LENGTH = 256;
/** Longest window title (UTF-16 units). */
export const MAX_TITLE_LENGTH = 1024;

/**
 * Host → device: the first frame on every terminal channel (and again after a
 * resync). The next `snapshot` bytes of data frames are the screen snapshot
 * (they do not count toward `offset`); live output from `offset` follows.
 */
export interface AttachedControl {
  t: 'attached';
  session: string;
  offset: number;
  cols: number;
  rows: number;
  /** Length in bytes of the snapshot that follows, split over data frames of at most 16 KiB. */
  snapshot: number;
}
/**
 * Host → device: the session's process ended (`code` 0..255; 128+n for
 * signal n). `reason` says why when the host ended it (`EXIT_REASONS`);
 * absent when the program ended by itself.
 */
export interface ExitControl {
  t: 'exit';
  code: number;
  reason?: string;
}

/**
 * Why the host ended a session (the `reason` of `exit`): its idle timeout
 * or maximum lifetime hit (docs/host.md "Session limits"), a device or the
 * CLI closed it, or the host shut down. Devices must accept any reason
 * matching `EXIT_REASON_RE` (more may be added) and show it as it is.
 */
export const EXIT_REASONS = ['idle_timeout', 'max_lifetime', 'closed', 'shutdown'] as const;
/** One of the host's exit reasons. */
export type ExitReason = (typeof EXIT_REASONS)[number];
/** What any `exit` reason looks like (future reasons included). */
export const EXIT_REASON_RE = /^[a-z][a-z_]{0,31}$/;
/** Host → device: the window title changed. */
export interface TitleControl {
  t: 'title';
  title: string;
}
/** Host → device: the terminal rang its bell. */
export interface BellControl {
  t: 'bell';
}
/**
 * Device → host: the device's terminal size. `pace: "screen"` says the
 * device shows a screen rather than keeping a log of every line: when output
 * comes faster than it takes it, the host may send it the screen (screen
 * sync) instead of holding the program back. Other `pace` words are for
 * later versions and mean nothing yet.
 */
export interface ResizeControl {
  t: 'resize';
  cols: number;
  rows: number;
  pace?: string;
}
/** Device → host: every output byte before `offset` has been received. */
export interface AckControl {
  t: 'ack';
  offset: number;
}

/** A control the host sends. */
export type HostControl = AttachedControl | ExitControl | TitleControl | BellControl;
/** A control the device sends. */
export type DeviceControl = ResizeControl | AckControl;
/** Any terminal control. */
export type TermControl = HostControl | DeviceControl;

/** A parsed frame: terminal bytes or a control of type `C`. */
export type TermFrame<C extends TermControl> =
  | { readonly type: 'data'; readonly data: Uint8Array }
  | { readonly type: 'control'; readonly control: C };

// Session ids are our own ids or `tmux:<name>` / `screen:<name>`: no control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
const SESSION_RE = /^[^\x00-\x1f\x7f]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
const TITLE_RE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

/** A `resize` control's `pace` word. */
const PACE_RE = /^[a-z]{1,16}$/;

function fail(why: string): never {
  throw new ProtocolError('bad_message', `terminal frame: ${why}`);
}

/** A data frame: `0x00` + `data`. */
export function encodeData(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = FRAME_DATA;
  out.set(data, 1);
  return out;
}

/** A control frame: `0x01` + UTF-8 JSON of `control`, checked as strictly as the parser checks it. */
export function encodeControl(control: TermControl): Uint8Array {
  const body = utf8(JSON.stringify(checkControl(control as unknown as Obj)));
  if (body.length > MAX_CONTROL_BYTES) fail(`control longer than ${MAX_CONTROL_BYTES} bytes`);
  return concat(Uint8Array.of(FRAME_CONTROL), body);
}

function checkControl(o: Obj): TermControl {
  const t = o.t;
  switch (t) {
    case 'attached':
      return {
        t,
        session: string(o, 'session', MAX_SESSION_ID_LENGTH, SESSION_RE),
        offset: integer(o, 'offset', 0, Number.MAX_SAFE_INTEGER),
        cols: integer(o, 'cols', 1, MAX_TERM_SIZE),
        rows: integer(o, 'rows', 1, MAX_TERM_SIZE),
        snapshot: integer(o, 'snapshot', 0, MAX_SNAPSHOT_BYTES),
      };
    case 'exit': {
      const reason = optional(o, 'reason', (x, k) => string(x, k, 32, EXIT_REASON_RE));
      return { t, code: integer(o, 'code', 0, 255), ...(reason !== undefined ? { reason } : {}) };
    }
    case 'title':
      return { t, title: string(o, 'title', MAX_TITLE_LENGTH, TITLE_RE) };
    case 'bell':
      return { t };
    case 'resize': {
      const pace = optional(o, 'pace', (x, k) => string(x, k, 16, PACE_RE));
      return {
        t,
        cols: integer(o, 'cols', 1, MAX_TERM_SIZE),
        rows: integer(o, 'rows', 1, MAX_TERM_SIZE),
        ...(pace !== undefined ? { pace } : {}),
      };
    }
    case 'ack':
      return { t, offset: integer(o, 'offset', 0, Number.MAX_SAFE_INTEGER) };
    default:
      return fail(`unknown control ${JSON.stringify(String(t)).slice(0, 40)}`);
  }
}

const HOST_CONTROLS: ReadonlySet<string> = new Set(['attached', 'exit', 'title', 'bell']);
const DEVICE_CONTROLS: ReadonlySet<string> = new Set(['resize', 'ack']);

function parseFrame(frame: unknown, allowed: ReadonlySet<string>, from: string): TermFrame<TermControl> {
  if (!(frame instanceof Uint8Array)) fail('expected bytes');
  if (frame.length === 0) fail('empty frame');
  const type = frame[0];
  if (type === FRAME_DATA) return { type: 'data', data: frame.subarray(1) };
  if (type !== FRAME_CONTROL) fail(`unknown frame type ${type}`);
  if (frame.length - 1 > MAX_CONTROL_BYTES) fail(`control longer than ${MAX_CONTROL_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(frame.subarray(1)));
  } catch (cause) {
    if (cause instanceof ProtocolError) throw cause;
    throw new ProtocolError('bad_message', 'terminal frame: control is not JSON', { cause });
  }
  const o = object(value, 'control');
  if (typeof o.t !== 'string' || !allowed.has(o.t)) fail(`not a ${from} control`);
  return { type: 'control', control: checkControl(o) };
}

/** Parses a frame the host sent (what a device receives). */
export function parseHostFrame(frame: unknown): TermFrame<HostControl> {
  return parseFrame(frame, HOST_CONTROLS, 'host') as TermFrame<HostControl>;
}

/** Parses a frame a device sent (what the host receives). */
export function parseDeviceFrame(frame: unknown): TermFrame<DeviceControl> {
  return parseFrame(frame, DEVICE_CONTROLS, 'device') as TermFrame<DeviceControl>;
}
