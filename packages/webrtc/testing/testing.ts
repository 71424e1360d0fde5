/**
 * Test support for the WebRTC layer (not for production code): a loopback
 * werift engine, a spy engine that counts the peers it creates, and small
 * awaitable helpers over the typed events, so tests wait on events rather
 * than on sleeps, and an in-memory pipe for trickled candidates. Everything
 * here talks to 127.0.0.1 only.
 */
import { parseInner } from '@pocketshell/protocol';
import type {
  DataChannel,
  DataChannelEvents,
  IceCandidateInit,
  Peer,
  PeerConnectionState,
  PeerOptions,
  WebRtcEngine,
} from '../src/engine.ts';
import { isLoopbackIPv4 } from '../src/engine.ts';
import { WebRtcError } from '../src/errors.ts';
import { WeriftEngine } from '../src/werift-engine.ts';

/** Debian's Chromium, or `POCKETSHELL_CHROMIUM`. */
export const CHROMIUM = process.env.POCKETSHELL_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for a headless Chromium in tests: no sandbox (root), no GPU, and
 * nothing that reaches beyond loopback (QUIC, background networking,
 * component updates, sync); WebRTC may use loopback and shows real
 * addresses instead of mDNS names.
 */
export const CHROMIUM_TEST_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** A werift engine bound to 127.0.0.1 with no ICE servers. */
export function loopbackEngine(): WeriftEngine {
  return new WeriftEngine({ bindAddress: '127.0.0.1' });
}

/** Peer options for loopback tests. */
export function loopbackPeerOptions(role: PeerOptions['role']): PeerOptions {
  return { iceServers: [], role, localAddressFilter: isLoopbackIPv4 };
}

/** Wraps an engine and records every `createPeer` call. */
export class SpyEngine implements WebRtcEngine {
  readonly name: string;
  readonly peers: Peer[] = [];
  calls = 0;
  readonly #inner: WebRtcEngine;

  constructor(inner: WebRtcEngine) {
    this.#inner = inner;
    this.name = `spy(${inner.name})`;
  }

  async createPeer(options: PeerOptions): Promise<Peer> {
    this.calls++;
    const peer = await this.#inner.createPeer(options);
    this.peers.push(peer);
    return peer;
  }
}

/** Resolves when `peer` reaches `state` (now or later); rejects on `failed`/`closed` first. */
export function waitForState(peer: Peer, state: PeerConnectionState): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (s: PeerConnectionState) => {
      if (s === state) {
        off();
        resolve();
      } else if (s === 'failed' || s === 'closed') {
        off();
        reject(new Error(`peer reached ${s} while waiting for ${state}`));
      }
    };
    const off = peer.on('connectionstatechange', check);
    check(peer.connectionState);
  });
}

/** Resolves when `peer` is `failed`, `closed` or `disconnected`. */
export function waitForEnd(peer: Peer): Promise<PeerConnectionState> {
  return new Promise((resolve) => {
    const check = (s: PeerConnectionState) => {
      if (s === 'failed' || s === 'closed' || s === 'disconnected') {
        off();
        resolve(s);
      }
    };
    const off = peer.on('connectionstatechange', check);
    check(peer.connectionState);
  });
}

/** Resolves with the next remote channel of `peer` (with that `label`, when given). */
export function nextChannel(peer: Peer, label?: string): Promise<DataChannel> {
  return new Promise((resolve) => {
    const off = peer.on('datachannel', (channel) => {
      if (label !== undefined && channel.label !== label) return;
      off();
      resolve(channel);
    });
  });
}

/** Resolves when `channel` emits `event` (immediately for `open` when already open). */
export function once<E extends keyof DataChannelEvents & string>(
  channel: DataChannel,
  event: E,
): Promise<DataChannelEvents[E]> {
  if (event === 'open' && channel.readyState === 'open')
    return Promise.resolve(undefined as DataChannelEvents[E]);
  if (event === 'close' && channel.readyState === 'closed')
    return Promise.resolve(undefined as DataChannelEvents[E]);
  return new Promise((resolve) => channel.once(event, resolve));
}

/** Collects the next `n` messages of `channel`. */
export function messages(channel: DataChannel, n: number): Promise<(Uint8Array | string)[]> {
  return new Promise((resolve) => {
    const got: (Uint8Array | string)[] = [];
    const off = channel.on('message', (data) => {
      got.push(data);
      if (got.length === n) {
        off();
        resolve(got);
      }
    });
  });
}

/** Rethrows anything but `peer_closed` (a candidate that arrives after close is fine). */
export function ignoreClosed(error: unknown): void {
  if (!(error instanceof WebRtcError && error.code === 'peer_closed')) throw error;
}

/**
 * Connects an offerer and an answerer directly (no signatures), trickling
 * candidates both ways; for engine-level tests.
 */
export async function connectDirect(offerer: Peer, answerer: Peer): Promise<void> {
  offerer.on('icecandidate', (c) => void answerer.addIceCandidate(c).catch(ignoreClosed));
  answerer.on('icecandidate', (c) => void offerer.addIceCandidate(c).catch(ignoreClosed));
  const offer = await offerer.setLocalDescription(await offerer.createOffer());
  await answerer.setRemoteDescription(offer);
  const answer = await answerer.setLocalDescription(await answerer.createAnswer());
  await offerer.setRemoteDescription(answer);
  await Promise.all([waitForState(offerer, 'connected'), waitForState(answerer, 'connected')]);
}

/**
 * An in-memory signaling pipe for one direction of trickled candidates: each
 * goes through JSON and `parseInner('ice', …)` as on the relay path, and is
 * held until `deliverTo` names the peer that takes it.
 */
export class IcePipe {
  readonly #held: (IceCandidateInit | null)[] = [];
  #target: Peer | undefined;
  readonly conn: string;

  constructor(conn: string) {
    this.conn = conn;
  }

  send = (candidate: IceCandidateInit | null): void => {
    const body = parseInner('ice', JSON.parse(JSON.stringify({ conn: this.conn, candidate })));
    if (this.#target) void this.#target.addIceCandidate(body.candidate).catch(ignoreClosed);
    else this.#held.push(body.candidate);
  };

  /** Hands `peer` the held candidates, in order, and every later one; resolves once the held ones were added. */
  async deliverTo(peer: Peer): Promise<void> {
    this.#target = peer;
    await Promise.all(this.#held.splice(0).map((c) => peer.addIceCandidate(c).catch(ignoreClosed)));
  }
}
