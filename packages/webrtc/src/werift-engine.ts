/**
 * The werift implementation of `WebRtcEngine`. It never lets werift fall
 * back to its default public STUN server (ICE servers always come from the
 * caller, even `[]`), can pin every ICE socket to one address (127.0.0.1 in
 * tests and benchmarks), filters candidates both ways through the peer's
 * address filter, gives each peer its own ECDSA P-256 DTLS certificate
 * (made ahead, off the connection's way), and
 * reads the remote certificate from werift's DTLS socket after the handshake
 * so the signed-SDP binding can be checked above it.
 *
 * SCTP packet size: the engine sets werift's `sctp.mtu` to 1191 bytes
 * (`BROWSER_SAFE_SCTP_MTU`): a full SCTP packet plus DTLS 1.2 AES-GCM
 * overhead (37 bytes), UDP (8) and IPv6 (40) headers stays within the
 * 1280-byte IPv6 minimum MTU, the size Chromium's SCTP uses too. werift
 * 0.25 happens to default to the same value; older werift sent larger
 * packets, which other stacks (and tunnels) dropped, so the engine pins it.
 */
import { createHash } from 'node:crypto';
import {
  candidateAddress,
  candidateType,
  Emitter,
  filterSdpCandidates,
  formatFingerprint,
  type LinkPath,
  linkPathOf,
} from '@pocketshell/protocol';
import type { RTCCertificate, RTCDataChannel, RTCPeerConnection, RTCPeerConnectionConfig } from 'werift';
import { type CandidatePolicy, candidatePolicy } from './candidate-policy.ts';
import type { Peer, PeerConnectionState, PeerEvents, PeerOptions, PeerRole, WebRtcEngine } from './engine.ts';
import {
  type DataChannel,
  type DataChannelEvents,
  type DataChannelState,
  type IceCandidateInit,
  MAX_MESSAGE_BYTES,
} from './engine.ts';
import { WebRtcError } from './errors.ts';
import { chooseTurnForWerift } from './turn-choice.ts';

/** DTLS records held per transport while werift's DTLS endpoint does not exist yet. */
const EARLY_DTLS_RECORDS = 32;

/** The part of werift's DTLS client that `startClientNow` uses. */
interface DtlsClientLike {
  connect(): Promise<void>;
}

/**
 * werift's DTLS client sleeps 100 ms after its endpoint exists before it
 * sends its ClientHello (room for a remote DTLS server that is not up yet;
 * werift's own server is now fed the records that come early, Chromium
 * and libdatachannel hold them too). Starts the handshake now instead, and
 * hands werift's own `connect()` call after its sleep the same promise, so
 * a failure still fails the transport through werift's own handler.
 */
function startClientNow(client: DtlsClientLike): void {
  const started = client.connect();
  started.catch(() => {}); // werift attaches its handler after its sleep
  client.connect = () => started;
}

/** SCTP packet size that fits the 1280-byte IPv6 minimum MTU after DTLS, UDP and IP headers. */
export const BROWSER_SAFE_SCTP_MTU = 1191;

/** Options of the werift engine. */
export interface WeriftEngineOptions {
  /**
   * Bind every ICE socket to this one address and gather only it as a host
   * candidate (`127.0.0.1` for tests and benchmarks). Default: all interfaces.
   */
  bindAddress?: string;
  /** SCTP packet size in bytes; default `BROWSER_SAFE_SCTP_MTU`. */
  sctpMtu?: number;
  /**
   * CA certificates (PEM) that TURN-over-TLS servers are verified against,
   * instead of Node's store (a test CA). The certificate is always verified.
   */
  turnTlsCa?: string;
}

interface Unsubscribable {
  unSubscribe(): void;
}

function toBytes(data: string | Buffer): Uint8Array | string {
  return typeof data === 'string' ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** One werift data channel behind the `DataChannel` interface. */
class WeriftDataChannel extends Emitter<DataChannelEvents> implements DataChannel {
  readonly label: string;
  readonly #dc: RTCDataChannel;
  readonly #subscriptions: Unsubscribable[];

  constructor(dc: RTCDataChannel) {
    super();
    this.label = dc.label;
    this.#dc = dc;
    this.#subscriptions = [
      dc.stateChanged.subscribe((state) => {
        if (state === 'open') this.emit('open');
        if (state === 'closed') {
          this.emit('close');
          this.#release();
        }
      }),
      dc.onMessage.subscribe((data) => this.emit('message', toBytes(data))),
      dc.bufferedAmountLow.subscribe(() => this.emit('bufferedamountlow')),
    ];
  }

  get readyState(): DataChannelState {
    return this.#dc.readyState;
  }

  get bufferedAmount(): number {
    return this.#dc.bufferedAmount;
  }

  get bufferedAmountLowThreshold(): number {
    return this.#dc.bufferedAmountLowThreshold;
  }

  set bufferedAmountLowThreshold(value: number) {
    this.#dc.bufferedAmountLowThreshold = value;
  }

  send(data: Uint8Array | string): void {
    if (this.#dc.readyState !== 'open')
      throw new WebRtcError('not_open', `channel ${this.label} is not open`);
    const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      throw new WebRtcError('message_too_large', `message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    }
    // werift keeps the buffer queued until SCTP takes it: copy, as browsers do.
    this.#dc.send(typeof data === 'string' ? data : Buffer.from(data));
  }

  close(): void {
    if (this.#dc.readyState === 'closing' || this.#dc.readyState === 'closed') return;
    this.#dc.close();
  }

  #release(): void {
    for (const s of this.#subscriptions) s.unSubscribe();
    this.#subscriptions.length = 0;
    // Let listeners of 'close' finish first, then drop every listener.
    queueMicrotask(() => this.removeAllListeners());
  }
}

/** One werift `RTCPeerConnection` behind the `Peer` interface. */
class WeriftPeer extends Emitter<PeerEvents> implements Peer {
  readonly role: PeerRole;
  readonly #pc: RTCPeerConnection;
  readonly #certificate: RTCCertificate;
  readonly #allow: CandidatePolicy;
  readonly #subscriptions: Unsubscribable[];
  #remoteFingerprint: string | null = null;
  /** DTLS transports whose early records are held (see `#holdEarlyDtls`). */
  readonly #held = new WeakSet<object>();
  #closing: Promise<void> | undefined;
  /** Remote candidates given to werift (in the SDP and trickled) that passed the policy. */
  #remoteCandidates = 0;

  constructor(pc: RTCPeerConnection, certificate: RTCCertificate, role: PeerRole, allow: CandidatePolicy) {
    super();
    this.role = role;
    this.#pc = pc;
    this.#certificate = certificate;
    this.#allow = allow;
    this.#subscriptions = [
      pc.onIceCandidate.subscribe((candidate) => {
        if (!candidate) return this.emit('icecandidate', null);
        const address = candidateAddress(candidate.candidate);
        const type = candidateType(candidate.candidate) ?? undefined;
        if (address === null || !this.#allow.local(address, type)) return;
        this.emit('icecandidate', {
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid ?? null,
          sdpMLineIndex: candidate.sdpMLineIndex ?? null,
        });
      }),
      pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected' || state === 'failed') this.#captureRemoteCertificate();
        this.emit('connectionstatechange', state);
      }),
      pc.onDataChannel.subscribe((dc) => this.emit('datachannel', new WeriftDataChannel(dc))),
    ];
  }

  get connectionState(): PeerConnectionState {
    return this.#pc.connectionState;
  }

  #expectRole(role: PeerRole, what: string): void {
    if (this.role !== role) throw new WebRtcError('wrong_role', `${what} is for the ${role}`);
  }

  async createOffer(): Promise<string> {
    this.#assertOpen('createOffer');
    this.#expectRole('offerer', 'createOffer');
    return (await this.#pc.createOffer()).sdp;
  }

  async createAnswer(): Promise<string> {
    this.#assertOpen('createAnswer');
    this.#expectRole('answerer', 'createAnswer');
    return (await this.#pc.createAnswer()).sdp;
  }

  async setLocalDescription(sdp: string): Promise<string> {
    this.#assertOpen('setLocalDescription');
    await this.#pc.setLocalDescription({ type: this.role === 'offerer' ? 'offer' : 'answer', sdp });
    this.#holdEarlyDtls();
    const local = this.#pc.localDescription;
    if (!local) throw new WebRtcError('engine', 'no local description after setLocalDescription');
    return filterSdpCandidates(local.sdp, this.#allow.local);
  }

  async setRemoteDescription(sdp: string): Promise<void> {
    this.#assertOpen('setRemoteDescription');
    const type = this.role === 'offerer' ? 'answer' : 'offer';
    const filtered = filterSdpCandidates(sdp, this.#allow.remote);
    this.#remoteCandidates += filtered.split('\n').filter((l) => l.startsWith('a=candidate:')).length;
    await this.#pc.setRemoteDescription({ type, sdp: filtered });
    this.#holdEarlyDtls();
  }

  /**
   * werift starts its DTLS endpoint only once its own ICE agent says
   * `connected` (up to 20 ms after the pair is nominated: its check loop
   * sleeps in 20 ms steps), and drops every DTLS record that arrives before:
   * the remote, whose ICE finished first, sends its ClientHello into the
   * void and resends it only after its retransmit timer — 100 ms for a
   * werift client, 1 s for node-datachannel's (OpenSSL's default). Every
   * first connection paid it. So the records that arrive early are held
   * (at most `EARLY_DTLS_RECORDS`) and handed to the DTLS endpoint as soon
   * as it exists.
   */
  #holdEarlyDtls(): void {
    const transports = new Set([...this.#pc.dtlsTransports, this.#pc.sctpTransport?.dtlsTransport]);
    for (const transport of transports) {
      if (!transport || this.#held.has(transport) || transport.dtls) continue;
      this.#held.add(transport);
      const early: Buffer[] = [];
      const ice = transport.iceTransport.connection;
      const holding = ice.onData.subscribe((data) => {
        if (transport.dtls || early.length >= EARLY_DTLS_RECORDS) return;
        // DTLS records start with a content type in 20..63 (RFC 7983).
        const first = data[0];
        if (first !== undefined && first >= 20 && first <= 63) early.push(Buffer.from(data));
      });
      const started = transport.onStateChange.subscribe((state) => {
        if (state === 'new') return;
        started.unSubscribe();
        holding.unSubscribe();
        // The endpoint is created right after `connecting` is announced, in the same turn.
        queueMicrotask(() => {
          const dtls = transport.dtls;
          const socket = dtls?.transport.socket;
          if (state !== 'connecting' || !socket?.onData) return;
          // werift's own ICE-to-DTLS bridge passes no address either.
          for (const record of early.splice(0)) (socket.onData as (data: Buffer) => void)(record);
          if (transport.role === 'client' && dtls && 'connect' in dtls)
            startClientNow(dtls as DtlsClientLike);
        });
      });
      this.#subscriptions.push(holding, started);
    }
  }

  #assertOpen(what: string): void {
    if (this.#closing) throw new WebRtcError('peer_closed', `${what} after close`);
  }

  async addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    this.#assertOpen('addIceCandidate');
    if (candidate === null) {
      // End of candidates from a remote that announced none we may use (a browser on this machine
      // may have no loopback candidate): werift would then end its checks at once and fail, before
      // the remote's own checks (peer-reflexive candidates) arrive. Without the end marker it keeps
      // answering and checking them; a connection that never comes is closed by its owner's timeout.
      if (this.#remoteCandidates === 0) return;
      return this.#pc.addIceCandidate(null);
    }
    const address = candidateAddress(candidate.candidate);
    if (address === null || !this.#allow.remote(address)) return;
    const init: { candidate: string; sdpMid?: string; sdpMLineIndex?: number } = {
      candidate: candidate.candidate,
    };
    if (candidate.sdpMid !== null) init.sdpMid = candidate.sdpMid;
    if (candidate.sdpMLineIndex !== null) init.sdpMLineIndex = candidate.sdpMLineIndex;
    await this.#pc.addIceCandidate(init);
    this.#remoteCandidates++;
  }

  createDataChannel(label: string): DataChannel {
    this.#assertOpen('createDataChannel');
    return new WeriftDataChannel(this.#pc.createDataChannel(label, { ordered: true }));
  }

  async path(): Promise<LinkPath | null> {
    if (this.#closing || this.#pc.connectionState !== 'connected') return null;
    const ice = (this.#pc.sctpTransport?.dtlsTransport ?? this.#pc.dtlsTransports[0])?.iceTransport
      .connection;
    const pair = ice?.nominated;
    if (!pair) return null;
    // A relay candidate's protocol is werift's TURN client; its transport is how it reaches the server.
    const turn = (pair.protocol as { turn?: { transport?: { type?: string } } }).turn;
    return linkPathOf({
      localType: pair.localCandidate.type,
      relayProtocol: turn?.transport?.type,
      remoteType: pair.remoteCandidate.type,
    });
  }

  localFingerprint(): string {
    const sha256 = this.#certificate.getFingerprints().find((f) => f.algorithm.toLowerCase() === 'sha-256');
    if (!sha256) throw new WebRtcError('engine', 'certificate has no sha-256 fingerprint');
    return sha256.value.toUpperCase();
  }

  remoteCertificateFingerprint(): string | null {
    return this.#remoteFingerprint ?? this.#captureRemoteCertificate();
  }

  #captureRemoteCertificate(): string | null {
    if (this.#remoteFingerprint !== null) return this.#remoteFingerprint;
    const dtls = this.#pc.sctpTransport?.dtlsTransport ?? this.#pc.dtlsTransports[0];
    const der = dtls?.dtls?.remoteCertificate;
    if (!der) return null;
    this.#remoteFingerprint = formatFingerprint(createHash('sha256').update(der).digest());
    return this.#remoteFingerprint;
  }

  /**
   * werift's DTLS handshake retransmits a flight in a loop of uncancellable
   * sleeps (0.5 s, 1 s, … 5.5 s: up to 33 s) that `close()` does not stop,
   * e.g. when the remote dropped us mid-handshake. Marking every flight as
   * done makes such a loop end at its next wake-up instead.
   */
  #endHandshakeRetransmits(): void {
    const transports = new Set([...this.#pc.dtlsTransports, this.#pc.sctpTransport?.dtlsTransport]);
    for (const transport of transports) {
      if (transport?.dtls) transport.dtls.dtls.flight = Number.MAX_SAFE_INTEGER;
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#captureRemoteCertificate();
      this.#endHandshakeRetransmits();
      try {
        await this.#pc.close();
      } finally {
        for (const s of this.#subscriptions) s.unSubscribe();
        this.#subscriptions.length = 0;
        if (this.#pc.connectionState !== 'closed') this.emit('connectionstatechange', 'closed');
        this.removeAllListeners();
      }
    })();
    return this.#closing;
  }
}

type Werift = typeof import('werift');
let werift: Promise<Werift> | undefined;

/**
 * werift itself, loaded on the first peer (not at import): it is large
 * (≈35 MiB resident once loaded), and a host running node-datachannel, or
 * one that no device has connected to yet, never needs it.
 */
function loadWerift(): Promise<Werift> {
  werift ??= import('werift').then((w) => {
    noDefaultStun(w);
    turnStreamsNoDelay(w);
    turnStreamFramesOneByOne(w);
    return w;
  });
  return werift;
}

const PATCHED = Symbol.for('pocketshell.werift.noDefaultStun');

/**
 * werift's ICE falls back to a public STUN server (stun.l.google.com) when
 * no STUN server is configured — even with `iceServers: []` — and looks it
 * up and sends it a binding request from every IPv4 host candidate. No
 * configured STUN server must mean none: PocketShell never talks to an
 * address its caller did not give (and tests talk to loopback only).
 */
export function noDefaultStun(w: Werift): void {
  const proto = w.Connection.prototype as unknown as {
    applyStunTurnServersFromOptions(this: { options: { stunServer?: unknown }; stunServer?: unknown }): void;
    [PATCHED]?: true;
  };
  if (proto[PATCHED]) return;
  const original = proto.applyStunTurnServersFromOptions;
  if (typeof original !== 'function')
    throw new WebRtcError('engine', 'werift: unknown ICE internals (STUN default)');
  proto.applyStunTurnServersFromOptions = function (this) {
    original.call(this);
    if (!this.options.stunServer) this.stunServer = undefined;
  };
  proto[PATCHED] = true;
}

const NO_DELAY = Symbol.for('pocketshell.werift.turnNoDelay');

/**
 * werift's TURN client over TCP and TLS leaves Nagle's algorithm on: a
 * keystroke's packet waits for the ACK of the one before (delayed by up to
 * 40 ms on Linux), so TURN/TCP echo measured ≈15 ms on loopback against
 * ≈1 ms over TURN/UDP. Sets TCP_NODELAY on the socket once it is made, as
 * browsers do for TURN over TCP.
 */
export function turnStreamsNoDelay(w: Werift): void {
  const transports = [w.TcpTransport, (w as unknown as { TlsTransport?: unknown }).TlsTransport];
  for (const T of transports) {
    const proto = (T as { prototype?: { init?: () => Promise<void>; [NO_DELAY]?: true } } | undefined)
      ?.prototype;
    if (!proto || proto[NO_DELAY] || typeof proto.init !== 'function') continue;
    const original = proto.init;
    proto.init = async function (this: { stream?: { client?: { setNoDelay?(on: boolean): void } } }) {
      this.stream?.client?.setNoDelay?.(true);
      await original.call(this);
      this.stream?.client?.setNoDelay?.(true);
    };
    proto[NO_DELAY] = true;
  }
}

const ONE_BY_ONE = Symbol.for('pocketshell.werift.turnFramesOneByOne');

/**
 * werift's TURN client over TCP and TLS splits each socket read into its
 * TURN frames and hands them all on in the same turn of the event loop;
 * a read holds several frames whenever the peer sends a burst. werift's
 * SCTP handles each packet in an `async` function that yields (a SACK, a
 * send), so packets handed on together are processed interleaved — which
 * over UDP (one datagram per turn) does not happen — and the association
 * then stalls: the channels open, the terminal attaches, and no more of
 * the host's output reaches the application (the bench's TURN/TCP and TLS
 * columns failed in most runs; slowed down by debug logging, they passed).
 * Hands each frame (ChannelData or STUN) from a stream transport on in its
 * own turn, in order, as datagrams arrive over UDP. Measured: TURN/TCP
 * bench runs 0 of 4 failed with it, 4 of 5 without (docs/transport.md).
 */
export function turnStreamFramesOneByOne(w: Werift): void {
  interface TurnFrames {
    transport?: { type?: string };
    handleChannelData(data: Buffer): void;
    handleSTUNMessage(data: Buffer, addr: unknown): void;
  }
  const proto = (w as unknown as { TurnProtocol?: { prototype?: TurnFrames & { [ONE_BY_ONE]?: true } } })
    .TurnProtocol?.prototype;
  if (!proto || proto[ONE_BY_ONE]) return;
  if (typeof proto.handleChannelData !== 'function' || typeof proto.handleSTUNMessage !== 'function')
    throw new WebRtcError('engine', 'werift: unknown TURN internals (frame handling)');
  const { handleChannelData, handleSTUNMessage } = proto;
  const queues = new WeakMap<TurnFrames, (() => void)[]>();
  const inTurn = (self: TurnFrames, job: () => void) => {
    const type = self.transport?.type;
    if (type !== 'tcp' && type !== 'tls') return job();
    const jobs = queues.get(self) ?? [];
    queues.set(self, jobs);
    jobs.push(job);
    if (jobs.length > 1) return;
    const next = () => {
      try {
        jobs[0]?.();
      } finally {
        jobs.shift();
        if (jobs.length > 0) setImmediate(next);
      }
    };
    setImmediate(next);
  };
  proto.handleChannelData = function (this: TurnFrames, data: Buffer) {
    inTurn(this, () => handleChannelData.call(this, data));
  };
  proto.handleSTUNMessage = function (this: TurnFrames, data: Buffer, addr: unknown) {
    inTurn(this, () => handleSTUNMessage.call(this, data, addr));
  };
  proto[ONE_BY_ONE] = true;
}

/** werift's ICE connection as a caller configured it (exposed for the test that no default STUN server is used). */
export async function weriftStunServerFor(options: { stunServer?: [string, number] }): Promise<unknown> {
  const w = await loadWerift();
  return new w.Connection(true, options).stunServer;
}

async function newCertificate(w: Werift): Promise<RTCCertificate> {
  const { certPem, keyPem, signatureHash } = await w.createSelfSignedCertificate(
    { signature: w.SignatureAlgorithm.ecdsa_3, hash: w.HashAlgorithm.sha256_4 },
    w.NamedCurveAlgorithm.secp256r1_23,
  );
  return new w.RTCCertificate(keyPem, certPem, signatureHash);
}

/** `WebRtcEngine` on werift. */
export class WeriftEngine implements WebRtcEngine {
  readonly name = 'werift';
  readonly #bindAddress: string | undefined;
  readonly #sctpMtu: number;
  readonly #turnTlsCa: string | undefined;
  #cert: Promise<RTCCertificate> | undefined;
  #warmedUp = false;

  constructor(options: WeriftEngineOptions = {}) {
    this.#bindAddress = options.bindAddress;
    this.#sctpMtu = options.sctpMtu ?? BROWSER_SAFE_SCTP_MTU;
    this.#turnTlsCa = options.turnTlsCa;
  }

  /**
   * Loads werift (≈0.5 s of module loading on this machine's first peer
   * otherwise) and makes the next peer's DTLS certificate, in the background.
   */
  async prepare(options: { warmUp?: boolean } = {}): Promise<void> {
    await this.#nextCertificate();
    if (!options.warmUp || this.#warmedUp) return;
    this.#warmedUp = true;
    await this.#warmUp(await loadWerift());
  }

  /**
   * The next peer's own ECDSA P-256 DTLS certificate. Each peer still gets
   * a fresh key, but it is made ahead (after the previous peer took its
   * own), off the connection's way. A failure is not kept.
   */
  #nextCertificate(): Promise<RTCCertificate> {
    if (this.#cert) return this.#cert;
    const made: Promise<RTCCertificate> = loadWerift()
      .then(newCertificate)
      .catch((error: unknown) => {
        if (this.#cert === made) this.#cert = undefined;
        throw error;
      });
    this.#cert = made;
    return made;
  }

  /** Takes the certificate made ahead (each caller its own), and starts making the one after it. */
  #takeCertificate(): Promise<RTCCertificate> {
    const mine = this.#nextCertificate();
    this.#cert = undefined;
    this.#nextCertificate().catch(() => {}); // not kept: made again for the next peer
    return mine;
  }

  async createPeer(options: PeerOptions): Promise<Peer> {
    if (!Array.isArray(options.iceServers)) throw new TypeError('createPeer: iceServers must be an array');
    const w = await loadWerift();
    return this.#makePeer(w, await this.#takeCertificate(), options, this.#bindAddress);
  }

  /**
   * One loopback connection between two throwaway peers of this engine, on
   * 127.0.0.1 only: offer, answer, ICE, DTLS, SCTP, a channel opened and a
   * message each way, then both closed. werift is JavaScript, so a process's
   * first connection also compiles every step of it — ≈60 ms more than the
   * next one on this machine (docs/benchmarks.md, issue 17). Done once
   * ahead, by a daemon; gives up silently after 5 s.
   */
  async #warmUp(w: Werift): Promise<void> {
    const peers: Peer[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      const make = async (role: PeerRole) => {
        const p = await this.#makePeer(w, await newCertificate(w), { role, iceServers: [] }, '127.0.0.1');
        peers.push(p);
        return p;
      };
      const a = await make('offerer');
      const b = await make('answerer');
      a.on('icecandidate', (c) => void b.addIceCandidate(c).catch(() => {}));
      b.on('icecandidate', (c) => void a.addIceCandidate(c).catch(() => {}));
      const mine = a.createDataChannel('warm-up');
      const echoed = new Promise<void>((resolve) => {
        b.on('datachannel', (theirs) => theirs.on('message', (m) => theirs.send(m)));
        mine.on('open', () => mine.send('warm-up'));
        mine.on('message', () => resolve());
      });
      await b.setRemoteDescription(await a.setLocalDescription(await a.createOffer()));
      await a.setRemoteDescription(await b.setLocalDescription(await b.createAnswer()));
      await Promise.race([echoed, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
    } finally {
      clearTimeout(timer);
      await Promise.all(peers.map((p) => p.close().catch(() => {})));
    }
  }

  async #makePeer(
    w: Werift,
    certificate: RTCCertificate,
    options: PeerOptions,
    bind: string | undefined,
  ): Promise<Peer> {
    const allow = candidatePolicy(bind, options.localAddressFilter);
    const config: RTCPeerConnectionConfig = {
      // Always explicit: werift's default is a public STUN server.
      // werift uses one TURN URL: the best one that answers (turn-choice.ts).
      iceServers: (await chooseTurnForWerift(options.iceServers)).map((s) => ({
        ...s,
        urls: Array.isArray(s.urls) ? [...s.urls] : s.urls,
      })),
      certificates: [certificate],
      sctp: { mtu: this.#sctpMtu },
      iceUseTcp: false,
      iceTransportPolicy: options.iceTransportPolicy ?? 'all',
    };
    if (this.#turnTlsCa !== undefined) config.turnTlsOptions = { ca: this.#turnTlsCa };
    if (bind !== undefined) {
      const v6 = bind.includes(':');
      config.iceUseIpv4 = !v6;
      config.iceUseIpv6 = v6;
      config.iceInterfaceAddresses = v6 ? { udp6: bind } : { udp4: bind };
      config.iceAdditionalHostAddresses = [bind];
    }
    if (allow.restricts) {
      config.iceFilterCandidatePair = (pair) =>
        allow.local(pair.localCandidate.host, pair.localCandidate.type) &&
        allow.remote(pair.remoteCandidate.host);
    }
    const pc = new w.RTCPeerConnection(config);
    return new WeriftPeer(pc, certificate, options.role, allow);
  }
}
