/**
 * Routing and presence against a real relay process: `send` only between
 * parties with a live pairing (`not_paired` otherwise), revocation removes
 * the route at once and tells the other side, and a device learns when its
 * paired hosts come and go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@pocketshell/protocol';
import { replyCode as code, junkEnvelope as env } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';

describe('routing', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay.stop();
  });

  it('refuses send to an unpaired, unknown or same-role party with not_paired', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    const stranger = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    assert.equal(code(await stranger.request({ t: 'send', to: host.id!, env: env() })), 'not_paired');
    assert.equal(code(await host.request({ t: 'send', to: stranger.id!, env: env() })), 'not_paired');
    assert.equal(code(await stranger.request({ t: 'send', to: device.id!, env: env() })), 'not_paired');
    assert.equal(
      code(await device.request({ t: 'send', to: `h_${'a'.repeat(26)}`, env: env() })),
      'not_paired',
    );
    assert.equal(host.queued.filter((m) => m.t === 'deliver').length, 0);
    await Promise.all([host.close(), device.close(), stranger.close()]);
  });

  it('after pair.revoke the route is gone at once and the other side is told', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    device.send({ t: 'send', to: host.id!, env: env() });
    await host.next((m) => m.t === 'deliver');
    assert.equal(code(await device.request({ t: 'pair.revoke', peer: host.id! })), 'ok');
    assert.deepEqual(await host.next((m) => m.t === 'pair.revoked'), { t: 'pair.revoked', from: device.id });
    // the very next message either way is refused
    assert.equal(code(await host.request({ t: 'send', to: device.id!, env: env() })), 'not_paired');
    assert.equal(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'not_paired');
    assert.equal(code(await device.request({ t: 'pair.revoke', peer: host.id! })), 'not_paired');
    await Promise.all([host.close(), device.close()]);
  });

  it('a host can revoke too', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    assert.equal(code(await host.request({ t: 'pair.revoke', peer: device.id! })), 'ok');
    assert.deepEqual(await device.next((m) => m.t === 'pair.revoked'), { t: 'pair.revoked', from: host.id });
    assert.equal(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'not_paired');
    await Promise.all([host.close(), device.close()]);
  });

  it('delivers to every connection of the recipient; a paired but offline peer is not_found', async () => {
    const { host, device, deviceKey, hostKey } = await pairClients(relay.wsUrl);
    const second = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: deviceKey });
    const e = env();
    host.send({ t: 'send', to: device.id!, env: e });
    await device.next((m) => m.t === 'deliver');
    await second.next((m) => m.t === 'deliver');
    await host.close();
    assert.equal(code(await device.request({ t: 'send', to: host.id!, env: env() })), 'not_found');
    const back = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey });
    device.send({ t: 'send', to: back.id!, env: e });
    assert.deepEqual(await back.next((m) => m.t === 'deliver'), { t: 'deliver', from: device.id, env: e });
    await Promise.all([back.close(), device.close(), second.close()]);
  });

  it('tells a device when its paired hosts come and go, and their state at connect', async () => {
    const { host, device, hostKey, deviceKey } = await pairClients(relay.wsUrl);
    await device.next((m) => m.t === 'presence' && m.online);
    await host.close();
    assert.deepEqual(await device.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: false,
    });
    const host2 = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey });
    assert.deepEqual(await device.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: true,
    });
    // a second device connection learns the current state right after ready
    const late = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: deviceKey });
    assert.deepEqual(await late.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: true,
    });
    // a second host connection is not a change; closing one of two is not either
    const host3 = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey });
    await host3.close();
    await host2.close();
    assert.deepEqual(await device.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host.id,
      online: false,
    });
    assert.equal(device.queued.filter((m) => m.t === 'presence').length, 0);
    await Promise.all([device.close(), late.close()]);
  });

  it('hands out no TURN credentials when none are configured', async () => {
    const c = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    assert.equal(code(await c.request({ t: 'turn.credentials' })), 'unsupported');
    await c.close();
  });
});
