/**
 * The signed offer/answer of PROTOCOL.md §6, above the engine interface.
 * The device signs its offer SDP with its long-term key
 * (`tr(sdp/v1, "offer", host_id, device_id, conn, nonce, ts, sdp)`); the host
 * checks that signature against the pinned device key, the clock window and
 * the nonce cache before anything is created, and signs its answer over the
 * offer's nonce. Each verified description yields the `a=fingerprint` it
 * carries, which `bindRemoteCertificate` later holds the DTLS certificate to.
 */
import {
  type AnswerBody,
  b64u,
  checkClock,
  type DeviceId,
  fromB64u,
  type HostId,
  type OfferBody,
  ProtocolError,
  parseInner,
  type ReplayCache,
  randomBytes,
  sdpTranscript,
  sign,
  verify,
} from '@pocketshell/protocol';
import { sdpFingerprint } from './sdp.ts';

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
