/**
 * What an attachment knows of its link, measured from its own frames and
 * the device's acknowledgements: no timers, no I/O, and the time from an
 * injected clock, so it is driven in tests with a fake one.
 *
 * Every frame group sent is a segment remembered with the output offset
 * whose acknowledgement covers it, so `inflight` is what is really in
 * flight, and each ack gives a round-trip and a delivery-rate sample (as
 * BBR measures: bytes delivered while that segment was in flight, over the
 * longer of the ack and send intervals they span — not the segment's own
 * round trip, which bunched acks would shrink into a rate many times the
 * link's). The window is what the link drains in `drainMs`, between
 * `minWindow` and `maxWindow`: a fast link gets the whole window, a slow
 * one little more than its bandwidth-delay product.
 */

/** The window's bounds and target. */
export interface WindowBounds {
  /** Largest window: unacknowledged bytes in flight on a fast link. */
  readonly maxWindow: number;
  /** Smallest window, whatever the link. */
  readonly minWindow: number;
  /** The window is what the measured link drains in this many milliseconds. */
  readonly drainMs: number;
}

/** A rate or RTT sample older than this no longer holds the maximum (minimum) up. */
export const RATE_WINDOW_MS = 10_000;
/** A snapshot the device never acknowledges (an old client) counts as delivered after this. */
export const SNAPSHOT_ACK_TIMEOUT_MS = 1_000;
/** The round trip assumed before the first sample, in milliseconds. */
const DEFAULT_RTT_MS = 100;

/** Frames in flight that one acknowledgement offset covers. */
interface Segment {
  /** The device's ack of this offset covers the segment. */
  readonly ackAt: number;
  readonly bytes: number;
  /** The clock when sent. */
  readonly sentAt: number;
  /** Bytes delivered (acked) when it was sent. */
  readonly delivered: number;
  /** When the last delivery before it was acknowledged (or when the link went busy). */
  readonly deliveredAt: number;
  /** When the segment delivered last before it was sent (or when the link went busy). */
  readonly firstSentAt: number;
  /** Sent while the window was at least half full: its rate sample measures the link. */
  readonly limited: boolean;
  /** A snapshot (screen sync). */
  readonly snapshot: boolean;
}

export class LinkEstimator {
  readonly #bounds: WindowBounds;
  readonly #now: () => number;
  // In flight: segments[head..] (a queue without shifting).
  #segments: Segment[] = [];
  #head = 0;
  #inflight = 0;
  #delivered = 0;
  /** When the newest acknowledgement came (BBR's `delivered_time`). */
  #deliveredAt = 0;
  /** When the newest segment acknowledged had been sent (BBR's `first_sent_time`). */
  #firstSentAt = 0;
  /** Bytes per millisecond. */
  #maxRate = 0;
  #maxRateAt = 0;
  #limitedSample = false;
  #minRtt = Number.POSITIVE_INFINITY;
  #minRttAt = 0;

  /** `now` is in milliseconds (`performance.now` in production). */
  constructor(bounds: WindowBounds, now: () => number) {
    this.#bounds = bounds;
    this.#now = now;
  }

  /** Bytes of segments sent whose acknowledgement has not come yet. */
  get inflight(): number {
    return this.#inflight;
  }

  /** The window now: what the measured link drains in `drainMs`, within the bounds. */
  get window(): number {
    const { minWindow, maxWindow, drainMs } = this.#bounds;
    const floor = Math.min(minWindow, maxWindow);
    return Math.round(Math.min(maxWindow, Math.max(floor, this.#maxRate * drainMs)));
  }

  /** The highest recent delivery rate, in bytes per millisecond (0 before the first sample). */
  get rate(): number {
    return this.#maxRate;
  }

  /** The lowest recent round trip in milliseconds, or null before the first sample. */
  get minRtt(): number | null {
    return Number.isFinite(this.#minRtt) ? this.#minRtt : null;
  }

  /** The round trip to plan with: the lowest recent one, or 100 ms before any sample. */
  rtt(): number {
    return this.minRtt ?? DEFAULT_RTT_MS;
  }

  /** The offset the oldest segment in flight waits for, if any. */
  get nextAckAt(): number | undefined {
    return this.#segments[this.#head]?.ackAt;
  }

  /**
   * True when the link was measured (a window-limited sample) and cannot
   * drain `maxWindow` in `ms`: 256 KiB in 250 ms is below ≈1 MB/s.
   */
  slowerThan(ms: number): boolean {
    return this.#limitedSample && this.#maxRate * ms < this.#bounds.maxWindow;
  }

  /** A segment of `bytes` was sent; the device's ack of `ackAt` will cover it. */
  track(ackAt: number, bytes: number, snapshot: boolean): void {
    const now = this.#now();
    // The link goes busy: the rate's intervals start now (as BBR does with nothing in flight).
    if (this.#inflight === 0) {
      this.#deliveredAt = now;
      this.#firstSentAt = now;
    }
    this.#segments.push({
      ackAt,
      bytes,
      sentAt: now,
      delivered: this.#delivered,
      deliveredAt: this.#deliveredAt,
      firstSentAt: this.#firstSentAt,
      limited: this.#inflight >= this.window / 2,
      snapshot,
    });
    this.#inflight += bytes;
  }

  /**
   * The device acknowledged `offset`: every segment before it, and one
   * segment group that ends exactly at it, are delivered; the newest of
   * them gives a round-trip and a rate sample. (Whether the ack is stale is
   * the caller's check.)
   */
  ack(offset: number): void {
    const now = this.#now();
    let last: Segment | undefined;
    while (this.#head < this.#segments.length) {
      const seg = this.#segments[this.#head]!;
      if (seg.ackAt > offset || (seg.ackAt === offset && last?.ackAt === offset)) break;
      last = seg;
      this.#deliverHead();
    }
    this.#compact();
    if (last) {
      this.#deliveredAt = now;
      this.#firstSentAt = last.sentAt;
      this.#sample(last, now);
    }
  }

  /** Snapshots at the head of the queue that an old client will never ack count as delivered. */
  expireSnapshots(): void {
    const now = this.#now();
    let expired = false;
    while (this.#head < this.#segments.length) {
      const seg = this.#segments[this.#head]!;
      if (!seg.snapshot || now - seg.sentAt < SNAPSHOT_ACK_TIMEOUT_MS) break;
      this.#deliverHead();
      expired = true;
    }
    if (expired) this.#compact();
  }

  /** Forgets everything in flight (a resync: the device starts afresh). */
  drop(): void {
    this.#segments = [];
    this.#head = 0;
    this.#inflight = 0;
  }

  #deliverHead(): void {
    const seg = this.#segments[this.#head]!;
    this.#head += 1;
    this.#inflight -= seg.bytes;
    this.#delivered += seg.bytes;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#segments.length) {
      this.#segments = this.#segments.slice(this.#head);
      this.#head = 0;
    }
  }

  /** A round-trip and delivery-rate sample from the newest segment an ack covered. */
  #sample(seg: Segment, now: number): void {
    const rtt = Math.max(0.01, now - seg.sentAt);
    if (rtt <= this.#minRtt || now - this.#minRttAt > RATE_WINDOW_MS) {
      this.#minRtt = rtt;
      this.#minRttAt = now;
    }
    // BBR's delivery rate: the bytes acknowledged since the segment was sent, over the longer of
    // the ack interval and the send interval they span. Over its round trip alone, acks that
    // arrive bunched (a busy daemon between holder and device passes them on in bursts) would
    // read as a link many times faster than it is, and the window would open to match.
    const interval = Math.max(rtt, now - seg.deliveredAt, seg.sentAt - seg.firstSentAt);
    const rate = (this.#delivered - seg.delivered) / interval;
    // An app-limited sample (little was in flight) only says the link is at least this fast.
    if (rate >= this.#maxRate || (seg.limited && now - this.#maxRateAt > RATE_WINDOW_MS)) {
      this.#maxRate = rate;
      this.#maxRateAt = now;
    }
    if (seg.limited) this.#limitedSample = true;
  }
}
