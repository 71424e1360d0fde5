/**
 * A fleet behind HAProxy (test/support/haproxy.ts: Debian's haproxy on
 * loopback, HTTP mode with WebSocket upgrades, `/readyz` health checks, the
 * configuration docs/operations.md prints), as phones see it: one URL, no
 * list of nodes. A real host agent and a Node device connect through the
 * balancer and land on node 0 (`balance first`); node 0 is killed with
 * SIGKILL; HAProxy marks it down and both reconnect through the same URL to
 * node 1, while their live terminal (peer-to-peer) keeps answering. After
 * that, signaling works through node 1 (a second terminal), and a new
 * device pairs through the balancer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Device } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { isLoopbackIPv4, WeriftEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import { openLoopbackHost, until, waitForText } from '../support/cli.ts';
import { held, type StartedFleet, startFleet } from '../support/fleet.ts';
import { type StartedHaproxy, startHaproxy } from '../support/haproxy.ts';
import { pairNodeDevice } from '../support/pair.ts';

function nodeDevice(relayUrl: string): Device {
  return new Device({
    keyPair: generateKeyPair(),
    relayUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
}

describe('relay fleet behind HAProxy: a node dies, clients fail over through the same URL', () => {
  let fleet: StartedFleet;
  let lb: StartedHaproxy;
  let host: OpenedHost | undefined;
  const devices: Device[] = [];
  let home: string;
  before(async () => {
    // behind a proxy: client addresses come from X-Forwarded-For
    fleet = await startFleet(2, { args: ['--trust-proxy'] });
    lb = await startHaproxy(
      fleet.nodes.map((n, i) => {
        const u = new URL(n.url);
        return { name: `n${i}`, host: u.hostname, port: Number(u.port) };
      }),
      { balance: 'first' },
    );
    home = mkdtempSync(join(tmpdir(), 'pocketshell-fleet-lb-'));
  });
  after(async () => {
    for (const d of devices) await d.close();
    await host?.close();
    await lb?.stop();
    await fleet?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('the terminal stays up; host and device reconnect to node 1; pairing and signaling work after', async () => {
    const [a, b] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];
    assert.deepEqual(
      await lb.serverState(),
      new Map([
        ['n0', 'UP'],
        ['n1', 'UP'],
      ]),
    );
    host = await openLoopbackHost(lb.wsUrl, home);
    host.agent.start();
    const device = nodeDevice(lb.wsUrl);
    devices.push(device);
    device.start();
    const { host: hostInfo } = await pairNodeDevice(host.agent, device, {
      webUrl: lb.url,
      name: 'phone behind the balancer',
    });
    // both went through the balancer to node 0
    assert.deepEqual(await held(a.url), { host: 1, device: 1 });
    assert.deepEqual(await held(b.url), { host: 0, device: 0 });
    const conn = await device.connect(hostInfo.id);
    const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
    term.write('echo before-$((20+1))\r');
    await waitForText(term, /before-21\r\n/);

    await a.kill('SIGKILL');
    // the peer connection does not go through the relay: the terminal answers at once
    term.write('echo during-$((20+2))\r');
    await waitForText(term, /during-22\r\n/);
    await until(async () => (await lb.serverState()).get('n0') === 'DOWN', 20_000);
    // same URL, other node
    await until(async () => {
      const h = await held(b.url);
      return h.host === 1 && h.device === 1;
    }, 20_000);
    const agent = host.agent;
    await until(() => agent.relay.state === 'ready' && device.relay.state === 'ready', 20_000);
    assert.equal(agent.relay.url, lb.wsUrl);
    assert.equal(device.relay.url, lb.wsUrl);
    term.write('echo after-$((20+3))\r');
    await waitForText(term, /after-23\r\n/);

    // signaling (send/deliver through the relay) runs through node 1 now: a second connection works
    const again = await device.connect(hostInfo.id);
    const t2 = await again.openTerminal('new', { cols: 80, rows: 24 });
    t2.write('echo second-$((6*7))\r');
    await waitForText(t2, /second-42\r\n/);

    // and a new device pairs through the balancer
    const phone2 = nodeDevice(lb.wsUrl);
    devices.push(phone2);
    phone2.start();
    const { host: paired2Host } = await pairNodeDevice(agent, phone2, {
      webUrl: lb.url,
      name: 'second phone',
    });
    assert.equal(paired2Host.id, hostInfo.id);
    const c3 = await phone2.connect(hostInfo.id);
    const t3 = await c3.openTerminal('new', { cols: 80, rows: 24 });
    t3.write('echo third-$((7*7))\r');
    await waitForText(t3, /third-49\r\n/);
    assert.deepEqual(await held(b.url), { host: 1, device: 2 });
    await c3.close();
    await again.close();
    await conn.close();
  });
});
