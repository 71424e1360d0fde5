/**
 * The conformance suite of the `RelayStore` interface (test support, not
 * production code): one set of tests every store must pass, run by
 * `sqlite-store.test.ts` and `postgres-store.test.ts`. It covers migrations
 * (idempotent, refusing a newer schema), claims (single use, attempts,
 * expiry), pending redeems, pairings, tokens and push subscriptions — and
 * the same calls made concurrently, where a store that is not one writer
 * (PostgreSQL's pool, or several relays on one database) must still let
 * exactly one win: one redeem of a claim, one enrollment with a one-use
 * token, one accept of a pending redeem, one subscription under a cap, one
 * `burned` report for a host whose claim died, and no lost device when a
 * pairing is removed while another is accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeviceId, HostId } from '@pocketshell/protocol';
import { MIGRATIONS, type Migration } from '../src/migrations.ts';
import type { RelayStore } from '../src/store.ts';

/** One database under test: opened as often as the suite likes, dropped at the end. */
export interface StoreFixture {
  /** Opens a store on this fixture's database (the same one each call), migrating with `migrations`. */
  open(migrations?: readonly Migration[]): Promise<RelayStore>;
  /** The schema version of the database behind `store`. */
  schemaVersion(store: RelayStore): Promise<number>;
  /** Removes the database. */
  drop(): Promise<void>;
}

const H = `h_${'a'.repeat(26)}` as const;
const H2 = `h_${'b'.repeat(26)}` as const;
const D = `d_${'c'.repeat(26)}` as const;
const host = (c: string) => `h_${c.repeat(26)}` as HostId;
const device = (c: string) => `d_${c.repeat(26)}` as DeviceId;

/** Runs the suite against the store `fixture()` makes, under `name`. */
export function storeConformance(name: string, fixture: () => Promise<StoreFixture>): void {
  describe(`RelayStore conformance: ${name}`, () => {
    let db: StoreFixture;
    let store: RelayStore;
    before(async () => {
      db = await fixture();
      store = await db.open();
    });
    after(async () => {
      await store.close();
      await store.close();
      await db.drop();
    });

    it('migrates once and refuses a schema newer than it knows', async () => {
      assert.equal(await db.schemaVersion(store), MIGRATIONS.at(-1)!.version);
      const again = await db.open();
      assert.equal(await db.schemaVersion(again), MIGRATIONS.at(-1)!.version);
      await again.close();
      await assert.rejects(db.open([]), { code: 'store_failed', message: /newer than this relay/ });
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
      assert.equal(await store.publicKeyOf(H), 'pubH');
      assert.equal(await store.hasPairing(D), true);
      assert.equal(await store.hasPairing(H), true);
      assert.equal(await store.removePairing(H, D), true);
      assert.equal(await store.removePairing(H, D), false);
      assert.equal(await store.isPaired(H, D), false);
      assert.equal(await store.hasPairing(D), false);
      assert.equal(await store.publicKeyOf(D), undefined, 'an unpaired device is forgotten');
      await store.addPending(H, D, 'pubD', 300);
      assert.equal(await store.takePending(H, D, 300), false, 'takePending: expired');
      assert.equal(await store.takePending(H, D, 200), true, 'takePending: a rejected redeem');
      assert.equal(await store.acceptPending(H, D, 200), false, 'taken');
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
      assert.equal(await store.enrollHost(host('z'), 'p', 'hash1', 500), false, 'used up');
      await store.createToken({
        id: 't2',
        hash: 'hash2',
        label: '',
        createdAt: 100,
        expiresAt: null,
        uses: 5,
      });
      assert.equal(await store.revokeToken('t2', 600), true);
      assert.equal(await store.revokeToken('t2', 650), true, 'revoked again: still there');
      assert.equal(await store.revokeToken('nope', 600), false);
      assert.equal(await store.enrollHost(host('y'), 'p', 'hash2', 700), false, 'revoked');
      const listed = await store.listTokens();
      assert.deepEqual(
        listed.map((t) => [t.id, t.label, t.createdAt, t.expiresAt, t.usesLeft, t.revokedAt]),
        [
          ['t1', 'one', 100, 1000, 0, null],
          ['t2', '', 100, null, 5, 600],
        ],
      );
    });

    it('keeps push subscriptions per device, upserted by endpoint, capped, and gone with the device', async () => {
      const D2 = device('e');
      const sub = (id: string, deviceId: DeviceId, n: number, keys = 'k') => ({
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
      assert.equal(
        await store.putPushSubscription(sub('p2', D, 1, 'k2'), 2),
        true,
        'same endpoint: an update',
      );
      let subs = await store.pushSubscriptionsOf(D);
      assert.deepEqual(subs, [
        { id: 'p1', deviceId: D, endpoint: 'https://push.example/1', p256dh: 'k2', auth: 'a', createdAt: 1 },
      ]);
      assert.equal(await store.putPushSubscription(sub('p3', D, 2), 2), true);
      assert.equal(
        await store.putPushSubscription(sub('p4', D, 3), 2),
        false,
        'a third endpoint: over the cap',
      );
      assert.equal(
        await store.putPushSubscription(sub('p5', D, 2, 'k5'), 2),
        true,
        'an update is not counted',
      );
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
    });

    it('purges expired claims and pending redeems, and answers ping', async () => {
      const h = host('p');
      await store.touchHost(h, 'pub', 100);
      await store.createClaim('purge-1', h, 500, 100);
      await store.createClaim('purge-2', h, 900, 100);
      await store.addPending(h, device('p'), 'pub', 500);
      await store.purgeExpired(500);
      assert.equal(await store.countLiveClaims(h, 100), 1);
      assert.equal(await store.takePending(h, device('p'), 100), false, 'purged');
      await store.ping();
    });

    const N = 8;
    const together = <T>(n: number, f: (i: number) => Promise<T>) =>
      Promise.all(Array.from({ length: n }, (_, i) => f(i)));

    it('keeps the first VAPID key pair offered, even under concurrency', async () => {
      const pair = (i: number) => ({ publicKey: `pub-${i}`, privateKey: `priv-${i}` });
      const kept = await together(N, (i) => store.keepVapidKeys(pair(i), 100));
      assert.equal(new Set(kept.map((k) => k.publicKey)).size, 1, JSON.stringify(kept));
      const first = kept[0]!;
      assert.equal(first.privateKey, first.publicKey.replace('pub', 'priv'), 'a pair, not two halves');
      assert.deepEqual(await store.keepVapidKeys(pair(99), 200), first);
    });

    it('lets exactly one of concurrent redeems of a claim win', async () => {
      const h = host('r');
      await store.touchHost(h, 'pub', 100);
      await store.createClaim('race', h, 10_000, 100);
      const outcomes = await together(N, () => store.redeemClaim('race', h, 200, 100));
      assert.equal(outcomes.filter((o) => o.ok).length, 1, JSON.stringify(outcomes));
      assert.equal(await store.countLiveClaims(h, 200), 0);
    });

    it('reports a host whose claim died of concurrent wrong attempts exactly once', async () => {
      const h = host('s');
      await store.touchHost(h, 'pub', 100);
      await store.createClaim('target', h, 10_000, 100);
      const outcomes = await together(N, (i) => store.redeemClaim(`wrong-${i}`, h, 200, 5));
      const reports = outcomes.flatMap((o) => (o.ok ? [] : o.burned)).filter((b) => b === h);
      assert.equal(reports.length, 1, JSON.stringify(outcomes));
      assert.equal(await store.countLiveClaims(h, 200), 0);
    });

    it('enrolls exactly one of concurrent hosts with a one-use token', async () => {
      await store.createToken({
        id: 'race',
        hash: 'race-hash',
        label: '',
        createdAt: 100,
        expiresAt: null,
        uses: 1,
      });
      const hosts = Array.from({ length: N }, (_, i) => host(String.fromCharCode(0x61 + i).toUpperCase()));
      const enrolled = await together(N, (i) => store.enrollHost(hosts[i]!, 'pub', 'race-hash', 200));
      assert.equal(enrolled.filter(Boolean).length, 1, JSON.stringify(enrolled));
      const stored = await Promise.all(hosts.map((h) => store.hasHost(h)));
      assert.deepEqual(stored, enrolled, 'only the enrolled host is stored');
      assert.equal((await store.listTokens()).find((t) => t.id === 'race')!.usesLeft, 0);
    });

    it('accepts a pending redeem exactly once under concurrency', async () => {
      const h = host('t');
      const d = device('t');
      await store.touchHost(h, 'pub', 100);
      await store.addPending(h, d, 'pubT', 10_000);
      const accepted = await together(N, () => store.acceptPending(h, d, 200));
      assert.equal(accepted.filter(Boolean).length, 1, JSON.stringify(accepted));
      assert.equal(await store.isPaired(h, d), true);
      assert.equal(await store.publicKeyOf(d), 'pubT');
    });

    it('holds the per-device cap against concurrent subscriptions', async () => {
      const h = host('u');
      const d = device('u');
      await store.touchHost(h, 'pub', 100);
      await store.addPending(h, d, 'pubU', 10_000);
      assert.equal(await store.acceptPending(h, d, 200), true);
      const put = await together(N, (i) =>
        store.putPushSubscription(
          {
            id: `cap-${i}`,
            deviceId: d,
            endpoint: `https://push.example/cap/${i}`,
            p256dh: 'k',
            auth: 'a',
            createdAt: i,
          },
          2,
        ),
      );
      assert.equal(put.filter(Boolean).length, 2, JSON.stringify(put));
      assert.equal((await store.pushSubscriptionsOf(d)).length, 2);
    });

    it('keeps the device of a pairing accepted while its other pairing is removed', async () => {
      const [h1, h2, d] = [host('v'), host('w'), device('v')];
      for (let round = 0; round < 4; round++) {
        await store.touchHost(h1, 'pub1', 100);
        await store.touchHost(h2, 'pub2', 100);
        await store.addPending(h1, d, 'pubV', 10_000);
        assert.equal(await store.acceptPending(h1, d, 200), true);
        await store.addPending(h2, d, 'pubV', 10_000);
        const [removed, accepted] = await Promise.all([
          store.removePairing(h1, d),
          store.acceptPending(h2, d, 200),
        ]);
        assert.equal(removed, true);
        assert.equal(accepted, true);
        assert.deepEqual(await store.hostsOf(d), [h2]);
        assert.equal(await store.publicKeyOf(d), 'pubV', 'the device is still stored');
        assert.equal(await store.removePairing(h2, d), true);
        assert.equal(await store.publicKeyOf(d), undefined);
      }
    });
  });
}
