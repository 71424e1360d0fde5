/**
 * What the relay does with each message from an authenticated connection
 * (docs/protocol.md §3–§4): pairing (create, redeem, accept, reject, revoke),
 * routing sealed envelopes between parties with a live pairing, presence,
 * TURN credentials, and Web Push (`push.*`: a device's subscriptions; a
 * host's sealed alert delivered to the device's connections and to its
 * push services through `PushSender`). Envelopes pass through untouched
 * and unread. Pairing checks of `send` and `push.send` go through the
 * node's pairing cache (pairing-cache.ts), which a revoke empties of the
 * pair on every node before it answers `ok`.
 * Refusals are `error {rid, code}` on the sender's connection.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import {
  b64u,
  type ClientMessage,
  type DeviceId,
  fromB64u,
  type HostId,
  type PartyId,
  type PresenceMessage,
  ProtocolError,
  roleOfId,
  type ServerMessage,
} from '@pocketshell/protocol';
import type { Connection } from './connection.ts';
import type { Fleet } from './fleet.ts';
import type { Hub } from './hub.ts';
import { addressKey, type Limiter, type Limits } from './limits.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { PairingCache } from './pairing-cache.ts';
import { MAX_PUSH_PAYLOAD, MAX_SUBSCRIPTIONS_PER_DEVICE, type PushSender } from './push.ts';
import type { RelayStore } from './store.ts';
import { secretHash } from './tokens.ts';
import { turnCredentials } from './turn.ts';

/** Bytes queued on a receiving socket beyond which the relay stops delivering to it. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** What the router needs. */
export interface RouterDeps {
  store: RelayStore;
  hub: Hub<Connection>;
  limiter: Limiter;
  limits: Limits;
  metrics: Metrics;
  log: Logger;
  /** Unix seconds. */
  now: () => number;
  /** Milliseconds. */
  nowMs: () => number;
  random: (n: number) => Uint8Array;
  turn: { secret: string | undefined; urls: string[]; ttl: number };
  /** Undefined when push is off (`--no-push`). */
  push: PushSender | undefined;
  /** The other relay nodes (`--redis`); undefined for a single node. */
  fleet?: Fleet | undefined;
  /**
   * Positive pairing answers kept in memory (pairing-cache.ts); undefined
   * to ask the store every time (a store other relays share without a
   * fleet to tell this one about revocations).
   */
  pairings?: PairingCache | undefined;
}

/** Routes messages of `ready` connections. */
export class Router {
  readonly #d: RouterDeps;
  /** Web Push messages on their way to push services. */
  readonly #pushing = new Set<Promise<void>>();

  constructor(deps: RouterDeps) {
    this.#d = deps;
  }

  /**
   * Writes to this node's connections of `id`; a `deliver` skips sockets
   * that are not keeping up (counted in `full`). The fleet calls it for
   * messages routed here from other nodes.
   */
  deliverLocal(id: PartyId, message: ServerMessage): { sent: number; full: number } {
    let sent = 0;
    let full = 0;
    for (const c of this.#d.hub.connectionsOf(id)) {
      if (message.t === 'deliver' && c.ws.bufferedAmount > MAX_BUFFERED_BYTES) full += 1;
      else if (c.send(message)) sent += 1;
    }
    return { sent, full };
  }

  /** Sends to every connection of `id`, on this node and the others; the number of sockets reached. */
  async #toAll(id: PartyId, message: ServerMessage): Promise<number> {
    let n = 0;
    for (const c of this.#d.hub.connectionsOf(id)) if (c.send(message)) n += 1;
    if (this.#d.fleet !== undefined) n += (await this.#d.fleet.route(id, message, false)).sent;
    return n;
  }

  /** True when `id` holds a connection on this node or another. */
  async #online(id: PartyId): Promise<boolean> {
    if (this.#d.hub.online(id)) return true;
    return this.#d.fleet !== undefined && (await this.#d.fleet.onlineElsewhere(id));
  }

  /** Handles one parsed message; throws `ProtocolError` to refuse it. */
  async handle(conn: Connection, m: ClientMessage): Promise<void> {
    switch (m.t) {
      case 'auth':
        throw new ProtocolError('bad_message', 'already authenticated');
      case 'send':
        return this.#send(conn, m.to, m);
      case 'pair.create':
        return this.#create(conn, m.rid);
      case 'pair.redeem':
        return this.#redeem(conn, m);
      case 'pair.accept':
        return this.#accept(conn, m);
      case 'pair.reject':
        return this.#reject(conn, m.rid, m.to);
      case 'pair.revoke':
        return this.#revoke(conn, m.rid, m.peer);
      case 'turn.credentials':
        return this.#turn(conn, m.rid);
      case 'push.key':
        return this.#pushKey(conn, m.rid);
      case 'push.subscribe':
        return this.#subscribe(conn, m);
      case 'push.unsubscribe':
        return this.#unsubscribe(conn, m.rid, m.endpoint);
      case 'push.send':
        return this.#pushSend(conn, m);
      default: {
        const never: never = m;
        throw new ProtocolError('bad_message', `unhandled ${(never as { t: string }).t}`);
      }
    }
  }

  #only(conn: Connection, role: 'host' | 'device', what: string): void {
    if (conn.role !== role) throw new ProtocolError('bad_message', `${what} is for ${role}s`);
  }

  /** The (host, device) pair of two parties, or `not_paired` when they are not one of each. */
  #pair(a: PartyId, b: PartyId): { host: HostId; device: DeviceId } {
    const ra = roleOfId(a);
    if (ra === roleOfId(b)) throw new ProtocolError('not_paired');
    return ra === 'host'
      ? { host: a as HostId, device: b as DeviceId }
      : { host: b as HostId, device: a as DeviceId };
  }

  async #send(conn: Connection, to: PartyId, m: Extract<ClientMessage, { t: 'send' }>): Promise<void> {
    const d = this.#d;
    if (!(await d.limiter.take('send', conn.ip, conn.id))) throw new ProtocolError('rate_limited');
    const { host, device } = this.#pair(conn.id, to);
    if (!(await this.#isPaired(host, device))) throw new ProtocolError('not_paired');
    const deliver: ServerMessage = { t: 'deliver', from: conn.id, env: m.env };
    let { sent, full } = this.deliverLocal(to, deliver);
    let unknown = 0;
    if (d.fleet !== undefined) {
      // delivered (or not) on the nodes holding the peer, each answering how many sockets it reached
      const remote = await d.fleet.route(to, deliver, true);
      sent += remote.sent;
      full += remote.full;
      unknown = remote.unknown;
    }
    if (sent === 0 && full > 0) throw new ProtocolError('rate_limited', 'the peer is not keeping up');
    if (sent === 0 && unknown > 0)
      throw new ProtocolError('unavailable', 'the relay node holding the peer did not answer');
    if (sent === 0) throw new ProtocolError('not_found', 'the peer is offline');
    d.metrics.route('deliver');
  }

  #isPaired(host: HostId, device: DeviceId): Promise<boolean> {
    const store = this.#d.store;
    const cache = this.#d.pairings;
    if (cache === undefined) return store.isPaired(host, device);
    return cache.isPaired(host, device, () => store.isPaired(host, device));
  }

  /**
   * Drops a removed pairing from every node's cache before the revoke is
   * acknowledged: here at once, on the other nodes through the fleet. When
   * one of them did not ack (dead, hung, cut from Redis), waits until any
   * entry made before the removal has lapsed (the cache's TTL from the
   * removal), so that after `ok` no node routes between the two.
   */
  async #forget(host: HostId, device: DeviceId, removedAt: number): Promise<void> {
    const cache = this.#d.pairings;
    if (cache === undefined) return;
    cache.evict(host, device);
    const fleet = this.#d.fleet;
    if (fleet === undefined) return;
    if (await fleet.evictEverywhere(host, device)) return;
    const left = removedAt + cache.ttlMs - this.#d.nowMs();
    this.#d.log.warn('revoke waits for the pairing caches to lapse', { ms: Math.max(0, left) });
    // unref'd: a relay closing meanwhile is not held open by it
    if (left > 0) await sleep(left, undefined, { ref: false });
  }

  async #create(conn: Connection, rid: string): Promise<void> {
    const d = this.#d;
    this.#only(conn, 'host', 'pair.create');
    if (!(await d.limiter.take('pair.create', conn.ip, conn.id))) throw new ProtocolError('rate_limited');
    const now = d.now();
    const host = conn.id as HostId;
    if ((await d.store.countLiveClaims(host, now)) >= d.limits.maxClaimsPerHost) {
      throw new ProtocolError('limit_reached', 'too many live claims for this host');
    }
    const claim = d.random(16);
    const expires = now + d.limits.claimTtlSeconds;
    await d.store.createClaim(secretHash(claim), host, expires, now);
    conn.send({ t: 'pair.created', rid, claim: b64u(claim), expires });
    d.log.info('claim created', { host, expires });
  }

  async #redeem(conn: Connection, m: Extract<ClientMessage, { t: 'pair.redeem' }>): Promise<void> {
    const d = this.#d;
    this.#only(conn, 'device', 'pair.redeem');
    if (!(await d.limiter.take('pair.redeem', conn.ip, conn.id))) throw new ProtocolError('rate_limited');
    // An address (or identity) that has used up its wrong redeems may not try again yet: such an
    // attempt is refused before it can count against the host's claims, so changing identity does
    // not help and one address (an IPv6 /64) cannot burn a claim (its budget is below maxClaimAttempts).
    const address = addressKey(conn.ip);
    if (!(await d.limiter.has('pair.wrong', address, conn.id))) throw new ProtocolError('rate_limited');
    const now = d.now();
    const device = conn.id as DeviceId;
    const outcome = await d.store.redeemClaim(
      secretHash(fromB64u(m.claim)),
      m.host,
      now,
      d.limits.maxClaimAttempts,
    );
    if (!outcome.ok) {
      await d.limiter.take('pair.wrong', address, conn.id);
      d.log.info('claim refused', { host: m.host, device });
      for (const host of outcome.burned) {
        // the waiting `pocketshell pair` learns why nobody will redeem its code
        await this.#toAll(host, { t: 'pair.burned' });
        d.log.warn('claim burned by wrong redeems', { host });
      }
      throw new ProtocolError('claim_invalid');
    }
    // only after a valid claim, so a stranger cannot probe whether a host is online
    if (!(await this.#online(m.host))) throw new ProtocolError('not_found', 'the host is offline');
    await d.store.addPending(m.host, device, conn.pub, now + d.limits.pendingTtlSeconds);
    const reached = await this.#toAll(m.host, { t: 'pair.request', from: device, pub: conn.pub, env: m.env });
    if (reached > 0) d.metrics.route('pair.request');
    conn.send({ t: 'ok', rid: m.rid });
    d.log.info('claim redeemed', { host: m.host, device });
  }

  async #accept(conn: Connection, m: Extract<ClientMessage, { t: 'pair.accept' }>): Promise<void> {
    const d = this.#d;
    this.#only(conn, 'host', 'pair.accept');
    const host = conn.id as HostId;
    if (!(await d.store.acceptPending(host, m.to, d.now()))) throw new ProtocolError('claim_invalid');
    conn.send({ t: 'ok', rid: m.rid });
    if ((await this.#toAll(m.to, { t: 'pair.accepted', from: host, pub: conn.pub, env: m.env })) > 0) {
      d.metrics.route('pair.accepted');
    }
    await this.#toAll(m.to, { t: 'presence', host, online: true });
    d.log.info('paired', { host, device: m.to });
  }

  async #reject(conn: Connection, rid: string, to: DeviceId): Promise<void> {
    const d = this.#d;
    this.#only(conn, 'host', 'pair.reject');
    const host = conn.id as HostId;
    if (!(await d.store.takePending(host, to, d.now()))) throw new ProtocolError('claim_invalid');
    conn.send({ t: 'ok', rid });
    if ((await this.#toAll(to, { t: 'pair.rejected', from: host })) > 0) d.metrics.route('pair.rejected');
    d.log.info('pairing rejected', { host, device: to });
  }

  async #revoke(conn: Connection, rid: string, peer: PartyId): Promise<void> {
    const d = this.#d;
    const { host, device } = this.#pair(conn.id, peer);
    if (!(await d.store.removePairing(host, device))) throw new ProtocolError('not_paired');
    await this.#forget(host, device, d.nowMs());
    conn.send({ t: 'ok', rid });
    if ((await this.#toAll(peer, { t: 'pair.revoked', from: conn.id })) > 0) d.metrics.route('pair.revoked');
    d.log.info('pairing revoked', { host, device, by: conn.role });
  }

  async #turn(conn: Connection, rid: string): Promise<void> {
    const d = this.#d;
    if (d.turn.secret === undefined || d.turn.urls.length === 0) {
      throw new ProtocolError('unsupported', 'this relay has no TURN server configured');
    }
    if (!(await d.limiter.take('turn', conn.ip, conn.id))) throw new ProtocolError('rate_limited');
    // TURN relays traffic for whoever holds credentials: only parties that can use a connection
    // get them — a device or host with at least one live pairing (a host needs none before then)
    if (!(await d.store.hasPairing(conn.id))) {
      throw new ProtocolError('not_paired', 'TURN credentials need a live pairing');
    }
    const c = turnCredentials({
      secret: d.turn.secret,
      id: conn.id,
      now: d.now(),
      ttl: d.turn.ttl,
      urls: d.turn.urls,
    });
    conn.send({ t: 'turn', rid, ...c });
  }

  async #pushSender(conn: Connection): Promise<PushSender> {
    this.#only(conn, 'device', 'push');
    const push = this.#d.push;
    if (push === undefined) throw new ProtocolError('unsupported', 'this relay sends no Web Push');
    if (!(await this.#d.limiter.take('push.subscribe', conn.ip, conn.id)))
      throw new ProtocolError('rate_limited');
    return push;
  }

  async #pushKey(conn: Connection, rid: string): Promise<void> {
    const push = await this.#pushSender(conn);
    conn.send({ t: 'push.vapid', rid, key: push.keys.publicKey });
  }

  async #subscribe(conn: Connection, m: Extract<ClientMessage, { t: 'push.subscribe' }>): Promise<void> {
    const d = this.#d;
    const push = await this.#pushSender(conn);
    if (!push.allowed(m.endpoint)) throw new ProtocolError('push_endpoint_refused');
    let p256dh: Uint8Array;
    let auth: Uint8Array;
    try {
      p256dh = fromB64u(m.p256dh);
      auth = fromB64u(m.auth);
    } catch {
      throw new ProtocolError('bad_key', 'p256dh and auth: base64url');
    }
    if (p256dh.length !== 65 || p256dh[0] !== 4 || auth.length !== 16) {
      throw new ProtocolError('bad_key', 'p256dh: an uncompressed P-256 point; auth: 16 bytes');
    }
    const device = conn.id as DeviceId;
    // subscriptions hang off the device row, which exists only while the device is paired
    if (!(await d.store.hasPairing(device))) throw new ProtocolError('not_paired');
    const stored = await d.store.putPushSubscription(
      {
        id: b64u(d.random(16)),
        deviceId: device,
        endpoint: m.endpoint,
        p256dh: m.p256dh,
        auth: m.auth,
        createdAt: d.now(),
      },
      MAX_SUBSCRIPTIONS_PER_DEVICE,
    );
    if (!stored) throw new ProtocolError('limit_reached', 'too many push subscriptions for this device');
    conn.send({ t: 'ok', rid: m.rid });
    d.log.info('push subscribed', { device });
  }

  async #unsubscribe(conn: Connection, rid: string, endpoint: string | undefined): Promise<void> {
    await this.#pushSender(conn);
    const device = conn.id as DeviceId;
    const removed = await this.#d.store.removePushSubscriptions(device, endpoint);
    conn.send({ t: 'ok', rid });
    this.#d.log.info('push unsubscribed', { device, removed });
  }

  async #pushSend(conn: Connection, m: Extract<ClientMessage, { t: 'push.send' }>): Promise<void> {
    const d = this.#d;
    this.#only(conn, 'host', 'push.send');
    const host = conn.id as HostId;
    const device = m.to;
    if (!(await d.limiter.take('push.send', conn.ip, host))) throw new ProtocolError('rate_limited');
    if (!(await d.limiter.take('push.device', device, `${host}>${device}`)))
      throw new ProtocolError('rate_limited');
    if (m.env.kind !== 'alert') throw new ProtocolError('bad_message', 'push.send carries an alert envelope');
    if (!(await this.#isPaired(host, device))) throw new ProtocolError('not_paired');
    const payload = JSON.stringify({ from: host, env: m.env });
    if (Buffer.byteLength(payload) > MAX_PUSH_PAYLOAD) {
      throw new ProtocolError('bad_message', `a push payload is at most ${MAX_PUSH_PAYLOAD} bytes`);
    }
    const alert: ServerMessage = { t: 'deliver', from: host, env: m.env };
    let online = this.deliverLocal(device, alert).sent;
    if (d.fleet !== undefined) online += (await d.fleet.route(device, alert, true)).sent;
    if (online > 0) d.metrics.route('deliver');
    conn.send({ t: 'ok', rid: m.rid });
    const push = d.push;
    if (push === undefined) return;
    const subs = await d.store.pushSubscriptionsOf(device);
    d.log.debug('push accepted', { host, device, online, subscriptions: subs.length });
    for (const sub of subs) {
      const sending = (async () => {
        const r = await push.send(sub, payload, m.urgency ?? 'normal');
        d.metrics.push(r.outcome);
        if (r.outcome === 'gone') await d.store.removePushEndpoint(sub.endpoint);
        // the subscription's id, never its endpoint (a capability)
        d.log[r.outcome === 'failed' ? 'info' : 'debug']('push', {
          host,
          device,
          subscription: sub.id,
          outcome: r.outcome,
          status: r.status,
          code: r.code,
        });
      })().catch((error: unknown) => {
        d.log.error('push failed', { device, error: String((error as Error).name) });
      });
      this.#pushing.add(sending);
      void sending.finally(() => this.#pushing.delete(sending));
    }
  }

  /** The limiter in use (shared with the other nodes once in a fleet). */
  get limiter(): Limiter {
    return this.#d.limiter;
  }

  /**
   * Joins the fleet: from now on parties on other nodes are reached through
   * it, limits taken from `limiter`, and pairings cached in `pairings`
   * (evicted everywhere on revoke).
   */
  useFleet(fleet: Fleet, limiter: Limiter, pairings: PairingCache): void {
    this.#d.fleet = fleet;
    this.#d.limiter = limiter;
    this.#d.pairings = pairings;
  }

  /** Sends Web Push with `push` (its keys read from the shared store once the relay listens). */
  usePush(push: PushSender): void {
    this.#d.push = push;
  }

  /** Another node revoked the pair: dropped from this node's cache. */
  evictPairing(host: HostId, device: DeviceId): void {
    this.#d.pairings?.evict(host, device);
  }

  /** Waits for the Web Push messages under way (on close). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#pushing]);
  }

  /** After a device authenticates: the presence of each host it is paired with. */
  async presenceFor(conn: Connection): Promise<void> {
    for (const host of await this.#d.store.hostsOf(conn.id as DeviceId)) {
      conn.send({ t: 'presence', host, online: await this.#online(host) });
    }
  }

  /** A host came online or went offline: tell its paired devices that are online. */
  async announce(host: HostId, online: boolean): Promise<void> {
    const message: PresenceMessage = { t: 'presence', host, online };
    for (const device of await this.#d.store.devicesOf(host)) {
      if (this.#d.fleet !== undefined) await this.#toAll(device, message);
      else if (this.#d.hub.online(device)) await this.#toAll(device, message);
    }
  }
}
