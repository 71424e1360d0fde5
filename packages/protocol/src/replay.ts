/**
 * Replay protection for sealed envelopes and signed offers: a clock window
 * (±60 s) and a cache of message ids seen in the last 120 s. Bounded in
 * memory; when full it refuses (fails closed) rather than forgetting ids
 * that are still inside the window.
 */
import { ProtocolError } from './errors.ts';
import { unixNow } from './time.ts';

/** Largest allowed difference between a message's `ts` and our clock, in seconds. */
export const CLOCK_WINDOW_S = 60;
/** How long a seen id is remembered, in seconds (twice the window). */
export const REPLAY_RETENTION_S = 120;

/** Throws `clock_skew` when `ts` is more than `window` seconds from `now`. */
export function checkClock(ts: number, now: number, window = CLOCK_WINDOW_S): void {
  if (!Number.isSafeInteger(ts) || Math.abs(ts - now) > window) {
    throw new ProtocolError('clock_skew', `timestamp is more than ${window} s from this clock`);
  }
}

/** Options for a replay cache. */
export interface ReplayCacheOptions {
  /** Clock in Unix seconds (injected for tests). */
  now?: () => number;
  /** Most ids held at once. */
  maxEntries?: number;
}

/** Remembers ids for `REPLAY_RETENTION_S` seconds. */
export class ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(options: ReplayCacheOptions = {}) {
    this.#now = options.now ?? (() => unixNow());
    this.#max = options.maxEntries ?? 100_000;
  }

  /** Number of ids held. */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    // Map iteration is insertion order, and insertion times only grow.
    for (const [id, at] of this.#seen) {
      if (now - at < REPLAY_RETENTION_S) break;
      this.#seen.delete(id);
    }
  }

  /**
   * Checks `ts` against the clock window and `id` against the cache, without
   * recording it. Throws `clock_skew` or `replay`.
   */
  check(id: string, ts: number): void {
    const now = this.#now();
    checkClock(ts, now);
    this.#prune(now);
    if (this.#seen.has(id)) throw new ProtocolError('replay');
  }

  /** Records `id` as seen (call only after the message authenticated). */
  record(id: string): void {
    const now = this.#now();
    this.#prune(now);
    if (this.#seen.has(id)) throw new ProtocolError('replay');
    if (this.#seen.size >= this.#max) throw new ProtocolError('rate_limited', 'replay cache is full');
    this.#seen.set(id, now);
  }

  /** `check` then `record`. */
  checkAndRecord(id: string, ts: number): void {
    this.check(id, ts);
    this.record(id);
  }
}
