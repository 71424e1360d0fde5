/**
 * The relay path's cryptography and framing (docs/protocol.md §10): when
 * WebRTC cannot get through, a device and a host carry their data channels
 * inside envelopes the relay routes but cannot read. This module is the
 * part both ends must agree on byte for byte — the signed open/accept that
 * sets a session up, the session keys (the HPKE exporter of the open's
 * envelope, bound to both identities and the session id, mixed with a fresh
 * ephemeral Diffie-Hellman so a later key theft does not open recorded
 * sessions), the per-frame AEAD with a 64-bit counter per direction, and
 * the records a frame carries. Ordering, acks and retransmission live with
 * the session (relay-link.ts).
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { b64u, concat, equalBytes, fromB64u, fromUtf8, i2osp, randomBytes, utf8 } from './bytes.ts';
import { type Envelope, openEnvelopeContext, sealEnvelopeContext } from './envelope.ts';
import { ProtocolError } from './errors.ts';
import { dh, type HpkeContext, x25519Public } from './hpke.ts';
import type { DeviceId, HostId } from './identity.ts';
import { sign, verify } from './identity.ts';
import { type LinkAcceptBody, type LinkOpenBody, linkTranscript, parseInner } from './inner.ts';
import { checkClock, type ReplayCache } from './replay.ts';
import { LABELS, tr } from './transcript.ts';

/** Envelope kinds of the relay path. */
export const LINK_KIND = { open: 'link.open', accept: 'link.accept', frame: 'link' } as const;
/** Bytes of a session id (its base64url is the session's `conn` and every frame's `mid`). */
export const LINK_SID_BYTES = 16;
/** Largest plaintext of one frame: the records it carries. */
export const LINK_MAX_PLAINTEXT = 32 * 1024;
/** Largest message record (a data-channel message, as on WebRTC: `MAX_MESSAGE_BYTES`). */
export const LINK_MAX_MESSAGE = 16 * 1024;
/** Largest channel label. */
export const LINK_MAX_LABEL = 256;
/** Largest counter: a session ends before its 2^53th frame in a direction. */
export const LINK_MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Record header: type (1) ‖ channel (4) ‖ length (4). */
export const LINK_RECORD_HEADER = 9;

/** Record types inside a frame's plaintext. */
export const LINK_RECORD = {
  /** The sender opens channel `chan`; payload: its label (UTF-8). */
  open: 0x01,
  /** A text message on `chan` (UTF-8). */
  text: 0x02,
  /** A binary message on `chan`. */
  binary: 0x03,
  /** The sender closes `chan`; no payload. */
  close: 0x04,
  /** `chan` 0; payload u64be: every frame before this counter arrived. */
  ack: 0x05,
  /** `chan` 0; the session ends; payload: a reason (an error code). */
  bye: 0x06,
} as const;
export type LinkRecordType = (typeof LINK_RECORD)[keyof typeof LINK_RECORD];

/** One record. */
export interface LinkRecord {
  type: LinkRecordType;
  chan: number;
  payload: Uint8Array;
}

/** Direction keys of one session. */
export interface LinkKeys {
  /** device → host */
  d2h: Uint8Array;
  /** host → device */
  h2d: Uint8Array;
}

const ZERO24 = new Uint8Array(24);

/**
 * The session keys: `x = Export(tr(link-export/v1, host_id, device_id, sid), 32)`
 * from the open envelope's HPKE context, `prk = HKDF-Extract(salt = x, ikm =
 * X25519(e_device, e_host))`, then `k_dir = HKDF-Expand(prk, tr(link-key/v1, dir), 32)`
 * with `dir` `"d2h"` or `"h2d"`.
 */
export function deriveLinkKeys(
  context: HpkeContext,
  hostId: HostId,
  deviceId: DeviceId,
  sid: Uint8Array,
  ephemeralShared: Uint8Array,
): LinkKeys {
  const x = context.export(tr(LABELS.linkExport, hostId, deviceId, sid), 32);
  const prk = extract(sha256, ephemeralShared, x);
  return {
    d2h: expand(sha256, prk, tr(LABELS.linkKey, 'd2h'), 32),
    h2d: expand(sha256, prk, tr(LABELS.linkKey, 'h2d'), 32),
  };
}

// ---------------------------------------------------------------- set-up

/** What the device needs to ask for a relay-path session. */
export interface MakeLinkOpenInput {
  hostId: HostId;
  hostPub: Uint8Array;
  deviceId: DeviceId;
  deviceSecret: Uint8Array;
  /** Unix seconds. */
  now: number;
  /** Fixed values for vectors only. */
  sid?: Uint8Array;
  ephemeralSecret?: Uint8Array;
  mid?: Uint8Array;
}

/** The device's half-open session: what it keeps until the host accepts. */
export interface LinkOpening {
  conn: string;
  sid: Uint8Array;
  envelope: Envelope;
  /** Checks the host's `link.accept` body and returns the session keys (`bad_message`, `bad_signature`, `clock_skew`). */
  accept(body: unknown, now: number): LinkKeys;
}

/**
 * Device side: a `link.open` envelope sealed to the host. Its body signs the
 * envelope's `enc` (the device's ephemeral key), so the session keys belong
 * to this device's signature, not only to the HPKE sender authentication.
 */
export function makeLinkOpen(input: MakeLinkOpenInput): LinkOpening {
  const sid = input.sid ?? randomBytes(LINK_SID_BYTES);
  if (sid.length !== LINK_SID_BYTES) throw new RangeError('makeLinkOpen: sid must be 16 bytes');
  const skE = input.ephemeralSecret ?? randomBytes(32);
  const enc = x25519Public(skE);
  const conn = b64u(sid);
  const ts = input.now;
  const sig = sign(
    linkTranscript('open', input.hostId, input.deviceId, sid, enc, undefined, ts),
    input.deviceSecret,
  );
  const body: LinkOpenBody = { conn, enc: b64u(enc), ts, sig: b64u(sig) };
  const { envelope, context } = sealEnvelopeContext({
    kind: LINK_KIND.open,
    plaintext: utf8(JSON.stringify(body)),
    senderId: input.deviceId,
    senderSecret: input.deviceSecret,
    recipientId: input.hostId,
    recipientPublic: input.hostPub,
    ts,
    ephemeralSecret: skE,
    ...(input.mid ? { mid: input.mid } : {}),
  });
  let answered = false;
  return {
    conn,
    sid,
    envelope,
    accept(value: unknown, now: number): LinkKeys {
      if (answered) throw new ProtocolError('replay', 'this session was already accepted');
      const a = parseInner('link.accept', value);
      if (a.conn !== conn) throw new ProtocolError('bad_message', 'accept is for another session');
      const epk = fromB64u(a.epk);
      const transcript = linkTranscript('accept', input.hostId, input.deviceId, sid, enc, epk, a.ts);
      if (!verify(fromB64u(a.sig), transcript, input.hostPub)) {
        throw new ProtocolError('bad_signature', 'link accept signature did not verify');
      }
      checkClock(a.ts, now);
      answered = true;
      return deriveLinkKeys(context, input.hostId, input.deviceId, sid, dh(skE, epk));
    },
  };
}

/** What the host checks a `link.open` against. */
export interface AcceptLinkInput {
  envelope: Envelope;
  hostId: HostId;
  hostSecret: Uint8Array;
  deviceId: DeviceId;
  /** The device's pinned public key (from the trust store). */
  devicePub: Uint8Array;
  /** The host's envelope replay cache (mid, clock window). */
  envelopes: ReplayCache;
  /** The host's cache of session ids (as offer nonces). */
  sessions: ReplayCache;
  /** Unix seconds. */
  now: number;
  /** Fixed value for vectors only. */
  ephemeralSecret?: Uint8Array;
}

/** A verified session request and the host's answer to seal back. */
export interface AcceptedLink {
  conn: string;
  sid: Uint8Array;
  keys: LinkKeys;
  /** The `link.accept` body to seal to the device. */
  accept: LinkAcceptBody;
}

/**
 * Host side: opens the `link.open` envelope (clock, replay, HPKE), checks its
 * body (`bad_message`), that it signs this envelope's `enc` (`bad_message`),
 * the device's signature (`bad_signature`), the clock and the session id
 * (`clock_skew`, `replay`, recorded only once all of that holds), then signs
 * the acceptance with a fresh ephemeral key and derives the keys. Creates nothing.
 */
export function acceptLinkOpen(input: AcceptLinkInput): AcceptedLink {
  const { plaintext, context } = openEnvelopeContext({
    envelope: input.envelope,
    senderId: input.deviceId,
    senderPublic: input.devicePub,
    recipientId: input.hostId,
    recipientSecret: input.hostSecret,
    replay: input.envelopes,
  });
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(plaintext));
  } catch (cause) {
    throw new ProtocolError('bad_message', 'link.open body is not JSON', { cause });
  }
  const open = parseInner('link.open', value);
  const sid = fromB64u(open.conn);
  const enc = fromB64u(open.enc);
  if (!equalBytes(enc, fromB64u(input.envelope.enc)))
    throw new ProtocolError('bad_message', 'link.open signs another envelope');
  const transcript = linkTranscript('open', input.hostId, input.deviceId, sid, enc, undefined, open.ts);
  if (!verify(fromB64u(open.sig), transcript, input.devicePub)) {
    throw new ProtocolError('bad_signature', 'link.open signature did not verify');
  }
  checkClock(open.ts, input.now);
  const replayId = `link/${input.deviceId}/${open.conn}`;
  input.sessions.check(replayId, open.ts);
  input.sessions.record(replayId);
  const esk = input.ephemeralSecret ?? randomBytes(32);
  const epk = x25519Public(esk);
  const keys = deriveLinkKeys(context, input.hostId, input.deviceId, sid, dh(esk, enc));
  const ts = input.now;
  const sig = sign(
    linkTranscript('accept', input.hostId, input.deviceId, sid, enc, epk, ts),
    input.hostSecret,
  );
  return { conn: open.conn, sid, keys, accept: { conn: open.conn, epk: b64u(epk), ts, sig: b64u(sig) } };
}

// ---------------------------------------------------------------- frames

function nonceOf(seq: number): Uint8Array {
  return concat(new Uint8Array(4), i2osp(seq, 8));
}

function frameAad(sid: Uint8Array, dir: 'd2h' | 'h2d', seq: number, ts: number): Uint8Array {
  return tr(LABELS.linkAad, sid, dir, seq, ts);
}

/** The counter a frame envelope carries (in `enc`: u64be ‖ 24 zero bytes), or `bad_message`. */
export function linkFrameSeq(envelope: Envelope): number {
  const enc = fromB64u(envelope.enc);
  if (enc.length !== 32 || !equalBytes(enc.subarray(8), ZERO24))
    throw new ProtocolError('bad_message', 'link frame: bad counter field');
  let seq = 0;
  for (let i = 0; i < 8; i++) seq = seq * 256 + enc[i]!;
  if (!Number.isSafeInteger(seq)) throw new ProtocolError('bad_message', 'link frame: counter out of range');
  return seq;
}

/**
 * One direction pair of a session's frame crypto. `seal` writes the frame of
 * counter `seq` (the caller's counter, from 0 up); `open` authenticates one
 * (`decrypt_failed`) — ordering is the caller's (`linkFrameSeq` first).
 */
export class LinkCipher {
  readonly sid: Uint8Array;
  readonly conn: string;
  readonly #sendKey: Uint8Array;
  readonly #recvKey: Uint8Array;
  readonly #sendDir: 'd2h' | 'h2d';
  readonly #recvDir: 'd2h' | 'h2d';

  constructor(keys: LinkKeys, role: 'host' | 'device', sid: Uint8Array) {
    this.sid = sid;
    this.conn = b64u(sid);
    this.#sendDir = role === 'device' ? 'd2h' : 'h2d';
    this.#recvDir = role === 'device' ? 'h2d' : 'd2h';
    this.#sendKey = keys[this.#sendDir];
    this.#recvKey = keys[this.#recvDir];
  }

  /** The frame envelope of counter `seq`; `ts` (Unix seconds) is bound, not checked. */
  seal(seq: number, ts: number, plaintext: Uint8Array): Envelope {
    if (plaintext.length > LINK_MAX_PLAINTEXT) throw new ProtocolError('bad_message', 'link frame too large');
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= LINK_MAX_SEQ)
      throw new ProtocolError('limit_reached', 'link counter exhausted');
    const ct = chacha20poly1305(
      this.#sendKey,
      nonceOf(seq),
      frameAad(this.sid, this.#sendDir, seq, ts),
    ).encrypt(plaintext);
    return {
      kind: LINK_KIND.frame,
      mid: this.conn,
      ts,
      enc: b64u(concat(i2osp(seq, 8), ZERO24)),
      ct: b64u(ct),
    };
  }

  /** Opens the frame of counter `seq` (from `linkFrameSeq`); throws `bad_message` or `decrypt_failed`. */
  open(envelope: Envelope, seq: number): Uint8Array {
    if (envelope.kind !== LINK_KIND.frame || envelope.mid !== this.conn)
      throw new ProtocolError('bad_message', 'not a frame of this session');
    const ct = fromB64u(envelope.ct);
    if (ct.length > LINK_MAX_PLAINTEXT + 16) throw new ProtocolError('bad_message', 'link frame too large');
    try {
      return chacha20poly1305(
        this.#recvKey,
        nonceOf(seq),
        frameAad(this.sid, this.#recvDir, seq, envelope.ts),
      ).decrypt(ct);
    } catch (cause) {
      throw new ProtocolError('decrypt_failed', 'link frame did not authenticate', { cause });
    }
  }
}

// ---------------------------------------------------------------- records

/** Encodes records into one frame's plaintext (throws `RangeError` past `LINK_MAX_PLAINTEXT`). */
export function encodeLinkRecords(records: readonly LinkRecord[]): Uint8Array {
  let size = 0;
  for (const r of records) size += LINK_RECORD_HEADER + r.payload.length;
  if (size > LINK_MAX_PLAINTEXT) throw new RangeError('link records exceed one frame');
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const r of records) {
    out[o] = r.type;
    view.setUint32(o + 1, r.chan);
    view.setUint32(o + 5, r.payload.length);
    out.set(r.payload, o + LINK_RECORD_HEADER);
    o += LINK_RECORD_HEADER + r.payload.length;
  }
  return out;
}

const MAX_PAYLOAD: Record<LinkRecordType, number> = {
  [LINK_RECORD.open]: LINK_MAX_LABEL,
  [LINK_RECORD.text]: LINK_MAX_MESSAGE,
  [LINK_RECORD.binary]: LINK_MAX_MESSAGE,
  [LINK_RECORD.close]: 0,
  [LINK_RECORD.ack]: 8,
  [LINK_RECORD.bye]: 48,
};

/** Decodes a frame's plaintext; `bad_message` for an unknown type, a bad length or a payload past its cap. */
export function decodeLinkRecords(bytes: Uint8Array): LinkRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: LinkRecord[] = [];
  let o = 0;
  while (o < bytes.length) {
    if (bytes.length - o < LINK_RECORD_HEADER)
      throw new ProtocolError('bad_message', 'link record: short header');
    const type = bytes[o]! as LinkRecordType;
    const max = MAX_PAYLOAD[type];
    if (max === undefined) throw new ProtocolError('bad_message', `link record: unknown type ${type}`);
    const chan = view.getUint32(o + 1);
    const len = view.getUint32(o + 5);
    if (len > max || o + LINK_RECORD_HEADER + len > bytes.length)
      throw new ProtocolError('bad_message', 'link record: bad length');
    if ((type === LINK_RECORD.ack || type === LINK_RECORD.bye) !== (chan === 0))
      throw new ProtocolError('bad_message', 'link record: bad channel');
    if (type === LINK_RECORD.ack && len !== 8) throw new ProtocolError('bad_message', 'link ack: 8 bytes');
    out.push({ type, chan, payload: bytes.subarray(o + LINK_RECORD_HEADER, o + LINK_RECORD_HEADER + len) });
    o += LINK_RECORD_HEADER + len;
  }
  return out;
}

/** An ack record: every frame before `next` arrived. */
export function linkAck(next: number): LinkRecord {
  return { type: LINK_RECORD.ack, chan: 0, payload: i2osp(next, 8) };
}

/** The counter of an ack record. */
export function linkAckValue(record: LinkRecord): number {
  let v = 0;
  for (const b of record.payload) v = v * 256 + b;
  if (!Number.isSafeInteger(v)) throw new ProtocolError('bad_message', 'link ack out of range');
  return v;
}
