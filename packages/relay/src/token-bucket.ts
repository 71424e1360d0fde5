/**
 * Token buckets for abuse limits: a bucket holds up to `burst` tokens and
 * refills at `perSecond`; each action takes one. `BucketSet` keeps one
 * bucket per key (an IP or an identity), bounded in memory: when it is full
 * of keys that are still draining it refuses new keys (fails closed) rather
 * than forgetting a bucket an attacker has emptied.
 */

/** How one bucket fills. */
export interface BucketRate {
  /** Largest number of tokens held (and of actions in a burst). */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets keyed by a string, sharing one rate. */
export class BucketSet {
  readonly #rate: BucketRate;
  readonly #max: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: BucketRate, options: { maxKeys?: number; now?: () => number } = {}) {
    if (!(rate.burst >= 1) || !(rate.perSecond > 0))
      throw new RangeError('rate: burst >= 1 and perSecond > 0');
    this.#rate = rate;
    this.#max = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** Number of keys held. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for `key`; false when the bucket is empty or the set is full. */
  take(key: string): boolean {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) {
        this.sweep();
        if (this.#buckets.size >= this.#max) return false;
      }
      b = { tokens: this.#rate.burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.#rate.burst, b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** True when `key` could take a token now (takes nothing). */
  has(key: string): boolean {
    const b = this.#buckets.get(key);
    if (b === undefined) return this.#buckets.size < this.#max;
    return Math.min(this.#rate.burst, b.tokens + ((this.#now() - b.at) / 1000) * this.#rate.perSecond) >= 1;
  }

  /** Forgets the buckets that have refilled completely (they would be created full anyway). */
  sweep(): void {
    const now = this.#now();
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond >= this.#rate.burst)
        this.#buckets.delete(key);
    }
  }
}
