/**
 * The fleet's Redis pieces against a real private redis-server: the
 * identity registry (add/remove counts, entries of a node that stops
 * renewing lapse and a survivor announces its hosts offline), routing with
 * acks (PUBLISH to a dead node is "not delivered" at once), malformed
 * messages between nodes dropped, shared token buckets, and pairing
 * evictions acked by every live node (or reported as not, when one is mute).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  deviceIdOf,
  generateKeyPair,
  hostIdOf,
  type PartyId,
  type ServerMessage,
} from '@pocketshell/protocol';
import { type StartedRedis, startRedis } from '../testing/redis.ts';
import { Fleet, fleetScript, MAX_FLEET_MESSAGE_BYTES, parseWire, type Reach } from './fleet.ts';
import { DEFAULT_LIMITS, RateLimiter } from './limits.ts';
import { Logger } from './log.ts';
import { BUCKET_SCRIPT, SharedRateLimiter } from './shared-limiter.ts';

const log = new Logger({ level: 'error', write: () => {} });

function node(
  redis: StartedRedis,
  nodeId: string,
  got: { to: PartyId; m: ServerMessage }[] = [],
  gone: PartyId[][] = [],
  reach: Reach = { sent: 1, full: 0 },
  evicted: string[] = [],
): Promise<Fleet> {
  return Fleet.join({
    url: redis.url,
    nodeId,
    log,
    ttlSeconds: 2,
    heartbeatSeconds: 0.3,
    replyTimeoutMs: 1000,
    deliver: (to, m) => {
      got.push({ to, m });
      return reach;
    },
    onNodeGone: (hosts) => {
      gone.push(hosts);
    },
    onEvict: (host, device) => {
      evicted.push(`${host} ${device}`);
    },
  });
}

describe('fleet', () => {
  let redis: StartedRedis;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  it('counts the other nodes holding an identity, and routes to them with acks', async () => {
    const gotA: { to: PartyId; m: ServerMessage }[] = [];
    const a = await node(redis, 'a', gotA);
    const b = await node(redis, 'b');
    const host = hostIdOf(generateKeyPair().publicKey);
    assert.equal(await a.add(host), 0);
    assert.equal(await b.add(host), 1);
    assert.equal(await b.onlineElsewhere(host), true);
    const m: ServerMessage = { t: 'pair.burned' };
    assert.deepEqual(await b.route(host, m, true), { sent: 1, full: 0, unknown: 0 });
    assert.deepEqual(gotA, [{ to: host, m }]);
    assert.equal(await a.remove(host), 1);
    assert.equal(await b.remove(host), 0);
    assert.equal(await a.onlineElsewhere(host), false);
    assert.deepEqual(await a.route(host, m, true), { sent: 0, full: 0, unknown: 0 });
    await Promise.all([a.close(), b.close()]);
    await a.close(); // idempotent
  });

  it('a node that dies: routing says not delivered at once; its entries lapse; a survivor announces its hosts', async () => {
    const gone: PartyId[][] = [];
    const a = await node(redis, 'dying');
    const b = await node(redis, 'survivor', [], gone);
    const host = hostIdOf(generateKeyPair().publicKey);
    const device = deviceIdOf(generateKeyPair().publicKey);
    await a.add(host);
    await a.add(device);
    // a crash: the connections drop without a word (no cleanup)
    a.abandon();
    // Redis notices the closed sockets in its own time
    while (await b.onlineElsewhere(device)) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await b.route(device, { t: 'pair.burned' }, true), { sent: 0, full: 0, unknown: 0 });
    assert.equal(await b.onlineElsewhere(host), false, 'a node without a subscriber is not live');
    const end = Date.now() + 10_000;
    while (gone.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(gone, [[host]]);
    await b.close();
    await a.close();
  });

  it('drops malformed or oversized messages between nodes', () => {
    const host = hostIdOf(generateKeyPair().publicKey);
    assert.equal(parseWire('not json'), undefined);
    assert.equal(parseWire(JSON.stringify({ v: 2, k: 'ack', r: 1, sent: 0, full: 0 })), undefined);
    assert.equal(parseWire(JSON.stringify({ v: 1, k: 'ack', r: -1, sent: 0, full: 0 })), undefined);
    assert.equal(
      parseWire(JSON.stringify({ v: 1, k: 'msg', to: 'x_nobody', m: { t: 'pair.burned' }, from: 'a' })),
      undefined,
    );
    assert.equal(
      parseWire(JSON.stringify({ v: 1, k: 'msg', to: host, m: { t: 'deliver', from: host }, from: 'a' })),
      undefined,
      'a server message that does not parse',
    );
    assert.equal(parseWire('x'.repeat(MAX_FLEET_MESSAGE_BYTES + 1)), undefined);
    assert.deepEqual(
      parseWire(JSON.stringify({ v: 1, k: 'msg', to: host, m: { t: 'pair.burned' }, from: 'a', r: 3 })),
      {
        v: 1,
        k: 'msg',
        to: host,
        m: { t: 'pair.burned' },
        from: 'a',
        r: 3,
      },
    );
  });

  it('evicts a revoked pair on every node, acked by each; a mute node listed live makes it false', async () => {
    const seen: Record<string, string[]> = { ea: [], eb: [], ec: [] };
    const a = await node(redis, 'ea', [], [], undefined, seen.ea);
    const b = await node(redis, 'eb', [], [], undefined, seen.eb);
    const c = await node(redis, 'ec', [], [], undefined, seen.ec);
    assert.equal(a.cacheUsable(), true);
    const host = hostIdOf(generateKeyPair().publicKey);
    const device = deviceIdOf(generateKeyPair().publicKey);
    assert.equal(await a.evictEverywhere(host, device), true);
    assert.deepEqual(seen, { ea: [], eb: [`${host} ${device}`], ec: [`${host} ${device}`] });
    // a node that crashed is still listed live until its entry lapses: no ack from it, so not everywhere
    c.abandon();
    assert.equal(c.cacheUsable(), false);
    assert.equal(await a.evictEverywhere(host, device), false);
    assert.equal(seen.eb.length, 2);
    await Promise.all([a.close(), b.close(), c.close()]);
    assert.equal(
      parseWire(JSON.stringify({ v: 1, k: 'evict', h: device, d: host, from: 'a', r: 1 })),
      undefined,
      'host and device swapped',
    );
    assert.equal(parseWire(JSON.stringify({ v: 1, k: 'evicted', r: 1, node: 'a b' })), undefined);
  });

  it('shares token buckets between nodes; looking takes nothing', async () => {
    const a = await node(redis, 'la');
    const b = await node(redis, 'lb');
    const bucket = fleetScript(BUCKET_SCRIPT);
    const limits = structuredClone(DEFAULT_LIMITS);
    limits.rates['pair.wrong'] = {
      ip: { burst: 3, perSecond: 0.001 },
      identity: { burst: 100, perSecond: 1 },
    };
    const la = new SharedRateLimiter(limits, new RateLimiter(limits), (s, k, x) => a.eval(s, k, x), bucket);
    const lb = new SharedRateLimiter(limits, new RateLimiter(limits), (s, k, x) => b.eval(s, k, x), bucket);
    assert.equal(await la.has('pair.wrong', '192.0.2.1'), true);
    assert.equal(await la.take('pair.wrong', '192.0.2.1', 'd1'), true);
    assert.equal(await lb.take('pair.wrong', '192.0.2.1', 'd2'), true);
    assert.equal(await la.take('pair.wrong', '192.0.2.1', 'd3'), true);
    assert.equal(await lb.has('pair.wrong', '192.0.2.1'), false);
    assert.equal(await lb.take('pair.wrong', '192.0.2.1', 'd4'), false);
    assert.equal(await la.take('pair.wrong', '192.0.2.2'), true, 'another address has its own bucket');
    // `send` stays per node: each node has its own budget
    limits.rates.send = { ip: { burst: 1, perSecond: 0.001 }, identity: { burst: 1, perSecond: 0.001 } };
    const sa = new SharedRateLimiter(limits, new RateLimiter(limits), (s, k, x) => a.eval(s, k, x), bucket);
    const sb = new SharedRateLimiter(limits, new RateLimiter(limits), (s, k, x) => b.eval(s, k, x), bucket);
    assert.equal(sa.take('send', '192.0.2.3'), true);
    assert.equal(sa.take('send', '192.0.2.3'), false);
    assert.equal(sb.take('send', '192.0.2.3'), true);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a second node with the same id, and an unreachable Redis, with stable codes', async () => {
    const a = await node(redis, 'twin');
    await assert.rejects(node(redis, 'twin'), (e: Error & { code?: string }) => e.code === 'config_invalid');
    await a.close();
    const again = await node(redis, 'twin'); // free once the first one left
    await again.close();
    await assert.rejects(
      Fleet.join({
        url: 'redis://user:s3cret@127.0.0.1:1',
        nodeId: 'x',
        log,
        deliver: () => ({ sent: 0, full: 0 }),
      }),
      (e: Error & { code?: string }) => e.code === 'redis_failed' && !e.message.includes('s3cret'),
    );
  });
});
