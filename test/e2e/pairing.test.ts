/**
 * Pairing completes on both sides or not at all: a real relay process, a
 * host agent on its own state folder, and devices on the relay. A device
 * that redeems the link (and so has shown the SAS) but never completes —
 * its page went away, as when a pairing link opened in an already-loaded
 * tab tore the pairing screen down — leaves nothing pinned on the host and
 * no pairing at the relay, even after the person confirmed on the computer.
 * A device that completes is pinned on both sides.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device } from '@pocketshell/client';
import { isLoopbackIPv4, type OpenedHost, openHost, statePaths, WeriftEngine } from '@pocketshell/host-core';
import {
  generateKeyPair,
  makePairRequest,
  parsePairUrl,
  RelayClient,
  type ServerMessage,
  sealJson,
  type WebSocketFactory,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { WebSocket } from 'ws';
import { loopbackDevice } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

let relay: StartedRelay;
let home: string;
let host: OpenedHost;
const closers: (() => unknown)[] = [];

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-pairing-'));
  host = await openHost({
    paths: statePaths({ root: join(home, 'state') }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  host.agent.start();
});

after(async () => {
  for (const c of closers) await c();
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

function audit(): { event: string; code?: string; what?: string; device?: string }[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; code?: string; what?: string; device?: string });
}

test('a device that redeems the link but never completes leaves nothing pinned on the host', async () => {
  const key = generateKeyPair();
  const device = new RelayClient({
    url: relay.wsUrl,
    role: 'device',
    keyPair: key,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  closers.push(() => device.close());
  device.start();
  await device.waitReady();
  const seen: ServerMessage['t'][] = [];
  device.on('message', (m) => seen.push(m.t));
  let confirmed = false;
  const pairing = host.agent.pair({
    webUrl: relay.url,
    deviceTimeoutMs: 1500,
    onUrl: (url) => {
      // The device redeems (its screen shows the SAS) and then its pairing screen goes away.
      const link = parsePairUrl(url);
      const now = Math.floor(Date.now() / 1000);
      void device.request({ t: 'pair.redeem', ...makePairRequest({ link, device: key, name: 'gone', now }) });
    },
    confirm: async () => {
      confirmed = true;
      return true;
    },
  });
  await assert.rejects(pairing, { code: 'timeout' });
  assert.ok(confirmed, 'the person confirmed on the computer');
  assert.ok(seen.includes('pair.accepted'), 'the device was sent the acceptance');
  assert.deepEqual(host.trust.list(), [], 'nothing pinned on the host');
  assert.equal(host.trust.status(device.id).status, 'unknown');
  assert.ok(
    audit().some((e) => e.event === 'refusal' && e.code === 'timeout' && e.device === device.id),
    'the abandoned pairing is audited',
  );
  assert.ok(!audit().some((e) => e.event === 'pairing' && e.device === device.id));
  // The relay no longer routes between them either.
  const refused = new Promise<string>((resolve) => {
    const off = device.on('message', (m) => {
      if (m.t === 'error') {
        off();
        resolve(m.code);
      }
    });
  });
  device.send(
    host.agent.id,
    sealJson({
      kind: 'hangup',
      body: { conn: 'abcdefgh', reason: 'x' },
      senderId: device.id,
      senderSecret: key.secretKey,
      recipientId: host.agent.id,
      recipientPublic: host.identity.publicKey,
    }),
  );
  assert.equal(await refused, 'not_paired');
});

test('a device that completes is pinned on both sides', async () => {
  const device: Device = loopbackDevice(relay.wsUrl);
  closers.push(() => device.close());
  const { pinned, host: hostSide } = await pairNodeDevice(host.agent, device, {
    webUrl: relay.url,
    name: 'phone',
  });
  assert.equal(pinned.id, device.id);
  assert.equal(hostSide.id, host.agent.id);
  assert.equal(host.trust.status(device.id).status, 'paired');
});
