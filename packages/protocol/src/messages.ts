/**
 * Relay messages (docs/protocol.md §3–§5) as discriminated unions on `t`, with
 * parsers that take `unknown` straight off the WebSocket, enforce the 64 KiB
 * cap, check every field, and throw `ProtocolError('bad_message')` for
 * anything else. The relay, the host and the device all use these; no one
 * re-declares a message.
 */
import { utf8Length } from './bytes.ts';
import type { Envelope } from './envelope.ts';
import { messageOf, ProtocolError } from './errors.ts';
import {
  DEVICE_ID_RE,
  type DeviceId,
  HOST_ID_RE,
  type HostId,
  PARTY_ID_RE,
  type PartyId,
  type Role,
} from './identity.ts';
import { array, b64, boolean, integer, type Obj, object, oneOf, optional, string } from './schema.ts';
import { MAX_TS } from './time.ts';

/** Largest frame either side accepts, in bytes (UTF-8). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Largest sealed ciphertext inside a frame, in bytes. */
export const MAX_CT_BYTES = 46 * 1024;

const RID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const KIND_RE = /^[a-z][a-z0-9.-]{0,31}$/;
const CODE_RE = /^[a-z][a-z0-9_]{0,47}$/;
const ENROLL_RE = /^[A-Za-z0-9_-]{16,128}$/;
const URL_RE = /^(stun|stuns|turn|turns):[\x21-\x7e]{1,250}$/;
const ORIGIN_RE = /^wss?:\/\/[\x21-\x7e]{1,250}$/;
/** A push service endpoint: an https URL (the relay checks it further against its allowlist). */
const PUSH_ENDPOINT_RE = /^https:\/\/[\x21-\x7e]{1,1000}$/;
const B64U_RE = /^[A-Za-z0-9_-]+={0,2}$/;
/** Largest push endpoint URL, in characters. */
export const MAX_PUSH_ENDPOINT = 1024;

// ---------------------------------------------------------------- client → relay

export interface AuthMessage {
  t: 'auth';
  role: Role;
  pub: string;
  ts: number;
  sig: string;
  enroll?: string;
  /** The id the client claims; when present the relay refuses it unless it is the key's id. */
  id?: PartyId;
}
export interface PairCreateMessage {
  t: 'pair.create';
  rid: string;
}
export interface PairRedeemMessage {
  t: 'pair.redeem';
  rid: string;
  claim: string;
  host: HostId;
  env: Envelope;
}
export interface PairAcceptMessage {
  t: 'pair.accept';
  rid: string;
  to: DeviceId;
  env: Envelope;
}
export interface PairRejectMessage {
  t: 'pair.reject';
  rid: string;
  to: DeviceId;
}
export interface PairRevokeMessage {
  t: 'pair.revoke';
  rid: string;
  peer: PartyId;
}
export interface SendMessage {
  t: 'send';
  rid?: string;
  to: PartyId;
  env: Envelope;
}
export interface TurnCredentialsMessage {
  t: 'turn.credentials';
  rid: string;
}
/** Device: asks for the relay's VAPID public key (answered by `push.vapid`, or `error` `unsupported` when push is off). */
export interface PushKeyMessage {
  t: 'push.key';
  rid: string;
}
/**
 * Device: stores a Web Push subscription for this device (the browser's
 * `PushSubscription`: its endpoint URL and its `p256dh` / `auth` keys,
 * base64url as the browser gives them). Answered by `ok`.
 */
export interface PushSubscribeMessage {
  t: 'push.subscribe';
  rid: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}
/** Device: forgets one subscription of this device (by endpoint), or all of them when none is named. Answered by `ok`. */
export interface PushUnsubscribeMessage {
  t: 'push.unsubscribe';
  rid: string;
  endpoint?: string;
}
/**
 * Host: an alert sealed to one paired device (inner kind `alert`). The
 * relay delivers it as `deliver` to the device's open connections and as a
 * Web Push message to its subscriptions, never opening it; rate-limited per
 * host and device. Answered by `ok` once accepted (not once delivered).
 */
export interface PushSendMessage {
  t: 'push.send';
  rid: string;
  to: DeviceId;
  env: Envelope;
  /** The Web Push `Urgency` (RFC 8030 §5.3) the host asks for: `high` for a critical alert; `normal` when absent. */
  urgency?: PushUrgency;
}
/** The urgencies a host may ask for. */
export const PUSH_URGENCIES = ['normal', 'high'] as const;
export type PushUrgency = (typeof PUSH_URGENCIES)[number];

/** Everything a host or a device may send to the relay. */
export type ClientMessage =
  | AuthMessage
  | PairCreateMessage
  | PairRedeemMessage
  | PairAcceptMessage
  | PairRejectMessage
  | PairRevokeMessage
  | SendMessage
  | TurnCredentialsMessage
  | PushKeyMessage
  | PushSubscribeMessage
  | PushUnsubscribeMessage
  | PushSendMessage;

// ---------------------------------------------------------------- relay → client

export interface ChallengeMessage {
  t: 'challenge';
  nonce: string;
  relay: string;
}
export interface ReadyMessage {
  t: 'ready';
  id: PartyId;
  /** The relay's clock, Unix seconds (clients use it to warn of skew). */
  time: number;
}
export interface PairCreatedMessage {
  t: 'pair.created';
  rid: string;
  claim: string;
  expires: number;
}
export interface PairRequestMessage {
  t: 'pair.request';
  from: DeviceId;
  pub: string;
  env: Envelope;
}
export interface OkMessage {
  t: 'ok';
  rid: string;
}
export interface PairAcceptedMessage {
  t: 'pair.accepted';
  from: HostId;
  pub: string;
  env: Envelope;
}
export interface PairRejectedMessage {
  t: 'pair.rejected';
  from: HostId;
}
/**
 * To a host: wrong redeems killed its live claims (docs/protocol.md §4); a
 * waiting pairing will never be redeemed and should say so.
 */
export interface PairBurnedMessage {
  t: 'pair.burned';
}
export interface PairRevokedMessage {
  t: 'pair.revoked';
  from: PartyId;
}
export interface DeliverMessage {
  t: 'deliver';
  from: PartyId;
  env: Envelope;
}
export interface PresenceMessage {
  t: 'presence';
  host: HostId;
  online: boolean;
}
export interface TurnMessage {
  t: 'turn';
  rid: string;
  urls: string[];
  username: string;
  credential: string;
  ttl: number;
}
/** The relay's VAPID public key (RFC 8292): an uncompressed P-256 point, base64url (65 bytes). */
export interface PushVapidMessage {
  t: 'push.vapid';
  rid: string;
  key: string;
}
export interface ErrorMessage {
  t: 'error';
  rid?: string;
  /** A catalogue code; a newer relay may send codes this build does not know. */
  code: string;
  message?: string;
}

/** Everything the relay may send to a host or a device. */
export type ServerMessage =
  | ChallengeMessage
  | ReadyMessage
  | PairCreatedMessage
  | PairRequestMessage
  | OkMessage
  | PairAcceptedMessage
  | PairRejectedMessage
  | PairBurnedMessage
  | PairRevokedMessage
  | DeliverMessage
  | PresenceMessage
  | TurnMessage
  | PushVapidMessage
  | ErrorMessage;

// ---------------------------------------------------------------- framing

/**
 * Decodes one WebSocket frame (string, or bytes holding UTF-8) into a JSON
 * value, refusing anything over `MAX_MESSAGE_BYTES` before parsing it.
 */
export function decodeFrame(frame: unknown): unknown {
  let text: string;
  if (typeof frame === 'string') {
    if (frame.length > MAX_MESSAGE_BYTES || utf8Length(frame) > MAX_MESSAGE_BYTES) tooLarge();
    text = frame;
  } else if (frame instanceof Uint8Array || frame instanceof ArrayBuffer) {
    const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : frame;
    if (bytes.length > MAX_MESSAGE_BYTES) tooLarge();
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new ProtocolError('bad_message', 'frame is not UTF-8', { cause });
    }
  } else {
    throw new ProtocolError('bad_message', 'frame must be text');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ProtocolError('bad_message', 'frame is not JSON', { cause });
  }
}

function tooLarge(): never {
  throw new ProtocolError('bad_message', `frame exceeds ${MAX_MESSAGE_BYTES} bytes`);
}

/** Serializes a message, refusing one that would exceed the cap. */
export function encodeMessage(message: ClientMessage | ServerMessage): string {
  const text = JSON.stringify(message);
  if (utf8Length(text) > MAX_MESSAGE_BYTES) tooLarge();
  return text;
}

/** The `rid` of a value if it has a well-formed one, so an error can echo it. */
export function ridOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const rid = (value as Obj).rid;
  return typeof rid === 'string' && RID_RE.test(rid) ? rid : undefined;
}

// ---------------------------------------------------------------- field checks

/** Validates a sealed envelope's wire form. */
export function parseEnvelope(value: unknown, field = 'env'): Envelope {
  const o = object(value, field);
  return {
    kind: string(o, 'kind', 32, KIND_RE),
    mid: b64(o, 'mid', 16),
    ts: integer(o, 'ts', 0, MAX_TS),
    enc: b64(o, 'enc', 32),
    ct: b64(o, 'ct', -1, MAX_CT_BYTES),
  };
}

const rid = (o: Obj) => string(o, 'rid', 64, RID_RE);
const hostId = (o: Obj, key: string) => string(o, key, 28, HOST_ID_RE) as HostId;
const deviceId = (o: Obj, key: string) => string(o, key, 28, DEVICE_ID_RE) as DeviceId;
const partyId = (o: Obj, key: string) => string(o, key, 28, PARTY_ID_RE) as PartyId;
const env = (o: Obj) => parseEnvelope(o.env);
const ts = (o: Obj, key: string) => integer(o, key, 0, MAX_TS);

function typeOf(o: Obj): string {
  return string(o, 't', 32);
}

function unknownType(t: string): never {
  throw new ProtocolError('bad_message', `unknown message type ${JSON.stringify(t.slice(0, 32))}`);
}

// ---------------------------------------------------------------- parsers

/** Parses a decoded value as a client → relay message. */
export function parseClientMessage(value: unknown): ClientMessage {
  const o = object(value);
  const t = typeOf(o);
  switch (t) {
    case 'auth': {
      const m: AuthMessage = {
        t,
        role: oneOf(o, 'role', ['host', 'device'] as const),
        pub: b64(o, 'pub', 32),
        ts: ts(o, 'ts'),
        sig: b64(o, 'sig', 64),
      };
      const enroll = optional(o, 'enroll', (x, k) => string(x, k, 128, ENROLL_RE));
      if (enroll !== undefined) m.enroll = enroll;
      const id = optional(o, 'id', (x, k) => partyId(x, k));
      if (id !== undefined) m.id = id;
      return m;
    }
    case 'pair.create':
      return { t, rid: rid(o) };
    case 'pair.redeem':
      return { t, rid: rid(o), claim: b64(o, 'claim', 16), host: hostId(o, 'host'), env: env(o) };
    case 'pair.accept':
      return { t, rid: rid(o), to: deviceId(o, 'to'), env: env(o) };
    case 'pair.reject':
      return { t, rid: rid(o), to: deviceId(o, 'to') };
    case 'pair.revoke':
      return { t, rid: rid(o), peer: partyId(o, 'peer') };
    case 'send': {
      const m: SendMessage = { t, to: partyId(o, 'to'), env: env(o) };
      const r = optional(o, 'rid', (x) => rid(x));
      if (r !== undefined) m.rid = r;
      return m;
    }
    case 'turn.credentials':
      return { t, rid: rid(o) };
    case 'push.key':
      return { t, rid: rid(o) };
    case 'push.subscribe':
      return {
        t,
        rid: rid(o),
        endpoint: string(o, 'endpoint', MAX_PUSH_ENDPOINT, PUSH_ENDPOINT_RE),
        // an uncompressed P-256 point (65 bytes → 87 base64url characters) and a 16-byte secret
        p256dh: string(o, 'p256dh', 88, B64U_RE),
        auth: string(o, 'auth', 24, B64U_RE),
      };
    case 'push.unsubscribe': {
      const m: PushUnsubscribeMessage = { t, rid: rid(o) };
      const endpoint = optional(o, 'endpoint', (x, k) => string(x, k, MAX_PUSH_ENDPOINT, PUSH_ENDPOINT_RE));
      if (endpoint !== undefined) m.endpoint = endpoint;
      return m;
    }
    case 'push.send': {
      const m: PushSendMessage = { t, rid: rid(o), to: deviceId(o, 'to'), env: env(o) };
      const urgency = optional(o, 'urgency', (x, k) => oneOf(x, k, PUSH_URGENCIES));
      if (urgency !== undefined) m.urgency = urgency;
      return m;
    }
    default:
      return unknownType(t);
  }
}

/** Parses a decoded value as a relay → client message. */
export function parseServerMessage(value: unknown): ServerMessage {
  const o = object(value);
  const t = typeOf(o);
  switch (t) {
    case 'challenge':
      return { t, nonce: b64(o, 'nonce', 32), relay: string(o, 'relay', 256, ORIGIN_RE) };
    case 'ready':
      return { t, id: partyId(o, 'id'), time: ts(o, 'time') };
    case 'pair.created':
      return { t, rid: rid(o), claim: b64(o, 'claim', 16), expires: ts(o, 'expires') };
    case 'pair.request':
      return { t, from: deviceId(o, 'from'), pub: b64(o, 'pub', 32), env: env(o) };
    case 'ok':
      return { t, rid: rid(o) };
    case 'pair.accepted':
      return { t, from: hostId(o, 'from'), pub: b64(o, 'pub', 32), env: env(o) };
    case 'pair.rejected':
      return { t, from: hostId(o, 'from') };
    case 'pair.burned':
      return { t };
    case 'pair.revoked':
      return { t, from: partyId(o, 'from') };
    case 'deliver':
      return { t, from: partyId(o, 'from'), env: env(o) };
    case 'presence':
      return { t, host: hostId(o, 'host'), online: boolean(o, 'online') };
    case 'turn':
      return {
        t,
        rid: rid(o),
        urls: array(o, 'urls', 8, (v, f) => string({ [f]: v }, f, 256, URL_RE)),
        username: string(o, 'username', 128),
        credential: string(o, 'credential', 128),
        ttl: integer(o, 'ttl', 0, 86_400),
      };
    case 'push.vapid':
      return { t, rid: rid(o), key: string(o, 'key', 88, B64U_RE) };
    case 'error': {
      const m: ErrorMessage = { t, code: string(o, 'code', 48, CODE_RE) };
      const r = optional(o, 'rid', (x) => rid(x));
      if (r !== undefined) m.rid = r;
      const message = optional(o, 'message', (x, k) => string(x, k, 512));
      if (message !== undefined) m.message = message;
      return m;
    }
    default:
      return unknownType(t);
  }
}

/** `decodeFrame` then `parseClientMessage`. */
export function readClientMessage(frame: unknown): ClientMessage {
  return parseClientMessage(decodeFrame(frame));
}

/** `decodeFrame` then `parseServerMessage`. */
export function readServerMessage(frame: unknown): ServerMessage {
  return parseServerMessage(decodeFrame(frame));
}

/** Builds an `error` message for a `ProtocolError` (or anything else, as `internal`). */
export function errorMessage(error: unknown, rid?: string): ErrorMessage {
  const code = error instanceof ProtocolError ? error.code : 'internal';
  const message = error instanceof ProtocolError ? error.message : messageOf('internal');
  const m: ErrorMessage = { t: 'error', code, message };
  if (rid !== undefined) m.rid = rid;
  return m;
}
