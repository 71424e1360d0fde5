/**
 * `PairingCache`: the pairings this node found in the store lately, so a
 * `send` between a paired host and device asks the database once per TTL
 * rather than once per message (in a fleet on PostgreSQL that query was the
 * bottleneck of routing: docs/benchmarks.md). Only positive answers are
 * kept (a refusal always asks again), the map is bounded (oldest entry out
 * first) and every entry lapses `ttlMs` after the read that made it began —
 * a safety net; revocation evicts at once (`evict`: in-process on a single
 * node, on every node of a fleet through Redis before the revoke is
 * acknowledged, router.ts). A read racing an eviction does not store its
 * answer: each eviction bumps a generation, and a read stores only when no
 * eviction happened since it began. `usable()` false (a fleet node that
 * lost Redis, which would miss evictions) empties the cache and bypasses it.
 */
import type { DeviceId, HostId } from '@pocketshell/protocol';

/** Default seconds an entry lives without being evicted. */
export const PAIRING_CACHE_TTL_SECONDS = 15;
/** Default most entries kept. */
export const PAIRING_CACHE_MAX = 100_000;

/** What the cache needs. */
export interface PairingCacheOptions {
  /** Milliseconds (monotonic enough: only differences are used). */
  now: () => number;
  ttlMs?: number;
  max?: number;
  /** False while evictions may be missed: nothing is read from or stored in the cache then. */
  usable?: () => boolean;
  /** Counts each answer: from the cache (`hit`) or the store (`miss`). */
  count?: (outcome: 'hit' | 'miss') => void;
}

/** Positive pairing answers, by (host, device). */
export class PairingCache {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #usable: () => boolean;
  readonly #count: (outcome: 'hit' | 'miss') => void;
  /** `host device` → expiry (ms); insertion order is age order. */
  readonly #entries = new Map<string, number>();
  #generation = 0;

  constructor(o: PairingCacheOptions) {
    this.#now = o.now;
    this.#ttlMs = o.ttlMs ?? PAIRING_CACHE_TTL_SECONDS * 1000;
    this.#max = Math.max(1, o.max ?? PAIRING_CACHE_MAX);
    this.#usable = o.usable ?? (() => true);
    this.#count = o.count ?? (() => {});
  }

  /** Milliseconds an entry lives at most: how long a revoke must wait when it could not evict everywhere. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Entries held (tests, metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** True when the two are paired: from the cache when it holds a live entry, else from `read` (stored when true). */
  async isPaired(host: HostId, device: DeviceId, read: () => Promise<boolean>): Promise<boolean> {
    if (!this.#usable()) {
      this.clear();
      this.#count('miss');
      return read();
    }
    const key = `${host} ${device}`;
    const started = this.#now();
    const expires = this.#entries.get(key);
    if (expires !== undefined) {
      if (expires > started) {
        this.#count('hit');
        return true;
      }
      this.#entries.delete(key);
    }
    this.#count('miss');
    const generation = this.#generation;
    const paired = await read();
    // an eviction since the read began may concern this very pair: the answer may be stale, keep it out
    if (paired && generation === this.#generation && this.#usable()) {
      if (this.#entries.size >= this.#max) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      this.#entries.set(key, started + this.#ttlMs);
    }
    return paired;
  }

  /** Forgets the pair (revoked), and keeps reads under way from storing what they found. */
  evict(host: HostId, device: DeviceId): void {
    this.#generation += 1;
    this.#entries.delete(`${host} ${device}`);
  }

  /** Forgets everything. */
  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }
}
