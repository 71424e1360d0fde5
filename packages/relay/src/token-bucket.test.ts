/**
 * Token buckets with an injected clock: bursts, refill, and failing closed
 * when the key table is full of draining buckets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BucketSet } from './token-bucket.ts';

describe('BucketSet', () => {
  it('allows a burst, then refills at the rate', () => {
    let now = 0;
    const b = new BucketSet({ burst: 3, perSecond: 2 }, { now: () => now });
    assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [true, true, true, false]);
    assert.equal(b.take('b'), true, 'keys are independent');
    now = 499;
    assert.equal(b.take('a'), false);
    now = 500;
    assert.equal(b.take('a'), true);
    now = 10_000;
    assert.deepEqual(
      [b.take('a'), b.take('a'), b.take('a'), b.take('a')],
      [true, true, true, false],
      'capped at burst',
    );
  });

  it('fails closed when full of draining buckets, and forgets refilled ones', () => {
    let now = 0;
    const b = new BucketSet({ burst: 1, perSecond: 1 }, { maxKeys: 2, now: () => now });
    assert.equal(b.take('a'), true);
    assert.equal(b.take('b'), true);
    assert.equal(b.take('c'), false, 'no room, nothing refilled');
    now = 1000;
    assert.equal(b.take('c'), true, 'refilled buckets were swept');
    assert.ok(b.size <= 2);
  });

  it('refuses a nonsensical rate', () => {
    assert.throws(() => new BucketSet({ burst: 0, perSecond: 1 }), RangeError);
    assert.throws(() => new BucketSet({ burst: 1, perSecond: 0 }), RangeError);
  });
});
