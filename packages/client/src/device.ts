/**
 * A device in Node: the same role as the phone's web client, used by the
 * tests, the benchmarks and `pocketshell connect`. It pairs from a pairing
 * URL (answering the SAS through a callback), keeps a relay connection, and
 * opens signed WebRTC connections to its paired hosts, with a `control`
 * channel and any number of terminal channels on each.
 */

import {
  type CallArgs,
  CONTROL_METHODS,
  type ControlMethod,
  type ControlMethods,
  type ControlResult,
  type DeliverMessage,
  type DeviceId,
  DeviceSignals,
  deviceIdOf,
  fromB64u,
  type Grant,
  type HostId,
  hostIdOf,
  type IceBody,
  type KeyPair,
  LINK_KIND,
  LinkCipher,
  type LinkPath,
  MAX_CONTROL_REPLY,
  makeLinkOpen,
  makePairConfirm,
  makePairRequest,
  openPairAccept,
  ProtocolError,
  parseInner,
  parsePairUrl,
  type RelayClient,
  type RelayLinkOptions,
  type RpcClient,
  randomId,
  relayClientOf,
  type ServerMessage,
  sasDigits,
  unixNow,
} from '@pocketshell/protocol';
import {
  bestTurnTransport,
  type ConnectMark,
  connectTiming,
  type DataChannel,
  type IceServer,
  type Peer,
  type PeerSideOptions,
  RelayLink,
  startOffer,
  type WebRtcEngine,
} from '@pocketshell/webrtc';
import { AgentClient } from './agent-client.ts';
import { AlertsClient } from './alerts-client.ts';
import { FilesClient } from './files-client.ts';
import { rpcOverChannel } from './rpc-channel.ts';
import { StatsClient } from './stats-client.ts';
import { TerminalClient } from './terminal-client.ts';

/** A host this device is paired with. */
export interface PairedHost {
  id: HostId;
  pub: Uint8Array;
  name: string;
  grants: Grant[];
}

export interface DeviceOptions extends RelayLinkOptions, PeerSideOptions {
  keyPair: KeyPair;
  /**
   * Ask the relay for its TURN servers (`turn.credentials`) and offer with
   * them, as the host and the web client do (default `true`); kept for half
   * their lifetime. A relay without TURN answers `unsupported`: none used.
   */
  relayTurn?: boolean;
  /** `iceTransportPolicy` of every peer (tests and benchmarks force TURN with `relay`). */
  iceTransportPolicy?: 'all' | 'relay';
  /**
   * An engine that speaks TURN over TCP and TLS (werift), used instead of
   * `engine` for a connection when `engine` cannot (node-datachannel) and
   * the relay's TURN server answers only over TCP or TLS — the network
   * drops UDP (a probe before the offer, `bestTurnTransport`).
   */
  tcpTurnEngine?: WebRtcEngine;
}

const CONNECT_TIMEOUT_MS = 30_000;
/** How long `path: 'auto'` waits for WebRTC before it takes the relay path. */
export const DIRECT_FALLBACK_MS = 10_000;

/**
 * Which way a connection may go: `direct` WebRTC only (host candidates,
 * STUN or TURN), `relay` the end-to-end relay path only (docs/protocol.md
 * §10), `auto` WebRTC first and the relay path when it does not connect in
 * time. `POCKETSHELL_PATH` sets it for `pocketshell connect`.
 */
export type ConnectPath = 'auto' | 'direct' | 'relay';

/** One open connection to a host. */
export class HostConnection {
  readonly host: PairedHost;
  readonly conn: string;
  readonly peer: Peer;
  readonly control: DataChannel;
  /** The control methods of the host (`CONTROL_METHODS`), typed: `rpc.call('sessions.list')`. */
  readonly rpc: RpcClient<ControlMethods>;
  readonly #onClose: (tellHost?: boolean) => void;
  /** Debug timing of the way up (`NODE_DEBUG=pocketshell-connect`), until the first terminal's first byte. */
  #mark: ConnectMark | undefined;

  constructor(
    host: PairedHost,
    conn: string,
    peer: Peer,
    control: DataChannel,
    onClose: (tellHost?: boolean) => void,
    mark?: ConnectMark,
  ) {
    this.#mark = mark;
    this.host = host;
    this.conn = conn;
    this.peer = peer;
    this.control = control;
    this.#onClose = onClose;
    this.rpc = rpcOverChannel(control, CONTROL_METHODS, MAX_CONTROL_REPLY, 'control');
  }

  /** Which way the connection runs (direct, TURN over UDP/TCP/TLS, the relay path), or `null` when not connected. */
  path(): Promise<LinkPath | null> {
    return this.peer.path();
  }

  /** Calls a control method (typed by the protocol's method map). */
  call<K extends ControlMethod>(method: K, ...args: CallArgs<ControlMethods, K>): Promise<ControlResult<K>> {
    return this.rpc.call(method, ...args);
  }

  /**
   * Opens a terminal: `new`, one of the host's session ids, `tmux:<name>` or
   * `screen:<name>`. Resolves once attached (the snapshot follows).
   */
  async openTerminal(
    target = 'new',
    options: { cols?: number; rows?: number; autoAck?: boolean } = {},
  ): Promise<TerminalClient> {
    const channel = this.peer.createDataChannel(`term:${target}`);
    const term = new TerminalClient(
      channel,
      options.autoAck === undefined ? {} : { autoAck: options.autoAck },
    );
    const mark = this.#mark;
    this.#mark = undefined;
    if (mark) {
      const off = term.on('data', ({ snapshot }) => {
        if (snapshot) return;
        off();
        mark('first terminal byte');
      });
    }
    await new Promise<void>((resolve, reject) => {
      if (channel.readyState === 'open') return resolve();
      channel.once('open', () => resolve());
      channel.once('close', () => reject(new ProtocolError('unavailable', 'terminal channel refused')));
    });
    mark?.(`term:${target} open`);
    if (options.cols && options.rows) term.resize(options.cols, options.rows);
    const closed = term.closed.then(() => {
      throw new ProtocolError('unavailable', 'terminal channel closed before attaching');
    });
    await Promise.race([term.attachedOnce, closed]);
    mark?.('terminal attached');
    return term;
  }

  /** Opens the `stats` channel (grant `stats`); rejects `unavailable` when the host refuses it. */
  async openStats(): Promise<StatsClient> {
    const channel = this.peer.createDataChannel('stats');
    const stats = new StatsClient(channel);
    await new Promise<void>((resolve, reject) => {
      if (channel.readyState === 'open') return resolve();
      channel.once('open', () => resolve());
      channel.once('close', () => reject(new ProtocolError('unavailable', 'stats channel refused')));
    });
    return stats;
  }

  /** Opens the `alerts` channel (no grant: the host filters by grants); rejects `unavailable` when refused. */
  async openAlerts(): Promise<AlertsClient> {
    const channel = this.peer.createDataChannel('alerts');
    const alerts = new AlertsClient(channel);
    await new Promise<void>((resolve, reject) => {
      if (channel.readyState === 'open') return resolve();
      channel.once('open', () => resolve());
      channel.once('close', () => reject(new ProtocolError('unavailable', 'alerts channel refused')));
    });
    return alerts;
  }

  /** Opens the `agent` channel (grant `agent`); rejects `unavailable` when refused. */
  async openAgent(): Promise<AgentClient> {
    const channel = this.peer.createDataChannel('agent');
    const agent = new AgentClient(channel);
    await new Promise<void>((resolve, reject) => {
      if (channel.readyState === 'open') return resolve();
      channel.once('open', () => resolve());
      channel.once('close', () => reject(new ProtocolError('unavailable', 'agent channel refused')));
    });
    return agent;
  }

  /**
   * Opens a `files` channel (grant `files:read`); rejects `unavailable` when
   * the host refuses it. Several may be open at once (one per transfer keeps
   * a listing from waiting behind a large file).
   */
  async openFiles(): Promise<FilesClient> {
    const channel = this.peer.createDataChannel('files');
    const files = new FilesClient(channel);
    await new Promise<void>((resolve, reject) => {
      if (channel.readyState === 'open') return resolve();
      channel.once('open', () => resolve());
      channel.once('close', () => reject(new ProtocolError('unavailable', 'files channel refused')));
    });
    return files;
  }

  /** Closes the connection (sessions live on at the host). */
  async close(): Promise<void> {
    this.#onClose();
    await this.peer.close();
  }

  /** Why the host ended this connection, when it said so (`hangup`). */
  hangupReason: string | undefined;

  /** The host hung up (a sealed `hangup` for this connection): closes it without telling it back. */
  hungUp(reason: string): void {
    if (this.hangupReason !== undefined) return;
    this.hangupReason = reason;
    this.#onClose(false);
    void this.peer.close();
  }
}

export class Device {
  readonly id: DeviceId;
  readonly relay: RelayClient;
  readonly #o: DeviceOptions;
  readonly #now: () => number;
  #turn: { servers: IceServer[]; until: number } | undefined;
  readonly #hosts = new Map<HostId, PairedHost>();
  /** Listeners for signaling per connection id. */
  readonly #signals: DeviceSignals;
  readonly #open = new Set<HostConnection>();
  /** Relay-path sessions by `conn` (their frames' `mid`). */
  readonly #links = new Map<string, { host: HostId; link: RelayLink }>();

  constructor(options: DeviceOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => unixNow());
    this.id = deviceIdOf(options.keyPair.publicKey);
    this.#signals = new DeviceSignals({
      id: this.id,
      secretKey: options.keyPair.secretKey,
      send: (to, envelope) => this.relay.send(to, envelope),
    });
    this.relay = relayClientOf('device', options.keyPair, options);
    this.relay.on('message', (m) => this.#onMessage(m));
    this.relay.on('disconnected', () => {
      // Frames in flight died with the relay connection: the relay-path sessions end.
      for (const { link } of [...this.#links.values()]) link.fail('relay_lost');
    });
  }

  /** Connects to the relay. */
  start(): void {
    this.relay.start();
    // The engine's library and first certificate, ahead of the first connection (werift: ≈0.5 s).
    // A failure here is not lost: the first createPeer meets it again and reports it.
    this.#o.engine.prepare?.().catch(() => {});
  }

  /** Adds a host paired earlier (from the device's own store). */
  addHost(host: PairedHost): void {
    this.#hosts.set(host.id, host);
  }

  /** Hosts this device is paired with. */
  hosts(): PairedHost[] {
    return [...this.#hosts.values()];
  }

  /**
   * Pairs with the host of a pairing URL. `onSas` gets the six digits the
   * host shows (a person compares them; tests check them). Resolves once the
   * host accepted.
   */
  async pair(
    url: string,
    options: {
      name: string;
      onSas?: (sas: string) => void;
      timeoutMs?: number;
      /**
       * Called with the accepted host before this device completes the
       * pairing (`pair.confirm`); false cancels it — the device revokes the
       * pairing at the relay, the host pins nothing — and `pair` rejects
       * with `key_changed` (the use: a known host name with another key).
       */
      beforeConfirm?: (host: PairedHost) => boolean | Promise<boolean>;
    },
  ) {
    const link = parsePairUrl(url);
    await this.relay.waitReady();
    const accepted = new Promise<Extract<ServerMessage, { t: 'pair.accepted' }>>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new ProtocolError('timeout', 'the host did not accept in time'));
      }, options.timeoutMs ?? 120_000);
      const off = this.relay.on('message', (m) => {
        const ours = m.t === 'pair.accepted' || m.t === 'pair.rejected' || m.t === 'pair.revoked';
        if (ours && m.from === hostIdOf(link.hostPub)) {
          clearTimeout(timer);
          off();
          if (m.t === 'pair.accepted') resolve(m);
          else if (m.t === 'pair.rejected')
            reject(new ProtocolError('unauthorized', 'the host declined the pairing'));
          // The host gave up waiting for this device (docs/protocol.md §4.6): its acceptance or our confirmation was lost.
          else reject(new ProtocolError('revoked', 'the host stopped waiting for this device'));
        }
      });
    });
    accepted.catch(() => {});
    const redeem = makePairRequest({ link, device: this.#o.keyPair, name: options.name, now: this.#now() });
    await this.relay.request({ t: 'pair.redeem', ...redeem });
    options.onSas?.(sasDigits(link.hostPub, this.#o.keyPair.publicKey, link.claim));
    const message = await accepted;
    const verified = openPairAccept({ device: this.#o.keyPair, link, message, now: this.#now() });
    const host: PairedHost = {
      id: verified.hostId,
      pub: link.hostPub,
      name: verified.hostName,
      grants: verified.grants,
    };
    if (options.beforeConfirm && !(await options.beforeConfirm(host))) {
      // Not completed: the host waits for a confirmation that never comes; tell it at once.
      await this.relay.request({ t: 'pair.revoke', peer: host.id }).catch(() => {});
      throw new ProtocolError('key_changed', `not paired with "${host.name}": its key changed`);
    }
    // The host pins this device only on its signed confirmation that it completed too.
    this.relay.send(verified.hostId, makePairConfirm({ link, device: this.#o.keyPair, now: this.#now() }));
    this.#hosts.set(host.id, host);
    return host;
  }

  #onMessage(m: ServerMessage): void {
    if (m.t === 'error' && m.rid !== undefined) {
      const entry = this.#links.get(m.rid.slice(0, m.rid.lastIndexOf('.')));
      entry?.link.onRefused(m.rid, m.code);
      return;
    }
    if (m.t !== 'deliver') return;
    this.#onDeliver(m);
  }

  #onDeliver(m: DeliverMessage): void {
    const host = this.#hosts.get(m.from as HostId);
    if (!host) return;
    if (m.env.kind === LINK_KIND.frame) {
      const entry = this.#links.get(m.env.mid);
      if (entry && entry.host === host.id) entry.link.receive(m.env);
      return;
    }
    this.#signals.deliver(m.env, host);
  }

  /**
   * Opens a connection to a paired host by `path` (default `auto`: WebRTC
   * first, the relay path when WebRTC has not connected within
   * `fallbackMs`). A refusal by the host (revoked, not paired, limits) is
   * not retried on the other path.
   */
  async open(
    hostId: HostId,
    options: { path?: ConnectPath; timeoutMs?: number; fallbackMs?: number } = {},
  ): Promise<HostConnection> {
    const path = options.path ?? 'auto';
    if (path === 'relay') return this.connectRelay(hostId, options);
    if (path === 'direct') return this.connect(hostId, options);
    try {
      return await this.connect(hostId, { timeoutMs: options.fallbackMs ?? DIRECT_FALLBACK_MS });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = (error as { reason?: string }).reason;
      if (code === 'not_paired' || code === 'revoked' || reason === 'limit_reached' || reason === 'revoked')
        throw error;
      return this.connectRelay(hostId, options);
    }
  }

  /**
   * Opens a relay-path session (docs/protocol.md §10) to a paired host: a
   * signed `link.open` sealed to it, its signed `link.accept`, then the same
   * `HostConnection` as WebRTC gives, its channels inside sealed frames.
   */
  async connectRelay(hostId: HostId, options: { timeoutMs?: number } = {}): Promise<HostConnection> {
    const host = this.#hosts.get(hostId);
    if (!host) throw new ProtocolError('not_paired', `not paired with ${hostId}`);
    await this.relay.waitReady();
    const opening = makeLinkOpen({
      hostId: host.id,
      hostPub: host.pub,
      deviceId: this.id,
      deviceSecret: this.#o.keyPair.secretKey,
      now: this.#now(),
    });
    const { conn } = opening;
    const signal = AbortSignal.timeout(options.timeoutMs ?? CONNECT_TIMEOUT_MS);
    const { reply: accepted, bind, cleanup } = this.#replies(conn, LINK_KIND.accept, signal);
    /** The live connection, for the link's own failure. */
    let bound: HostConnection | undefined;
    try {
      this.relay.send(host.id, opening.envelope);
      const keys = opening.accept(await accepted, this.#now());
      const link = new RelayLink({
        role: 'offerer',
        cipher: new LinkCipher(keys, 'device', opening.sid),
        transport: { send: (env, rid) => this.relay.send(host.id, env, rid) },
      });
      this.#links.set(conn, { host: host.id, link });
      link.on('connectionstatechange', (s) => {
        if (s !== 'closed' && s !== 'failed') return;
        this.#links.delete(conn);
        cleanup();
        if (s === 'failed') bound?.hungUp(link.closeReason ?? 'failed');
      });
      const control = link.createDataChannel('control');
      if (control.readyState !== 'open')
        await new Promise<void>((resolve) => control.once('open', () => resolve()));
      const connection: HostConnection = new HostConnection(host, conn, link, control, (tellHost = true) => {
        this.#open.delete(connection);
        cleanup();
        if (!tellHost) return;
        try {
          this.#signals.seal(host, 'hangup', { conn, reason: 'closed' });
        } catch {
          // Relay down; the host's link ends on its own.
        }
      });
      this.#open.add(connection);
      bound = connection;
      bind(connection);
      return connection;
    } catch (error) {
      cleanup();
      throw error;
    }
  }

  /**
   * The host's replies on connection `conn`: `reply` resolves with the first
   * body of `kind`, and rejects on a hangup before it (`host hung up: …`,
   * with its `reason`) or when `signal` aborts; once `bind` gave the live
   * connection, a hangup ends that connection instead. Other kinds go to
   * `other`. `cleanup` stops listening.
   */
  #replies(
    conn: string,
    kind: string,
    signal: AbortSignal,
    other?: (kind: string, body: unknown) => void,
  ): { reply: Promise<unknown>; bind(live: HostConnection): void; cleanup(): void } {
    let live: HostConnection | undefined;
    let resolveReply: ((body: unknown) => void) | undefined;
    let hangup: ((reason: string) => void) | undefined;
    const reply = new Promise<unknown>((resolve, reject) => {
      resolveReply = resolve;
      hangup = (reason) =>
        reject(Object.assign(new ProtocolError('unavailable', `host hung up: ${reason}`), { reason }));
      signal.addEventListener('abort', () => reject(new ProtocolError('timeout', 'no answer from the host')));
    });
    reply.catch(() => {});
    const cleanup = this.#signals.listen(conn, (k, body) => {
      if (k === kind) resolveReply?.(body);
      else if (k === 'hangup') {
        const { reason } = parseInner('hangup', body);
        // The host ended a live connection (revoked, grants changed, replaced): end it here too, now.
        if (live) live.hungUp(reason);
        else hangup?.(reason);
      } else other?.(k, body);
    });
    return {
      reply,
      bind: (connection) => {
        live = connection;
      },
      cleanup,
    };
  }

  /** Opens a signed WebRTC connection to a paired host, with its `control` channel open. */
  async connect(hostId: HostId, options: { timeoutMs?: number } = {}): Promise<HostConnection> {
    const host = this.#hosts.get(hostId);
    if (!host) throw new ProtocolError('not_paired', `not paired with ${hostId}`);
    await this.relay.waitReady();
    const conn = randomId(12);
    const signal = AbortSignal.timeout(options.timeoutMs ?? CONNECT_TIMEOUT_MS);
    const early: IceBody[] = [];
    let peerRef: Peer | undefined;
    const mark = connectTiming('device', conn);
    mark('start');
    const {
      reply: answer,
      bind,
      cleanup,
    } = this.#replies(conn, 'answer', signal, (kind, body) => {
      if (kind !== 'ice') return;
      const ice = parseInner('ice', body);
      if (peerRef) void peerRef.addIceCandidate(ice.candidate).catch(() => {});
      else early.push(ice);
    });
    try {
      const iceServers = await this.#iceServers();
      const offering = await startOffer({
        engine: await this.#engineFor(iceServers),
        iceServers,
        ...(this.#o.iceTransportPolicy ? { iceTransportPolicy: this.#o.iceTransportPolicy } : {}),
        ...(this.#o.localAddressFilter ? { localAddressFilter: this.#o.localAddressFilter } : {}),
        onIceCandidate: (candidate) => this.#signals.seal(host, 'ice', { conn, candidate }),
        now: this.#now,
        hostId: host.id,
        deviceId: this.id,
        deviceSecret: this.#o.keyPair.secretKey,
        hostPub: host.pub,
        conn,
        channels: ['control'],
        signal,
      });
      mark('offer made');
      offering.peer.on('connectionstatechange', (s) => mark(`peer ${s}`));
      this.#signals.seal(host, 'offer', offering.offer);
      mark('offer sent');
      const answered = await answer;
      mark('answer received');
      const { verified } = await offering.acceptAnswer(answered);
      peerRef = offering.peer;
      for (const ice of early) void offering.peer.addIceCandidate(ice.candidate).catch(() => {});
      await verified;
      mark('host certificate verified');
      const control = offering.channels[0]!;
      if (control.readyState !== 'open') {
        await new Promise<void>((resolve, reject) => {
          control.once('open', () => resolve());
          control.once('close', () => reject(new ProtocolError('unavailable', 'control channel closed')));
          signal.addEventListener('abort', () =>
            reject(new ProtocolError('timeout', 'control channel did not open')),
          );
        });
      }
      mark('control open');
      offering.peer.on('connectionstatechange', (s) => {
        if (s === 'closed' || s === 'failed') cleanup();
      });
      const connection: HostConnection = new HostConnection(
        host,
        conn,
        offering.peer,
        control,
        (tellHost = true) => {
          this.#open.delete(connection);
          cleanup();
          if (!tellHost) return;
          try {
            this.#signals.seal(host, 'hangup', { conn, reason: 'closed' });
          } catch {
            // Relay down; the host notices the peer close anyway.
          }
        },
        mark,
      );
      this.#open.add(connection);
      bind(connection);
      return connection;
    } catch (error) {
      cleanup();
      throw error;
    }
  }

  /** `tcpTurnEngine` when `engine` cannot reach the TURN server the way the network allows. */
  async #engineFor(iceServers: readonly IceServer[]): Promise<WebRtcEngine> {
    const { engine, tcpTurnEngine } = this.#o;
    const can = engine.turnTransports;
    if (!tcpTurnEngine || !can || can.includes('tcp')) return engine;
    const best = await bestTurnTransport(iceServers);
    return best !== null && !can.includes(best) ? tcpTurnEngine : engine;
  }

  /** The caller's ICE servers and the relay's TURN servers (cached for half their lifetime). */
  async #iceServers(): Promise<IceServer[]> {
    const extra = [...(this.#o.iceServers ?? [])];
    if (this.#o.relayTurn === false) return extra;
    if (this.#turn && this.#turn.until > this.#now()) return [...extra, ...this.#turn.servers];
    try {
      const t = await this.relay.request({ t: 'turn.credentials' });
      const servers =
        t.urls.length > 0 ? [{ urls: t.urls, username: t.username, credential: t.credential }] : [];
      this.#turn = { servers, until: this.#now() + Math.floor(t.ttl / 2) };
      return [...extra, ...servers];
    } catch {
      // No TURN on this relay (or it is unreachable, or the request was rate limited): host
      // candidates only, and not asked again for a minute (the relay limits `turn` requests).
      this.#turn = { servers: [], until: this.#now() + 60 };
      return extra;
    }
  }

  /** Closes every connection and the relay link. */
  async close(): Promise<void> {
    await Promise.all([...this.#open].map((c) => c.close()));
    this.relay.close();
  }
}

export { fromB64u };
