/**
 * Several relay nodes sharing Redis and one PostgreSQL database
 * (test/support/fleet.ts: private redis-server and cluster on loopback), as
 * real processes: a host on one node and a device on another pair, see
 * each other's presence, exchange messages both ways, revoke, and get TURN
 * credentials; a node killed with SIGKILL mid-pairing loses nothing it
 * acknowledged (the claim survives, the host reconnects to another node and
 * the pairing completes), and mid-stream every `send` is either delivered
 * or refused — none vanishes silently, and the device hears that its host
 * (on the dead node) went offline. A live terminal between a real host
 * agent and a Node device stays up while their node dies (it runs
 * peer-to-peer), and both move to the next relay URL of their list.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Device } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { replyCode as code, junkEnvelope as env, pairClients, RawClient } from '@pocketshell/relay/testing';
import { isLoopbackIPv4, WeriftEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import { openLoopbackHost, until, waitForText } from '../support/cli.ts';
import { type StartedFleet, startFleet } from '../support/fleet.ts';
import { pairNodeDevice } from '../support/pair.ts';

const TURN = [
  '--turn-secret',
  'fleet-test-secret-0123456789',
  '--turn-url',
  'turn:127.0.0.1:3478?transport=udp',
];

describe('relay fleet: a host and a device on different nodes', () => {
  let fleet: StartedFleet;
  before(async () => {
    fleet = await startFleet(3, { args: TURN });
  });
  after(async () => {
    await fleet?.stop();
  });

  it('pairs across nodes; presence, send/deliver both ways, TURN, revoke', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    // PostgreSQL and Redis, as a fleet runs in production
    for (const n of fleet.nodes) assert.match(n.logs(), /"store":"postgres".*"fleet":true/);
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(a.wsUrl, { hostKey, deviceKey, host, device });
    // the acceptance on node A reached the device on node B, with the host's presence
    assert.deepEqual(await device.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: true,
    });

    const e1 = env();
    device.send({ t: 'send', to: host.id!, env: e1 });
    assert.deepEqual(await host.next((m) => m.t === 'deliver'), { t: 'deliver', from: device.id, env: e1 });
    const e2 = env();
    host.send({ t: 'send', to: device.id!, env: e2 });
    assert.deepEqual(await device.next((m) => m.t === 'deliver'), { t: 'deliver', from: host.id, env: e2 });

    const turn = await device.request({ t: 'turn.credentials' });
    assert.equal(turn.t, 'turn');

    // presence across nodes: the host leaves node A, then comes back on node C
    await host.close();
    assert.deepEqual(await device.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: false,
    });
    assert.equal(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'not_found');
    const back = await RawClient.connect(fleet.nodes[2]!.wsUrl, { role: 'host', keyPair: hostKey });
    assert.deepEqual(await device.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: true,
    });

    // a device that connects to node A learns the host (on node C) is online
    const second = await RawClient.connect(a.wsUrl, { role: 'device', keyPair: deviceKey });
    assert.deepEqual(await second.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: true,
    });
    const e3 = env();
    back.send({ t: 'send', to: device.id!, env: e3 });
    await device.next((m) => m.t === 'deliver' && m.env.mid === e3.mid);
    await second.next((m) => m.t === 'deliver' && m.env.mid === e3.mid);

    assert.equal(code(await back.request({ t: 'pair.revoke', peer: device.id! })), 'ok');
    assert.deepEqual(await device.next((m) => m.t === 'pair.revoked'), { t: 'pair.revoked', from: host.id });
    assert.deepEqual(await second.next((m) => m.t === 'pair.revoked'), { t: 'pair.revoked', from: host.id });
    assert.equal(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'not_paired');
    // node B routed the device's send to node A and got its ack
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    assert.match(metrics, /^pocketshell_relay_fleet_messages_total\{outcome="acked"\} [1-9]/m);
    await Promise.all([back.close(), device.close(), second.close()]);
  });

  it('after a revoke is acknowledged, a send between the two is refused on every node (pairing caches evicted)', async () => {
    const [a, b, c] = fleet.nodes as [
      (typeof fleet.nodes)[0],
      (typeof fleet.nodes)[0],
      (typeof fleet.nodes)[0],
    ];
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(a.wsUrl, { hostKey, deviceKey, host, device });
    const hostOnC = await RawClient.connect(c.wsUrl, { role: 'host', keyPair: hostKey });
    const deviceOnC = await RawClient.connect(c.wsUrl, { role: 'device', keyPair: deviceKey });
    const hits = async (url: string) =>
      Number(
        /^pocketshell_relay_pairing_cache_total\{outcome="hit"\} (\d+)/m.exec(
          await (await fetch(`${url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    // every node checks the pairing twice: the second answer comes from its cache
    for (const [from, to] of [
      [host, device],
      [device, host],
      [deviceOnC, host],
      [hostOnC, device],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const e = env();
        from.send({ t: 'send', to: to.id!, env: e });
        await to.next((m) => m.t === 'deliver' && m.env.mid === e.mid);
      }
    }
    for (const n of [a, b, c]) assert.ok((await hits(n.url)) > 0, `${n.url} answered from its cache`);
    // revoked on node B: once acknowledged, nodes A and C refuse at once (not after a TTL)
    assert.equal(code(await device.request({ t: 'pair.revoke', peer: host.id! })), 'ok');
    assert.equal(code(await host.request({ t: 'send', to: device.id!, env: env() })), 'not_paired');
    assert.equal(code(await hostOnC.request({ t: 'send', to: device.id!, env: env() })), 'not_paired');
    assert.equal(code(await deviceOnC.request({ t: 'send', to: host.id!, env: env() })), 'not_paired');
    assert.equal(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'not_paired');
    await Promise.all([host.close(), device.close(), hostOnC.close(), deviceOnC.close()]);
  });

  it('shares the wrong-redeem budget between nodes', async () => {
    // pair.wrong: 3 per address, wherever they land
    const host = await RawClient.connect(fleet.nodes[0]!.wsUrl, { role: 'host', keyPair: generateKeyPair() });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const node = fleet.nodes[i % 3]!;
      const d = await RawClient.connect(node.wsUrl, { role: 'device', keyPair: generateKeyPair() });
      const r = await d.request({
        t: 'pair.redeem',
        claim: 'A'.repeat(22),
        host: host.id!,
        env: env('pair.request'),
      });
      outcomes.push(code(r));
      await d.close();
    }
    assert.deepEqual(outcomes, ['claim_invalid', 'claim_invalid', 'claim_invalid', 'rate_limited']);
    await host.close();
  });
});

describe('relay fleet: a node killed with SIGKILL', () => {
  let fleet: StartedFleet;
  before(async () => {
    fleet = await startFleet(2);
  });
  after(async () => {
    await fleet?.stop();
  });

  it('mid-pairing: the acknowledged claim survives; the host moves to the other node and pairing completes', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const created = await host.request({ t: 'pair.create' });
    assert.equal(created.t, 'pair.created');
    await a.kill('SIGKILL');
    await host.closed;
    // the host reconnects to the surviving node; the device redeems there the claim node A created
    const moved = await RawClient.connect(b.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    const { claim } = await pairClients(b.wsUrl, { hostKey, deviceKey, host: moved, device, claim: created });
    assert.equal(claim, (created as { claim: string }).claim);
    await Promise.all([moved.close(), device.close()]);
    await a.restart();
  });

  it('a node stopped with SIGTERM tells the devices elsewhere that its hosts went offline', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(a.wsUrl, { hostKey, deviceKey, host, device });
    await device.next((m) => m.t === 'presence' && m.online);
    await a.kill('SIGTERM');
    assert.deepEqual(await device.next((m) => m.t === 'presence', 15_000), {
      t: 'presence',
      host: host.id,
      online: false,
    });
    await device.close();
    await a.restart();
  });

  it('mid-stream: every send is delivered or refused, none lost silently', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(a.wsUrl, { hostKey, deviceKey, host, device });
    const received = new Set<string>();
    host.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { t: string; env?: { mid: string } };
      if (m.t === 'deliver' && m.env) received.add(m.env.mid);
    });
    const refused = new Map<string, string>();
    const sent: { rid: string; mid: string }[] = [];
    device.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { t: string; rid?: string; code?: string };
      if (m.t === 'error' && m.rid !== undefined) refused.set(m.rid, m.code!);
    });
    let killed = false;
    for (let i = 0; i < 400; i++) {
      const e = env();
      const rid = `s${i}`;
      sent.push({ rid, mid: e.mid });
      device.send({ t: 'send', rid, to: host.id!, env: e });
      if (i === 150) {
        await a.kill('SIGKILL');
        killed = true;
      } else await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(killed);
    // every outcome is in by now: an answer from node A, PUBLISH reaching nobody, or the reply timeout
    await new Promise((r) => setTimeout(r, 4000));
    await host.closed;
    const silent = sent.filter((s) => !received.has(s.mid) && !refused.has(s.rid));
    assert.deepEqual(silent, [], 'a send neither delivered nor refused');
    assert.ok(received.size >= 100, `delivered before the kill: ${received.size}`);
    const codes = new Set(refused.values());
    for (const c of codes) assert.ok(['not_found', 'unavailable'].includes(c), c);
    assert.ok(refused.size > 0);
    // nothing delivered was also refused
    for (const s of sent) assert.ok(!(received.has(s.mid) && refused.has(s.rid)), s.rid);
    // node B noticed node A's death (its entries lapsed) and told the device its host went offline
    assert.deepEqual(await device.next((m) => m.t === 'presence' && !m.online, 20_000), {
      t: 'presence',
      host: host.id,
      online: false,
    });
    await device.close();
  });
});

describe('relay fleet: a live terminal while its node dies', () => {
  let fleet: StartedFleet;
  let host: OpenedHost | undefined;
  let device: Device | undefined;
  let home: string;
  before(async () => {
    fleet = await startFleet(2);
    home = mkdtempSync(join(tmpdir(), 'pocketshell-fleet-host-'));
  });
  after(async () => {
    await device?.close();
    await host?.close();
    await fleet?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('the terminal stays up, the host and the device reconnect to the other node', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    host = await openLoopbackHost(a.wsUrl, home, { relayFallbackUrls: [b.wsUrl] });
    host.agent.start();
    device = new Device({
      keyPair: generateKeyPair(),
      relayUrl: a.wsUrl,
      relayFallbackUrls: [b.wsUrl],
      WebSocket: WebSocket as unknown as WebSocketFactory,
      engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
      localAddressFilter: isLoopbackIPv4,
      minBackoffMs: 50,
      maxBackoffMs: 500,
    });
    device.start();
    const d = device;
    const { host: hostInfo } = await pairNodeDevice(host.agent, d, { webUrl: a.url, name: 'fleet phone' });
    const conn = await device.connect(hostInfo.id);
    const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
    term.write('echo before-$((20+1))\r');
    await waitForText(term, /before-21\r\n/);

    await a.kill('SIGKILL');
    // the peer connection does not go through the relay: the terminal answers at once
    term.write('echo during-$((20+2))\r');
    await waitForText(term, /during-22\r\n/);

    const agent = host.agent;
    await until(() => agent.relay.state === 'ready' && agent.relay.url === b.wsUrl, 20_000);
    await until(() => d.relay.state === 'ready' && d.relay.url === b.wsUrl, 20_000);
    term.write('echo after-$((20+3))\r');
    await waitForText(term, /after-23\r\n/);
    // signaling runs through node B now: a second connection works
    const again = await device.connect(hostInfo.id);
    const t2 = await again.openTerminal('new', { cols: 80, rows: 24 });
    t2.write('echo second-$((6*7))\r');
    await waitForText(t2, /second-42\r\n/);
    await again.close();
    await conn.close();
  });
});

describe('relay fleet: Redis restarts', () => {
  let fleet: StartedFleet;
  before(async () => {
    fleet = await startFleet(2);
  });
  after(async () => {
    await fleet?.stop();
  });

  it('readiness fails while Redis is away; routing between nodes comes back without reconnecting clients', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(a.wsUrl, { hostKey, deviceKey, host, device });
    assert.equal((await fetch(`${a.url}/readyz`)).status, 200);

    await fleet.redis.kill();
    assert.equal((await fetch(`${a.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${a.url}/healthz`)).status, 200, 'the node itself is alive');
    assert.notEqual(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'ok');

    // an empty Redis: each node registers its identities again at its next heartbeat
    await fleet.redis.restart();
    await until(async () => (await fetch(`${b.url}/readyz`)).status === 200, 20_000);
    let delivered = false;
    for (let i = 0; i < 100 && !delivered; i++) {
      const e = env();
      device.send({ t: 'send', rid: `r${i}`, to: host.id!, env: e });
      const first = await Promise.race([
        host.next((m) => m.t === 'deliver' && m.env.mid === e.mid, 2000).then(() => 'delivered'),
        device.next((m) => m.t === 'error' && m.rid === `r${i}`, 2000).then((m) => code(m)),
      ]).catch(() => 'silent');
      if (first === 'delivered') delivered = true;
      else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(delivered, 'a send crosses nodes again');
    assert.equal(host.queued.filter((m) => m.t === 'error').length, 0);
    await Promise.all([host.close(), device.close()]);
  });
});

describe('relay fleet on one machine: two nodes on one SQLite file', () => {
  let fleet: StartedFleet;
  before(async () => {
    fleet = await startFleet(2, { store: 'sqlite' });
  });
  after(async () => {
    await fleet?.stop();
  });

  it('pairs across the nodes and routes both ways', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    for (const n of fleet.nodes) assert.match(n.logs(), /"store":"sqlite"/);
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(b.wsUrl, { hostKey, deviceKey, host, device });
    const e1 = env();
    device.send({ t: 'send', to: host.id!, env: e1 });
    assert.deepEqual(await host.next((m) => m.t === 'deliver'), { t: 'deliver', from: device.id, env: e1 });
    const e2 = env();
    host.send({ t: 'send', to: device.id!, env: e2 });
    assert.deepEqual(await device.next((m) => m.t === 'deliver'), { t: 'deliver', from: host.id, env: e2 });
    await Promise.all([host.close(), device.close()]);
  });
});
