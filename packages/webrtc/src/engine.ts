/**
 * The WebRTC engine interface: the narrow surface the PocketShell protocol
 * code needs from a WebRTC stack, so werift, node-datachannel and the
 * browser's `RTCPeerConnection` can sit behind the same signaling and
 * session code. Descriptions are SDP strings, candidates are in the
 * `RTCIceCandidateInit` form, data channels are reliable and ordered, and the
 * engine reports the fingerprint of the DTLS certificate the remote actually
 * presented, so the signed-SDP binding (docs/protocol.md §6) is checked above it.
 */
import type { Events, IceCandidateInit, LinkPath } from '@pocketshell/protocol';

export type { IceCandidateInit, LinkPath };

/** An ICE server as in `RTCIceServer`; always supplied by the caller (never a default). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Which side of the offer/answer exchange a peer is. The device offers, the host answers. */
export type PeerRole = 'offerer' | 'answerer';

/** What `createPeer` needs. */
export interface PeerOptions {
  /** ICE servers (STUN/TURN). Pass `[]` for host candidates only. */
  iceServers: readonly IceServer[];
  role: PeerRole;
  /**
   * When given, only candidates whose IP address passes are signalled,
   * accepted from the remote, or paired (e.g. `isLoopbackIPv4` in tests).
   */
  localAddressFilter?: (address: string) => boolean;
  /**
   * `relay`: only TURN relay candidates are used (as `RTCConfiguration.iceTransportPolicy`);
   * tests and benchmarks force a TURN path with it. Default `all`.
   */
  iceTransportPolicy?: 'all' | 'relay';
}

/** `RTCPeerConnectionState`. */
export type PeerConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** `RTCDataChannelState`. */
export type DataChannelState = 'connecting' | 'open' | 'closing' | 'closed';

/** Events of a data channel. A message is a `string` (sent as text) or bytes. */
export interface DataChannelEvents {
  open: undefined;
  message: Uint8Array | string;
  close: undefined;
  bufferedamountlow: undefined;
}

/** A reliable, ordered data channel. */
export interface DataChannel extends Events<DataChannelEvents> {
  readonly label: string;
  readonly readyState: DataChannelState;
  /** Bytes queued by `send` and not yet handed to the transport. */
  readonly bufferedAmount: number;
  /** `bufferedamountlow` fires when `bufferedAmount` falls to or below this. */
  bufferedAmountLowThreshold: number;
  /**
   * Queues one message (at most `MAX_MESSAGE_BYTES`); the bytes are copied.
   * Throws `WebRtcError` `not_open` or `message_too_large`.
   */
  send(data: Uint8Array | string): void;
  /** Closes the channel; idempotent. */
  close(): void;
}

/** Events of a peer connection. */
export interface PeerEvents {
  /** A local candidate to trickle, or `null` at the end of gathering. */
  icecandidate: IceCandidateInit | null;
  connectionstatechange: PeerConnectionState;
  /** A channel the remote opened; it may still be `connecting` (wait for `open` to send). */
  datachannel: DataChannel;
}

/** One peer connection. */
export interface Peer extends Events<PeerEvents> {
  readonly role: PeerRole;
  readonly connectionState: PeerConnectionState;
  /** Offerer only: a new offer SDP (not yet applied). */
  createOffer(): Promise<string>;
  /** Answerer only, after `setRemoteDescription`: a new answer SDP (not yet applied). */
  createAnswer(): Promise<string>;
  /**
   * Applies our own offer or answer and returns the local description as it
   * now stands (candidates gathered so far, filtered): the SDP to sign and send.
   */
  setLocalDescription(sdp: string): Promise<string>;
  /** Applies the remote's offer (answerer) or answer (offerer). */
  setRemoteDescription(sdp: string): Promise<void>;
  /** Adds a remote candidate, or `null` for the remote's end of candidates. */
  addIceCandidate(candidate: IceCandidateInit | null): Promise<void>;
  /** Opens a reliable, ordered channel (the offerer opens channels before its offer). */
  createDataChannel(label: string): DataChannel;
  /** The sha-256 fingerprint of our DTLS certificate, as in `a=fingerprint` (`AB:CD:…`). */
  localFingerprint(): string;
  /**
   * The sha-256 fingerprint (`AB:CD:…`) of the certificate the remote presented
   * in the DTLS handshake, or `null` before the handshake. Never read from SDP.
   */
  remoteCertificateFingerprint(): string | null;
  /**
   * Which way the connection runs (direct or TURN over UDP/TCP/TLS), from the
   * selected candidate pair; `null` while not connected (docs/transport.md).
   */
  path(): Promise<LinkPath | null>;
  /** Closes the connection and every channel; idempotent. */
  close(): Promise<void>;
}

/** A WebRTC stack. */
export interface WebRtcEngine {
  /** Engine name for diagnostics (`werift`, …). */
  readonly name: string;
  /** How it can reach a TURN server (node-datachannel: `udp` only); absent: all three. */
  readonly turnTransports?: readonly ('udp' | 'tcp' | 'tls')[];
  createPeer(options: PeerOptions): Promise<Peer>;
  /**
   * Loads the engine's library and makes what every peer shares (its DTLS
   * certificate) ahead of the first peer, so a first connection does not
   * wait for them. Optional; `createPeer` works without it. `warmUp`: also
   * run one throwaway connection on 127.0.0.1, for an engine whose first
   * connection is slower than the next (werift compiles its code on it) —
   * for a long-lived process (the daemon), not a one-shot command, which
   * would pay for it on its own connection's way.
   */
  prepare?(options?: { warmUp?: boolean }): Promise<void>;
}

/** How a party (the host agent or a device) makes its peers. */
export interface PeerSideOptions {
  engine: WebRtcEngine;
  /** Only these local addresses are used for ICE (tests: loopback). */
  localAddressFilter?: (address: string) => boolean;
  /** Extra ICE servers besides the relay's TURN (never a public default). */
  iceServers?: readonly IceServer[];
}

/** Largest data-channel message PocketShell sends: works with every stack (docs/protocol.md §6). */
export const MAX_MESSAGE_BYTES = 16 * 1024;

/** Candidate address filter for tests and benchmarks: IPv4 loopback (127.0.0.0/8) only. */
export function isLoopbackIPv4(address: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(address);
}
