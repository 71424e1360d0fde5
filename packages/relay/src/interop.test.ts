/**
 * The relay against the protocol package's own `RelayClient` and pairing
 * functions (the code hosts and devices run), not just raw frames: a full
 * pairing with matching SAS digits, sealed traffic both ways, presence, and
 * both clients reconnecting by themselves after the relay is killed and
 * restarted, with the pairing intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  deviceIdOf,
  generateKeyPair,
  hostIdOf,
  makePairAccept,
  makePairRequest,
  openJson,
  openPairAccept,
  openPairRequest,
  RelayClient,
  type ServerMessage,
  sealJson,
} from '@pocketshell/protocol';
import { WebSocket } from 'ws';
import { type StartedRelay, startRelay } from './testing.ts';

/** Resolves with the first `message` event matching `predicate`. */
function nextMessage<T extends ServerMessage>(
  client: RelayClient,
  predicate: (m: ServerMessage) => m is T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('no matching message in time'));
    }, 15_000);
    const off = client.on('message', (m) => {
      if (predicate(m)) {
        clearTimeout(timer);
        off();
        resolve(m);
      }
    });
  });
}

describe('interop with @pocketshell/protocol RelayClient', () => {
  let relay: StartedRelay;
  const clients: RelayClient[] = [];
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    for (const c of clients) c.close();
    await relay.stop();
  });

  const client = (role: 'host' | 'device', keyPair = generateKeyPair()) => {
    const c = new RelayClient({
      url: relay.wsUrl,
      role,
      keyPair,
      WebSocket: WebSocket as never,
      minBackoffMs: 50,
      maxBackoffMs: 200,
      tickMs: 200,
    });
    clients.push(c);
    c.start();
    return c;
  };

  it('pairs with matching SAS, routes sealed traffic, and survives a relay restart', async () => {
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const hostId = hostIdOf(hostKey.publicKey);
    const deviceId = deviceIdOf(deviceKey.publicKey);
    const host = client('host', hostKey);
    const device = client('device', deviceKey);
    await Promise.all([host.waitReady(), device.waitReady()]);

    const created = await host.request({ t: 'pair.create' });
    const link = {
      webUrl: relay.url,
      claim: Buffer.from(created.claim, 'base64url'),
      hostPub: hostKey.publicKey,
    };
    const now = () => Math.floor(Date.now() / 1000);
    const requested = nextMessage(
      host,
      (m): m is Extract<ServerMessage, { t: 'pair.request' }> => m.t === 'pair.request',
    );
    await device.request({
      t: 'pair.redeem',
      ...makePairRequest({ link, device: deviceKey, name: 'phone', now: now() }),
    });
    const req = openPairRequest({ host: hostKey, claim: link.claim, message: await requested, now: now() });
    assert.equal(req.deviceId, deviceId);
    assert.equal(req.name, 'phone');

    const accepted = nextMessage(
      device,
      (m): m is Extract<ServerMessage, { t: 'pair.accepted' }> => m.t === 'pair.accepted',
    );
    const online = nextMessage(
      device,
      (m): m is Extract<ServerMessage, { t: 'presence' }> => m.t === 'presence' && m.online,
    );
    const env = makePairAccept({
      host: hostKey,
      devicePub: req.devicePub,
      claim: link.claim,
      hostName: 'box',
      grants: ['shell', 'stats'],
      now: now(),
    });
    await host.request({ t: 'pair.accept', to: deviceId, env });
    const acc = openPairAccept({ device: deviceKey, link, message: await accepted, now: now() });
    assert.deepEqual(acc, { hostId, hostName: 'box', grants: ['shell', 'stats'] });
    await online;

    const roundTrip = async () => {
      const delivered = nextMessage(
        host,
        (m): m is Extract<ServerMessage, { t: 'deliver' }> => m.t === 'deliver',
      );
      device.send(
        hostId,
        sealJson({
          kind: 'offer',
          body: { n: 1 },
          senderId: deviceId,
          senderSecret: deviceKey.secretKey,
          recipientId: hostId,
          recipientPublic: hostKey.publicKey,
        }),
      );
      const d = await delivered;
      assert.deepEqual(
        openJson({
          envelope: d.env,
          senderId: d.from,
          senderPublic: deviceKey.publicKey,
          recipientId: hostId,
          recipientSecret: hostKey.secretKey,
        }),
        { n: 1 },
      );
    };
    await roundTrip();

    const ready = (c: RelayClient) => new Promise<void>((resolve) => c.once('ready', () => resolve()));
    const reconnected = Promise.all([ready(host), ready(device)]);
    await relay.kill('SIGKILL');
    await relay.restart();
    await reconnected;
    await roundTrip();
  });
});
