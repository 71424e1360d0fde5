/**
 * Abuse limits against a real relay process: token buckets refuse a burst
 * with `rate_limited`; a 65 KiB message gets `bad_message` and the
 * connection stays usable; an oversized frame is cut by the socket layer
 * without harming the relay; the per-identity connection cap holds; silent
 * and unauthenticated peers are dropped; 10^4 fuzzed frames never crash it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { b64u, generateKeyPair, randomBytes, type ServerMessage } from '@pocketshell/protocol';
import fc from 'fast-check';
import { replyCode as code, limitsConfig as configFile, junkEnvelope as env } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';

async function healthy(relay: StartedRelay): Promise<void> {
  const res = await fetch(`${relay.url}/healthz`);
  assert.equal(res.status, 200);
}

describe('limits (defaults)', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay.stop();
  });

  it('answers a 65 KiB message with bad_message and keeps the connection', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    const big = JSON.stringify({
      t: 'send',
      rid: 'big',
      to: host.id,
      env: { ...env(), ct: 'A'.repeat(65 * 1024) },
    });
    assert.ok(Buffer.byteLength(big) > 65 * 1024);
    device.send(big);
    const m = await device.next((x) => x.t === 'error');
    assert.equal(code(m), 'bad_message');
    // also as a binary frame
    device.send(new TextEncoder().encode(big));
    assert.equal(code(await device.next((x) => x.t === 'error')), 'bad_message');
    // the connection still routes
    const e = env('offer', 40 * 1024);
    device.send({ t: 'send', to: host.id, env: e });
    assert.deepEqual(await host.next((x) => x.t === 'deliver'), { t: 'deliver', from: device.id, env: e });
    assert.equal(code(await device.request({ t: 'pair.revoke', peer: host.id! })), 'ok');
    await Promise.all([host.close(), device.close()]);
  });

  it('cuts a frame beyond the frame limit with 1009 and stays up', async () => {
    const c = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    c.send('x'.repeat(256 * 1024));
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
    await healthy(relay);
  });

  it('caps connections per identity', async () => {
    const keyPair = generateKeyPair();
    const held: RawClient[] = [];
    for (let i = 0; i < 8; i++) held.push(await RawClient.connect(relay.wsUrl, { role: 'device', keyPair }));
    await assert.rejects(RawClient.connect(relay.wsUrl, { role: 'device', keyPair }), {
      code: 'too_many_connections',
    });
    await held.pop()!.close();
    // a slot is free again once the relay has seen the close
    let again: RawClient | undefined;
    for (let i = 0; i < 50 && again === undefined; i++) {
      again = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair }).catch(() => undefined);
    }
    assert.ok(again);
    await Promise.all([...held, again].map((c) => c.close()));
  });
});

describe('fuzz', () => {
  let relay: StartedRelay;
  before(async () => {
    // generous connect/auth buckets: the 200 pre-auth frames each take a fresh connection
    const rate = { burst: 1000, perSecond: 100 };
    relay = await startRelay({
      args: ['--config', configFile({ rates: { connect: { ip: rate }, auth: { ip: rate } } })],
    });
  });
  after(async () => {
    await relay.stop();
  });

  it('survives 10^4 fuzzed frames, before and after auth', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    const types = [
      'auth',
      'send',
      'pair.create',
      'pair.redeem',
      'pair.accept',
      'pair.reject',
      'pair.revoke',
      'turn.credentials',
      'deliver',
      '__proto__',
    ];
    const value = fc.oneof(
      fc.anything(),
      fc.constant(host.id),
      fc.constant(device.id),
      fc.string(),
      fc.integer(),
      fc.constant(env()),
      fc.record({ kind: fc.string(), mid: fc.string(), ts: fc.integer(), enc: fc.string(), ct: fc.string() }),
    );
    const message = fc.record(
      {
        t: fc.constantFrom(...types),
        rid: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()),
        to: value,
        peer: value,
        host: value,
        claim: fc.oneof(fc.string(), fc.constant(b64u(randomBytes(16)))),
        env: value,
        role: fc.constantFrom('host', 'device', 'admin'),
        pub: fc.string(),
        ts: fc.integer(),
        sig: fc.string(),
      },
      { requiredKeys: ['t'] },
    );
    const frame = fc.oneof(
      message.map((m) => JSON.stringify(m)),
      fc.json(),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }),
    );
    const frames = fc.sample(frame, { numRuns: 10_000, seed: 42 });
    const postAuth = frames.slice(0, 9_800);
    const preAuth = frames.slice(9_800);
    for (const f of postAuth) device.send(f);
    // every frame handled: a request after them is answered (by rid), on a live connection
    const reply = await device.request({ t: 'turn.credentials' }, 60_000);
    assert.equal(code(reply), 'unsupported');
    for (const f of preAuth) {
      const c = await RawClient.open(relay.wsUrl);
      c.send(f);
      await c.closed;
    }
    await healthy(relay);
    assert.equal(device.invalid.length, 0, 'every relay message parses');
    assert.doesNotMatch(relay.logs(), /"level":"error"/);
    // (the fuzz may have revoked the pairing with a well-formed pair.revoke, so route on a fresh one)
    const fresh = await pairClients(relay.wsUrl);
    const e = env();
    fresh.host.send({ t: 'send', to: fresh.device.id, env: e });
    assert.deepEqual(await fresh.device.next((x) => x.t === 'deliver'), {
      t: 'deliver',
      from: fresh.host.id,
      env: e,
    });
    await Promise.all([host.close(), device.close(), fresh.host.close(), fresh.device.close()]);
  });
});

describe('limits (tight)', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay({
      args: [
        '--config',
        configFile({
          rates: {
            send: { identity: { burst: 5, perSecond: 0.01 } },
            connect: { ip: { burst: 12, perSecond: 0.01 } },
          },
          authTimeoutSeconds: 1,
          pingIntervalSeconds: 0.2,
          idleTimeoutSeconds: 1,
        }),
      ],
    });
  });
  after(async () => {
    await relay.stop();
  });

  it('refuses a send burst beyond the bucket with rate_limited', async () => {
    const { host, device } = await pairClients(relay.wsUrl);
    for (let i = 1; i <= 8; i++) device.send({ t: 'send', rid: `s${i}`, to: host.id, env: env() });
    for (let i = 6; i <= 8; i++) {
      const m = await device.next((x) => x.t === 'error' && x.rid === `s${i}`);
      assert.equal(code(m), 'rate_limited');
    }
    for (let i = 0; i < 5; i++) await host.next((x) => x.t === 'deliver');
    assert.equal(device.queued.filter((x) => x.t === 'error').length, 0);
    await Promise.all([host.close(), device.close()]);
  });

  it('drops a silent peer and one that never authenticates; keeps a live one', async () => {
    const silent = await RawClient.connect(relay.wsUrl, {
      role: 'device',
      keyPair: generateKeyPair(),
      autoPong: false,
    });
    const live = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    const mute = await RawClient.open(relay.wsUrl);
    const closed = await silent.closed;
    assert.equal(closed.code, 1006);
    const m = await mute.next((x) => x.t === 'error');
    assert.equal(code(m), 'unauthorized');
    assert.equal((await mute.closed).code, 1008);
    assert.equal(live.ws.readyState, live.ws.OPEN);
    await live.close();
  });

  it('refuses connections beyond the per-IP connect bucket with rate_limited', async () => {
    const opened: RawClient[] = [];
    let refused: ServerMessage | undefined;
    for (let i = 0; i < 20 && refused === undefined; i++) {
      const c = await RawClient.open(relay.wsUrl);
      const first = await c.next();
      if (first.t === 'error') refused = first;
      opened.push(c);
    }
    assert.ok(refused, 'a connection was refused');
    assert.equal(code(refused), 'rate_limited');
    assert.ok(opened.length <= 13);
    await Promise.all(opened.map((c) => c.close()));
  });
});
