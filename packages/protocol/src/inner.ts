/**
 * The bodies inside sealed envelopes (docs/protocol.md §4–§6): pairing request,
 * acceptance and the device's confirmation, and the WebRTC signaling of one connection. Each body is
 * JSON; `parseInner(kind, value)` checks it like any network message, and
 * the transcript builders give the exact bytes each signature covers.
 */
import { type AlertPushBody, parseAlertPushBody } from './alerts.ts';
import { ProtocolError } from './errors.ts';
import type { DeviceId, HostId } from './identity.ts';
import { array, b64, integer, type Obj, object, oneOf, string } from './schema.ts';
import { MAX_TS } from './time.ts';
import { LABELS, tr } from './transcript.ts';

/** What a device may be allowed to do on a host. */
export const GRANTS = ['shell', 'files:read', 'files:write', 'stats', 'agent', 'admin'] as const;
export type Grant = (typeof GRANTS)[number];

/** Largest SDP accepted, in UTF-16 units. */
export const MAX_SDP = 32 * 1024;
const CONN_RE = /^[A-Za-z0-9_-]{8,32}$/;
/** A relay-path session's `conn`: the base64url of its 16-byte session id. */
const LINK_CONN_RE = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const NAME_MAX = 64;

export interface PairRequestBody {
  name: string;
  ts: number;
  sig: string;
}
export interface PairAcceptBody {
  host_name: string;
  grants: Grant[];
  sig: string;
}
export interface PairConfirmBody {
  sig: string;
}
export interface OfferBody {
  conn: string;
  sdp: string;
  nonce: string;
  ts: number;
  sig: string;
}
export interface AnswerBody {
  conn: string;
  sdp: string;
  ts: number;
  sig: string;
}
/** `RTCIceCandidateInit`, or null for end of candidates. */
export interface IceCandidateInit {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
}
export interface IceBody {
  conn: string;
  candidate: IceCandidateInit | null;
}
export interface HangupBody {
  conn: string;
  reason: string;
}
/** Device → host: open a relay-path session (link.ts, docs/protocol.md §10). */
export interface LinkOpenBody {
  conn: string;
  /** The `enc` of the envelope carrying this body: the device's ephemeral X25519 key. */
  enc: string;
  ts: number;
  sig: string;
}
/** Host → device: the relay-path session is accepted. */
export interface LinkAcceptBody {
  conn: string;
  /** The host's ephemeral X25519 key for this session. */
  epk: string;
  ts: number;
  sig: string;
}

/** Inner kinds and their bodies. */
export interface InnerBodies {
  'pair.request': PairRequestBody;
  'pair.accept': PairAcceptBody;
  'pair.confirm': PairConfirmBody;
  offer: OfferBody;
  answer: AnswerBody;
  ice: IceBody;
  hangup: HangupBody;
  'link.open': LinkOpenBody;
  'link.accept': LinkAcceptBody;
  /** Host → device, carried by `push.send` (docs/protocol.md §5, alerts.ts). */
  alert: AlertPushBody;
}
export type InnerKind = keyof InnerBodies;
export const INNER_KINDS: readonly InnerKind[] = [
  'pair.request',
  'pair.accept',
  'pair.confirm',
  'offer',
  'answer',
  'ice',
  'hangup',
  'link.open',
  'link.accept',
  'alert',
];

function name(o: Obj, key: string): string {
  const v = string(o, key, NAME_MAX);
  // Printable, no control characters: a name is shown to a person.
  if (v.length === 0 || /[\p{Cc}\p{Cf}]/u.test(v))
    throw new ProtocolError('bad_message', `${key}: bad format`);
  return v;
}

const conn = (o: Obj) => string(o, 'conn', 32, CONN_RE);

function candidate(v: unknown, field: string): IceCandidateInit | null {
  if (v === null) return null;
  const c = object(v, field);
  const mid = c.sdpMid;
  const index = c.sdpMLineIndex;
  return {
    candidate: string(c, 'candidate', 1024),
    sdpMid: mid === null || mid === undefined ? null : string(c, 'sdpMid', 64),
    sdpMLineIndex: index === null || index === undefined ? null : integer(c, 'sdpMLineIndex', 0, 64),
  };
}

/** Checks the body of an inner `kind`. */
export function parseInner<K extends InnerKind>(kind: K, value: unknown): InnerBodies[K] {
  const o = object(value, kind);
  const k: InnerKind = kind;
  let body: InnerBodies[InnerKind];
  switch (k) {
    case 'pair.request':
      body = { name: name(o, 'name'), ts: integer(o, 'ts', 0, MAX_TS), sig: b64(o, 'sig', 64) };
      break;
    case 'pair.accept':
      body = {
        host_name: name(o, 'host_name'),
        grants: array(o, 'grants', GRANTS.length, (v, f) => oneOf({ [f]: v }, f, GRANTS)),
        sig: b64(o, 'sig', 64),
      };
      break;
    case 'pair.confirm':
      body = { sig: b64(o, 'sig', 64) };
      break;
    case 'offer':
      body = {
        conn: conn(o),
        sdp: string(o, 'sdp', MAX_SDP),
        nonce: b64(o, 'nonce', 16),
        ts: integer(o, 'ts', 0, MAX_TS),
        sig: b64(o, 'sig', 64),
      };
      break;
    case 'answer':
      body = {
        conn: conn(o),
        sdp: string(o, 'sdp', MAX_SDP),
        ts: integer(o, 'ts', 0, MAX_TS),
        sig: b64(o, 'sig', 64),
      };
      break;
    case 'ice':
      body = { conn: conn(o), candidate: candidate(o.candidate, 'candidate') };
      break;
    case 'hangup':
      body = { conn: conn(o), reason: string(o, 'reason', 48, /^[a-z][a-z0-9_]*$/) };
      break;
    case 'link.open':
      body = {
        conn: string(o, 'conn', 22, LINK_CONN_RE),
        enc: b64(o, 'enc', 32),
        ts: integer(o, 'ts', 0, MAX_TS),
        sig: b64(o, 'sig', 64),
      };
      break;
    case 'link.accept':
      body = {
        conn: string(o, 'conn', 22, LINK_CONN_RE),
        epk: b64(o, 'epk', 32),
        ts: integer(o, 'ts', 0, MAX_TS),
        sig: b64(o, 'sig', 64),
      };
      break;
    case 'alert':
      body = parseAlertPushBody(o);
      break;
    default: {
      const never: never = k;
      throw new ProtocolError('bad_message', `unknown inner kind ${String(never)}`);
    }
  }
  return body as InnerBodies[K];
}

/** True when `kind` is an inner kind this build knows. */
export function isInnerKind(kind: string): kind is InnerKind {
  return (INNER_KINDS as readonly string[]).includes(kind);
}

// ---------------------------------------------------------------- signed transcripts

/** Relay auth (§3): `tr(relay-auth/v1, relay, nonce, role, pub, ts)`. */
export function relayAuthTranscript(
  relay: string,
  nonce: Uint8Array,
  role: string,
  pub: Uint8Array,
  ts: number,
) {
  return tr(LABELS.relayAuth, relay, nonce, role, pub, ts);
}

/** Device's pairing signature (§4.3): `tr(pair/v1, host_pub, device_pub, claim, ts)`. */
export function pairRequestTranscript(
  hostPub: Uint8Array,
  devicePub: Uint8Array,
  claim: Uint8Array,
  ts: number,
) {
  return tr(LABELS.pair, hostPub, devicePub, claim, ts);
}

/** Host's acceptance signature (§4.5): `tr(pair-accept/v1, host_pub, device_pub, claim)`. */
export function pairAcceptTranscript(hostPub: Uint8Array, devicePub: Uint8Array, claim: Uint8Array) {
  return tr(LABELS.pairAccept, hostPub, devicePub, claim);
}

/** Device's completion signature (§4.6): `tr(pair-confirm/v1, host_pub, device_pub, claim)`. */
export function pairConfirmTranscript(hostPub: Uint8Array, devicePub: Uint8Array, claim: Uint8Array) {
  return tr(LABELS.pairConfirm, hostPub, devicePub, claim);
}

/** Signed SDP (§6): `tr(sdp/v1, "offer"|"answer", host_id, device_id, conn, nonce, ts, sdp)`. */
export function sdpTranscript(
  kind: 'offer' | 'answer',
  hostId: HostId,
  deviceId: DeviceId,
  conn: string,
  offerNonce: Uint8Array,
  ts: number,
  sdp: string,
) {
  return tr(LABELS.sdp, kind, hostId, deviceId, conn, offerNonce, ts, sdp);
}

/** Relay-path session (§10): `tr(link/v1, "open"|"accept", host_id, device_id, sid, enc[, epk], ts)`. */
export function linkTranscript(
  kind: 'open' | 'accept',
  hostId: HostId,
  deviceId: DeviceId,
  sid: Uint8Array,
  enc: Uint8Array,
  epk: Uint8Array | undefined,
  ts: number,
) {
  return kind === 'open'
    ? tr(LABELS.link, kind, hostId, deviceId, sid, enc, ts)
    : tr(LABELS.link, kind, hostId, deviceId, sid, enc, epk ?? new Uint8Array(0), ts);
}
