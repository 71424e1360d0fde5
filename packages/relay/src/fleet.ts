/**
 * The fleet: what relay nodes sharing one Redis tell each other, so a host
 * on one node and a device on another see one relay (docs/operations.md,
 * "Fleet"). Three things live in Redis:
 *
 * - where each identity is: `ps:at:<id>`, a sorted set of node ids scored
 *   by an expiry (Redis's own clock, via Lua). A node renews its entries
 *   every heartbeat; a node that dies stops renewing, and its entries lapse
 *   after the TTL — sooner in practice, since a dead node's pub/sub channel
 *   has no subscriber any more, which lookups and PUBLISH both notice.
 * - messages for a party on another node: Redis pub/sub, one channel per
 *   node (`ps:node:<node>`), looked up and published in one Lua script.
 *   Pub/sub is at-most-once, so a `send` waits for the holding node's
 *   `ack` (how many sockets it reached): PUBLISH
 *   answering 0 means the node is gone (not delivered, said at once), and
 *   no ack within the reply timeout is `unavailable` (outcome unknown; the
 *   envelope's `mid` makes a resend harmless at the receiver). Streams
 *   would add persistence nobody needs: a message for a party that is not
 *   connected is refused, never queued.
 * - which hosts each node holds (`ps:hosts:<node>`), so that when a node
 *   dies, a surviving node tells those hosts' devices they went offline.
 * - revoked pairings (`ps:evict`, one channel every node listens on): each
 *   node drops the pair from its pairing cache and acks; the revoking node
 *   waits for every node listed live in `ps:nodes` (`evictEverywhere`).
 *
 * Messages between nodes are JSON, size-capped and schema-checked like any
 * frame from outside. Nothing here is needed without `--redis`.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  type DeviceId,
  decodeFrame,
  type HostId,
  PARTY_ID_RE,
  type PartyId,
  parseServerMessage,
  roleOfId,
  type ServerMessage,
} from '@pocketshell/protocol';
import { Redis } from 'ioredis';
import { RelayError } from './errors.ts';
import type { Logger } from './log.ts';

/** Largest message between nodes (a routed frame is at most 64 KiB plus its wrapping). */
export const MAX_FLEET_MESSAGE_BYTES = 256 * 1024;
const PREFIX = 'ps:';
const NODE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** How many sockets of one identity a message reached on a node. */
export interface Reach {
  /** Sockets the message was written to. */
  sent: number;
  /** Sockets skipped because they were not keeping up. */
  full: number;
}

/** A routed message's outcome on the other nodes. */
export interface RouteOutcome extends Reach {
  /** Nodes that did not answer in time (the message may or may not have arrived). */
  unknown: number;
}

/** What the fleet needs. */
export interface FleetOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  nodeId: string;
  log: Logger;
  /** Delivers a message to this node's sockets of `to`. */
  deliver: (to: PartyId, message: ServerMessage) => Reach;
  /** Seconds an entry lives without renewal (default 15). */
  ttlSeconds?: number;
  /** Seconds between renewals (default ttl / 3). */
  heartbeatSeconds?: number;
  /** Milliseconds a `send` waits for the other node's ack (default 3000). */
  replyTimeoutMs?: number;
  /** Tells the devices of hosts that went offline with a node (a dead one, or this one closing) about it. */
  onNodeGone?: (hosts: PartyId[]) => Promise<void> | void;
  /** Counts messages between nodes (the relay's metrics). */
  count?: (outcome: 'sent' | 'received' | 'acked' | 'gone' | 'unanswered' | 'dropped') => void;
  /** Drops a revoked pair from this node's pairing cache (another node revoked it). */
  onEvict?: (host: HostId, device: DeviceId) => void;
  /** Milliseconds (default `Date.now`). */
  now?: () => number;
}

/** A Lua script, run by its SHA (loaded again after a Redis restart). */
interface Script {
  src: string;
  sha: string;
}

function script(src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') };
}

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS[1] at-key, KEYS[2] hosts-of-node key; ARGV node, ttl ms, is-host: registers, returns how many other nodes hold the id. */
const REGISTER = script(`${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local others = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then others = others - 1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
if ARGV[3] == '1' then redis.call('SADD', KEYS[2], string.sub(KEYS[1], ${PREFIX.length + 4})) end
return others`);

/** KEYS at-keys; ARGV node, ttl ms: renews this node's entries. */
const RENEW = script(`${NOW_MS}
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2]))
end
return #KEYS`);

/** KEYS[1] at-key, KEYS[2] hosts-of-node key; ARGV node: deregisters, returns the live nodes left. */
const UNREGISTER = script(`${NOW_MS}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], string.sub(KEYS[1], ${PREFIX.length + 4}))
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`);

/** KEYS at-keys: the live nodes of each. */
const LOOKUP = script(`${NOW_MS}
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('ZRANGEBYSCORE', key, now, '+inf') end
return out`);

/** KEYS[1] node-set; ARGV node, ttl ms: renews this node's own entry, returns nodes whose entry lapsed. */
const NODES = script(`${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)`);

/** KEYS[1] at-key; ARGV self, message, channel prefix: publishes to every other live node holding the id, returns each one's receivers. */
const ROUTE = script(`${NOW_MS}
local out = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if n ~= ARGV[1] then
    local got = redis.call('PUBLISH', ARGV[3] .. n, ARGV[2])
    if got == 0 then redis.call('ZREM', KEYS[1], n) end
    out[#out + 1] = got
  end
end
return out`);

/** KEYS[1] node-set; ARGV message, channel: publishes an eviction to every node, returns the nodes listed live. */
const EVICT = script(`${NOW_MS}
redis.call('PUBLISH', ARGV[2], ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')`);

/** An eviction waiting for the other nodes' acks. */
interface EvictWaiter {
  acked: Set<string>;
  expected: string[] | undefined;
  finish: () => void;
  timer: NodeJS.Timeout;
}

/** A send waiting for acks: as many as nodes reached (known once the route script answered). */
interface Waiter {
  acks: Reach[];
  expected: number | undefined;
  finish: () => void;
  timer: NodeJS.Timeout;
}

/** A message between nodes. */
type Wire =
  | { v: 1; k: 'msg'; to: PartyId; m: ServerMessage; from: string; r?: number }
  | { v: 1; k: 'ack'; r: number; sent: number; full: number }
  | { v: 1; k: 'evict'; h: HostId; d: DeviceId; from: string; r: number }
  | { v: 1; k: 'evicted'; r: number; node: string };

/** Parses a message from another node; undefined (and dropped) when malformed. */
export function parseWire(text: string): Wire | undefined {
  if (Buffer.byteLength(text) > MAX_FLEET_MESSAGE_BYTES) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null || o.v !== 1) return undefined;
  const count = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (o.k === 'ack') {
    if (!count(o.r) || !count(o.sent) || !count(o.full)) return undefined;
    return { v: 1, k: 'ack', r: o.r as number, sent: o.sent as number, full: o.full as number };
  }
  if (o.k === 'evicted') {
    if (!count(o.r) || typeof o.node !== 'string' || !NODE_ID_RE.test(o.node)) return undefined;
    return { v: 1, k: 'evicted', r: o.r as number, node: o.node };
  }
  if (o.k === 'evict') {
    if (!count(o.r) || typeof o.from !== 'string' || !NODE_ID_RE.test(o.from)) return undefined;
    if (typeof o.h !== 'string' || typeof o.d !== 'string') return undefined;
    if (!PARTY_ID_RE.test(o.h) || !PARTY_ID_RE.test(o.d)) return undefined;
    if (roleOfId(o.h as PartyId) !== 'host' || roleOfId(o.d as PartyId) !== 'device') return undefined;
    return { v: 1, k: 'evict', h: o.h as HostId, d: o.d as DeviceId, from: o.from, r: o.r as number };
  }
  if (o.k !== 'msg' || typeof o.to !== 'string' || typeof o.from !== 'string') return undefined;
  if (!NODE_ID_RE.test(o.from) || (o.r !== undefined && !count(o.r))) return undefined;
  try {
    if (!PARTY_ID_RE.test(o.to)) return undefined;
    const m = parseServerMessage(decodeFrame(JSON.stringify(o.m)));
    return {
      v: 1,
      k: 'msg',
      to: o.to as PartyId,
      m,
      from: o.from,
      ...(o.r === undefined ? {} : { r: o.r as number }),
    };
  } catch {
    return undefined;
  }
}

/** A fresh node id (when `--node-id` is not given). */
export function randomNodeId(): string {
  return randomBytes(6).toString('base64url');
}

/** Checks a node id (`--node-id`): letters, digits, `_` and `-`, at most 64. */
export function isNodeId(id: string): boolean {
  return NODE_ID_RE.test(id);
}

/** This node's link to the fleet. */
export class Fleet {
  readonly nodeId: string;
  readonly #o: FleetOptions;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #ttlMs: number;
  readonly #replyMs: number;
  /** Identities held here (with whether each is a host), renewed every heartbeat. */
  readonly #held = new Map<PartyId, boolean>();
  /** Sends waiting for the holding nodes' acks, by sequence number. */
  readonly #waiting = new Map<number, Waiter>();
  /** Evictions waiting for the other nodes' acks, by sequence number. */
  readonly #evicting = new Map<number, EvictWaiter>();
  readonly #now: () => number;
  /** When the last heartbeat that succeeded began (ms): the node's entry in `ps:nodes` lives at least `ttl` past it. */
  #beatAt = Number.NEGATIVE_INFINITY;
  #seq = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(o: FleetOptions, cmd: Redis, sub: Redis) {
    this.#o = o;
    this.nodeId = o.nodeId;
    this.#cmd = cmd;
    this.#sub = sub;
    this.#ttlMs = (o.ttlSeconds ?? 15) * 1000;
    this.#replyMs = o.replyTimeoutMs ?? 3000;
    this.#now = o.now ?? Date.now;
  }

  /** Connects to Redis, subscribes to this node's channel and starts the heartbeat. */
  static async join(o: FleetOptions): Promise<Fleet> {
    if (!isNodeId(o.nodeId)) throw new RelayError('config_invalid', 'node-id: letters, digits, _ and -');
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      // a command while Redis is away fails at once (the client gets `internal`), never waits in a queue
      enableOfflineQueue: false,
      retryStrategy: (n: number) => Math.min(n * 200, 2000),
    };
    const cmd = new Redis(o.url, { ...options, connectionName: `pocketshell-relay:${o.nodeId}` });
    const sub = new Redis(o.url, { ...options, connectionName: `pocketshell-relay:${o.nodeId}:sub` });
    // ioredis reports each failed reconnect here; the relay logs Redis trouble where it matters
    const quiet = (error: Error) => o.log.debug('redis', { error: error.message });
    cmd.on('error', quiet);
    sub.on('error', quiet);
    const fleet = new Fleet(o, cmd, sub);
    let taken = false;
    try {
      await Promise.all([cmd.connect(), sub.connect()]);
      // two nodes on one channel would both deliver and both answer
      const [, listeners] = (await cmd.pubsub('NUMSUB', fleet.#channel(o.nodeId))) as [string, number];
      taken = Number(listeners) > 0;
      if (!taken) {
        sub.on('messageBuffer', (_channel: Buffer, data: Buffer) => fleet.#receive(data));
        await sub.subscribe(fleet.#channel(o.nodeId), `${PREFIX}evict`);
        await fleet.#beat();
      }
    } catch (cause) {
      cmd.disconnect();
      sub.disconnect();
      // the URL may hold a password: never in the message
      throw new RelayError('redis_failed', `cannot reach Redis: ${(cause as Error).message}`, { cause });
    }
    if (taken) {
      cmd.disconnect();
      sub.disconnect();
      throw new RelayError('config_invalid', `node-id: another running node is ${o.nodeId}`);
    }
    const every = o.heartbeatSeconds !== undefined ? o.heartbeatSeconds * 1000 : fleet.#ttlMs / 3;
    fleet.#heartbeat = setInterval(() => {
      fleet.#beating ??= fleet
        .#beat()
        .catch((error: unknown) =>
          o.log.warn('fleet heartbeat failed', { error: String((error as Error).message) }),
        )
        .finally(() => {
          fleet.#beating = undefined;
        });
    }, every);
    return fleet;
  }

  #channel(node: string): string {
    return `${PREFIX}node:${node}`;
  }

  #at(id: PartyId): string {
    return `${PREFIX}at:${id}`;
  }

  #hostsOf(node: string): string {
    return `${PREFIX}hosts:${node}`;
  }

  async #run(s: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#cmd.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return await this.#cmd.eval(s.src, keys.length, ...keys, ...args);
    }
  }

  /** Renews this node and its identities; notices nodes that died. */
  async #beat(): Promise<void> {
    const started = this.#now();
    const ids = [...this.#held.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      await this.#run(
        RENEW,
        ids.slice(i, i + 500).map((id) => this.#at(id)),
        [this.nodeId, this.#ttlMs],
      );
    }
    // (again after a Redis restart lost them)
    const hosts = ids.filter((id) => this.#held.get(id) === true);
    for (let i = 0; i < hosts.length; i += 500)
      await this.#cmd.sadd(this.#hostsOf(this.nodeId), ...hosts.slice(i, i + 500));
    await this.#cmd.pexpire(this.#hostsOf(this.nodeId), this.#ttlMs * 4);
    const lapsed = (await this.#run(NODES, [`${PREFIX}nodes`], [this.nodeId, this.#ttlMs])) as string[];
    this.#beatAt = started;
    for (const node of lapsed) await this.#reap(node);
  }

  /** One surviving node (whoever takes the lock) announces a dead node's hosts offline. */
  async #reap(node: string): Promise<void> {
    if (node === this.nodeId) return;
    const won = await this.#cmd.set(`${PREFIX}reap:${node}`, this.nodeId, 'PX', this.#ttlMs, 'NX');
    await this.#cmd.zrem(`${PREFIX}nodes`, node);
    if (won !== 'OK') return;
    const hosts = (await this.#cmd.smembers(this.#hostsOf(node))) as PartyId[];
    await this.#cmd.del(this.#hostsOf(node));
    const gone: PartyId[] = [];
    const where = await this.nodesOfMany(hosts);
    for (const host of hosts) {
      if (this.#held.has(host)) continue;
      if ((await this.#live((where.get(host) ?? []).filter((n) => n !== node))).length === 0) gone.push(host);
    }
    this.#o.log.info('fleet node gone', { node, hosts: hosts.length, offline: gone.length });
    if (gone.length > 0) await this.#o.onNodeGone?.(gone);
  }

  /** Records that this node holds `id`; resolves with how many other live nodes hold it too. */
  async add(id: PartyId): Promise<number> {
    this.#held.set(id, roleOfId(id) === 'host');
    const others = (await this.#run(
      REGISTER,
      [this.#at(id), this.#hostsOf(this.nodeId)],
      [this.nodeId, this.#ttlMs, roleOfId(id) === 'host' ? '1' : '0'],
    )) as number;
    if (others === 0) return 0;
    return (await this.#live((await this.nodesOfMany([id])).get(id) ?? [])).length;
  }

  /** Records that this node no longer holds `id`; resolves with how many other live nodes still hold it. */
  async remove(id: PartyId): Promise<number> {
    this.#held.delete(id);
    const left = (await this.#run(
      UNREGISTER,
      [this.#at(id), this.#hostsOf(this.nodeId)],
      [this.nodeId],
    )) as string[];
    return (await this.#live(left)).length;
  }

  /** The nodes among `nodes` whose channel has a subscriber (a killed node's has none). */
  async #live(nodes: string[]): Promise<string[]> {
    if (nodes.length === 0) return [];
    const counts = (await this.#cmd.pubsub('NUMSUB', ...nodes.map((n) => this.#channel(n)))) as (
      | string
      | number
    )[];
    return nodes.filter((_, i) => Number(counts[2 * i + 1]) > 0);
  }

  /** The other live nodes holding each id (this node left out). */
  async nodesOfMany(ids: readonly PartyId[]): Promise<Map<PartyId, string[]>> {
    const out = new Map<PartyId, string[]>();
    if (ids.length === 0) return out;
    const lists = (await this.#run(
      LOOKUP,
      ids.map((id) => this.#at(id)),
      [],
    )) as string[][];
    ids.forEach((id, i) => {
      out.set(
        id,
        (lists[i] ?? []).filter((n) => n !== this.nodeId),
      );
    });
    return out;
  }

  /** True when another live node holds `id`. */
  async onlineElsewhere(id: PartyId): Promise<boolean> {
    return (await this.#live((await this.nodesOfMany([id])).get(id) ?? [])).length > 0;
  }

  /**
   * Sends `message` to `to`'s sockets on the other nodes. With `ack`, waits
   * for each node's answer (a `send`); without, resolves once published.
   */
  async route(to: PartyId, message: ServerMessage, ack: boolean): Promise<RouteOutcome> {
    const out: RouteOutcome = { sent: 0, full: 0, unknown: 0 };
    const r = ack ? ++this.#seq : undefined;
    const wire: Wire = {
      v: 1,
      k: 'msg',
      to,
      m: message,
      from: this.nodeId,
      ...(r === undefined ? {} : { r }),
    };
    const text = JSON.stringify(wire);
    if (Buffer.byteLength(text) > MAX_FLEET_MESSAGE_BYTES) return out;
    // acks may arrive before the script's answer (another connection): wait from now on
    const answered =
      r === undefined
        ? undefined
        : new Promise<Reach[]>((resolve) => {
            const w: Waiter = {
              acks: [],
              expected: undefined,
              finish: () => {
                clearTimeout(w.timer);
                this.#waiting.delete(r);
                resolve(w.acks);
              },
              timer: setTimeout(() => w.finish(), this.#replyMs),
            };
            this.#waiting.set(r, w);
          });
    let receivers: number[];
    try {
      // one round trip: look the identity up and publish to each node holding it
      receivers = (await this.#run(ROUTE, [this.#at(to)], [this.nodeId, text, `${PREFIX}node:`])) as number[];
    } catch (error) {
      if (r !== undefined) this.#waiting.get(r)?.finish();
      throw error;
    }
    // a node without a subscriber is gone: not delivered there (and dropped from the entry by the script)
    for (const n of receivers) this.#o.count?.(n > 0 ? 'sent' : 'gone');
    const reached = receivers.filter((n) => n > 0).length;
    if (r === undefined || answered === undefined) {
      out.sent = receivers.reduce((a, b) => a + b, 0);
      return out;
    }
    const w = this.#waiting.get(r);
    if (w !== undefined) {
      w.expected = reached;
      if (w.acks.length >= reached) w.finish();
    }
    const acks = await answered;
    for (const a of acks) {
      this.#o.count?.('acked');
      out.sent += a.sent;
      out.full += a.full;
    }
    out.unknown = Math.max(0, reached - acks.length);
    for (let i = 0; i < out.unknown; i++) this.#o.count?.('unanswered');
    return out;
  }

  /**
   * True while this node hears every eviction: subscribed, and listed live
   * in `ps:nodes` (a revoking node waits for the nodes listed there; one
   * that lost Redis drops out of the list within the TTL, and stops caching
   * well before: two thirds of the TTL after its last heartbeat began).
   */
  cacheUsable(): boolean {
    if (this.#closing !== undefined || this.#sub.status !== 'ready') return false;
    return this.#now() - this.#beatAt < (this.#ttlMs * 2) / 3;
  }

  /**
   * Tells every node to drop the pair from its pairing cache; true once
   * every other node listed live in `ps:nodes` acked within the reply
   * timeout, false when one did not (or Redis failed): the caller then
   * waits out the cache's TTL instead.
   */
  async evictEverywhere(host: HostId, device: DeviceId): Promise<boolean> {
    const r = ++this.#seq;
    const wire: Wire = { v: 1, k: 'evict', h: host, d: device, from: this.nodeId, r };
    const done = new Promise<boolean>((resolve) => {
      const w: EvictWaiter = {
        acked: new Set(),
        expected: undefined,
        finish: () => {
          clearTimeout(w.timer);
          this.#evicting.delete(r);
          resolve(w.expected?.every((n) => w.acked.has(n)) === true);
        },
        timer: setTimeout(() => w.finish(), this.#replyMs),
      };
      this.#evicting.set(r, w);
    });
    let listed: string[];
    try {
      listed = (await this.#run(
        EVICT,
        [`${PREFIX}nodes`],
        [JSON.stringify(wire), `${PREFIX}evict`],
      )) as string[];
    } catch {
      this.#evicting.get(r)?.finish();
      return false;
    }
    const w = this.#evicting.get(r);
    if (w !== undefined) {
      w.expected = listed.filter((n) => n !== this.nodeId);
      if (w.expected.every((n) => w.acked.has(n))) w.finish();
    }
    return done;
  }

  #evicted(r: number, node: string): void {
    const w = this.#evicting.get(r);
    if (w === undefined) return;
    w.acked.add(node);
    if (w.expected?.every((n) => w.acked.has(n))) w.finish();
  }

  #ack(r: number, reach: Reach): void {
    const w = this.#waiting.get(r);
    if (w === undefined) return;
    w.acks.push(reach);
    if (w.expected !== undefined && w.acks.length >= w.expected) w.finish();
  }

  #receive(data: Buffer): void {
    const wire = parseWire(data.toString('utf8'));
    if (wire === undefined) {
      this.#o.count?.('dropped');
      this.#o.log.warn('fleet message dropped', { bytes: data.length });
      return;
    }
    if (wire.k === 'ack') {
      this.#ack(wire.r, { sent: wire.sent, full: wire.full });
      return;
    }
    if (wire.k === 'evicted') {
      this.#evicted(wire.r, wire.node);
      return;
    }
    if (wire.k === 'evict') {
      // this node's own eviction comes back on the shared channel: already done locally
      if (wire.from === this.nodeId) return;
      this.#o.onEvict?.(wire.h, wire.d);
      const ack: Wire = { v: 1, k: 'evicted', r: wire.r, node: this.nodeId };
      this.#cmd.publish(this.#channel(wire.from), JSON.stringify(ack)).catch((error: unknown) => {
        this.#o.log.warn('fleet ack failed', { error: String((error as Error).message) });
      });
      return;
    }
    this.#o.count?.('received');
    const reach = this.#o.deliver(wire.to, wire.m);
    if (wire.r === undefined) return;
    const ack: Wire = { v: 1, k: 'ack', r: wire.r, sent: reach.sent, full: reach.full };
    this.#cmd.publish(this.#channel(wire.from), JSON.stringify(ack)).catch((error: unknown) => {
      this.#o.log.warn('fleet ack failed', { error: String((error as Error).message) });
    });
  }

  /** Round trip to Redis (readiness). */
  async ping(): Promise<void> {
    await this.#cmd.ping();
  }

  /** The Redis connection for other shared state (rate limits). */
  get redis(): Redis {
    return this.#cmd;
  }

  /** Runs a Lua script by SHA (loaded again after a Redis restart). */
  eval(s: { src: string; sha: string }, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.#run(s, keys, args);
  }

  /** Drops both Redis connections without cleaning up, as a crash would (tests). Idempotent with `close()`. */
  abandon(): void {
    clearInterval(this.#heartbeat);
    for (const w of [...this.#waiting.values()]) w.finish();
    for (const w of [...this.#evicting.values()]) w.finish();
    this.#sub.disconnect();
    this.#cmd.disconnect();
    this.#closing ??= Promise.resolve();
  }

  /** Leaves the fleet: this node's entries removed, connections closed. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#heartbeat);
      await this.#beating;
      for (const w of [...this.#waiting.values()]) w.finish();
      for (const w of [...this.#evicting.values()]) w.finish();
      try {
        // hosts held nowhere else went offline with this node: their devices on other nodes hear it now
        const gone: PartyId[] = [];
        for (const [id, isHost] of [...this.#held.entries()]) {
          if ((await this.remove(id)) === 0 && isHost) gone.push(id);
        }
        if (gone.length > 0) await this.#o.onNodeGone?.(gone);
        await this.#cmd.zrem(`${PREFIX}nodes`, this.nodeId);
        await this.#cmd.del(this.#hostsOf(this.nodeId));
        await Promise.all([this.#sub.quit(), this.#cmd.quit()]);
      } catch {
        this.#sub.disconnect();
        this.#cmd.disconnect();
      }
    })();
    return this.#closing;
  }
}

export { script as fleetScript };
