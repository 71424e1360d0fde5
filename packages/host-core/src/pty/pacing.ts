/**
 * How an attachment paces its output: the stream and screen-sync modes as
 * an explicit state machine, and screen sync's decisions. No timers, no
 * I/O, the time from an injected clock: the attachment (attachment.ts)
 * carries out what `step` answers — wait so long, or take a snapshot — and
 * reports back, so tests drive it all with a fake clock.
 *
 * STREAM: every byte in order; when the window is full the session pauses
 * the PTY (lossless; the program waits). SYNC, entered only on a link
 * measured too slow to drain `maxWindow` in `syncDrainMs` when the window
 * fills: live bytes are skipped and the device is sent the screen instead —
 * a snapshot of the session's headless terminal — whenever little is in
 * flight, at most one per pacing interval except right after input, so the
 * answer to a keystroke (Ctrl-C under a flood) goes out at once instead of
 * behind a backlog. When the output has been quiet for a while, one last
 * snapshot with scrollback goes out and the attachment streams again. A
 * snapshot that does not hold every byte skipped (output came while it was
 * taken) is stale: sync goes on. CLOSED: the attachment ended; nothing
 * leaves it.
 */
import { HostError } from '../errors.ts';
import { LinkEstimator, SNAPSHOT_ACK_TIMEOUT_MS, type WindowBounds } from './link-estimator.ts';

/** How an attachment paces its output (defaults in `PACING_DEFAULTS`). */
export interface PacingTuning extends WindowBounds {
  /** Screen sync on slow links; `false` keeps every attachment lossless. */
  readonly sync: boolean;
  /** A link is slow (screen sync) when it would take longer than this to drain `maxWindow`. */
  readonly syncDrainMs: number;
  /**
   * A device that prefers the screen (`resize` with `pace: "screen"`) gets
   * screen sync once its window has stayed full — the program held back to
   * the device's pace — for this long (or 2 × RTT, the longer).
   */
  readonly behindMs: number;
}

export const PACING_DEFAULTS: PacingTuning = {
  maxWindow: 256 * 1024,
  minWindow: 32 * 1024,
  drainMs: 100,
  sync: true,
  syncDrainMs: 250,
  behindMs: 50,
};

/** Pacing modes. */
export const PACING_MODES = ['STREAM', 'SYNC', 'CLOSED'] as const;
/** One pacing mode. */
export type PacingMode = (typeof PACING_MODES)[number];

const MOVES: Readonly<Record<PacingMode, readonly PacingMode[]>> = {
  // STREAM → STREAM: a resync.
  STREAM: ['STREAM', 'SYNC', 'CLOSED'],
  // Back to STREAM: quiet again, or a resync.
  SYNC: ['STREAM', 'CLOSED'],
  CLOSED: [],
};

/** An attachment's pacing state, for status and tests. */
export interface PacingInfo {
  readonly mode: 'stream' | 'sync';
  readonly window: number;
  readonly inflight: number;
  /** Bytes per second, or 0 before the first sample. */
  readonly rate: number;
  /** Milliseconds, or null before the first sample. */
  readonly minRtt: number | null;
  /** Snapshots sent in sync mode so far. */
  readonly syncs: number;
  /** Output bytes skipped (replaced by snapshots) so far. */
  readonly skipped: number;
}

/**
 * What the attachment does next: nothing, call `step` again after `ms`, or
 * take a snapshot (the screen alone while flooding; with scrollback, the
 * final one that ends sync) and report it with `synced` or `final`.
 */
export type PacingStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'wait'; readonly ms: number }
  | { readonly kind: 'snapshot'; readonly final: boolean };

const NONE: PacingStep = { kind: 'none' };

export class Pacer {
  /** The link's measurements (segments in flight, rate, RTT, window). */
  readonly link: LinkEstimator;
  readonly #tuning: PacingTuning;
  readonly #now: () => number;
  #mode: PacingMode = 'STREAM';
  /** Output was skipped that no snapshot sent so far shows. */
  #dirty = false;
  #snapshotting = false;
  /** Output offset of everything handed to `output` (sent or skipped). */
  #seen = 0;
  #nextSyncAt = 0;
  #urgentUntil = 0;
  #lastOutputAt = 0;
  #syncs = 0;
  #skipped = 0;
  /** The device prefers the screen to being kept up with byte by byte. */
  #screen = false;
  /** When the window filled and has not drained to empty since (0: not full). */
  #fullSince = 0;

  /** `now` is in milliseconds (`performance.now` in production). */
  constructor(tuning: PacingTuning, now: () => number) {
    this.#tuning = tuning;
    this.#now = now;
    this.link = new LinkEstimator(tuning, now);
  }

  get mode(): PacingMode {
    return this.#mode;
  }

  /** Output was skipped that no snapshot sent so far shows (a snapshot is due). */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** True when the PTY must pause for this attachment (streaming, and its window is full). */
  get blocking(): boolean {
    return this.#mode === 'STREAM' && this.link.inflight > this.link.window;
  }

  /** True while syncing or back under half the window (the PTY may resume). */
  get drained(): boolean {
    return this.#mode === 'SYNC' || this.link.inflight <= this.link.window / 2;
  }

  info(): PacingInfo {
    return {
      mode: this.#mode === 'SYNC' ? 'sync' : 'stream',
      window: this.link.window,
      inflight: this.link.inflight,
      rate: Math.round(this.link.rate * 1000),
      minRtt: this.link.minRtt,
      syncs: this.#syncs,
      skipped: this.#skipped,
    };
  }

  /** Counting starts afresh at `offset` (the first snapshot, or a resync's). */
  startAt(offset: number): void {
    this.#seen = offset;
  }

  /** The device's `pace`: `screen` lets a device that falls behind a flood get the screen. */
  prefer(pace: string | undefined): void {
    this.#screen = pace === 'screen';
  }

  /** Input from the device: in sync mode what answers it goes out at once, not at the next slot. */
  input(): void {
    if (this.#mode === 'SYNC') this.#urgentUntil = this.#now() + Math.max(100, 2 * this.link.rtt());
  }

  /**
   * `bytes` of live output: `send` them, or `skip` them (sync: the next
   * snapshot shows what they did; call `step`). A full window on a slow
   * link switches to sync here.
   */
  output(bytes: number): 'send' | 'skip' {
    const now = this.#now();
    this.#lastOutputAt = now;
    this.#seen += bytes;
    // The device had taken everything: it keeps pace with the program.
    if (this.link.inflight === 0) this.#fullSince = 0;
    if (this.#mode === 'STREAM' && !this.#dirty && this.link.inflight + bytes > this.link.window) {
      if (this.#fullSince === 0) this.#fullSince = now;
      if (this.#tuning.sync && (this.link.slowerThan(this.#tuning.syncDrainMs) || this.#behind(now)))
        this.#setState('SYNC');
    }
    if (this.#mode === 'SYNC' || this.#dirty) {
      this.#skipped += bytes;
      this.#dirty = true;
      return 'skip';
    }
    return 'send';
  }

  /**
   * What to do now. With skipped output: a screen snapshot once little is in
   * flight (after input, anything within the window may be ahead of it) and
   * the pacing slot has come, else wait — an ack calls `step` again too.
   * Without, in sync mode: the final snapshot once output was quiet long
   * enough, else wait.
   */
  step(): PacingStep {
    if (this.#mode === 'CLOSED' || this.#snapshotting) return NONE;
    const now = this.#now();
    if (this.#dirty) {
      this.link.expireSnapshots();
      const urgent = now < this.#urgentUntil;
      const little = Math.max(4096, this.link.rate * 20);
      // Acks will call back; an old client that never acks a snapshot is covered by the timeout.
      if (this.link.inflight > (urgent ? this.link.window : little))
        return { kind: 'wait', ms: SNAPSHOT_ACK_TIMEOUT_MS };
      if (now < this.#nextSyncAt && !urgent) return { kind: 'wait', ms: this.#nextSyncAt - now };
      this.#snapshotting = true;
      return { kind: 'snapshot', final: false };
    }
    if (this.#mode !== 'SYNC') return NONE;
    const quietFor = now - this.#lastOutputAt;
    if (quietFor < this.#quietMs()) return { kind: 'wait', ms: this.#quietMs() - quietFor };
    this.#snapshotting = true;
    return { kind: 'snapshot', final: true };
  }

  /**
   * The screen snapshot `step` asked for is taken at `offset` (before it is
   * sent): output handed over while it waited for the parser is not in it,
   * so another one is due.
   */
  synced(offset: number): void {
    this.#snapshotting = false;
    this.#dirty = this.#seen > offset;
  }

  /** That snapshot was sent: the next slot is set; `step` again, or wait for quiet. */
  syncSent(): PacingStep {
    this.#syncs += 1;
    this.#nextSyncAt = this.#now() + Math.min(250, Math.max(20, this.link.rtt() / 2));
    return this.#dirty ? this.step() : { kind: 'wait', ms: this.#quietMs() };
  }

  /**
   * The final snapshot `step` asked for is taken at `offset`. True: it holds
   * every byte, send it and stream from its offset. False: output came
   * while it was taken (stale), sync goes on; `step` again.
   */
  final(offset: number): boolean {
    this.#snapshotting = false;
    if (this.#mode === 'CLOSED') return false;
    if (this.#dirty || this.#seen > offset) {
      this.#dirty = true;
      return false;
    }
    this.#setState('STREAM');
    return true;
  }

  /** A resync: the device gets a fresh snapshot and every byte after it. */
  resync(): void {
    this.#dirty = false;
    this.#setState('STREAM');
  }

  close(): void {
    this.#setState('CLOSED');
  }

  /** A device that prefers the screen has held the program back for `behindMs` (or 2 × RTT). */
  #behind(now: number): boolean {
    return this.#screen && now - this.#fullSince >= Math.max(this.#tuning.behindMs, 2 * this.link.rtt());
  }

  /** Output quiet for this long ends sync mode. */
  #quietMs(): number {
    return Math.max(150, 2 * this.link.rtt());
  }

  #setState(next: PacingMode): void {
    if (!MOVES[this.#mode].includes(next)) {
      throw new HostError('bad_transition', `pacing: ${this.#mode} → ${next}`);
    }
    this.#mode = next;
    if (next === 'STREAM') this.#fullSince = 0;
  }
}
