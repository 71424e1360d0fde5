/**
 * The device of docs/protocol.md, in the browser: one relay connection (the
 * browser's WebSocket), pairing from a QR link, host presence, and signed
 * WebRTC connections with the browser's own `RTCPeerConnection`.
 *
 * DTLS binding: the offer and the answer are signed over their exact SDP
 * (`makeOffer` / `verifyAnswer` from `@pocketshell/protocol`, the same code
 * the host runs). The browser itself refuses a DTLS handshake whose
 * certificate does not hash to the remote description's `a=fingerprint`;
 * since we apply only an answer whose signature over that very SDP
 * verified against the pinned host key, the host's certificate is bound to
 * the host's identity without reading the certificate ourselves.
 */
import {
  CLAIM_TTL_S,
  type DeliverMessage,
  type DeviceId,
  DeviceSignals,
  deviceIdOf,
  Emitter,
  fingerprint,
  fromB64u,
  type HostId,
  hostIdOf,
  type IceBody,
  type KeyPair,
  LINK_KIND,
  LinkCipher,
  makeLinkOpen,
  makeOffer,
  makePairConfirm,
  makePairRequest,
  openJson,
  openPairAccept,
  type PairLink,
  ProtocolError,
  parseInner,
  RelayClient,
  type RelayClientState,
  RelayLink,
  ReplayCache,
  randomId,
  type ServerMessage,
  sameName,
  sasDigits,
  unixNow,
  verifyAnswer,
  type WebSocketFactory,
  withStreamTurnHint,
} from '@pocketshell/protocol';
import { AlertInbox } from './alert-inbox.ts';
import { HostLink } from './host-link.ts';
import { type PathSetting, pathSetting, RelayPeer } from './relay-peer.ts';
import type { DeviceStore, PinnedHost } from './store.ts';

export interface WebDeviceEvents {
  presence: { host: HostId; online: boolean };
  relay: RelayClientState;
  hosts: PinnedHost[];
}

export interface WebDeviceOptions {
  keyPair: KeyPair;
  store: DeviceStore;
  /** `ws[s]://…/ws`. */
  relayUrl: string;
  hosts: PinnedHost[];
  /** Which local ICE candidates may be sent (by address). */
  allowCandidate?: (address: string) => boolean;
  WebSocket?: WebSocketFactory;
  /** Which path connections take (default: the page's setting, `pathSetting()`). */
  path?: () => PathSetting;
}

const CONNECT_TIMEOUT_MS = 30_000;
/** How long `auto` waits for WebRTC before it takes the relay path. */
const DIRECT_FALLBACK_MS = 10_000;
/** How long the relay path, tried after WebRTC failed (`auto`), waits for the host's accept: one round trip through the relay. */
const RELAY_FALLBACK_MS = 15_000;
/** How often a relay-path connection tries WebRTC again while the setting is `auto`. */
const UPGRADE_EVERY_MS = 15_000;
/** How long the pairing screen waits for the computer's answer after redeeming (the claim's lifetime). */
const PAIR_ANSWER_TIMEOUT_MS = CLAIM_TTL_S * 1000;

/** The connection address of an ICE candidate line, or null. */
export function candidateAddress(candidate: string): string | null {
  const fields = candidate.replace(/^a=/, '').trim().split(/\s+/);
  if (fields.length < 8 || !fields[0]?.startsWith('candidate:') || fields[6] !== 'typ') return null;
  return fields[4] ?? null;
}

export class WebDevice extends Emitter<WebDeviceEvents> {
  readonly id: DeviceId;
  readonly keyPair: KeyPair;
  readonly relay: RelayClient;
  readonly #o: WebDeviceOptions;
  readonly #hosts = new Map<HostId, PinnedHost>();
  readonly #online = new Map<HostId, boolean>();
  readonly #signals: DeviceSignals;
  readonly #links = new Map<HostId, HostLink>();
  readonly #connecting = new Map<HostId, Promise<HostLink>>();
  /** Hosts a WebRTC attempt to failed on this page: offers to them carry the stream-TURN hint. */
  readonly #streamTurn = new Set<HostId>();
  /** TURN servers from the relay and until when (unix seconds) they are used (`#iceServers`). */
  #turn: { servers: RTCIceServer[]; until: number } | undefined;
  /**
   * Hosts whose connection from this page was replaced by a newer one of
   * this device (another tab past the host's per-device peer cap): not
   * dialled again on their own — screens would take turns with the other
   * tab — until `reclaim` (the person asks) or the page is shown again.
   */
  readonly #replaced = new Set<HostId>();
  /** The TURN request in flight: a connection made meanwhile waits for it rather than asking again. */
  #turnAsked: Promise<RTCIceServer[]> | undefined;
  /** Alerts received from paired hosts (sealed `alert` envelopes, and pushes the service worker posts). */
  readonly alerts: AlertInbox;
  readonly #alertReplay = new ReplayCache();
  /** Relay-path sessions by `conn` (their frames' `mid`). */
  readonly #relayLinks = new Map<string, { host: HostId; link: RelayLink }>();

  constructor(options: WebDeviceOptions) {
    super();
    this.#o = options;
    this.keyPair = options.keyPair;
    this.id = deviceIdOf(options.keyPair.publicKey);
    this.#signals = new DeviceSignals({
      id: this.id,
      secretKey: options.keyPair.secretKey,
      send: (to, envelope) => this.relay.send(to, envelope),
    });
    for (const h of options.hosts) this.#hosts.set(h.id, h);
    this.alerts = new AlertInbox(options.store);
    this.relay = new RelayClient({
      url: options.relayUrl,
      role: 'device',
      keyPair: options.keyPair,
      WebSocket: options.WebSocket ?? (WebSocket as unknown as WebSocketFactory),
      minBackoffMs: 500,
      maxBackoffMs: 15_000,
      // The browser answers the relay's pings without telling us: be patient.
      silenceMs: 10 * 60_000,
    });
    this.relay.on('message', (m) => this.#onMessage(m));
    // The page shown again: the person is here, hosts another tab took may be dialled again.
    if (typeof document !== 'undefined')
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') this.#replaced.clear();
      });
    this.relay.on('state', (s) => {
      // Frames in flight die with the relay connection: relay-path sessions end (and reconnect).
      if (s !== 'ready') for (const { link } of [...this.#relayLinks.values()]) link.fail('relay_lost');
      if (s !== 'ready') {
        for (const id of this.#online.keys()) this.#online.delete(id);
      }
      // With a paired host, a connection is likely: TURN is asked for now, not on the first one's way.
      if (s === 'ready' && this.#hosts.size > 0) void this.#iceServers();
      this.emit('relay', s);
    });
  }

  start(): void {
    this.relay.start();
  }

  hosts(): PinnedHost[] {
    return [...this.#hosts.values()];
  }

  host(id: string): PinnedHost | undefined {
    return this.#hosts.get(id as HostId);
  }

  /** Presence of a host as the relay last said (undefined: not known yet). */
  online(id: HostId): boolean | undefined {
    return this.#online.get(id);
  }

  /**
   * Pinned hosts, not replaced, named `name` under another key than `id`'s:
   * pairing `id` under that name is a key change. (One relay: this page's.)
   */
  sameName(name: string, id: HostId): PinnedHost[] {
    return this.hosts().filter((h) => sameName(h.name, name) && h.id !== id && !h.replacedBy);
  }

  /**
   * Redeems a pairing link; `onSas` gets the six digits at once. Resolves
   * once the host accepted and this device completed. A host whose signed
   * name is pinned under another key is a key change: `onKeyChange` must
   * resolve true (the person acknowledged) before `pair.confirm` is sent;
   * false revokes the pairing at the relay and rejects with `key_changed`.
   */
  async pair(
    link: PairLink,
    name: string,
    onSas: (sas: string) => void,
    signal?: AbortSignal,
    onKeyChange?: (
      host: { id: HostId; name: string; fingerprint: string },
      old: PinnedHost[],
    ) => Promise<boolean>,
  ): Promise<PinnedHost> {
    await this.relay.waitReady();
    const hostId = hostIdOf(link.hostPub);
    const accepted = new Promise<Extract<ServerMessage, { t: 'pair.accepted' }>>((resolve, reject) => {
      const end = (error?: Error, m?: Extract<ServerMessage, { t: 'pair.accepted' }>) => {
        off();
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(m!);
      };
      // The relay may drop every answer: the page does not wait forever.
      const timer = setTimeout(
        () => end(new ProtocolError('timeout', 'the computer did not answer in time')),
        PAIR_ANSWER_TIMEOUT_MS,
      );
      const off = this.relay.on('message', (m) => {
        if (m.t === 'pair.accepted' && m.from === hostId) end(undefined, m);
        else if (m.t === 'pair.rejected' && m.from === hostId)
          end(new ProtocolError('unauthorized', 'the host declined the pairing'));
        // The host gave up waiting for this phone (§4.6): its acceptance or our confirmation was lost.
        else if (m.t === 'pair.revoked' && m.from === hostId)
          end(new ProtocolError('revoked', 'the host stopped waiting for this phone'));
      });
      signal?.addEventListener('abort', () => end(new ProtocolError('timeout', 'pairing abandoned')));
    });
    accepted.catch(() => {});
    const now = unixNow();
    const redeem = makePairRequest({ link, device: this.keyPair, name, now });
    await this.relay.request({ t: 'pair.redeem', ...redeem });
    onSas(sasDigits(link.hostPub, this.keyPair.publicKey, link.claim));
    const message = await accepted;
    const verified = openPairAccept({
      device: this.keyPair,
      link,
      message,
      now: unixNow(),
    });
    const old = this.sameName(verified.hostName, verified.hostId);
    if (old.length > 0) {
      const ok =
        onKeyChange !== undefined &&
        !signal?.aborted &&
        (await onKeyChange(
          { id: verified.hostId, name: verified.hostName, fingerprint: fingerprint(link.hostPub) },
          old,
        ));
      if (!ok || signal?.aborted) {
        // Not completed: tell the host at once (it would wait for the confirmation otherwise).
        await this.relay.request({ t: 'pair.revoke', peer: verified.hostId }).catch(() => {});
        throw new ProtocolError('key_changed', `not paired with ${verified.hostName}: its key changed`);
      }
    }
    // Abandoned meanwhile (the screen went away): no confirmation, so the host pins nothing.
    if (signal?.aborted) throw new ProtocolError('timeout', 'pairing abandoned');
    // The host pins this device only on its signed confirmation that it completed too.
    this.relay.send(verified.hostId, makePairConfirm({ link, device: this.keyPair, now: unixNow() }));
    const { pinned, marked } = await this.#o.store.pin(
      {
        id: verified.hostId,
        pub: link.hostPub,
        name: verified.hostName,
        grants: verified.grants,
        pairedAt: Date.now(),
      },
      old.map((h) => h.id),
    );
    for (const h of [...marked, pinned]) this.#hosts.set(h.id, h);
    this.emit('hosts', this.hosts());
    return pinned;
  }

  /** Keeps the stored grants in step with what the host says this device holds (an admin may change them). */
  async #refreshGrants(link: HostLink): Promise<void> {
    try {
      const { grants } = await link.call('host.info');
      const known = this.#hosts.get(link.host.id);
      if (!known || (known.grants.length === grants.length && known.grants.every((g) => grants.includes(g))))
        return;
      const updated = await this.#o.store.setGrants(link.host.id, grants);
      if (!updated) return;
      this.#hosts.set(updated.id, updated);
      this.emit('hosts', this.hosts());
    } catch {
      // The link went away first: the next connection asks again.
    }
  }

  /** Unpairs a host: tells the relay (best effort) and forgets it. */
  async unpair(id: HostId): Promise<void> {
    this.#links.get(id)?.close();
    try {
      if (this.relay.state === 'ready') await this.relay.request({ t: 'pair.revoke', peer: id });
    } catch {
      // Not paired at the relay any more, or offline: forgetting is what matters.
    }
    await this.#o.store.unpin(id);
    void this.alerts.forget(id);
    this.#hosts.delete(id);
    this.#online.delete(id);
    this.emit('hosts', this.hosts());
  }

  #onMessage(m: ServerMessage): void {
    if (m.t === 'presence') {
      this.#online.set(m.host, m.online);
      this.emit('presence', { host: m.host, online: m.online });
      return;
    }
    if (m.t === 'pair.revoked') {
      const host = this.#hosts.get(m.from as HostId);
      if (host)
        void this.#o.store.unpin(host.id).then(() => {
          void this.alerts.forget(host.id);
          this.#hosts.delete(host.id);
          this.emit('hosts', this.hosts());
        });
      return;
    }
    if (m.t === 'error' && m.rid !== undefined) {
      this.#relayLinks.get(m.rid.slice(0, m.rid.lastIndexOf('.')))?.link.onRefused(m.rid, m.code);
      return;
    }
    if (m.t === 'deliver') this.#onDeliver(m);
  }

  #onDeliver(m: DeliverMessage): void {
    const host = this.#hosts.get(m.from as HostId);
    if (!host) return;
    if (m.env.kind === LINK_KIND.frame) {
      const entry = this.#relayLinks.get(m.env.mid);
      if (entry && entry.host === host.id) entry.link.receive(m.env);
      return;
    }
    if (m.env.kind === 'alert') this.#onAlert(m, host);
    else this.#signals.deliver(m.env, host);
  }

  /** A sealed alert from a paired host: opened with this device's key, checked, kept. */
  #onAlert(m: DeliverMessage, host: PinnedHost): void {
    if (host.replacedBy !== undefined) return;
    let body: unknown;
    try {
      body = parseInner(
        'alert',
        openJson({
          envelope: m.env,
          senderId: host.id,
          senderPublic: host.pub,
          recipientId: this.id,
          recipientSecret: this.keyPair.secretKey,
          replay: this.#alertReplay,
        }),
      );
    } catch {
      return;
    }
    void this.alerts.add(host.id, body);
  }

  /**
   * An alert the service worker opened from a push and posted to this page
   * (`{type, host, alert}`); kept only for a pinned host, body checked again.
   */
  takePushedAlert(message: unknown): void {
    const m = message as { host?: unknown; alert?: unknown } | null;
    if (typeof m?.host !== 'string') return;
    const host = this.#hosts.get(m.host as HostId);
    if (!host || host.replacedBy !== undefined) return;
    void this.alerts.add(host.id, m.alert);
  }

  /**
   * The relay's TURN server, kept for half its credentials' lifetime (as the
   * host keeps them): asking on every connection put a relay round trip
   * before each offer.
   */
  #iceServers(): Promise<RTCIceServer[]> {
    if (this.#turn && this.#turn.until > unixNow()) return Promise.resolve(this.#turn.servers);
    this.#turnAsked ??= this.#askTurn().finally(() => {
      this.#turnAsked = undefined;
    });
    return this.#turnAsked;
  }

  async #askTurn(): Promise<RTCIceServer[]> {
    try {
      const turn = await this.relay.request({ t: 'turn.credentials' });
      const servers =
        turn.urls.length > 0
          ? [{ urls: turn.urls, username: turn.username, credential: turn.credential }]
          : [];
      this.#turn = { servers, until: unixNow() + Math.floor(turn.ttl / 2) };
      return servers;
    } catch {
      // No TURN on this relay: host candidates only, never a public STUN default.
      return [];
    }
  }

  /** The live connection to a host, or a new one. */
  link(hostId: HostId): Promise<HostLink> {
    const open = this.#links.get(hostId);
    if (open && !open.closed) return Promise.resolve(open);
    if (this.#replaced.has(hostId))
      return Promise.reject(
        new ProtocolError('unavailable', 'host hung up: replaced (open in another tab of this browser)'),
      );
    let pending = this.#connecting.get(hostId);
    if (!pending) {
      pending = this.#connect(hostId).finally(() => this.#connecting.delete(hostId));
      this.#connecting.set(hostId, pending);
    }
    return pending;
  }

  /** By the path setting: WebRTC, the relay path, or WebRTC first and the relay path when it does not connect. */
  async #connect(hostId: HostId): Promise<HostLink> {
    const path = (this.#o.path ?? pathSetting)();
    if (path === 'relay') return this.#connectRelay(hostId);
    if (path === 'direct') return this.#connectDirect(hostId, CONNECT_TIMEOUT_MS);
    try {
      return await this.#connectDirect(hostId, DIRECT_FALLBACK_MS);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = (error as Error).message ?? '';
      if (code === 'not_paired' || /hung up: (revoked|limit_reached|not_paired)/.test(message)) throw error;
      // WebRTC did not get through: the next offers to this host say so (the stream-TURN hint),
      // so a host on node-datachannel answers them on an engine Chromium reaches over TURN/TCP or TLS.
      this.#streamTurn.add(hostId);
      return this.#connectRelay(hostId, RELAY_FALLBACK_MS);
    }
  }

  /**
   * A relay-path session (docs/protocol.md §10): a signed `link.open`
   * sealed to the host, its signed `link.accept`, then a `HostLink` whose
   * channels travel in sealed frames through the relay.
   */
  async #connectRelay(hostId: HostId, timeoutMs = CONNECT_TIMEOUT_MS): Promise<HostLink> {
    const host = this.#hosts.get(hostId);
    if (!host) throw new ProtocolError('not_paired', `not paired with ${hostId}`);
    await this.relay.waitReady();
    const opening = makeLinkOpen({
      hostId: host.id,
      hostPub: host.pub,
      deviceId: this.id,
      deviceSecret: this.keyPair.secretKey,
      now: unixNow(),
    });
    const { conn } = opening;
    const { reply, bind, cleanup } = this.#replies(conn, LINK_KIND.accept);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ProtocolError(
              'timeout',
              'the connection did not complete in time (timeout), neither peer to peer nor through the relay: a network or relay between you may be holding it back',
            ),
          ),
        timeoutMs,
      );
    });
    late.catch(() => {});
    try {
      this.relay.send(host.id, opening.envelope);
      const keys = opening.accept(await Promise.race([reply, late]), unixNow());
      const link = new RelayLink({
        role: 'offerer',
        cipher: new LinkCipher(keys, 'device', opening.sid),
        transport: { send: (env, rid) => this.relay.send(host.id, env, rid) },
      });
      this.#relayLinks.set(conn, { host: host.id, link });
      link.on('connectionstatechange', (s) => {
        if (s === 'closed' || s === 'failed') this.#relayLinks.delete(conn);
      });
      const peer = new RelayPeer(link);
      const control = peer.createDataChannel('control');
      if (control.readyState !== 'open')
        await new Promise<void>((resolve) =>
          control.addEventListener('open', () => resolve(), { once: true }),
        );
      const hostLink: HostLink = new HostLink(host, conn, peer, control, (tellHost) => {
        cleanup();
        if (this.#links.get(host.id) === hostLink) this.#links.delete(host.id);
        if (!tellHost) return;
        try {
          this.#signals.seal(host, 'hangup', { conn, reason: 'closed' });
        } catch {
          // Relay down; the host's link ends on its own.
        }
      });
      this.#links.set(host.id, hostLink);
      bind(hostLink);
      void this.#refreshGrants(hostLink);
      this.#upgradeLater(hostLink);
      return hostLink;
    } catch (error) {
      cleanup();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Switching up: while `link` (on the relay path) lives and the setting is
   * `auto`, WebRTC is tried again now and then; once it connects it becomes
   * the host's link and the relay link closes — the terminal re-attaches on
   * the new one by itself (terminal-connection.ts) and the host's session
   * keeps the screen.
   */
  #upgradeLater(link: HostLink): void {
    let trying = false;
    const timer = setInterval(() => {
      if (link.closed) {
        clearInterval(timer);
        return;
      }
      if (trying || (this.#o.path ?? pathSetting)() !== 'auto' || this.relay.state !== 'ready') return;
      trying = true;
      this.#connectDirect(link.host.id, DIRECT_FALLBACK_MS)
        .then(
          () => {
            clearInterval(timer);
            link.close();
          },
          () => {
            // Still no direct way: stay on the relay path.
          },
        )
        .finally(() => {
          trying = false;
        });
    }, UPGRADE_EVERY_MS);
  }

  async #connectDirect(hostId: HostId, timeoutMs: number): Promise<HostLink> {
    const host = this.#hosts.get(hostId);
    if (!host) throw new ProtocolError('not_paired', `not paired with ${hostId}`);
    await this.relay.waitReady();
    const iceServers = await this.#iceServers();
    const conn = randomId(12);
    const pc = new RTCPeerConnection({ iceServers });
    const control = pc.createDataChannel('control');
    let offered = false;
    const held: (RTCIceCandidateInit | null)[] = [];
    const sendIce = (c: RTCIceCandidateInit | null) => {
      try {
        this.#signals.seal(host, 'ice', { conn, candidate: c });
      } catch {
        // Relay down: the connection attempt times out and is retried.
      }
    };
    pc.addEventListener('icecandidate', (e: RTCPeerConnectionIceEvent) => {
      let c: RTCIceCandidateInit | null = null;
      if (e.candidate) {
        const address = candidateAddress(e.candidate.candidate);
        if (address === null || !(this.#o.allowCandidate?.(address) ?? true)) return;
        c = {
          candidate: e.candidate.candidate,
          sdpMid: e.candidate.sdpMid,
          sdpMLineIndex: e.candidate.sdpMLineIndex,
        };
      }
      if (offered) sendIce(c);
      else held.push(c);
    });
    const early: IceBody[] = [];
    let applied = false;
    const {
      reply: answered,
      bind,
      fail,
      cleanup,
    } = this.#replies(conn, 'answer', (kind, body) => {
      if (kind !== 'ice') return;
      const ice = parseInner('ice', body);
      if (applied) void pc.addIceCandidate(ice.candidate ?? undefined).catch(() => {});
      else early.push(ice);
    });
    const offPresence = this.on('presence', (p) => {
      if (p.host === host.id && !p.online) fail('host offline');
    });
    // Which step a connection that times out was stuck at, for the error (and the person reading it).
    let stage = 'waiting for the host to answer';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ProtocolError(
              'timeout',
              `no connection to the host: ${stage} (ICE ${pc.iceConnectionState}, connection ${pc.connectionState})`,
            ),
          ),
        timeoutMs,
      );
    });
    timeout.catch(() => {});
    // A connection that fails outright (ICE or DTLS) ends the attempt now, not at the timeout,
    // so the caller's retry comes at once.
    const onState = () => {
      if (pc.connectionState !== 'failed') return;
      clearTimeout(timer);
      failNow?.(
        new ProtocolError(
          'unavailable',
          `no connection to the host: ${stage} failed (ICE ${pc.iceConnectionState})`,
        ),
      );
    };
    let failNow: ((e: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      failNow = reject;
    });
    failed.catch(() => {});
    pc.addEventListener('connectionstatechange', onState);
    const stalled = Promise.race([timeout, failed]);
    stalled.catch(() => {});
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const local = pc.localDescription?.sdp ?? '';
      const sdp = this.#streamTurn.has(hostId) ? withStreamTurnHint(local) : local;
      const offer = makeOffer({
        sdp,
        conn,
        hostId: host.id,
        deviceId: this.id,
        deviceSecret: this.keyPair.secretKey,
        now: unixNow(),
      });
      this.#signals.seal(host, 'offer', offer);
      offered = true;
      for (const c of held.splice(0)) sendIce(c);
      const answer = verifyAnswer(await Promise.race([answered, stalled]), {
        hostPub: host.pub,
        hostId: host.id,
        deviceId: this.id,
        conn,
        offerNonce: fromB64u(offer.nonce),
        now: unixNow(),
      });
      stage = 'connecting peer to peer (ICE, DTLS, the control channel)';
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      applied = true;
      for (const ice of early.splice(0)) void pc.addIceCandidate(ice.candidate ?? undefined).catch(() => {});
      if (control.readyState !== 'open') {
        await Promise.race([
          stalled,
          new Promise<void>((resolve, reject) => {
            control.addEventListener('open', () => resolve(), { once: true });
            control.addEventListener(
              'close',
              () => reject(new ProtocolError('unavailable', 'control closed')),
              {
                once: true,
              },
            );
          }),
        ]);
      }
      const link: HostLink = new HostLink(host, conn, pc, control, (tellHost) => {
        cleanup();
        if (this.#links.get(host.id) === link) this.#links.delete(host.id);
        if (!tellHost) return;
        try {
          this.#signals.seal(host, 'hangup', { conn, reason: 'closed' });
        } catch {
          // Relay down; the host notices the peer close anyway.
        }
      });
      this.#links.set(host.id, link);
      bind(link);
      void this.#refreshGrants(link);
      return link;
    } catch (error) {
      cleanup();
      pc.close();
      throw error;
    } finally {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', onState);
      offPresence();
    }
  }

  /**
   * The host's replies on connection `conn`: `reply` resolves with the first
   * body of `kind` and rejects on a hangup before it (`host hung up: …`) or
   * on `fail`; once `bind` gave the live link, a hangup ends that link
   * instead (revoked, grants changed, replaced). Other kinds go to `other`;
   * a malformed body is ignored, like any forged one. `cleanup` stops
   * listening.
   */
  #replies(
    conn: string,
    kind: string,
    other?: (kind: string, body: unknown) => void,
  ): { reply: Promise<unknown>; bind(live: HostLink): void; fail(reason: string): void; cleanup(): void } {
    let live: HostLink | undefined;
    let resolveReply: ((body: unknown) => void) | undefined;
    let hangup: ((reason: string) => void) | undefined;
    const reply = new Promise<unknown>((resolve, reject) => {
      resolveReply = resolve;
      hangup = (reason) => reject(new ProtocolError('unavailable', `host hung up: ${reason}`));
    });
    reply.catch(() => {});
    const cleanup = this.#signals.listen(conn, (k, body) => {
      try {
        if (k === kind) resolveReply?.(body);
        else if (k === 'hangup') {
          const { reason } = parseInner('hangup', body);
          if (live && reason === 'replaced') this.#replaced.add(live.host.id);
          if (live) live.hungUp(reason);
          else hangup?.(reason);
        } else other?.(k, body);
      } catch {
        // Malformed body: ignored, like any forged one.
      }
    });
    return {
      reply,
      bind: (link) => {
        live = link;
      },
      fail: (reason) => hangup?.(reason),
      cleanup,
    };
  }

  /** Lets `link` dial a host whose connection another tab took (see `#replaced`). */
  reclaim(hostId: HostId): void {
    this.#replaced.delete(hostId);
  }

  /** Closes every connection and the relay link. Idempotent. */
  close(): void {
    for (const link of this.#links.values()) link.close();
    this.relay.close();
  }
}
