/**
 * The node-datachannel implementation of `WebRtcEngine`: libdatachannel
 * (C++, usrsctp, OpenSSL DTLS, libjuice ICE) through its Node binding, whose
 * prebuilt binary comes from the registry as a platform package. ICE servers
 * always come from the caller, every ICE socket can be bound to one address,
 * and candidates are filtered both ways through the peer's address filter.
 *
 * Remote certificate: libdatachannel hashes the certificate the remote
 * presents in the DTLS handshake, refuses the handshake when that hash is not
 * the remote SDP's `a=fingerprint`, and reports the presented hash through
 * `remoteFingerprint()` (also after a refused handshake). The engine reports
 * exactly that, so the signed-SDP binding above it checks the handshake, not
 * the SDP (docs/transport.md).
 *
 * Workaround `answererDtlsServer` (off by default, docs/transport.md):
 * libdatachannel as the answerer takes the DTLS client role, and as ICE's
 * controlled side it is usually connected first, so its first ClientHello
 * can reach a libdatachannel offerer whose DTLS transport does not exist
 * yet; it is dropped and only retransmitted after 1 s. With the option, an
 * offer from libdatachannel (origin `o=rtc`) is applied as `a=setup:active`
 * (the signed SDP itself is not changed), which makes the answerer the DTLS
 * server. It is off because it exposes a race inside libdatachannel 0.33:
 * the offerer, now the DTLS client, can finish the handshake while its own
 * `setRemoteDescription` is still running, before the remote fingerprint is
 * stored, and then refuses the certificate (seen under CPU load). The
 * offerer-side hold below removes both the 1 s loss and the race, so the
 * option stays off. Other offerers are never changed:
 * Chromium holds an early ClientHello, and werift opens no data channel when
 * made the DTLS client this way.
 *
 * Offerer candidates wait for the answer: libdatachannel 0.33 can finish a
 * DTLS handshake inside its own `setRemoteDescription` (the answerer,
 * already holding our candidates, connects to us at once on loopback) before
 * it has stored the remote description, and then refuses the certificate it
 * cannot yet check ("certificate verify failed", seen under CPU load). So
 * the offerer's description carries no candidates, and its candidates are
 * trickled only after the answer is applied: the answerer cannot reach us
 * before we can check it. Cost: one signaling hop in the connect time.
 *
 * libdatachannel has no separate "create" step: `createOffer`/`createAnswer`
 * apply the local description and return it; `setLocalDescription` then
 * returns the applied description (with the candidates gathered so far).
 */
import { createRequire } from 'node:module';
import {
  candidateAddress,
  candidateType,
  Emitter,
  filterSdpCandidates,
  type LinkPath,
  linkPathOf,
  sdpFingerprint,
} from '@pocketshell/protocol';
import type {
  DataChannel as NdcChannel,
  IceServer as NdcIceServer,
  PeerConnection as NdcPeerConnection,
  RtcConfig,
} from 'node-datachannel';
import { type CandidatePolicy, candidatePolicy } from './candidate-policy.ts';
import type { Peer, PeerConnectionState, PeerEvents, PeerOptions, PeerRole, WebRtcEngine } from './engine.ts';
import {
  type DataChannel,
  type DataChannelEvents,
  type DataChannelState,
  type IceCandidateInit,
  type IceServer,
  MAX_MESSAGE_BYTES,
} from './engine.ts';
import { WebRtcError } from './errors.ts';

/** Options of the node-datachannel engine. */
export interface NodeDataChannelEngineOptions {
  /**
   * Bind every ICE socket to this one address and gather only it as a host
   * candidate (`127.0.0.1` for tests and benchmarks). Default: all interfaces.
   */
  bindAddress?: string;
  /** Local UDP port range for ICE (default: any port). */
  portRange?: { begin: number; end: number };
  /** Share one UDP port between all peers (libdatachannel's ICE UDP mux). */
  enableIceUdpMux?: boolean;
  /** See the module comment; default `false`. */
  answererDtlsServer?: boolean;
}

type Binding = typeof import('node-datachannel');
let binding: Binding | null | undefined;

/**
 * The native binding, loaded on first use (not at import), so that this
 * package (and host-core) still loads on a platform without a prebuilt
 * binary; `null` when it cannot be loaded there.
 */
function loadBinding(): Binding | null {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('node-datachannel') as Binding;
    } catch {
      binding = null;
    }
  }
  return binding;
}

/** Whether node-datachannel's native binary loads on this platform. */
export function nodeDataChannelAvailable(): boolean {
  return loadBinding() !== null;
}

/** libdatachannel's SDP origin line (`o=rtc …`): the offers the DTLS workaround applies to. */
const LIBDATACHANNEL_ORIGIN = /^o=rtc /m;

const STATES: ReadonlySet<string> = new Set([
  'new',
  'connecting',
  'connected',
  'disconnected',
  'failed',
  'closed',
]);

/** libdatachannel's ICE server form (`stun:host:port`, `turn:host:port?transport=tcp`, …). */
export function toNdcIceServers(servers: readonly IceServer[]): NdcIceServer[] {
  const out: NdcIceServer[] = [];
  for (const server of servers) {
    for (const url of Array.isArray(server.urls) ? server.urls : [server.urls]) {
      const match = /^(stuns?|turns?):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?transport=(udp|tcp))?$/i.exec(url);
      if (!match) throw new WebRtcError('engine', `unsupported ICE server URL: ${url}`);
      const scheme = match[1]!.toLowerCase();
      const hostname = match[2]!.replace(/^\[|\]$/g, '');
      const tls = scheme === 'turns' || scheme === 'stuns';
      const port = match[3] ? Number(match[3]) : tls ? 5349 : 3478;
      const entry: NdcIceServer = { hostname, port };
      if (scheme.startsWith('turn')) {
        const transport = match[4]?.toLowerCase();
        entry.relayType = tls ? 'TurnTls' : transport === 'tcp' ? 'TurnTcp' : 'TurnUdp';
        if (server.username !== undefined) entry.username = server.username;
        if (server.credential !== undefined) entry.password = server.credential;
      }
      out.push(entry);
    }
  }
  return out;
}

function toBytes(data: string | Buffer | ArrayBuffer): Uint8Array | string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function mids(sdp: string | undefined): string[] {
  if (!sdp) return [];
  return [...sdp.matchAll(/^a=mid:(\S+)/gm)].map((m) => m[1]!);
}

/** One libdatachannel data channel behind the `DataChannel` interface. */
class NdcDataChannel extends Emitter<DataChannelEvents> implements DataChannel {
  readonly label: string;
  readonly #dc: NdcChannel;
  #state: DataChannelState;
  #threshold = 0;
  #bufferedAfterClose = 0;

  constructor(dc: NdcChannel) {
    super();
    this.#dc = dc;
    this.label = dc.getLabel();
    this.#state = dc.isOpen() ? 'open' : 'connecting';
    dc.onOpen(() => {
      if (this.#state !== 'connecting') return;
      this.#state = 'open';
      this.emit('open');
    });
    dc.onClosed(() => this.markClosed());
    dc.onError(() => this.markClosed());
    dc.onMessage((data) => {
      if (this.#state === 'open' || this.#state === 'closing') this.emit('message', toBytes(data));
    });
    dc.onBufferedAmountLow(() => {
      if (this.#state === 'open') this.emit('bufferedamountlow');
    });
  }

  get readyState(): DataChannelState {
    return this.#state;
  }

  get bufferedAmount(): number {
    if (this.#state === 'closed') return this.#bufferedAfterClose;
    return this.#dc.bufferedAmount();
  }

  get bufferedAmountLowThreshold(): number {
    return this.#threshold;
  }

  set bufferedAmountLowThreshold(value: number) {
    this.#threshold = value;
    if (this.#state !== 'closed') this.#dc.setBufferedAmountLowThreshold(value);
  }

  send(data: Uint8Array | string): void {
    if (this.#state !== 'open') throw new WebRtcError('not_open', `channel ${this.label} is not open`);
    const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      throw new WebRtcError('message_too_large', `message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    }
    // Both calls copy the bytes into libdatachannel's queue before returning.
    try {
      if (typeof data === 'string') this.#dc.sendMessage(data);
      else this.#dc.sendMessageBinary(data);
    } catch (cause) {
      throw new WebRtcError('not_open', `channel ${this.label} refused the message`, { cause });
    }
  }

  close(): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    this.#dc.close();
  }

  /**
   * Closes the native channel whatever its state: node-datachannel keeps the
   * event loop alive for a channel until its close callback ran, and closing
   * the peer alone does not deliver one for a channel that never opened.
   */
  release(): void {
    try {
      this.#dc.close();
    } catch {
      // Already gone.
    }
    this.markClosed();
  }

  /** Final state; emits `close` once, then drops every listener. */
  markClosed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.emit('close');
    queueMicrotask(() => this.removeAllListeners());
  }
}

/** One libdatachannel `PeerConnection` behind the `Peer` interface. */
class NdcPeer extends Emitter<PeerEvents> implements Peer {
  readonly role: PeerRole;
  readonly #pc: NdcPeerConnection;
  readonly #allow: CandidatePolicy;
  readonly #dtlsServer: boolean;
  readonly #channels = new Set<NdcDataChannel>();
  /** Remote candidates that arrived before the remote description (browsers refuse them; we hold them). */
  readonly #early: { candidate: string; mid: string | null; index: number | null }[] = [];
  /** Offerer: local candidates held until the answer is applied (module comment). */
  #held: (IceCandidateInit | null)[] | null;
  #state: PeerConnectionState = 'new';
  #localFingerprint: string | null = null;
  #remoteFingerprint: string | null = null;
  #closing: Promise<void> | undefined;

  constructor(pc: NdcPeerConnection, role: PeerRole, allow: CandidatePolicy, dtlsServer: boolean) {
    super();
    this.#pc = pc;
    this.role = role;
    this.#allow = allow;
    this.#dtlsServer = dtlsServer;
    this.#held = role === 'offerer' ? [] : null;
    pc.onLocalCandidate((candidate, mid) => {
      if (this.#closing) return;
      const line = candidate.replace(/^a=/, '');
      const address = candidateAddress(line);
      if (address === null || !this.#allow.local(address, candidateType(line) ?? undefined)) return;
      const index = mids(pc.localDescription()?.sdp).indexOf(mid);
      this.#signal({ candidate: line, sdpMid: mid, sdpMLineIndex: index < 0 ? 0 : index });
    });
    pc.onGatheringStateChange((state) => {
      if (state === 'complete' && !this.#closing) this.#signal(null);
    });
    pc.onStateChange((state) => {
      if (!STATES.has(state) || this.#state === 'closed') return;
      if (state === 'connected' || state === 'failed') this.#captureRemoteCertificate();
      this.#state = state as PeerConnectionState;
      this.emit('connectionstatechange', this.#state);
    });
    pc.onDataChannel((dc) => {
      // A channel arriving during close still needs its callbacks to let the event loop go.
      if (this.#closing) return new NdcDataChannel(dc).release();
      this.emit('datachannel', this.#track(new NdcDataChannel(dc)));
    });
  }

  get connectionState(): PeerConnectionState {
    return this.#state;
  }

  #signal(candidate: IceCandidateInit | null): void {
    if (this.#held) this.#held.push(candidate);
    else this.emit('icecandidate', candidate);
  }

  #track(channel: NdcDataChannel): NdcDataChannel {
    this.#channels.add(channel);
    channel.once('close', () => this.#channels.delete(channel));
    return channel;
  }

  #assertOpen(what: string): void {
    if (this.#closing) throw new WebRtcError('peer_closed', `${what} after close`);
  }

  #expectRole(role: PeerRole, what: string): void {
    if (this.role !== role) throw new WebRtcError('wrong_role', `${what} is for the ${role}`);
  }

  #engineCall<T>(what: string, call: () => T): T {
    try {
      return call();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      let states = '';
      try {
        states = ` (state ${this.#pc.state()}, ice ${this.#pc.iceState()}, signaling ${this.#pc.signalingState()})`;
      } catch {
        // The native peer is gone.
      }
      throw new WebRtcError('engine', `${what}: ${reason}${states}`, { cause });
    }
  }

  #local(): string {
    const local = this.#pc.localDescription();
    if (!local) throw new WebRtcError('engine', 'no local description');
    if (!this.#held) return filterSdpCandidates(local.sdp, this.#allow.local);
    // Offerer before the answer: no candidates yet (they are trickled once the answer is applied).
    return filterSdpCandidates(local.sdp, () => false)
      .split('\r\n')
      .filter((line) => line !== 'a=end-of-candidates')
      .join('\r\n');
  }

  async createOffer(): Promise<string> {
    this.#assertOpen('createOffer');
    this.#expectRole('offerer', 'createOffer');
    if (!this.#pc.localDescription())
      this.#engineCall('createOffer', () => this.#pc.setLocalDescription('offer'));
    return this.#local();
  }

  async createAnswer(): Promise<string> {
    this.#assertOpen('createAnswer');
    this.#expectRole('answerer', 'createAnswer');
    if (!this.#pc.remoteDescription())
      throw new WebRtcError('engine', 'createAnswer before the remote offer');
    if (!this.#pc.localDescription()) {
      this.#engineCall('createAnswer', () => this.#pc.setLocalDescription('answer'));
    }
    return this.#local();
  }

  async setLocalDescription(sdp: string): Promise<string> {
    this.#assertOpen('setLocalDescription');
    const type = this.role === 'offerer' ? 'offer' : 'answer';
    const local = this.#pc.localDescription();
    if (!local) this.#engineCall('setLocalDescription', () => this.#pc.setLocalDescription(type));
    else if (sdpFingerprint(sdp) !== sdpFingerprint(local.sdp)) {
      throw new WebRtcError('engine', 'setLocalDescription: not the description this peer created');
    }
    return this.#local();
  }

  async setRemoteDescription(sdp: string): Promise<void> {
    this.#assertOpen('setRemoteDescription');
    let remote = filterSdpCandidates(sdp, this.#allow.remote);
    if (this.role === 'answerer' && this.#dtlsServer && LIBDATACHANNEL_ORIGIN.test(remote)) {
      // Workaround (module comment): be the DTLS server, so no first flight is lost.
      remote = remote.replace(/^a=setup:actpass/gm, 'a=setup:active');
    }
    const type = this.role === 'offerer' ? 'answer' : 'offer';
    try {
      this.#pc.setRemoteDescription(remote, type);
    } catch (cause) {
      // On loopback the handshake can fail (e.g. a certificate that is not the signed one) while
      // libdatachannel is still applying the description; the state change reports that failure.
      if (['failed', 'closed'].includes(this.#pc.state())) {
        this.#captureRemoteCertificate();
        return;
      }
      this.#engineCall('setRemoteDescription', () => {
        throw cause;
      });
    }
    for (const c of this.#early.splice(0)) this.#addRemote(c.candidate, c.mid, c.index);
    const held = this.#held ?? [];
    this.#held = null;
    for (const c of held) this.emit('icecandidate', c);
  }

  async addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    this.#assertOpen('addIceCandidate');
    // libdatachannel needs no end-of-candidates signal.
    if (candidate === null) return;
    const address = candidateAddress(candidate.candidate);
    if (address === null || !this.#allow.remote(address)) return;
    if (!this.#pc.remoteDescription()) {
      this.#early.push({
        candidate: candidate.candidate,
        mid: candidate.sdpMid,
        index: candidate.sdpMLineIndex,
      });
      return;
    }
    this.#addRemote(candidate.candidate, candidate.sdpMid, candidate.sdpMLineIndex);
  }

  #addRemote(candidate: string, sdpMid: string | null, index: number | null): void {
    const remoteMids = mids(this.#pc.remoteDescription()?.sdp);
    const mid = sdpMid ?? (index !== null ? remoteMids[index] : undefined) ?? remoteMids[0] ?? '0';
    try {
      this.#pc.addRemoteCandidate(candidate, mid);
    } catch (cause) {
      // After a failed handshake libdatachannel has dropped its ICE transport: a late candidate is moot.
      if (['failed', 'closed', 'disconnected'].includes(this.#pc.state())) return;
      throw new WebRtcError('engine', `addIceCandidate: ${(cause as Error).message}`, { cause });
    }
  }

  createDataChannel(label: string): DataChannel {
    this.#assertOpen('createDataChannel');
    return this.#track(new NdcDataChannel(this.#pc.createDataChannel(label)));
  }

  async path(): Promise<LinkPath | null> {
    if (this.#closing || this.#state !== 'connected') return null;
    try {
      const pair = this.#pc.getSelectedCandidatePair();
      if (!pair) return null;
      // libjuice allocates over UDP only (TURN TCP and TLS servers are dropped, docs/transport.md).
      return linkPathOf({ localType: pair.local.type, relayProtocol: 'udp', remoteType: pair.remote.type });
    } catch {
      return null;
    }
  }

  localFingerprint(): string {
    if (this.#localFingerprint !== null) return this.#localFingerprint;
    const local = this.#pc.localDescription();
    if (local) {
      this.#localFingerprint = sdpFingerprint(local.sdp);
      return this.#localFingerprint;
    }
    // libdatachannel creates its certificate with the first description.
    throw new WebRtcError('engine', 'node-datachannel knows its fingerprint once a description is created');
  }

  remoteCertificateFingerprint(): string | null {
    return this.#remoteFingerprint ?? this.#captureRemoteCertificate();
  }

  #captureRemoteCertificate(): string | null {
    if (this.#remoteFingerprint !== null || this.#closing) return this.#remoteFingerprint;
    try {
      const { value, algorithm } = this.#pc.remoteFingerprint();
      if (algorithm === 'sha-256' && /^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(value)) {
        this.#remoteFingerprint = value.toUpperCase();
      }
    } catch {
      // No handshake yet.
    }
    return this.#remoteFingerprint;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#captureRemoteCertificate();
      try {
        this.#localFingerprintOrNull();
        for (const channel of [...this.#channels]) channel.release();
        this.#pc.close();
      } finally {
        this.#channels.clear();
        if (this.#state !== 'closed') {
          this.#state = 'closed';
          this.emit('connectionstatechange', 'closed');
        }
        this.removeAllListeners();
      }
    })();
    return this.#closing;
  }

  #localFingerprintOrNull(): void {
    try {
      this.localFingerprint();
    } catch {
      // Never created a description.
    }
  }
}

/** `WebRtcEngine` on node-datachannel (libdatachannel). */
export class NodeDataChannelEngine implements WebRtcEngine {
  readonly name = 'node-datachannel';
  /** libjuice allocates over UDP only (TCP and TLS TURN servers are dropped, docs/transport.md). */
  readonly turnTransports = ['udp'] as const;
  readonly #options: NodeDataChannelEngineOptions;
  #count = 0;

  constructor(options: NodeDataChannelEngineOptions = {}) {
    this.#options = options;
  }

  // No `prepare`: a peer made ahead (and closed) starts libdatachannel's threads, and usrsctp's
  // 10 ms timer then runs while that peer's object lives — 0.5 % CPU for a daemon no device is
  // connected to (measured over 20 s), against ≈80 ms off a first connection; and once a
  // collection frees it, the warm state goes too. Not worth it (docs/benchmarks.md).

  async createPeer(options: PeerOptions): Promise<Peer> {
    if (!Array.isArray(options.iceServers)) throw new TypeError('createPeer: iceServers must be an array');
    const { bindAddress, portRange, enableIceUdpMux } = this.#options;
    const allow = candidatePolicy(bindAddress, options.localAddressFilter);
    const config: RtcConfig = {
      iceServers: toNdcIceServers(options.iceServers),
      disableAutoNegotiation: true,
      enableIceTcp: false,
      maxMessageSize: 256 * 1024,
    };
    if (options.iceTransportPolicy === 'relay') config.iceTransportPolicy = 'relay';
    if (bindAddress !== undefined) config.bindAddress = bindAddress;
    if (portRange) {
      config.portRangeBegin = portRange.begin;
      config.portRangeEnd = portRange.end;
    }
    if (enableIceUdpMux) config.enableIceUdpMux = true;
    const ndc = loadBinding();
    if (!ndc) throw new WebRtcError('engine', 'node-datachannel has no native binary for this platform');
    const pc = new ndc.PeerConnection(`pocketshell-${++this.#count}`, config);
    return new NdcPeer(pc, options.role, allow, this.#options.answererDtlsServer ?? false);
  }
}
