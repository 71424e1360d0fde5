/**
 * The two ends of one signed WebRTC connection, over any `WebRtcEngine`:
 * the device opens its channels, signs and sends an offer, and checks the
 * host's answer; the host verifies the offer against the pinned device key
 * before it creates any peer, then answers. Both ends bind the remote's DTLS
 * certificate to the signed fingerprint (`verified`). Transport of the
 * bodies (sealed envelopes through the relay) is the caller's.
 */
import {
  type AnswerBody,
  type DeviceId,
  fromB64u,
  type HostId,
  type OfferBody,
  ProtocolError,
  type ReplayCache,
} from '@pocketshell/protocol';
import { bindRemoteCertificate } from './dtls-binding.ts';
import type { DataChannel, IceCandidateInit, IceServer, Peer, PeerRole, WebRtcEngine } from './engine.ts';
import {
  makeAnswer,
  makeOffer,
  type VerifiedAnswer,
  type VerifiedOffer,
  verifyAnswer,
  verifyOffer,
} from './handshake.ts';

/** What both ends share. */
export interface PeerSetup {
  engine: WebRtcEngine;
  iceServers: readonly IceServer[];
  localAddressFilter?: (address: string) => boolean;
  /** `PeerOptions.iceTransportPolicy` (default `all`). */
  iceTransportPolicy?: 'all' | 'relay';
  /** Trickled local candidates (`null` at the end), to send as sealed `ice` bodies. */
  onIceCandidate: (candidate: IceCandidateInit | null) => void;
  /** Unix seconds. */
  now: () => number;
  /** Gives up the connection attempt (closes the peer) when aborted. */
  signal?: AbortSignal;
}

/** Device side input. */
export interface OfferInput extends PeerSetup {
  hostId: HostId;
  deviceId: DeviceId;
  deviceSecret: Uint8Array;
  /** The host's pinned public key. */
  hostPub: Uint8Array;
  /** A fresh random connection id. */
  conn: string;
  /** Labels of the channels to open (at least one: the offer needs a data section). */
  channels: readonly string[];
  /** 16 random bytes (injected in tests). */
  nonce?: Uint8Array;
}

/** The device's half-open connection. */
export interface Offering {
  peer: Peer;
  offer: OfferBody;
  channels: DataChannel[];
  /**
   * Verifies the host's answer (throws `ProtocolError` and closes the peer
   * on refusal; a second answer is refused with `replay` and changes
   * nothing), applies it, and returns the DTLS binding to await.
   */
  acceptAnswer(body: unknown): Promise<{ answer: VerifiedAnswer; verified: Promise<void> }>;
}

async function closeOnError<T>(peer: Peer, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await peer.close();
    throw error;
  }
}

/** A peer for `role` whose local candidates go to `onIceCandidate`. */
async function createPeer(setup: PeerSetup, role: PeerRole): Promise<Peer> {
  const peer = await setup.engine.createPeer({
    iceServers: setup.iceServers,
    role,
    ...(setup.localAddressFilter ? { localAddressFilter: setup.localAddressFilter } : {}),
    ...(setup.iceTransportPolicy ? { iceTransportPolicy: setup.iceTransportPolicy } : {}),
  });
  peer.on('icecandidate', setup.onIceCandidate);
  return peer;
}

function binding(peer: Peer, fingerprint: string, signal: AbortSignal | undefined): Promise<void> {
  const verified = bindRemoteCertificate(peer, fingerprint, signal ? { signal } : {});
  // Callers may never await it (e.g. the answer is refused); the peer is closed either way.
  verified.catch(() => {});
  return verified;
}

/** Device side: creates the peer and its channels, and signs the offer. */
export async function startOffer(input: OfferInput): Promise<Offering> {
  if (input.channels.length === 0) throw new RangeError('startOffer: open at least one channel');
  const peer = await createPeer(input, 'offerer');
  return closeOnError(peer, async () => {
    const channels = input.channels.map((label) => peer.createDataChannel(label));
    const sdp = await peer.setLocalDescription(await peer.createOffer());
    // The input carries the signer's fields by name (conn, ids, deviceSecret, nonce).
    const offer = makeOffer({ ...input, sdp, now: input.now() });
    const offerNonce = fromB64u(offer.nonce);
    let answered = false;
    const acceptAnswer = async (body: unknown) => {
      // A second answer (a replay) is refused without touching the connection.
      if (answered) throw new ProtocolError('replay', 'this offer was already answered');
      return closeOnError(peer, async () => {
        const answer = verifyAnswer(body, {
          hostPub: input.hostPub,
          hostId: input.hostId,
          deviceId: input.deviceId,
          conn: input.conn,
          offerNonce,
          now: input.now(),
        });
        answered = true;
        const verified = binding(peer, answer.fingerprint, input.signal);
        await peer.setRemoteDescription(answer.sdp);
        return { answer, verified };
      });
    };
    return { peer, offer, channels, acceptAnswer };
  });
}

/** Host side input. */
export interface AnswerInput extends PeerSetup {
  /** The engine for this verified offer's SDP, when not `engine` (the stream-TURN hint, link-path.ts). */
  engineFor?: (sdp: string) => WebRtcEngine | undefined;
  hostId: HostId;
  deviceId: DeviceId;
  hostSecret: Uint8Array;
  /** The device's pinned public key (from the trust store). */
  devicePub: Uint8Array;
  /** The host's cache of offer nonces. */
  replay: ReplayCache;
}

/** The host's answered connection. */
export interface Answered {
  peer: Peer;
  offer: VerifiedOffer;
  answer: AnswerBody;
  /** Resolves once the device's DTLS certificate matched its signed offer. */
  verified: Promise<void>;
}

/**
 * Host side: verifies the offer (throwing `ProtocolError` `bad_message`,
 * `bad_signature`, `clock_skew` or `replay` before any peer exists), then
 * creates the peer and signs the answer.
 */
export async function answerOffer(body: unknown, input: AnswerInput): Promise<Answered> {
  const offer = verifyOffer(body, {
    devicePub: input.devicePub,
    hostId: input.hostId,
    deviceId: input.deviceId,
    replay: input.replay,
    now: input.now(),
  });
  const engine = input.engineFor?.(offer.sdp) ?? input.engine;
  const peer = await createPeer({ ...input, engine }, 'answerer');
  return closeOnError(peer, async () => {
    const verified = binding(peer, offer.fingerprint, input.signal);
    await peer.setRemoteDescription(offer.sdp);
    const sdp = await peer.setLocalDescription(await peer.createAnswer());
    // The ids and hostSecret by name from the input; conn and nonce from the verified offer.
    const answer = makeAnswer({ ...input, sdp, conn: offer.conn, offerNonce: offer.nonce, now: input.now() });
    return { peer, offer, answer, verified };
  });
}
