/**
 * Pairing end-to-end between raw protocol clients and a real relay process
 * (docs/protocol.md §4): create → redeem → request forwarded → accept → both can
 * send; expired, reused and other-host claims are `claim_invalid`; five
 * wrong redeems against a host kill its live claim; accept and reject need
 * a pending redeem.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  b64u,
  deviceIdOf,
  type Envelope,
  generateKeyPair,
  hostIdOf,
  type KeyPair,
  openJson,
  type PartyId,
  randomBytes,
  sealJson,
} from '@pocketshell/protocol';
import { replyCode as code, junkEnvelope as junk } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';

/** A `pair.request` envelope nobody can open. */
const junkEnvelope = () => junk('pair.request', 48);

async function hostWithClaim(wsUrl: string, keyPair: KeyPair = generateKeyPair()) {
  const host = await RawClient.connect(wsUrl, { role: 'host', keyPair });
  const created = await host.request({ t: 'pair.create' });
  assert.equal(created.t, 'pair.created');
  return {
    host,
    keyPair,
    claim: (created as { claim: string }).claim,
    expires: (created as { expires: number }).expires,
  };
}

describe('pairing', () => {
  let relay: StartedRelay;
  let dir: string;
  before(async () => {
    // every test client comes from 127.0.0.1: lift the per-address wrong-redeem budget so these tests
    // reach the per-claim rules (the budget itself is tested in redteam.test.ts)
    dir = mkdtempSync(join(tmpdir(), 'relay-conf-'));
    const config = join(dir, 'relay.json');
    const wide = { burst: 1000, perSecond: 1 };
    writeFileSync(
      config,
      JSON.stringify({ limits: { rates: { 'pair.wrong': { ip: wide, identity: wide } } } }),
    );
    relay = await startRelay({ args: ['--config', config] });
  });
  after(async () => {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create → redeem → request forwarded → accept → both can send', async () => {
    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const { host, device } = await pairClients(relay.wsUrl, { hostKey, deviceKey });
    const hostId = hostIdOf(hostKey.publicKey);
    const deviceId = deviceIdOf(deviceKey.publicKey);
    // the device learns the host is online
    const presence = await device.next((m) => m.t === 'presence');
    assert.deepEqual(presence, { t: 'presence', host: hostId, online: true });

    const toHost = sealJson({
      kind: 'offer',
      body: { hello: 'host' },
      senderId: deviceId,
      senderSecret: deviceKey.secretKey,
      recipientId: hostId,
      recipientPublic: hostKey.publicKey,
    });
    device.send({ t: 'send', to: hostId, env: toHost });
    const atHost = await host.next((m) => m.t === 'deliver');
    assert.deepEqual(atHost, { t: 'deliver', from: deviceId, env: toHost });
    const opened = openJson({
      envelope: (atHost as { env: Envelope }).env,
      senderId: deviceId,
      senderPublic: deviceKey.publicKey,
      recipientId: hostId,
      recipientSecret: hostKey.secretKey,
    });
    assert.deepEqual(opened, { hello: 'host' });

    const toDevice = junkEnvelope();
    host.send({ t: 'send', rid: 'h1', to: deviceId, env: toDevice });
    assert.deepEqual(await device.next((m) => m.t === 'deliver'), {
      t: 'deliver',
      from: hostId,
      env: toDevice,
    });
    await Promise.all([host.close(), device.close()]);
  });

  it('forwards pair.request with the device key and answers the device ok', async () => {
    const { host, keyPair, claim } = await hostWithClaim(relay.wsUrl);
    const deviceKey = generateKeyPair();
    const device = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: deviceKey });
    const env = junkEnvelope();
    const reply = await device.request({ t: 'pair.redeem', claim, host: hostIdOf(keyPair.publicKey), env });
    assert.equal(reply.t, 'ok');
    const req = await host.next((m) => m.t === 'pair.request');
    assert.deepEqual(req, {
      t: 'pair.request',
      from: deviceIdOf(deviceKey.publicKey),
      pub: b64u(deviceKey.publicKey),
      env,
    });
    // reject: the device is told, the pending redeem is consumed
    const rej = await host.request({ t: 'pair.reject', to: deviceIdOf(deviceKey.publicKey) });
    assert.equal(rej.t, 'ok');
    assert.deepEqual(await device.next((m) => m.t === 'pair.rejected'), {
      t: 'pair.rejected',
      from: hostIdOf(keyPair.publicKey),
    });
    const late = await host.request({
      t: 'pair.accept',
      to: deviceIdOf(deviceKey.publicKey),
      env: junkEnvelope(),
    });
    assert.equal(code(late), 'claim_invalid');
    await Promise.all([host.close(), device.close()]);
  });

  it('refuses a reused claim, a claim for another host, and accept without a redeem', async () => {
    const a = await hostWithClaim(relay.wsUrl);
    const b = await hostWithClaim(relay.wsUrl);
    const device = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    const hostA = hostIdOf(a.keyPair.publicKey);
    const hostB = hostIdOf(b.keyPair.publicKey);

    // A's claim presented for host B
    assert.equal(
      code(await device.request({ t: 'pair.redeem', claim: a.claim, host: hostB, env: junkEnvelope() })),
      'claim_invalid',
    );
    // used once (fine), then reused
    assert.equal(
      code(await device.request({ t: 'pair.redeem', claim: a.claim, host: hostA, env: junkEnvelope() })),
      'ok',
    );
    assert.equal(
      code(await device.request({ t: 'pair.redeem', claim: a.claim, host: hostA, env: junkEnvelope() })),
      'claim_invalid',
    );
    // an unknown claim
    assert.equal(
      code(
        await device.request({
          t: 'pair.redeem',
          claim: b64u(randomBytes(16)),
          host: hostB,
          env: junkEnvelope(),
        }),
      ),
      'claim_invalid',
    );
    // B never had this device redeem: accept is refused
    const other = deviceIdOf(generateKeyPair().publicKey);
    assert.equal(
      code(await b.host.request({ t: 'pair.accept', to: other, env: junkEnvelope() })),
      'claim_invalid',
    );
    assert.equal(code(await b.host.request({ t: 'pair.reject', to: other })), 'claim_invalid');
    // roles: a device cannot create, a host cannot redeem
    assert.equal(code(await device.request({ t: 'pair.create' })), 'bad_message');
    assert.equal(
      code(await b.host.request({ t: 'pair.redeem', claim: b.claim, host: hostB, env: junkEnvelope() })),
      'bad_message',
    );
    await Promise.all([a.host.close(), b.host.close(), device.close()]);
  });

  it('burns a valid claim for a host that went offline and answers not_found', async () => {
    const { host, keyPair, claim } = await hostWithClaim(relay.wsUrl);
    await host.close();
    const device = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    const hostId = hostIdOf(keyPair.publicKey);
    let first = await device.request({ t: 'pair.redeem', claim, host: hostId, env: junkEnvelope() });
    // the relay may not have seen the close yet: then the host was still online and the redeem went through
    if (code(first) === 'ok') first = { t: 'error', code: 'not_found' };
    assert.equal(code(first), 'not_found');
    const again = await device.request({ t: 'pair.redeem', claim, host: hostId, env: junkEnvelope() });
    assert.equal(code(again), 'claim_invalid');
    await device.close();
  });

  it('kills a claim after five wrong redeems against its host; four leave it alive', async () => {
    const device = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    const wrong = async (host: PartyId, n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await device.request({
          t: 'pair.redeem',
          claim: b64u(randomBytes(16)),
          host,
          env: junkEnvelope(),
        });
        assert.equal(code(r), 'claim_invalid');
      }
    };
    const four = await hostWithClaim(relay.wsUrl);
    await wrong(hostIdOf(four.keyPair.publicKey), 4);
    assert.equal(
      code(
        await device.request({
          t: 'pair.redeem',
          claim: four.claim,
          host: hostIdOf(four.keyPair.publicKey),
          env: junkEnvelope(),
        }),
      ),
      'ok',
    );
    await device.close();

    const device2 = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    const five = await hostWithClaim(relay.wsUrl);
    const hostId = hostIdOf(five.keyPair.publicKey);
    for (let i = 0; i < 5; i++) {
      const r = await device2.request({
        t: 'pair.redeem',
        claim: b64u(randomBytes(16)),
        host: hostId,
        env: junkEnvelope(),
      });
      assert.equal(code(r), 'claim_invalid');
    }
    // the sixth redeem, now with the right claim, finds it dead
    assert.equal(
      code(await device2.request({ t: 'pair.redeem', claim: five.claim, host: hostId, env: junkEnvelope() })),
      'claim_invalid',
    );
    await Promise.all([four.host.close(), five.host.close(), device2.close()]);
  });
});

describe('claim expiry', () => {
  let relay: StartedRelay;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-conf-'));
    const config = join(dir, 'relay.json');
    writeFileSync(config, JSON.stringify({ limits: { claimTtlSeconds: 1 } }));
    relay = await startRelay({ args: ['--config', config] });
  });
  after(async () => {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an expired claim', async () => {
    const { host, keyPair, claim, expires } = await hostWithClaim(relay.wsUrl);
    const device = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    // waiting out a clock, not synchronizing: the claim's own expiry time is the event
    while (Date.now() / 1000 <= expires + 0.2) await sleep(100);
    const r = await device.request({
      t: 'pair.redeem',
      claim,
      host: hostIdOf(keyPair.publicKey),
      env: junkEnvelope(),
    });
    assert.equal(code(r), 'claim_invalid');
    await Promise.all([host.close(), device.close()]);
  });
});
