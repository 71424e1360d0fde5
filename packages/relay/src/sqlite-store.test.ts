/**
 * `SqliteStore` on a real database file: migrations (idempotent, refusing a
 * newer schema), claims (single use, attempts, expiry), pending redeems,
 * pairings, tokens and push subscriptions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MIGRATIONS } from './migrations.ts';
import { SqliteStore } from './sqlite-store.ts';

const H = `h_${'a'.repeat(26)}` as const;
const H2 = `h_${'b'.repeat(26)}` as const;
const D = `d_${'c'.repeat(26)}` as const;

describe('SqliteStore', () => {
  let dir: string;
  let store: SqliteStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
    store = new SqliteStore(join(dir, 'db.sqlite'));
  });
  after(async () => {
    await store.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates once and refuses a schema newer than it knows', async () => {
    assert.equal(store.schemaVersion, MIGRATIONS.at(-1)!.version);
    const again = new SqliteStore(join(dir, 'db.sqlite'));
    assert.equal(again.schemaVersion, MIGRATIONS.at(-1)!.version);
    await again.close();
    assert.throws(() => new SqliteStore(join(dir, 'db.sqlite'), []), { code: 'store_failed' });
  });

  it('burns a claim once, counts wrong attempts against the host, forgets expired ones', async () => {
    await store.touchHost(H, 'pubH', 100);
    await store.createClaim('c1', H, 400, 100);
    assert.equal(await store.countLiveClaims(H, 100), 1);
    assert.deepEqual(await store.redeemClaim('c1', H2, 101, 5), { ok: false, burned: [] }, 'wrong host');
    assert.deepEqual(await store.redeemClaim('c1', H, 102, 5), { ok: true });
    assert.deepEqual(await store.redeemClaim('c1', H, 103, 5), { ok: false, burned: [] }, 'single use');

    await store.createClaim('c2', H, 400, 100);
    for (let i = 0; i < 4; i++)
      assert.deepEqual(await store.redeemClaim(`x${i}`, H, 110, 5), { ok: false, burned: [] });
    await store.createClaim('c3', H, 400, 100);
    assert.deepEqual(await store.redeemClaim('x9', H, 111, 5), { ok: false, burned: [H] });
    assert.deepEqual(
      await store.redeemClaim('c2', H, 112, 5),
      { ok: false, burned: [] },
      'c2 died after five wrong attempts',
    );
    assert.deepEqual(await store.redeemClaim('c3', H, 113, 5), { ok: true }, 'c3 had one');

    await store.createClaim('c4', H, 200, 100);
    assert.deepEqual(
      await store.redeemClaim('c4', H, 200, 5),
      { ok: false, burned: [] },
      'expired at expires_at',
    );
  });

  it('records a pairing only from a live pending redeem', async () => {
    await store.seenDevice(D, 100);
    assert.equal(await store.publicKeyOf(D), undefined, 'a device is not stored before it pairs');
    assert.equal(await store.acceptPending(H, D, 100), false);
    await store.addPending(H, D, 'pubD', 150);
    assert.equal(await store.acceptPending(H, D, 150), false, 'expired');
    assert.equal(await store.publicKeyOf(D), undefined);
    await store.addPending(H, D, 'pubD', 300);
    assert.equal(await store.acceptPending(H, D, 200), true);
    assert.equal(await store.acceptPending(H, D, 200), false, 'consumed');
    assert.equal(await store.isPaired(H, D), true);
    assert.deepEqual(await store.hostsOf(D), [H]);
    assert.deepEqual(await store.devicesOf(H), [D]);
    assert.equal(await store.publicKeyOf(D), 'pubD');
    assert.equal(await store.hasPairing(D), true);
    assert.equal(await store.hasPairing(H), true);
    assert.equal(await store.removePairing(H, D), true);
    assert.equal(await store.removePairing(H, D), false);
    assert.equal(await store.isPaired(H, D), false);
    assert.equal(await store.hasPairing(D), false);
    assert.equal(await store.publicKeyOf(D), undefined, 'an unpaired device is forgotten');
    // paired again for the push-subscription test below
    await store.addPending(H, D, 'pubD', 300);
    assert.equal(await store.acceptPending(H, D, 200), true);
  });

  it('enrolls with live tokens only', async () => {
    await store.createToken({
      id: 't1',
      hash: 'hash1',
      label: 'one',
      createdAt: 100,
      expiresAt: 1000,
      uses: 1,
    });
    assert.equal(await store.enrollHost(H2, 'pub2', 'nohash', 100), false);
    assert.equal(await store.enrollHost(H2, 'pub2', 'hash1', 1000), false, 'expired');
    assert.equal(await store.hasHost(H2), false);
    assert.equal(await store.enrollHost(H2, 'pub2', 'hash1', 500), true);
    assert.equal(await store.hasHost(H2), true);
    assert.equal(await store.enrollHost(`h_${'z'.repeat(26)}`, 'p', 'hash1', 500), false, 'used up');
    await store.createToken({ id: 't2', hash: 'hash2', label: '', createdAt: 100, expiresAt: null, uses: 5 });
    assert.equal(await store.revokeToken('t2', 600), true);
    assert.equal(await store.revokeToken('nope', 600), false);
    assert.equal(await store.enrollHost(`h_${'y'.repeat(26)}`, 'p', 'hash2', 700), false, 'revoked');
    const listed = await store.listTokens();
    assert.deepEqual(
      listed.map((t) => [t.id, t.usesLeft, t.revokedAt]),
      [
        ['t1', 0, null],
        ['t2', 5, 600],
      ],
    );
  });

  it('keeps push subscriptions per device, upserted by endpoint, capped, and gone with the device', async () => {
    const D2 = `d_${'e'.repeat(26)}` as const;
    const sub = (id: string, deviceId: typeof D | typeof D2, n: number, keys = 'k') => ({
      id,
      deviceId,
      endpoint: `https://push.example/${n}`,
      p256dh: keys,
      auth: 'a',
      createdAt: n,
    });
    await store.touchHost(H2, 'pubH2', 100);
    for (const d of [D, D2]) {
      await store.addPending(H2, d, `pub-${d}`, 10_000);
      assert.equal(await store.acceptPending(H2, d, 100), true);
    }
    assert.equal(await store.putPushSubscription(sub('p1', D, 1), 2), true);
    assert.equal(await store.putPushSubscription(sub('p2', D, 1, 'k2'), 2), true, 'same endpoint: an update');
    let subs = await store.pushSubscriptionsOf(D);
    assert.deepEqual(
      subs.map((s) => [s.id, s.endpoint, s.p256dh]),
      [['p1', 'https://push.example/1', 'k2']],
    );
    assert.equal(await store.putPushSubscription(sub('p3', D, 2), 2), true);
    assert.equal(
      await store.putPushSubscription(sub('p4', D, 3), 2),
      false,
      'a third endpoint: over the cap',
    );
    assert.equal(await store.putPushSubscription(sub('p5', D, 2, 'k5'), 2), true, 'an update is not counted');
    assert.deepEqual(
      (await store.pushSubscriptionsOf(D)).map((s) => s.endpoint),
      ['https://push.example/1', 'https://push.example/2'],
    );
    // an endpoint presented by another device moves to it
    assert.equal(await store.putPushSubscription(sub('p6', D2, 2), 2), true);
    assert.deepEqual(
      (await store.pushSubscriptionsOf(D)).map((s) => s.endpoint),
      ['https://push.example/1'],
    );
    assert.deepEqual(
      (await store.pushSubscriptionsOf(D2)).map((s) => s.endpoint),
      ['https://push.example/2'],
    );
    assert.equal(await store.removePushEndpoint('https://push.example/2'), true);
    assert.equal(await store.removePushEndpoint('https://push.example/2'), false);
    assert.equal(await store.putPushSubscription(sub('p7', D, 7), 8), true);
    assert.equal(await store.removePushSubscriptions(D, 'https://push.example/7'), 1);
    assert.equal(await store.removePushSubscriptions(D, 'https://push.example/7'), 0);
    assert.equal(await store.putPushSubscription(sub('p8', D, 8), 8), true);
    assert.equal(await store.removePushSubscriptions(D), 2);
    assert.deepEqual(await store.pushSubscriptionsOf(D), []);
    // a device keeps its subscriptions while it has a pairing left, and loses them with its last one
    assert.equal(await store.putPushSubscription(sub('p9', D, 9), 8), true);
    await store.touchHost(H, 'pubH', 100);
    await store.addPending(H, D, 'pubD', 10_000);
    assert.equal(await store.acceptPending(H, D, 100), true);
    assert.equal(await store.removePairing(H2, D), true);
    subs = await store.pushSubscriptionsOf(D);
    assert.equal(subs.length, 1, 'still paired with H');
    assert.equal(await store.removePairing(H, D), true);
    assert.deepEqual(await store.pushSubscriptionsOf(D), [], 'gone with the last pairing');
    await store.ping();
    await store.purgeExpired(10_000);
  });
});
