/**
 * The pairing cache: positive answers only, the TTL counted from the read
 * that made an entry, bounded size (oldest out), an eviction during a read
 * keeps that read's answer out, and an unusable cache is emptied and
 * bypassed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DeviceId, deviceIdOf, generateKeyPair, type HostId, hostIdOf } from '@pocketshell/protocol';
import { PairingCache } from './pairing-cache.ts';

const h = (): HostId => hostIdOf(generateKeyPair().publicKey);
const d = (): DeviceId => deviceIdOf(generateKeyPair().publicKey);

function counted(answer: () => boolean) {
  const calls = { n: 0 };
  return {
    calls,
    read: async () => {
      calls.n += 1;
      return answer();
    },
  };
}

describe('PairingCache', () => {
  it('keeps positive answers for the TTL, never negative ones', async () => {
    let now = 1000;
    const outcomes: string[] = [];
    const cache = new PairingCache({ now: () => now, ttlMs: 500, count: (o) => outcomes.push(o) });
    const [host, device] = [h(), d()];
    const yes = counted(() => true);
    assert.equal(await cache.isPaired(host, device, yes.read), true);
    assert.equal(await cache.isPaired(host, device, yes.read), true);
    assert.equal(yes.calls.n, 1);
    now += 499;
    assert.equal(await cache.isPaired(host, device, yes.read), true);
    assert.equal(yes.calls.n, 1);
    now += 1;
    assert.equal(await cache.isPaired(host, device, yes.read), true);
    assert.equal(yes.calls.n, 2);
    const no = counted(() => false);
    const other = d();
    assert.equal(await cache.isPaired(host, other, no.read), false);
    assert.equal(await cache.isPaired(host, other, no.read), false);
    assert.equal(no.calls.n, 2);
    assert.deepEqual(outcomes, ['miss', 'hit', 'hit', 'miss', 'miss', 'miss']);
  });

  it('evict forgets the pair; the next check asks the store', async () => {
    const cache = new PairingCache({ now: () => 0 });
    const [host, device] = [h(), d()];
    let paired = true;
    const read = counted(() => paired);
    assert.equal(await cache.isPaired(host, device, read.read), true);
    paired = false;
    cache.evict(host, device);
    assert.equal(await cache.isPaired(host, device, read.read), false);
    assert.equal(read.calls.n, 2);
  });

  it('a read that began before an eviction does not store its (stale) answer', async () => {
    const cache = new PairingCache({ now: () => 0 });
    const [host, device] = [h(), d()];
    let release: (v: boolean) => void = () => {};
    const pending = cache.isPaired(host, device, () => new Promise<boolean>((r) => (release = r)));
    cache.evict(host, device);
    release(true); // the store answered before the removal committed
    assert.equal(await pending, true);
    assert.equal(cache.size, 0);
    const read = counted(() => false);
    assert.equal(await cache.isPaired(host, device, read.read), false);
    assert.equal(read.calls.n, 1);
  });

  it('the TTL counts from when the read began, not when it answered', async () => {
    let now = 0;
    const cache = new PairingCache({ now: () => now, ttlMs: 100 });
    const [host, device] = [h(), d()];
    const slow = cache.isPaired(host, device, async () => {
      now = 90;
      return true;
    });
    assert.equal(await slow, true);
    now = 100;
    const read = counted(() => true);
    await cache.isPaired(host, device, read.read);
    assert.equal(read.calls.n, 1);
  });

  it('holds at most max entries, dropping the oldest', async () => {
    const cache = new PairingCache({ now: () => 0, max: 2 });
    const host = h();
    const [d1, d2, d3] = [d(), d(), d()];
    const yes = counted(() => true);
    for (const x of [d1, d2, d3]) await cache.isPaired(host, x, yes.read);
    assert.equal(cache.size, 2);
    await cache.isPaired(host, d3, yes.read);
    await cache.isPaired(host, d2, yes.read);
    assert.equal(yes.calls.n, 3);
    await cache.isPaired(host, d1, yes.read);
    assert.equal(yes.calls.n, 4);
  });

  it('unusable (a fleet node cut from Redis): emptied and bypassed', async () => {
    let usable = true;
    const cache = new PairingCache({ now: () => 0, usable: () => usable });
    const [host, device] = [h(), d()];
    const yes = counted(() => true);
    await cache.isPaired(host, device, yes.read);
    assert.equal(cache.size, 1);
    usable = false;
    await cache.isPaired(host, device, yes.read);
    await cache.isPaired(host, device, yes.read);
    assert.equal(cache.size, 0);
    assert.equal(yes.calls.n, 3);
    usable = true;
    await cache.isPaired(host, device, yes.read);
    await cache.isPaired(host, device, yes.read);
    assert.equal(yes.calls.n, 4);
  });
});
