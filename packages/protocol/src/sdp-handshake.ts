/**
 * The signed offer/answer of docs/protocol.md §6 and the few things PocketShell
 * reads from SDP, shared by the host and the browser. The device signs its
 * offer SDP with its long-term key
 * (`tr(sdp/v1, "offer", host_id, device_id, conn, nonce, ts, sdp)`); the host
 * checks that signature against the pinned device key, the clock window and
 * the nonce cache before anything is created, and signs its answer over the
 * offer's nonce. Each verified description yields the one
 * `a=fingerprint:sha-256` it carries, which the DTLS certificate is then
 * held to. No Node APIs.
 */
import { b64u, equalBytes, fromB64u, randomBytes } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { type DeviceId, type HostId, sign, verify } from './identity.ts';
import { type AnswerBody, type OfferBody, parseInner, sdpTranscript } from './inner.ts';
import { checkClock, type ReplayCache } from './replay.ts';

const FINGERPRINT_LINE = /^a=fingerprint:/i;
const SHA256_VALUE = /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/;

/**
 * The value of the SDP's `a=fingerprint:sha-256` line, uppercase (`AB:CD:…`).
 * Exactly one `a=fingerprint` line is allowed, and it must be sha-256 with a
 * 32-byte value; anything else throws `bad_message`.
 */
export function sdpFingerprint(sdp: string): string {
  const lines = sdp.split(/\r?\n/).filter((line) => FINGERPRINT_LINE.test(line));
  if (lines.length !== 1) {
    throw new ProtocolError('bad_message', `sdp: expected one a=fingerprint line, found ${lines.length}`);
  }
  const match = /^a=fingerprint:(\S+) (\S+)\s*$/i.exec(lines[0]!);
  if (!match || match[1]!.toLowerCase() !== 'sha-256' || !SHA256_VALUE.test(match[2]!)) {
    throw new ProtocolError('bad_message', 'sdp: a=fingerprint must be sha-256 with a 32-byte value');
  }
  return match[2]!.toUpperCase();
}

/** The 32 bytes of a sha-256 fingerprint `AB:CD:…` (either case); `bad_message` otherwise. */
export function fingerprintBytes(fingerprint: string): Uint8Array {
  if (!SHA256_VALUE.test(fingerprint)) throw new ProtocolError('bad_message', 'not a sha-256 fingerprint');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(fingerprint.slice(i * 3, i * 3 + 2), 16);
  return out;
}

/** Formats 32 digest bytes as an `a=fingerprint` value (`AB:CD:…`). */
export function formatFingerprint(digest: Uint8Array): string {
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/**
 * Constant-time equality of two sha-256 fingerprints (case-insensitive).
 * False when either is malformed.
 */
export function fingerprintsEqual(a: string, b: string): boolean {
  if (!SHA256_VALUE.test(a) || !SHA256_VALUE.test(b)) return false;
  return equalBytes(fingerprintBytes(a), fingerprintBytes(b));
}

/**
 * The connection address of a candidate line (`candidate:…` or
 * `a=candidate:…`), or `null` when the line is not a well-formed candidate.
 */
export function candidateAddress(candidate: string): string | null {
  const fields = candidate.replace(/^a=/, '').trim().split(/\s+/);
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
  if (fields.length < 8 || !fields[0]!.startsWith('candidate:') || fields[6] !== 'typ') return null;
  return fields[4]!;
}

/**
 * The SDP with every `a=candidate` line whose address (and candidate type)
 * `allow` refuses (or that does not parse) removed; other lines and line endings are kept.
 */
export function filterSdpCandidates(sdp: string, allow: (address: string, type: string) => boolean): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(eol)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const address = candidateAddress(line);
      const type = line.trim().split(/\s+/)[7];
      return address !== null && type !== undefined && allow(address, type);
    })
    .join(eol);
}

/** Size of the offer nonce in bytes. */
export const OFFER_NONCE_BYTES = 16;

/** What the device needs to sign an offer. */
export interface MakeOfferInput {
  /** The local description to send, exactly as it will be sent. */
  sdp: string;
  conn: string;
  hostId: HostId;
  deviceId: DeviceId;
  /** The device's Ed25519 seed. */
  deviceSecret: Uint8Array;
  /** Unix seconds. */
  now: number;
  /** 16 random bytes; fresh ones by default (injected in tests). */
  nonce?: Uint8Array;
}

/** Signs an offer (device side). */
export function makeOffer(input: MakeOfferInput): OfferBody {
  const nonce = input.nonce ?? randomBytes(OFFER_NONCE_BYTES);
  if (nonce.length !== OFFER_NONCE_BYTES) throw new RangeError('makeOffer: nonce must be 16 bytes');
  // Refuse to sign what the host would refuse to use.
  sdpFingerprint(input.sdp);
  const { conn, sdp, hostId, deviceId, now: ts } = input;
  const sig = sign(sdpTranscript('offer', hostId, deviceId, conn, nonce, ts, sdp), input.deviceSecret);
  return parseInner('offer', { conn, sdp, nonce: b64u(nonce), ts, sig: b64u(sig) });
}

/** What the host checks an offer against. */
export interface VerifyOfferContext {
  /** The device's pinned public key (from the trust store, never from the message). */
  devicePub: Uint8Array;
  hostId: HostId;
  deviceId: DeviceId;
  /** Offer nonces seen recently; the nonce is recorded once the offer authenticates. */
  replay: ReplayCache;
  /** Unix seconds. */
  now: number;
}

/** An offer that passed every check. */
export interface VerifiedOffer {
  conn: string;
  sdp: string;
  nonce: Uint8Array;
  ts: number;
  /** The signed `a=fingerprint:sha-256` value the device's DTLS certificate must have. */
  fingerprint: string;
}

/**
 * Checks an offer body (host side): shape (`bad_message`), signature over the
 * exact SDP (`bad_signature`), clock window (`clock_skew`), nonce not seen
 * before (`replay`), one sha-256 fingerprint (`bad_message`). Records the
 * nonce only when all of that holds. Creates nothing.
 */
export function verifyOffer(body: unknown, ctx: VerifyOfferContext): VerifiedOffer {
  const offer = parseInner('offer', body);
  const nonce = fromB64u(offer.nonce);
  const transcript = sdpTranscript('offer', ctx.hostId, ctx.deviceId, offer.conn, nonce, offer.ts, offer.sdp);
  if (!verify(fromB64u(offer.sig), transcript, ctx.devicePub)) {
    throw new ProtocolError('bad_signature', 'offer signature did not verify');
  }
  checkClock(offer.ts, ctx.now);
  const replayId = `sdp-offer/${ctx.deviceId}/${offer.nonce}`;
  ctx.replay.check(replayId, offer.ts);
  const fingerprint = sdpFingerprint(offer.sdp);
  ctx.replay.record(replayId);
  return { conn: offer.conn, sdp: offer.sdp, nonce, ts: offer.ts, fingerprint };
}

/** What the host needs to sign an answer. */
export interface MakeAnswerInput {
  sdp: string;
  conn: string;
  /** The nonce of the offer this answers. */
  offerNonce: Uint8Array;
  hostId: HostId;
  deviceId: DeviceId;
  /** The host's Ed25519 seed. */
  hostSecret: Uint8Array;
  /** Unix seconds. */
  now: number;
}

/** Signs an answer (host side); the signature covers the offer's nonce. */
export function makeAnswer(input: MakeAnswerInput): AnswerBody {
  sdpFingerprint(input.sdp);
  const { conn, sdp, hostId, deviceId, offerNonce, now: ts } = input;
  const sig = sign(sdpTranscript('answer', hostId, deviceId, conn, offerNonce, ts, sdp), input.hostSecret);
  return parseInner('answer', { conn, sdp, ts, sig: b64u(sig) });
}

/** What the device checks an answer against. */
export interface VerifyAnswerContext {
  /** The host's pinned public key (from pairing). */
  hostPub: Uint8Array;
  hostId: HostId;
  deviceId: DeviceId;
  /** The connection the device offered. */
  conn: string;
  /** The nonce of the device's own offer. */
  offerNonce: Uint8Array;
  /** Unix seconds. */
  now: number;
}

/** An answer that passed every check. */
export interface VerifiedAnswer {
  conn: string;
  sdp: string;
  ts: number;
  /** The signed `a=fingerprint:sha-256` value the host's DTLS certificate must have. */
  fingerprint: string;
}

/**
 * Checks an answer body (device side): shape and connection (`bad_message`),
 * signature over the SDP and our offer's nonce (`bad_signature`), clock
 * window (`clock_skew`), one sha-256 fingerprint (`bad_message`). An answer
 * cannot be replayed into another connection: it signs that offer's nonce.
 */
export function verifyAnswer(body: unknown, ctx: VerifyAnswerContext): VerifiedAnswer {
  const answer = parseInner('answer', body);
  if (answer.conn !== ctx.conn) throw new ProtocolError('bad_message', 'answer is for another connection');
  const transcript = sdpTranscript(
    'answer',
    ctx.hostId,
    ctx.deviceId,
    answer.conn,
    ctx.offerNonce,
    answer.ts,
    answer.sdp,
  );
  if (!verify(fromB64u(answer.sig), transcript, ctx.hostPub)) {
    throw new ProtocolError('bad_signature', 'answer signature did not verify');
  }
  checkClock(answer.ts, ctx.now);
  return { conn: answer.conn, sdp: answer.sdp, ts: answer.ts, fingerprint: sdpFingerprint(answer.sdp) };
}
