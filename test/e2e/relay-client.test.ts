/**
 * The shared relay client against a real relay process: authentication,
 * pairing through the relay with the protocol's pairing functions, sealed
 * traffic both ways, presence, reconnection after kill -9, and refusal of a
 * challenge naming another origin.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  deviceIdOf,
  generateKeyPair,
  hostIdOf,
  type KeyPair,
  makePairAccept,
  makePairRequest,
  openJson,
  openPairAccept,
  openPairRequest,
  RelayClient,
  type RelayClientEvents,
  type ServerMessage,
  sealJson,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { WebSocket } from 'ws';

let relay: StartedRelay;
const clients: RelayClient[] = [];

before(async () => {
  relay = await startRelay();
});
after(async () => {
  for (const c of clients) c.close();
  await relay.stop();
});

function client(role: 'host' | 'device', keyPair: KeyPair, url = relay.wsUrl): RelayClient {
  const c = new RelayClient({
    url,
    role,
    keyPair,
    WebSocket: WebSocket as unknown as ConstructorParameters<typeof RelayClient>[0]['WebSocket'],
    minBackoffMs: 50,
    maxBackoffMs: 400,
  });
  clients.push(c);
  c.start();
  return c;
}

/** Resolves with the next event of `name` matching `pred`. */
function next<K extends keyof RelayClientEvents>(
  c: RelayClient,
  name: K,
  pred: (v: RelayClientEvents[K]) => boolean = () => true,
  ms = 15_000,
): Promise<RelayClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${String(name)}`));
    }, ms);
    const off = c.on(name, (v) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

const message = <T extends ServerMessage['t']>(c: RelayClient, t: T) =>
  next(c, 'message', (m) => m.t === t) as Promise<Extract<ServerMessage, { t: T }>>;

test('pair through the relay, talk sealed both ways, survive a relay kill -9', async () => {
  const hostKey = generateKeyPair();
  const deviceKey = generateKeyPair();
  const host = client('host', hostKey);
  const device = client('device', deviceKey);
  await Promise.all([host.waitReady(), device.waitReady()]);
  assert.equal(host.id, hostIdOf(hostKey.publicKey));

  // Pairing: the host makes a claim; the "QR" carries it with the host key.
  const created = await host.request({ t: 'pair.create' });
  const link = {
    webUrl: relay.url,
    claim: Buffer.from(created.claim, 'base64url'),
    hostPub: hostKey.publicKey,
  };
  const now = () => Math.floor(Date.now() / 1000);
  const incoming = message(host, 'pair.request');
  const redeem = makePairRequest({ link, device: deviceKey, name: 'test phone', now: now() });
  await device.request({ t: 'pair.redeem', ...redeem });
  const verified = openPairRequest({ host: hostKey, claim: link.claim, message: await incoming, now: now() });
  assert.equal(verified.name, 'test phone');
  assert.equal(verified.deviceId, device.id);

  const accepted = message(device, 'pair.accepted');
  const env = makePairAccept({
    host: hostKey,
    devicePub: verified.devicePub,
    claim: link.claim,
    hostName: 'box',
    grants: ['shell'],
    now: now(),
  });
  await host.request({ t: 'pair.accept', to: verified.deviceId, env });
  const pinned = openPairAccept({ device: deviceKey, link, message: await accepted, now: now() });
  assert.deepEqual(pinned.grants, ['shell']);

  // Sealed traffic both ways.
  const roundTrip = async (label: string) => {
    const got = message(host, 'deliver');
    device.send(
      host.id,
      sealJson({
        kind: 'hangup',
        body: { conn: 'conn0001', reason: label },
        senderId: deviceIdOf(deviceKey.publicKey),
        senderSecret: deviceKey.secretKey,
        recipientId: host.id,
        recipientPublic: hostKey.publicKey,
      }),
    );
    const d = await got;
    assert.equal(d.from, device.id);
    const body = openJson({
      envelope: d.env,
      senderId: d.from,
      senderPublic: verified.devicePub,
      recipientId: host.id,
      recipientSecret: hostKey.secretKey,
    });
    assert.deepEqual(body, { conn: 'conn0001', reason: label });
  };
  await roundTrip('before');

  // Relay killed without warning, then back: both clients reconnect by themselves.
  const hostDown = next(host, 'disconnected');
  await relay.kill('SIGKILL');
  await hostDown;
  const hostBack = next(host, 'ready');
  const deviceBack = next(device, 'ready');
  await relay.restart();
  await Promise.all([hostBack, deviceBack]);
  await roundTrip('after');
});

test('a device learns when its paired host comes and goes', async () => {
  const hostKey = generateKeyPair();
  const deviceKey = generateKeyPair();
  const host = client('host', hostKey);
  const device = client('device', deviceKey);
  await Promise.all([host.waitReady(), device.waitReady()]);
  const created = await host.request({ t: 'pair.create' });
  const link = {
    webUrl: relay.url,
    claim: Buffer.from(created.claim, 'base64url'),
    hostPub: hostKey.publicKey,
  };
  const now = Math.floor(Date.now() / 1000);
  const incoming = message(host, 'pair.request');
  await device.request({ t: 'pair.redeem', ...makePairRequest({ link, device: deviceKey, name: 'p', now }) });
  const v = openPairRequest({ host: hostKey, claim: link.claim, message: await incoming, now });
  const env = makePairAccept({
    host: hostKey,
    devicePub: v.devicePub,
    claim: link.claim,
    hostName: 'h',
    grants: [],
    now,
  });
  await host.request({ t: 'pair.accept', to: v.deviceId, env });

  const offline = next(device, 'message', (m) => m.t === 'presence' && m.host === host.id && !m.online);
  host.close();
  await offline;
  const host2 = client('host', hostKey);
  const online = await next(device, 'message', (m) => m.t === 'presence' && m.host === host2.id && m.online);
  assert.equal(online.t, 'presence');
});

test('a challenge naming another origin is refused before anything is signed', async () => {
  // This relay says it is relay.invalid (its public URL); we dial it on loopback.
  const named = await startRelay({ args: ['--public-url', 'http://relay.invalid:8080'] });
  try {
    const c = client('device', generateKeyPair(), named.wsUrl);
    const { reason } = await next(c, 'disconnected');
    assert.match(reason, /challenge names ws:\/\/relay\.invalid:8080, not ws:\/\/127\.0\.0\.1:\d+/);
    assert.notEqual(c.state, 'ready');
    c.close();
  } finally {
    await named.stop();
  }
});

test('requests reject with the relay’s code', async () => {
  const device = client('device', generateKeyPair());
  await device.waitReady();
  await assert.rejects(device.request({ t: 'pair.create' }), (e: Error & { code?: string }) => {
    assert.ok(['unauthorized', 'bad_message', 'not_paired'].includes(e.code ?? ''), e.code);
    return true;
  });
  device.close();
  await assert.rejects(
    device.request({ t: 'turn.credentials' }),
    (e: Error & { code?: string }) => e.code === 'unavailable',
  );
});

test('fallback URLs are tried in turn: a dead first node, then the next one', async () => {
  const c = new RelayClient({
    url: 'ws://127.0.0.1:1/ws',
    fallbackUrls: [relay.wsUrl],
    role: 'device',
    keyPair: generateKeyPair(),
    WebSocket: WebSocket as unknown as ConstructorParameters<typeof RelayClient>[0]['WebSocket'],
    minBackoffMs: 50,
    maxBackoffMs: 400,
  });
  clients.push(c);
  const reasons: string[] = [];
  c.on('disconnected', ({ reason }) => reasons.push(reason));
  c.start();
  await c.waitReady(15_000);
  assert.equal(c.url, relay.wsUrl);
  assert.match(reasons[0] ?? '', /ECONNREFUSED|closed/);
  // authenticated on the fallback (its challenge's origin checked against the URL dialled), and talking
  await assert.rejects(c.request({ t: 'pair.create' }), (e: { code?: string }) => e.code === 'bad_message');
  c.close();
});
