/**
 * Web Push through a real relay process (SQLite store) to the test push
 * service (test/support/push-service.ts, which checks VAPID and decrypts):
 * `push.key`, subscribe (allowlist, keys, pairing, cap), `push.send` (host
 * only, paired, kind `alert`, size cap, rate limit per host and device),
 * the Web Push message itself (TTL, Urgency, the `{from, env}` payload),
 * unsubscribe, 404/410 cleanup, subscriptions gone with the last pairing,
 * `--no-push`, and no endpoint in the logs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { type DeviceId, type Envelope, fromB64u, generateKeyPair, type HostId } from '@pocketshell/protocol';
import { DATABASE_FILE } from '@pocketshell/relay';
import {
  junkEnvelope,
  limitsConfig,
  type PairedClients,
  pairClients,
  RawClient,
  replyCode,
  type StartedRelay,
  startRelay,
} from '@pocketshell/relay/testing';
import { TestPushService } from '../support/push-service.ts';

let service: TestPushService;
let relay: StartedRelay;
const open: PairedClients[] = [];

before(async () => {
  service = await TestPushService.start();
  relay = await startRelay({
    args: [
      '--log-level',
      'debug',
      '--push-endpoint-host',
      service.hostPort,
      // a name on the allowlist that resolves to loopback: stored, but never contacted
      '--push-endpoint-host',
      `localhost:${service.hostPort.split(':')[1]}`,
      '--config',
      // one (host, device) pair may push 3 at once, then (practically) no more
      limitsConfig({ rates: { 'push.device': { identity: { burst: 3, perSecond: 0.001 } } } }),
    ],
    env: { NODE_EXTRA_CA_CERTS: service.caFile },
  });
});

after(async () => {
  for (const p of open) {
    await p.host.close();
    await p.device.close();
  }
  await relay?.stop();
  await service?.stop();
});

type Pair = PairedClients & { hostId: HostId; deviceId: DeviceId };

async function pair(wsUrl = relay.wsUrl): Promise<Pair> {
  const p = await pairClients(wsUrl);
  open.push(p);
  return { ...p, hostId: p.host.id as HostId, deviceId: p.device.id as DeviceId };
}

/** The endpoints the relay's database holds for `device` (read beside the running relay). */
function storedEndpoints(device: DeviceId): string[] {
  const db = new DatabaseSync(join(relay.dataDir, DATABASE_FILE), { readOnly: true });
  try {
    return (
      db
        .prepare('SELECT endpoint FROM push_subscriptions WHERE device_id = ? ORDER BY endpoint')
        .all(device) as { endpoint: string }[]
    ).map((r) => r.endpoint);
  } finally {
    db.close();
  }
}

/** The relay's push counter for `outcome`. */
async function pushed(outcome: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const m = new RegExp(`^pocketshell_relay_push_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Waits until the relay counted `n` pushes with `outcome` (it sends after answering `ok`). */
async function untilPushed(outcome: string, n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await pushed(outcome)) >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the relay did not count ${n} ${outcome} pushes (has ${await pushed(outcome)})`);
}

describe('Web Push through the relay', () => {
  it('gives devices its VAPID key, the same after a restart', async () => {
    const p = await pair();
    const r = await p.device.request({ t: 'push.key' });
    assert.equal(r.t, 'push.vapid');
    const key = (r as { key: string }).key;
    assert.equal(fromB64u(key).length, 65);
    assert.equal(replyCode(await p.host.request({ t: 'push.key' })), 'bad_message', 'for devices');
    const again = await p.device.request({ t: 'push.key' });
    assert.equal((again as { key: string }).key, key);
  });

  it('refuses subscriptions it must not store', async () => {
    const p = await pair();
    const sub = service.subscribe();
    const base = { t: 'push.subscribe', endpoint: sub.endpoint, p256dh: sub.p256dh, auth: sub.auth };
    const code = async (c: RawClient, m: object) => replyCode(await c.request(m as { t: string }));
    assert.equal(
      await code(p.device, { ...base, endpoint: 'https://evil.example/push/1' }),
      'push_endpoint_refused',
    );
    assert.equal(
      await code(p.device, {
        ...base,
        endpoint: `https://[::1]:${service.hostPort.split(':')[1]}/push/1`,
      }),
      'push_endpoint_refused',
      'the allowlist names 127.0.0.1 and localhost, not ::1',
    );
    assert.equal(
      await code(p.device, { ...base, endpoint: 'https://127.0.0.1:1/push/1' }),
      'push_endpoint_refused',
    );
    assert.equal(
      await code(p.device, { ...base, endpoint: `http://${service.hostPort}/push/1` }),
      'bad_message',
    );
    assert.equal(await code(p.device, { ...base, p256dh: sub.auth }), 'bad_key');
    assert.equal(await code(p.host, base), 'bad_message', 'for devices');
    // a device with no pairing has nothing to be told about
    const stranger = await RawClient.connect(relay.wsUrl, {
      role: 'device',
      keyPair: generateKeyPair(),
    });
    assert.equal(await code(stranger, base), 'not_paired');
    await stranger.close();
    assert.deepEqual(storedEndpoints(p.deviceId), []);
    // nine endpoints: the ninth is over the cap
    for (let i = 0; i < 8; i++) {
      const s = service.subscribe();
      assert.equal(
        await code(p.device, { ...base, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth }),
        'ok',
      );
    }
    assert.equal(await code(p.device, base), 'limit_reached');
    assert.equal(storedEndpoints(p.deviceId).length, 8);
    assert.equal(await code(p.device, { t: 'push.unsubscribe' }), 'ok');
    assert.deepEqual(storedEndpoints(p.deviceId), []);
  });

  it('delivers a sealed alert to the device’s connections and as Web Push the service can verify and decrypt', async () => {
    const p = await pair();
    const sub = service.subscribe();
    const ok = await p.device.request({
      t: 'push.subscribe',
      endpoint: sub.endpoint,
      p256dh: sub.p256dh,
      auth: sub.auth,
    });
    assert.equal(replyCode(ok), 'ok');
    assert.deepEqual(storedEndpoints(p.deviceId), [sub.endpoint]);
    const key = ((await p.device.request({ t: 'push.key' })) as { key: string }).key;
    const env = junkEnvelope('alert', 300);
    assert.equal(
      replyCode(await p.host.request({ t: 'push.send', to: p.deviceId, env, urgency: 'high' })),
      'ok',
    );
    const delivered = await p.device.next((m) => m.t === 'deliver');
    assert.deepEqual(delivered, { t: 'deliver', from: p.hostId, env });
    const [got] = await service.waitFor(sub.id);
    assert.equal(got!.status, 201, got!.error);
    assert.deepEqual(JSON.parse(got!.plaintext!), { from: p.hostId, env });
    assert.equal(got!.urgency, 'high');
    assert.equal(got!.ttl, 86_400);
    assert.equal(got!.vapidKey, key, 'signed with the key the relay gives devices');
    assert.equal(got!.claims!.aud, service.origin);
    assert.equal(got!.claims!.sub, 'mailto:relay@pocketshell.invalid');
    // normal urgency when the host does not ask for high
    assert.equal(
      replyCode(await p.host.request({ t: 'push.send', to: p.deviceId, env: junkEnvelope('alert') })),
      'ok',
    );
    const both = await service.waitFor(sub.id, 2);
    assert.equal(both[1]!.urgency, 'normal');
    // the endpoint (a capability) is nowhere in the logs
    assert.equal(relay.logs().includes(sub.id), false);
  });

  it('refuses what a host may not push, and limits each (host, device) pair', async () => {
    const p = await pair();
    const other = await pair();
    const code = async (c: RawClient, m: object) => replyCode(await c.request(m as { t: string }));
    assert.equal(
      await code(p.device, { t: 'push.send', to: other.deviceId, env: junkEnvelope('alert') }),
      'bad_message',
    );
    assert.equal(
      await code(p.host, { t: 'push.send', to: other.deviceId, env: junkEnvelope('alert') }),
      'not_paired',
    );
    assert.equal(
      await code(p.host, { t: 'push.send', to: p.deviceId, env: junkEnvelope('offer') }),
      'bad_message',
    );
    // each (host, device) pair has its own bucket of 3 (the config above); the refused sends took none of other's
    const big: Envelope = junkEnvelope('alert', 3000);
    assert.equal(
      await code(other.host, { t: 'push.send', to: other.deviceId, env: big }),
      'bad_message',
      'size cap',
    );
    for (let i = 0; i < 2; i++) {
      assert.equal(
        await code(other.host, { t: 'push.send', to: other.deviceId, env: junkEnvelope('alert') }),
        'ok',
      );
    }
    assert.equal(
      await code(other.host, { t: 'push.send', to: other.deviceId, env: junkEnvelope('alert') }),
      'rate_limited',
    );
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    assert.match(metrics, /pocketshell_relay_refusals_total\{code="rate_limited"\} [1-9]/);
  });

  it('forgets a subscription on unsubscribe, on 410 Gone, and with the device’s last pairing', async () => {
    const p = await pair();
    const [a, b, c] = [service.subscribe(), service.subscribe(), service.subscribe()];
    for (const s of [a, b, c]) {
      const r = await p.device.request({
        t: 'push.subscribe',
        endpoint: s.endpoint,
        p256dh: s.p256dh,
        auth: s.auth,
      });
      assert.equal(replyCode(r), 'ok');
    }
    assert.equal(replyCode(await p.device.request({ t: 'push.unsubscribe', endpoint: a.endpoint })), 'ok');
    assert.deepEqual(storedEndpoints(p.deviceId), [b.endpoint, c.endpoint].sort());
    service.gone(b.id);
    const sentBefore = await pushed('sent');
    const goneBefore = await pushed('gone');
    assert.equal(
      replyCode(await p.host.request({ t: 'push.send', to: p.deviceId, env: junkEnvelope('alert') })),
      'ok',
    );
    await untilPushed('gone', goneBefore + 1);
    await untilPushed('sent', sentBefore + 1);
    assert.equal(
      service.received.filter((r) => r.subscription === a.id).length,
      0,
      'unsubscribed: nothing sent',
    );
    assert.equal((await service.waitFor(b.id))[0]!.status, 410);
    assert.equal((await service.waitFor(c.id))[0]!.status, 201);
    assert.deepEqual(storedEndpoints(p.deviceId), [c.endpoint], 'the gone one is forgotten');
    // the device's last pairing goes: so do its subscriptions
    assert.equal(replyCode(await p.device.request({ t: 'pair.revoke', peer: p.hostId })), 'ok');
    assert.deepEqual(storedEndpoints(p.deviceId), []);
  });

  it('never connects to an allowlisted name that resolves to a loopback address', async () => {
    const p = await pair();
    const sub = service.subscribe(`https://localhost:${service.hostPort.split(':')[1]}`);
    const r = await p.device.request({
      t: 'push.subscribe',
      endpoint: sub.endpoint,
      p256dh: sub.p256dh,
      auth: sub.auth,
    });
    assert.equal(replyCode(r), 'ok', 'on the allowlist');
    const failedBefore = await pushed('failed');
    assert.equal(
      replyCode(await p.host.request({ t: 'push.send', to: p.deviceId, env: junkEnvelope('alert') })),
      'ok',
    );
    await untilPushed('failed', failedBefore + 1);
    assert.equal(
      service.received.filter((x) => x.subscription === sub.id).length,
      0,
      'the push service was not reached',
    );
    assert.match(relay.logs(), /"outcome":"failed","code":"EPUSHPRIVATE"/);
    assert.deepEqual(storedEndpoints(p.deviceId), [sub.endpoint], 'kept: a failure is not a 404/410');
  });

  it('answers unsupported when push is off', async () => {
    const off = await startRelay({ args: ['--no-push'] });
    try {
      const p = await pair(off.wsUrl);
      assert.equal(replyCode(await p.device.request({ t: 'push.key' })), 'unsupported');
      const sub = service.subscribe();
      const r = await p.device.request({
        t: 'push.subscribe',
        endpoint: sub.endpoint,
        p256dh: sub.p256dh,
        auth: sub.auth,
      });
      assert.equal(replyCode(r), 'unsupported');
      // an alert still reaches the device's open connections
      assert.equal(
        replyCode(await p.host.request({ t: 'push.send', to: p.deviceId, env: junkEnvelope('alert') })),
        'ok',
      );
      assert.equal((await p.device.next((m) => m.t === 'deliver')).t, 'deliver');
    } finally {
      await off.stop();
    }
  });
});
