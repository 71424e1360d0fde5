/**
 * The host agent: one object that holds this machine's identity, trust
 * store, audit log and PTY sessions, stays connected to the relay, pairs new
 * devices, and serves each paired device's WebRTC connections — signed
 * offers checked against the pinned key before anything is created, the
 * DTLS certificate bound to the signed fingerprint, grants checked per
 * channel, every refusal audited.
 */
import {
  type AlertPushBody,
  acceptLinkOpen,
  b64u,
  buildPairUrl,
  type DeliverMessage,
  type DeviceId,
  deviceIdOf,
  Emitter,
  fingerprint,
  fromB64u,
  type Grant,
  hasStreamTurnHint,
  type IceCandidateInit,
  LINK_KIND,
  LinkCipher,
  makePairAccept,
  openJson,
  openPairConfirm,
  openPairRequest,
  type PairRequestMessage,
  type PartyId,
  ProtocolError,
  parseInner,
  type RelayClient,
  type RelayLinkOptions,
  ReplayCache,
  relayClientOf,
  type ServerMessage,
  sameName,
  sealJson,
  unixNow,
  type VerifiedPairRequest,
} from '@pocketshell/protocol';
import type { DataChannel, IceServer, Peer, PeerSideOptions, WebRtcEngine } from '@pocketshell/webrtc';
import { answerOffer, connectTiming, RelayLink } from '@pocketshell/webrtc';
import type { AgentManager } from '../agent/manager.ts';
import type { AlertCenter } from '../alerts/center.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SessionHost } from '../pty/session-host.ts';
import type { HostIdentity } from '../state/identity-store.ts';
import type { PinnedDevice, TrustStore } from '../state/trust-store.ts';
import { type ChannelContext, openChannel } from './channels.ts';
import type { FilesService } from './files.ts';
import type { StatsService } from './stats.ts';

/** Grants a device gets when the pairing does not say: the least that is useful (docs/security.md). */
export const DEFAULT_GRANTS: readonly Grant[] = ['shell'];

/** What the agent needs; everything is injected. */
export interface HostAgentOptions extends RelayLinkOptions, PeerSideOptions {
  identity: HostIdentity;
  trust: TrustStore;
  audit: AuditLog;
  sessions: SessionHost;
  /** What the `stats` channel serves (none: it answers `unsupported`). */
  stats?: StatsService;
  /** What the `files` channel serves (none: it answers `unsupported`). */
  files?: FilesService;
  /** What the `alerts` channel serves (none: it answers `unsupported`). */
  alerts?: AlertCenter;
  /** What the `agent` channel serves (none: it answers `unsupported`). */
  agents?: AgentManager;
  /** Enrollment token for a relay with closed registration. */
  enroll?: string;
  /**
   * The engine for offers with the stream-TURN hint (`STREAM_TURN_HINT`):
   * werift when `engine` is node-datachannel, whose libjuice refuses
   * Chromium's checks over TURN/TCP and TLS (docs/transport.md). None:
   * `engine` answers every offer.
   */
  streamTurnEngine?: WebRtcEngine;
  /** WebRTC peer caps (defaults: `DEFAULT_PEER_LIMITS`). */
  peerLimits?: Partial<PeerLimits>;
  /** Refusal audit coalescing window in milliseconds (default 60 s). */
  refusalWindowMs?: number;
}

/** How many WebRTC peers the host keeps, and how long one may stay half-open. */
export interface PeerLimits {
  /** Peers (half-open or connected) one device may hold. */
  perDevice: number;
  /** Peers all devices together may hold. */
  total: number;
  /** A peer whose DTLS (and certificate check) has not completed by then is dropped. */
  halfOpenMs: number;
}

/** The peer caps a host uses unless told otherwise. */
export const DEFAULT_PEER_LIMITS: PeerLimits = { perDevice: 4, total: 32, halfOpenMs: 10_000 };

/** A pairing request waiting for the person's decision. */
export interface PairingPrompt {
  deviceId: DeviceId;
  name: string;
  /** Six digits to compare with the phone. */
  sas: string;
  /** The device key's fingerprint. */
  fingerprint: string;
  /** The grants the device gets if accepted. */
  grants: readonly Grant[];
  /**
   * Set when a device of the same name is already pinned with another key
   * (the most recently paired one): a key change, which `--yes` does not
   * accept (docs/security.md, "Key change").
   */
  keyChanged?: { deviceId: DeviceId; fingerprint: string; pairedAt: number };
}

/** Events of the agent. */
export interface HostAgentEvents {
  /** Relay connection state changes. */
  relay: { state: string; reason?: string };
  /** A device connection reached `connected` (and its certificate matched). */
  connected: { device: DeviceId; conn: string };
  /** A device connection ended. */
  disconnected: { device: DeviceId; conn: string; reason: string };
  /** Something was refused (also audited). */
  refused: { code: string; device?: string; what: string };
}

/** A pairing waiting for its device's request. */
interface PendingPairing {
  claim: Uint8Array;
  resolve: (verified: VerifiedPairRequest) => void;
  reject: (error: Error) => void;
}

interface LiveConnection {
  device: DeviceId;
  conn: string;
  peer: Peer;
  timer?: ReturnType<typeof setTimeout>;
  /** The device's DTLS certificate was checked: its channels are served. */
  verified?: boolean;
}

/** Refusals of one device and code inside the current window: the first is written, the rest counted. */
interface RefusalWindow {
  readonly device: string | undefined;
  readonly code: string;
  readonly what: string[];
  suppressed: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Distinct (device, code) windows held at once; beyond it refusals fold into one catch-all window. */
const MAX_REFUSAL_WINDOWS = 512;

const ANSWER_TIMEOUT_MS = 30_000;
/** How long a device that unpaired itself keeps its connections, so the answer reaches it. */
const SELF_REVOKE_GRACE_MS = 500;
/** How long the host waits for the device's `pair.confirm` after accepting. */
export const PAIR_DEVICE_TIMEOUT_MS = 60_000;

export class HostAgent extends Emitter<HostAgentEvents> {
  readonly relay: RelayClient;
  readonly #o: HostAgentOptions;
  readonly #now: () => number;
  /** Envelope ids (mid) seen, per the sealed-envelope rules. */
  readonly #envelopes = new ReplayCache();
  /** Offer nonces seen. */
  readonly #offers = new ReplayCache();
  /** Relay-path session ids seen. */
  readonly #linkIds = new ReplayCache();
  /** Live connections by `connKey(device, conn)`: one device can never touch another's. */
  readonly #connections = new Map<string, LiveConnection>();
  /** Candidates that arrived before their offer was answered (bounded). */
  readonly #earlyIce = new Map<string, { candidates: (IceCandidateInit | null)[]; at: number }>();
  /** Pairings waiting for a device's `pair.request`. */
  readonly #pairings = new Set<PendingPairing>();
  /** Offers being answered, per device (they hold a peer slot too). */
  readonly #pending = new Map<DeviceId, number>();
  readonly #limits: PeerLimits;
  readonly #refusals = new Map<string, RefusalWindow>();
  /** Devices accepted by the person whose own confirmation is awaited (not pinned yet). */
  readonly #completing = new Set<DeviceId>();
  #turn: { servers: IceServer[]; until: number } | undefined;
  #closed = false;

  constructor(options: HostAgentOptions) {
    super();
    this.#o = options;
    this.#now = options.now ?? (() => unixNow());
    this.#limits = { ...DEFAULT_PEER_LIMITS, ...options.peerLimits };
    this.relay = relayClientOf(
      'host',
      { publicKey: options.identity.publicKey, secretKey: options.identity.secretKey },
      options,
    );
    this.relay.on('state', (state) => this.emit('relay', { state }));
    this.relay.on('disconnected', ({ reason }) => {
      this.emit('relay', { state: 'backoff', reason });
      // Frames in flight died with the relay connection: relay-path sessions end (devices reconnect).
      for (const c of [...this.#connections.values()])
        if (c.peer instanceof RelayLink) this.#closeConnection(c.conn, c.device, 'relay_lost');
    });
    this.relay.on('message', (m) => this.#onRelayMessage(m));
  }

  get id(): PartyId {
    return this.#o.identity.id;
  }

  /** Connects to the relay (and keeps reconnecting). */
  start(): void {
    this.relay.start();
  }

  /**
   * Makes what the engine can make ahead of the first connection (werift:
   * its ≈0.5 s of loading, the first certificate, and one throwaway
   * connection on 127.0.0.1 that compiles its code). For the daemon once it
   * is up — not for one-shot commands, which would load it for nothing. A
   * failure is not lost: the first peer meets it again and reports it.
   */
  prepareEngine(): void {
    this.#o.engine.prepare?.({ warmUp: true }).catch(() => {});
  }

  /** Live device connections. */
  connections(): { device: DeviceId; conn: string; state: string }[] {
    return [...this.#connections.values()].map((c) => ({
      device: c.device,
      conn: c.conn,
      state: c.peer.connectionState,
    }));
  }

  // ------------------------------------------------------------ pairing

  /**
   * Runs one pairing: makes a claim, hands the pairing URL to `onUrl`, waits
   * for a device to redeem it, asks `confirm` (show the SAS), sends the
   * acceptance, and pins the device only once the device confirmed that it
   * completed too (a signed `pair.confirm`). Resolves with the pinned
   * device, or rejects with a coded error (`timeout` when nobody redeems
   * before the claim expires or the device does not complete within
   * `deviceTimeoutMs` — then the relay's pairing is revoked and nothing is
   * pinned; `unauthorized` when the person declines; `claim_burned` when
   * the relay killed the claim after wrong redeems from others).
   */
  async pair(options: {
    webUrl: string;
    grants?: readonly Grant[];
    onUrl: (url: string, expires: number) => void;
    confirm: (prompt: PairingPrompt) => Promise<boolean>;
    /** How long to wait for the device to complete after the person confirmed. */
    deviceTimeoutMs?: number;
  }): Promise<PinnedDevice> {
    await this.relay.waitReady();
    const created = await this.relay.request({ t: 'pair.create' });
    const claim = fromB64u(created.claim);
    const { identity } = this.#o;
    options.onUrl(
      buildPairUrl({ webUrl: options.webUrl, claim, hostPub: identity.publicKey, hostName: identity.name }),
      created.expires,
    );
    const verified = await this.#nextPairRequest(claim, Math.max(1, created.expires - this.#now()) * 1000);
    const grants = [...(options.grants ?? DEFAULT_GRANTS)];
    const previous = this.#sameName(verified.name, verified.deviceId);
    if (previous) {
      this.#o.audit.append('key_changed', {
        device: verified.deviceId,
        previous: previous.id,
        name: verified.name,
        previousPairedAt: previous.pairedAt,
      });
    }
    const ok = await options.confirm({
      deviceId: verified.deviceId,
      name: verified.name,
      sas: verified.sas,
      fingerprint: fingerprint(verified.devicePub),
      grants,
      ...(previous
        ? {
            keyChanged: {
              deviceId: previous.id,
              fingerprint: fingerprint(fromB64u(previous.pub)),
              pairedAt: previous.pairedAt,
            },
          }
        : {}),
    });
    if (!ok) {
      const declined = previous
        ? new ProtocolError(
            'key_changed',
            `pairing declined: "${verified.name}" is already paired with another key (${previous.id})`,
          )
        : new ProtocolError('unauthorized', 'pairing declined');
      await this.relay.request({ t: 'pair.reject', to: verified.deviceId }).catch(() => {});
      this.#refuse(declined, verified.deviceId, 'pair.request');
      throw declined;
    }
    const env = makePairAccept({
      host: identity,
      devicePub: verified.devicePub,
      claim,
      hostName: identity.name,
      grants,
      now: this.#now(),
    });
    this.#completing.add(verified.deviceId);
    try {
      const completed = this.#nextPairConfirm(
        verified.deviceId,
        options.deviceTimeoutMs ?? PAIR_DEVICE_TIMEOUT_MS,
      );
      completed.catch(() => {});
      await this.relay.request({ t: 'pair.accept', to: verified.deviceId, env });
      const confirmation = await completed;
      openPairConfirm({
        host: identity,
        devicePub: verified.devicePub,
        claim,
        envelope: confirmation,
        now: this.#now(),
        replay: this.#envelopes,
      });
    } catch (error) {
      // The device did not complete: nothing is pinned here, and the relay forgets the pairing.
      this.#refuse(error, verified.deviceId, 'pair.confirm');
      await this.relay.request({ t: 'pair.revoke', peer: verified.deviceId }).catch(() => {});
      throw error;
    } finally {
      this.#completing.delete(verified.deviceId);
    }
    const pinned = this.#o.trust.pin({ publicKey: verified.devicePub, name: verified.name, grants });
    this.#o.audit.append('pairing', { device: verified.deviceId, name: verified.name, grants });
    return pinned;
  }

  /** The most recently paired device named `name` under another key than `id`'s, if any. */
  #sameName(name: string, id: DeviceId): PinnedDevice | undefined {
    return this.#o.trust
      .list()
      .filter((d) => sameName(d.name, name) && d.id !== id)
      .sort((a, b) => b.pairedAt - a.pairedAt)[0];
  }

  /** The next `pair.confirm` envelope from `device`, or `timeout`. */
  #nextPairConfirm(device: DeviceId, timeoutMs: number): Promise<DeliverMessage['env']> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new ProtocolError('timeout', 'the device did not complete the pairing'));
      }, timeoutMs);
      const off = this.relay.on('message', (m) => {
        if (m.t === 'pair.revoked' && m.from === device) {
          clearTimeout(timer);
          off();
          reject(new ProtocolError('revoked', 'the device cancelled the pairing'));
          return;
        }
        if (m.t !== 'deliver' || m.from !== device || m.env.kind !== 'pair.confirm') return;
        clearTimeout(timer);
        off();
        resolve(m.env);
      });
    });
  }

  /**
   * Waits for the `pair.request` that opens with `claim`. Several pairings
   * can wait at once (`pocketshell up` offers codes while `pocketshell pair`
   * asks the same agent for one), and the relay does not say which claim a
   * request redeems: each request goes to the pairing whose claim it was
   * signed over. One that opens with none is refused and audited, and fails
   * the pairing only when it is the only one waiting.
   */
  #nextPairRequest(claim: Uint8Array, timeoutMs: number): Promise<VerifiedPairRequest> {
    return new Promise((resolve, reject) => {
      const pending: PendingPairing = { claim, resolve, reject };
      const timer = setTimeout(() => {
        this.#pairings.delete(pending);
        reject(new ProtocolError('timeout', 'no device redeemed the pairing code in time'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#pairings.delete(pending);
      };
      pending.resolve = (v) => {
        done();
        resolve(v);
      };
      pending.reject = (e) => {
        done();
        reject(e);
      };
      this.#pairings.add(pending);
    });
  }

  /** Wrong redeems from others killed this host's claims: nobody can redeem them any more. */
  #onPairBurned(): void {
    const waiting = [...this.#pairings];
    if (waiting.length === 0) return;
    const error = new ProtocolError(
      'claim_burned',
      'the pairing code was burned: the relay saw too many wrong codes for this host (someone may be guessing); run `pocketshell pair` again for a new code',
    );
    this.#refuse(error, undefined, 'pair.create');
    for (const p of waiting) p.reject(error);
  }

  #onPairRequest(request: PairRequestMessage): void {
    const waiting = [...this.#pairings];
    if (waiting.length === 0) return;
    let failure: unknown;
    for (const p of waiting) {
      try {
        const verified = openPairRequest({
          host: this.#o.identity,
          claim: p.claim,
          message: request,
          now: this.#now(),
        });
        p.resolve(verified);
        return;
      } catch (error) {
        failure ??= error;
      }
    }
    this.#refuse(failure, request.from, 'pair.request');
    if (waiting.length === 1) waiting[0]!.reject(failure as Error);
  }

  /**
   * Seals an alert to a paired device (inner kind `alert`) and hands it to
   * the relay (`push.send`), which delivers it to the device's open relay
   * connections and as Web Push to its subscriptions, without opening it.
   * Rejects when the device is not paired or the relay refuses or is down
   * (the alert stays in the host's history either way).
   */
  async pushAlert(device: DeviceId, body: AlertPushBody): Promise<void> {
    const status = this.#o.trust.status(device);
    if (status.status !== 'paired') throw new ProtocolError('not_paired', 'no such device');
    const env = sealJson({
      kind: 'alert',
      body,
      senderId: this.id,
      senderSecret: this.#o.identity.secretKey,
      recipientId: device,
      recipientPublic: fromB64u(status.device.pub),
    });
    // the one thing the relay learns of the alert: whether to ask the push service to wake the phone now
    await this.relay.request({
      t: 'push.send',
      to: device,
      env,
      urgency: body.severity === 'critical' ? 'high' : 'normal',
    });
  }

  /** Forgets a device: unpins it, tells the relay, closes its connections at once. */
  revoke(device: DeviceId): Promise<boolean> {
    return this.#revokeBy(device, 'host');
  }

  /**
   * Revokes `device` on behalf of `by` (`host`, or the device id that asked
   * over its control channel). A device unpairing itself keeps its
   * connections a moment longer, so the answer reaches it; it can open
   * nothing more meanwhile (it is no longer paired).
   */
  async #revokeBy(device: DeviceId, by: string): Promise<boolean> {
    // Its key, to seal the hangups that tell it why its connections end (read before it is forgotten).
    const status = this.#o.trust.status(device);
    const pinned = status.status === 'paired' ? status.device : undefined;
    const removed = this.#o.trust.revoke(device);
    if (by === device)
      setTimeout(() => this.#closeDevice(device, 'revoked', pinned), SELF_REVOKE_GRACE_MS).unref?.();
    else this.#closeDevice(device, 'revoked', pinned);
    if (removed) this.#o.audit.append('revocation', { device, by });
    await this.relay.request({ t: 'pair.revoke', peer: device }).catch(() => {});
    return removed !== null;
  }

  /**
   * Sets a device's grants (audited with who changed them). A device that
   * lost a grant is disconnected, so every channel it holds is checked anew
   * when it reconnects; a device that only gained keeps its connections.
   */
  setGrants(device: DeviceId, grants: readonly Grant[], by = 'host'): PinnedDevice {
    const before = this.#o.trust.require(device).grants;
    const pinned = this.#o.trust.setGrants(device, grants);
    this.#o.audit.append('grants.changed', { device, grants: [...pinned.grants], by });
    if (before.some((g) => !pinned.grants.includes(g))) this.#closeDevice(device, 'grants_changed', pinned);
    return pinned;
  }

  // ------------------------------------------------------------ relay traffic

  #onRelayMessage(m: ServerMessage): void {
    if (m.t === 'error' && m.rid !== undefined) this.#onFrameRefused(m.rid, m.code);
    else if (m.t === 'deliver') this.#onDeliver(m);
    else if (m.t === 'pair.request') this.#onPairRequest(m);
    else if (m.t === 'pair.burned') this.#onPairBurned();
    else if (m.t === 'pair.revoked') {
      const device = m.from as DeviceId;
      if (this.#o.trust.revoke(device)) this.#o.audit.append('revocation', { device, by: 'device' });
      this.#closeDevice(device, 'revoked');
    }
  }

  #onDeliver(m: DeliverMessage): void {
    // A device completing its pairing is not pinned yet: `pair()` is waiting for this one.
    if (m.env.kind === 'pair.confirm' && this.#completing.has(m.from as DeviceId)) return;
    const status = this.#o.trust.status(m.from);
    if (status.status !== 'paired') {
      // An unpaired or revoked sender gets nothing back; the refusal is audited.
      this.#refuse(
        new ProtocolError(status.status === 'revoked' ? 'revoked' : 'not_paired'),
        m.from,
        m.env.kind,
      );
      return;
    }
    const device = status.device;
    if (m.env.kind === LINK_KIND.frame) {
      // A relay-path frame: authenticated by its session (a frame of no live session of this device is dropped).
      const live = this.#connections.get(connKey(device.id, m.env.mid));
      if (live?.peer instanceof RelayLink) live.peer.receive(m.env);
      return;
    }
    if (m.env.kind === LINK_KIND.open) {
      this.#onLinkOpen(device, m.env);
      return;
    }
    let body: unknown;
    try {
      body = openJson({
        envelope: m.env,
        senderId: device.id,
        senderPublic: fromB64u(device.pub),
        recipientId: this.id,
        recipientSecret: this.#o.identity.secretKey,
        replay: this.#envelopes,
      });
    } catch (error) {
      this.#refuse(error, device.id, m.env.kind);
      return;
    }
    switch (m.env.kind) {
      case 'offer':
        void this.#onOffer(device, body);
        return;
      case 'ice':
        this.#onIce(device, body);
        return;
      case 'hangup': {
        try {
          const { conn } = parseInner('hangup', body);
          this.#closeConnection(conn, device.id, 'hangup');
        } catch (error) {
          this.#refuse(error, device.id, 'hangup');
        }
        return;
      }
      default:
        this.#refuse(new ProtocolError('unsupported', `unknown kind ${m.env.kind}`), device.id, m.env.kind);
    }
  }

  #seal(device: PinnedDevice, kind: string, body: unknown): void {
    try {
      this.relay.send(
        device.id,
        sealJson({
          kind,
          body,
          senderId: this.id,
          senderSecret: this.#o.identity.secretKey,
          recipientId: device.id,
          recipientPublic: fromB64u(device.pub),
        }),
      );
    } catch {
      // Relay down: signaling for this connection is lost; the device retries.
    }
  }

  async #iceServers(): Promise<IceServer[]> {
    const extra = [...(this.#o.iceServers ?? [])];
    if (this.#turn && this.#turn.until > this.#now()) return [...extra, ...this.#turn.servers];
    try {
      const t = await this.relay.request({ t: 'turn.credentials' });
      const servers =
        t.urls.length > 0 ? [{ urls: t.urls, username: t.username, credential: t.credential }] : [];
      this.#turn = { servers, until: this.#now() + Math.floor(t.ttl / 2) };
      return [...extra, ...servers];
    } catch {
      // No TURN on this relay (or it is unreachable): host candidates only.
      return extra;
    }
  }

  /** Peers `device` holds (answering or live), and all devices together. */
  #peerCounts(device: DeviceId): { mine: number; total: number } {
    let mine = this.#pending.get(device) ?? 0;
    let total = 0;
    for (const n of this.#pending.values()) total += n;
    for (const c of this.#connections.values()) {
      total += 1;
      if (c.device === device) mine += 1;
    }
    return { mine, total };
  }

  async #onOffer(device: PinnedDevice, body: unknown): Promise<void> {
    const conn =
      typeof (body as { conn?: unknown })?.conn === 'string' ? (body as { conn: string }).conn : '?';
    const sane = conn !== '?' && /^[A-Za-z0-9_-]{8,32}$/.test(conn);
    const { mine, total } = this.#peerCounts(device.id);
    // A re-offer for a live conn replaces it, so it needs no new slot.
    const replaces = sane && this.#connections.has(connKey(device.id, conn));
    // A device at its own limit whose offers are all answered (none pending) may take the slot of
    // its oldest connection once the new one is verified: a client killed without a goodbye
    // (SIGKILL, a crash, a phone that slept) leaves a peer the host learns is dead only from a
    // consent timeout, and it must not lock its own device out meanwhile. One over the limit at
    // most (a half-open extra holds that slot until it is dropped), so the limit still bounds
    // what a device can make the host hold.
    const evicts =
      !replaces &&
      sane &&
      mine === this.#limits.perDevice &&
      !this.#pending.has(device.id) &&
      this.#oldestOf(device.id) !== undefined;
    if (!replaces && !evicts && (mine >= this.#limits.perDevice || total >= this.#limits.total)) {
      this.#refuse(
        new ProtocolError('limit_reached', mine >= this.#limits.perDevice ? 'per device' : 'total'),
        device.id,
        'offer',
      );
      if (sane) this.#seal(device, 'hangup', { conn, reason: 'limit_reached' });
      return;
    }
    this.#pending.set(device.id, (this.#pending.get(device.id) ?? 0) + 1);
    // The slot moves from `#pending` to `#connections` once the peer is registered (or is freed on failure).
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.#pending.get(device.id) ?? 1) - 1;
      if (left > 0) this.#pending.set(device.id, left);
      else this.#pending.delete(device.id);
    };
    try {
      await this.#answer(device, conn, body, release, evicts);
    } finally {
      release();
    }
  }

  /** The device's oldest verified connection (the first registered of those left), if any. */
  #oldestOf(device: DeviceId, except?: string): LiveConnection | undefined {
    for (const c of this.#connections.values())
      if (c.device === device && c.verified && c.conn !== except) return c;
    return undefined;
  }

  async #answer(
    device: PinnedDevice,
    conn: string,
    body: unknown,
    registered: () => void,
    evicts = false,
  ): Promise<void> {
    const mark = connectTiming('host', conn);
    mark('offer received');
    let answered: Awaited<ReturnType<typeof answerOffer>>;
    try {
      answered = await answerOffer(body, {
        engine: this.#o.engine,
        engineFor: (sdp) => (hasStreamTurnHint(sdp) ? this.#o.streamTurnEngine : undefined),
        iceServers: await this.#iceServers(),
        ...(this.#o.localAddressFilter ? { localAddressFilter: this.#o.localAddressFilter } : {}),
        onIceCandidate: (candidate: IceCandidateInit | null) =>
          this.#seal(device, 'ice', { conn, candidate }),
        now: this.#now,
        hostId: this.#o.identity.id,
        deviceId: device.id,
        hostSecret: this.#o.identity.secretKey,
        devicePub: fromB64u(device.pub),
        replay: this.#offers,
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      });
    } catch (error) {
      this.#refuse(error, device.id, 'offer');
      const code = error instanceof ProtocolError ? error.code : 'internal';
      if (conn !== '?' && /^[A-Za-z0-9_-]{8,32}$/.test(conn))
        this.#seal(device, 'hangup', { conn, reason: code });
      return;
    }
    mark('offer verified, peer created, answer signed');
    const { peer } = answered;
    const live: LiveConnection = { device: device.id, conn, peer };
    const key = connKey(device.id, conn);
    const replaced = this.#connections.get(key);
    if (replaced) {
      clearTimeout(replaced.timer);
      void replaced.peer.close();
    }
    this.#connections.set(key, live);
    registered();
    // Half-open (DTLS and the certificate check not done in time): dropped, audited, told.
    live.timer = setTimeout(() => {
      if (live.verified || this.#connections.get(key) !== live) return;
      this.#refuse(new ProtocolError('timeout', 'half-open'), device.id, 'dtls');
      this.#seal(device, 'hangup', { conn, reason: 'timeout' });
      this.#closeConnection(conn, device.id, 'timeout');
    }, this.#limits.halfOpenMs);
    live.timer.unref?.();
    const early = this.#earlyIce.get(key);
    this.#earlyIce.delete(key);
    if (early) {
      for (const c of early.candidates) void peer.addIceCandidate(c).catch(() => {});
    }
    peer.on('connectionstatechange', (state) => {
      mark(`peer ${state}`);
      if (state === 'failed' || state === 'closed') this.#closeConnection(conn, device.id, state);
    });
    // Channels wait for the certificate check; none is served before it passes.
    const ready = answered.verified.then(
      () => {
        mark('device certificate verified');
        live.verified = true;
        clearTimeout(live.timer);
        return this.#connections.get(key) === live;
      },
      (error: unknown) => {
        if (this.#connections.get(key) !== live) return false; // dropped already (timeout, hangup)
        this.#refuse(error, device.id, 'dtls');
        this.#seal(device, 'hangup', { conn, reason: 'fingerprint_mismatch' });
        this.#closeConnection(conn, device.id, 'certificate mismatch');
        return false;
      },
    );
    peer.on('datachannel', (channel) => {
      mark(`channel ${channel.label}`);
      void ready.then((ok) => {
        if (ok) this.#onChannel(device.id, channel);
        else channel.close();
      });
    });
    this.#seal(device, 'answer', answered.answer);
    mark('answer sent');
    if (await ready) {
      const oldest = evicts ? this.#oldestOf(device.id, conn) : undefined;
      if (oldest && this.#peerCounts(device.id).mine > this.#limits.perDevice) {
        this.#o.audit.append('connection.replaced', { device: device.id, conn: oldest.conn, by: conn });
        this.#seal(device, 'hangup', { conn: oldest.conn, reason: 'replaced' });
        this.#closeConnection(oldest.conn, device.id, 'replaced');
      }
      this.#o.trust.touch(device.id);
      this.#o.audit.append('connection', { device: device.id, conn });
      this.emit('connected', { device: device.id, conn });
    }
  }

  /**
   * A device asks for a relay-path session (docs/protocol.md §7): the same
   * checks as an offer (pinned key, signature, clock, replay, peer caps)
   * before anything exists, then the link is registered like a peer and
   * its channels go through the same grant checks.
   */
  #onLinkOpen(device: PinnedDevice, envelope: DeliverMessage['env']): void {
    const { mine, total } = this.#peerCounts(device.id);
    if (mine >= this.#limits.perDevice || total >= this.#limits.total) {
      this.#refuse(
        new ProtocolError('limit_reached', mine >= this.#limits.perDevice ? 'per device' : 'total'),
        device.id,
        LINK_KIND.open,
      );
      return;
    }
    let accepted: ReturnType<typeof acceptLinkOpen>;
    try {
      accepted = acceptLinkOpen({
        envelope,
        hostId: this.#o.identity.id,
        hostSecret: this.#o.identity.secretKey,
        deviceId: device.id,
        devicePub: fromB64u(device.pub),
        envelopes: this.#envelopes,
        sessions: this.#linkIds,
        now: this.#now(),
      });
    } catch (error) {
      this.#refuse(error, device.id, LINK_KIND.open);
      return;
    }
    const { conn } = accepted;
    const link = new RelayLink({
      role: 'answerer',
      cipher: new LinkCipher(accepted.keys, 'host', accepted.sid),
      transport: { send: (env, rid) => this.relay.send(device.id, env, rid) },
    });
    const key = connKey(device.id, conn);
    this.#connections.set(key, { device: device.id, conn, peer: link, verified: true });
    link.on('connectionstatechange', (state) => {
      if (state === 'failed' || state === 'closed')
        this.#closeConnection(conn, device.id, link.closeReason ?? state);
    });
    link.on('datachannel', (channel) => this.#onChannel(device.id, channel));
    this.#seal(device, LINK_KIND.accept, accepted.accept);
    this.#o.trust.touch(device.id);
    this.#o.audit.append('connection', { device: device.id, conn, path: 'relay' });
    this.emit('connected', { device: device.id, conn });
  }

  /** The relay refused one of our frames (its `rid` names the session): the link backs off or ends. */
  #onFrameRefused(rid: string, code: string): void {
    const conn = rid.slice(0, rid.lastIndexOf('.'));
    for (const c of this.#connections.values())
      if (c.conn === conn && c.peer instanceof RelayLink && c.peer.onRefused(rid, code)) return;
  }

  #onIce(device: PinnedDevice, body: unknown): void {
    try {
      const { conn, candidate } = parseInner('ice', body);
      const key = connKey(device.id, conn);
      const live = this.#connections.get(key);
      if (live) {
        void live.peer.addIceCandidate(candidate).catch(() => {});
        return;
      }
      // Trickled ahead of its offer (or while the offer is being checked): hold it briefly.
      const now = this.#now();
      for (const [k, v] of this.#earlyIce) if (now - v.at > 60) this.#earlyIce.delete(k);
      let held = this.#earlyIce.get(key);
      if (!held) {
        if (this.#earlyIce.size >= 64) return;
        held = { candidates: [], at: now };
        this.#earlyIce.set(key, held);
      }
      if (held.candidates.length < 32) held.candidates.push(candidate);
    } catch (error) {
      this.#refuse(error, device.id, 'ice');
    }
  }

  #onChannel(deviceId: DeviceId, channel: DataChannel): void {
    if (this.#o.trust.status(deviceId).status !== 'paired') {
      channel.close();
      return;
    }
    void openChannel(this.#channelContext(deviceId), channel);
  }

  /** What the channel handlers of one device may use. */
  #channelContext(device: DeviceId): ChannelContext {
    const { identity, trust, audit, sessions, stats, files, alerts, agents } = this.#o;
    return {
      device,
      identity,
      trust,
      audit,
      sessions,
      ...(stats ? { stats } : {}),
      ...(files ? { files } : {}),
      ...(alerts ? { alerts } : {}),
      ...(agents ? { agents } : {}),
      grants: () => {
        const status = trust.status(device);
        return new Set(status.status === 'paired' ? status.device.grants : []);
      },
      refuse: (error, what) => this.#refuse(error, device, what),
      revoke: (target, by) => this.#revokeBy(target, by),
      setGrants: (target, grants) => this.setGrants(target, grants, device),
      connectionsOf: (target) => [...this.#connections.values()].filter((c) => c.device === target).length,
    };
  }

  // ------------------------------------------------------------ bookkeeping

  /**
   * Audits a refusal, coalesced: per device and code, the first refusal in
   * a window is written (and emitted) at once; the rest of that window are
   * only counted, and one summary record with the count (`suppressed`) and
   * what was refused closes the window. So a device that keeps sending
   * refused requests adds a few records a minute, not one per request.
   */
  #refuse(error: unknown, device: string | undefined, what: string): void {
    const code = String(
      error instanceof ProtocolError ? error.code : ((error as { code?: string })?.code ?? 'internal'),
    );
    let key = `${device ?? '-'}\n${code}`;
    if (!this.#refusals.has(key) && this.#refusals.size >= MAX_REFUSAL_WINDOWS) key = '*';
    const open = this.#refusals.get(key);
    if (open) {
      open.suppressed += 1;
      if (open.what.length < 8 && !open.what.includes(what)) open.what.push(what);
      return;
    }
    const timer = setTimeout(() => this.#closeRefusalWindow(key), this.#o.refusalWindowMs ?? 60_000);
    timer.unref?.();
    this.#refusals.set(key, {
      device: key === '*' ? undefined : device,
      code: key === '*' ? 'several' : code,
      what: [],
      suppressed: 0,
      timer,
    });
    this.#o.audit.append('refusal', { code, what, ...(device ? { device } : {}) });
    this.emit('refused', { code, what, ...(device ? { device } : {}) });
  }

  #closeRefusalWindow(key: string): void {
    const w = this.#refusals.get(key);
    if (!w) return;
    this.#refusals.delete(key);
    clearTimeout(w.timer);
    if (w.suppressed === 0) return;
    const fields = {
      code: w.code,
      what: 'summary',
      refused: w.what,
      suppressed: w.suppressed,
      ...(w.device ? { device: w.device } : {}),
    };
    try {
      this.#o.audit.append('refusal', fields);
    } catch {
      // The log is closed (shutting down): nothing more to record.
    }
    this.emit('refused', {
      code: w.code,
      what: `summary of ${w.suppressed}`,
      ...(w.device ? { device: w.device } : {}),
    });
  }

  /** Writes the summary of every open refusal window now (also done on close). */
  flushRefusals(): void {
    for (const key of [...this.#refusals.keys()]) this.#closeRefusalWindow(key);
  }

  #closeConnection(conn: string, device: DeviceId, reason: string): void {
    const key = connKey(device, conn);
    const live = this.#connections.get(key);
    if (!live) return;
    clearTimeout(live.timer);
    this.#connections.delete(key);
    void live.peer.close();
    this.emit('disconnected', { device, conn, reason });
  }

  /**
   * Closes every connection of `device`. With its key, each close is also
   * told to it as a sealed `hangup` first: a peer connection's own close
   * may be lost (it travels over the same link, once), and the device
   * should not learn of it only from a consent timeout 30 s later.
   */
  #closeDevice(device: DeviceId, reason: string, pinned?: PinnedDevice): void {
    for (const c of [...this.#connections.values()])
      if (c.device === device) {
        if (pinned) this.#seal(pinned, 'hangup', { conn: c.conn, reason });
        this.#closeConnection(c.conn, device, reason);
      }
  }

  /** Closes every connection and the relay link; sessions are closed by their owner. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.flushRefusals();
    this.relay.close();
    await Promise.all([...this.#connections.values()].map((c) => c.peer.close()));
    this.#connections.clear();
  }
}

function connKey(device: DeviceId, conn: string): string {
  return `${device}/${conn}`;
}

/** The device id for a public key in base64url (helper for CLI listings). */
export function deviceIdOfB64(pub: string): DeviceId {
  return deviceIdOf(fromB64u(pub));
}

export { b64u };
