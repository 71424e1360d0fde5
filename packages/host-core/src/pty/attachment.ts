/**
 * One watcher of a session: the transport-neutral end of a `term:` channel.
 * Frames (from the protocol's codec) go out through the `send` callback the
 * transport gives; what the device sends comes back in through `receive`
 * (a raw frame) or the typed methods `input`, `resize` and `ack`. There is no
 * queue here: bytes go straight to `send`, so what is buffered is bounded by
 * the window in the transport.
 *
 * Pacing follows the link. Every frame sent is remembered with the output
 * offset whose acknowledgement covers it, so `unacked` is what is really in
 * flight, and each ack gives a round-trip and a delivery-rate sample (as
 * BBR measures: bytes delivered while that frame was in flight, over that
 * time). The window is what the link drains in `drainMs` (between
 * `minWindow` and `maxWindow`): a fast link gets the whole window, a slow
 * one little more than its bandwidth-delay product.
 *
 * Two modes. STREAM: every byte in order; when the window is full the
 * session pauses the PTY (lossless; the program waits). SYNC, entered only
 * on a link measured too slow to drain `maxWindow` in `syncDrainMs` when the
 * window fills: live bytes are skipped and the device is sent the screen
 * instead — a fresh `attached` + snapshot from the session's headless
 * terminal — whenever little is in flight, at most one per pacing interval
 * except right after input, so the answer to a keystroke (Ctrl-C under a
 * flood) goes out at once instead of behind a backlog. When the output has
 * been quiet for a while, one last snapshot with scrollback goes out and
 * the attachment streams again. The screen stays exact; skipped lines are
 * only missing from the device's scrollback beyond what that snapshot
 * carries (mosh keeps none).
 */
import {
  type DeviceControl,
  encodeControl,
  encodeData,
  ProtocolError,
  parseDeviceFrame,
} from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import type { Snapshot } from './screen-mirror.ts';

/** Where an attachment's outgoing frames go (e.g. a data channel's `send`). */
export type FrameSink = (frame: Uint8Array) => void;

/** What an attachment needs from its session (implemented by `Session`). */
export interface AttachmentHost {
  readonly id: string;
  writeInput(data: Uint8Array): void;
  resizeFrom(attachment: Attachment, cols: number, rows: number): void;
  flowChanged(): void;
  takeSnapshot(send: (snapshot: Snapshot) => void, opts?: SnapshotOptions): void;
  release(attachment: Attachment): void;
}

/** What a snapshot may hold. */
export interface SnapshotOptions {
  /** The screen alone, no scrollback. */
  readonly screenOnly?: boolean;
}

/** How an attachment paces its output (defaults in `PACING_DEFAULTS`). */
export interface PacingTuning {
  /** Largest window: unacknowledged bytes in flight on a fast link. */
  readonly maxWindow: number;
  /** Smallest window, whatever the link. */
  readonly minWindow: number;
  /** The window is what the measured link drains in this many milliseconds. */
  readonly drainMs: number;
  /** Screen sync on slow links; `false` keeps every attachment lossless. */
  readonly sync: boolean;
  /** A link is slow (screen sync) when it would take longer than this to drain `maxWindow`. */
  readonly syncDrainMs: number;
}

export const PACING_DEFAULTS: PacingTuning = {
  maxWindow: 256 * 1024,
  minWindow: 32 * 1024,
  drainMs: 100,
  sync: true,
  syncDrainMs: 250,
};

/** A rate sample older than this no longer holds the maximum up. */
const RATE_WINDOW_MS = 10_000;
/** A snapshot the device never acknowledges (an old client) counts as delivered after this. */
const SNAPSHOT_ACK_TIMEOUT_MS = 1_000;

/** Frames in flight that one acknowledgement offset covers. */
interface Segment {
  /** The device's ack of this offset covers the segment. */
  readonly ackAt: number;
  readonly bytes: number;
  /** performance.now() when sent. */
  readonly sentAt: number;
  /** Bytes delivered (acked) when it was sent. */
  readonly delivered: number;
  /** Sent while the window was at least half full: its rate sample measures the link. */
  readonly limited: boolean;
  /** A snapshot (sync mode). */
  readonly snapshot: boolean;
}

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

/** Why an attachment ended. */
export type DetachReason = 'detached' | 'exited' | 'closed';

/** Options given when attaching. */
export interface AttachOptions {
  /** Receives every outgoing frame, in order. */
  readonly send: FrameSink;
  /** Called once when the attachment ends (after an `exit` frame when the process ended). */
  readonly onClose?: (reason: DetachReason) => void;
  /** Pacing overrides (tests, benchmarks). */
  readonly pacing?: Partial<PacingTuning>;
}

export class Attachment {
  readonly #host: AttachmentHost;
  readonly #send: FrameSink;
  readonly #onClose: ((reason: DetachReason) => void) | undefined;
  readonly #maxData: number;
  readonly #pacing: PacingTuning;
  #sent = 0;
  /** Output offset of everything handed to `output` (sent or skipped). */
  #seen = 0;
  #acked = 0;
  #open = true;
  #error: unknown;
  // In flight: segments[head..] (a queue without shifting).
  #segments: Segment[] = [];
  #head = 0;
  #inflight = 0;
  #delivered = 0;
  /** Bytes per millisecond. */
  #maxRate = 0;
  #maxRateAt = 0;
  #limitedSample = false;
  #minRtt = Number.POSITIVE_INFINITY;
  #minRttAt = 0;
  #mode: 'stream' | 'sync' = 'stream';
  #dirty = false;
  #snapshotting = false;
  #nextSyncAt = 0;
  #urgentUntil = 0;
  #lastOutputAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #syncs = 0;
  #skipped = 0;

  /** @internal made by `Session.attach`. */
  constructor(host: AttachmentHost, opts: AttachOptions, maxData: number, pacing?: Partial<PacingTuning>) {
    this.#host = host;
    this.#send = opts.send;
    this.#onClose = opts.onClose;
    this.#maxData = maxData;
    this.#pacing = { ...PACING_DEFAULTS, ...pacing, ...opts.pacing };
  }

  /** The session this attachment watches. */
  get session(): string {
    return this.#host.id;
  }

  /** Output offset up to which bytes were handed to the transport. */
  get sent(): number {
    return this.#sent;
  }

  /** Output offset up to which the device acknowledged. */
  get acked(): number {
    return this.#acked;
  }

  /** Bytes of frames sent whose acknowledgement has not come yet. */
  get unacked(): number {
    return this.#inflight;
  }

  /** The window now: what the measured link drains in `drainMs`, within the bounds. */
  get window(): number {
    const { minWindow, maxWindow, drainMs } = this.#pacing;
    const floor = Math.min(minWindow, maxWindow);
    return Math.round(Math.min(maxWindow, Math.max(floor, this.#maxRate * drainMs)));
  }

  /** True when this attachment needs the PTY paused (streaming, and its window is full). */
  get blocking(): boolean {
    return this.#open && this.#mode === 'stream' && this.#inflight > this.window;
  }

  /** True while streaming and back under half its window (the PTY may resume). */
  get drained(): boolean {
    return this.#mode === 'sync' || this.#inflight <= this.window / 2;
  }

  pacingInfo(): PacingInfo {
    return {
      mode: this.#mode,
      window: this.window,
      inflight: this.#inflight,
      rate: Math.round(this.#maxRate * 1000),
      minRtt: Number.isFinite(this.#minRtt) ? this.#minRtt : null,
      syncs: this.#syncs,
      skipped: this.#skipped,
    };
  }

  get open(): boolean {
    return this.#open;
  }

  /** Handles one raw frame from the device; throws `ProtocolError('bad_message')` for a bad one. */
  receive(frame: Uint8Array): void {
    const f = parseDeviceFrame(frame);
    if (f.type === 'data') {
      this.input(f.data);
      return;
    }
    const c: DeviceControl = f.control;
    switch (c.t) {
      case 'resize':
        this.resize(c.cols, c.rows);
        return;
      case 'ack':
        this.ack(c.offset);
        return;
      default: {
        const never: never = c;
        throw new ProtocolError('bad_message', `unexpected control ${JSON.stringify(never)}`);
      }
    }
  }

  /** Keyboard input for the PTY. */
  input(data: Uint8Array): void {
    this.#ensureOpen();
    if (data.length === 0) return;
    // What answers a keystroke goes out at once in sync mode, not at the next pacing slot.
    if (this.#mode === 'sync') this.#urgentUntil = performance.now() + Math.max(100, 2 * this.#rtt());
    this.#host.writeInput(data);
  }

  /** The device's terminal size. */
  resize(cols: number, rows: number): void {
    this.#ensureOpen();
    this.#host.resizeFrom(this, cols, rows);
  }

  /**
   * The device has every output byte before `offset`. Stale acks (before
   * the last, or from before a resync) are ignored; an ack past what was
   * sent is a protocol error.
   */
  ack(offset: number): void {
    this.#ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new ProtocolError('bad_message', 'ack: bad offset');
    if (offset > this.#sent)
      throw new ProtocolError('bad_message', `ack ${offset} is past sent ${this.#sent}`);
    // Acks are cumulative; a repeated one acknowledges one more snapshot sent at that offset.
    if (offset < this.#acked) return;
    const head = this.#segments[this.#head];
    if (offset === this.#acked && head?.ackAt !== offset) return;
    this.#acked = offset;
    const now = performance.now();
    let last: Segment | undefined;
    while (this.#head < this.#segments.length) {
      const seg = this.#segments[this.#head]!;
      // Everything before `offset`, and one frame group that ends exactly at it.
      if (seg.ackAt > offset || (seg.ackAt === offset && last?.ackAt === offset)) break;
      last = seg;
      this.#head += 1;
      this.#inflight -= seg.bytes;
      this.#delivered += seg.bytes;
    }
    this.#compact();
    if (last) this.#sample(last, now);
    this.#host.flowChanged();
    if (this.#dirty) this.#trySync();
  }

  /**
   * Drops the backlog: sends a fresh `attached` + snapshot at the current
   * offset and counts everything before it as acknowledged. The transport
   * should discard frames it still holds for this attachment first.
   * Resolves with the new offset once the snapshot was sent.
   */
  resync(): Promise<number> {
    this.#ensureOpen();
    return new Promise((resolve) => {
      this.#host.takeSnapshot((snap) => {
        if (!this.#open) return resolve(this.#sent);
        try {
          this.#dropInflight();
          this.#dirty = false;
          this.#mode = 'stream';
          this.start(snap);
        } catch (err) {
          this.#failed(err);
          return resolve(this.#sent);
        }
        this.#host.flowChanged();
        resolve(snap.offset);
      });
    });
  }

  /** Ends this attachment; the session lives on. Idempotent. */
  detach(): void {
    this.end('detached');
  }

  /**
   * @internal sends `attached` + the snapshot (in frames of at most
   * `maxData`) and counts from its offset. The first one (and a `resync`)
   * starts the count afresh; a sync-mode one keeps what is in flight, and
   * the device's ack of the snapshot's offset covers it.
   */
  start(snap: Snapshot, keepInflight = false): void {
    this.#sent = snap.offset;
    if (!keepInflight) {
      this.#acked = snap.offset;
      this.#seen = snap.offset;
    }
    let bytes = 0;
    const send = (frame: Uint8Array) => {
      bytes += frame.length;
      this.#send(frame);
    };
    send(
      encodeControl({
        t: 'attached',
        session: this.#host.id,
        offset: snap.offset,
        cols: snap.cols,
        rows: snap.rows,
        snapshot: snap.data.length,
      }),
    );
    for (let i = 0; i < snap.data.length; i += this.#maxData) {
      send(encodeData(snap.data.subarray(i, Math.min(snap.data.length, i + this.#maxData))));
    }
    // The title is not part of the screen: it follows the snapshot (already made safe by the mirror).
    if (snap.title !== '') send(encodeControl({ t: 'title', title: snap.title }));
    if (keepInflight) this.#track(snap.offset, bytes, true);
  }

  /** @internal live output, the bytes that follow everything handed over so far. */
  output(data: Uint8Array): void {
    if (!this.#open || data.length === 0) return;
    this.#lastOutputAt = performance.now();
    this.#seen += data.length;
    if (this.#mode === 'stream' && !this.#dirty && this.#inflight + data.length > this.window) {
      if (this.#syncAllowed()) this.#mode = 'sync';
    }
    if (this.#mode === 'sync' || this.#dirty) {
      // Skipped: the next snapshot shows what these bytes did to the screen.
      this.#skipped += data.length;
      this.#dirty = true;
      this.#trySync();
      return;
    }
    const end = this.#sent + data.length;
    this.#sent = end;
    try {
      for (let i = 0; i < data.length; i += this.#maxData) {
        this.#send(encodeData(data.subarray(i, Math.min(data.length, i + this.#maxData))));
      }
    } catch (err) {
      this.#failed(err);
      return;
    }
    this.#track(end, data.length + Math.ceil(data.length / this.#maxData), false);
  }

  /** @internal a control frame (exit, title, bell). */
  control(frame: Uint8Array): void {
    if (!this.#open) return;
    try {
      this.#send(frame);
    } catch (err) {
      this.#failed(err);
    }
  }

  /** The error the transport's `send` threw, if that is why the attachment ended. */
  get error(): unknown {
    return this.#error;
  }

  #failed(err: unknown): void {
    // A transport that throws is gone: end this attachment, keep the session and the others.
    this.#error = err;
    this.end('closed');
  }

  /** @internal */
  end(reason: DetachReason): void {
    if (!this.#open) return;
    this.#open = false;
    clearTimeout(this.#timer);
    this.#host.release(this);
    this.#onClose?.(reason);
  }

  #track(ackAt: number, bytes: number, snapshot: boolean): void {
    this.#segments.push({
      ackAt,
      bytes,
      sentAt: performance.now(),
      delivered: this.#delivered,
      limited: this.#inflight >= this.window / 2,
      snapshot,
    });
    this.#inflight += bytes;
  }

  #dropInflight(): void {
    this.#segments = [];
    this.#head = 0;
    this.#inflight = 0;
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
    const rate = (this.#delivered - seg.delivered) / rtt;
    // An app-limited sample (little was in flight) only says the link is at least this fast.
    if (rate >= this.#maxRate || (seg.limited && now - this.#maxRateAt > RATE_WINDOW_MS)) {
      this.#maxRate = rate;
      this.#maxRateAt = now;
    }
    if (seg.limited) this.#limitedSample = true;
  }

  #rtt(): number {
    return Number.isFinite(this.#minRtt) ? this.#minRtt : 100;
  }

  /**
   * Sync only when the link was measured (window-limited) and cannot drain a
   * full window in `syncDrainMs` (256 KiB in 250 ms: below ≈1 MB/s, ≈8
   * Mbit/s). A device that is merely slow to start parsing (a browser
   * warming up, ≈2 MB/s) stays lossless.
   */
  #syncAllowed(): boolean {
    const { sync, maxWindow, syncDrainMs } = this.#pacing;
    return sync && this.#limitedSample && this.#maxRate * syncDrainMs < maxWindow;
  }

  /** Sends a snapshot when one is due and little is in flight; otherwise waits for an ack or the slot. */
  #trySync(): void {
    if (!this.#open || !this.#dirty || this.#snapshotting) return;
    const now = performance.now();
    this.#expireSnapshots(now);
    const urgent = now < this.#urgentUntil;
    // Little in flight, so the next screen is not queued behind much; right after input
    // (the answer to a keystroke) anything within the window may be ahead of it.
    if (this.#inflight > (urgent ? this.window : Math.max(4096, this.#maxRate * 20))) {
      // Acks will call back; an old client that never acks a snapshot is covered by the timeout.
      this.#arm(SNAPSHOT_ACK_TIMEOUT_MS);
      return;
    }
    if (now < this.#nextSyncAt && !urgent) {
      this.#arm(this.#nextSyncAt - now);
      return;
    }
    this.#snapshotting = true;
    this.#host.takeSnapshot(
      (snap) => {
        this.#snapshotting = false;
        if (!this.#open) return;
        // Output handed over while the snapshot waited for the parser is not in it.
        this.#dirty = this.#seen > snap.offset;
        try {
          this.start(snap, true);
        } catch (err) {
          this.#failed(err);
          return;
        }
        this.#syncs += 1;
        const at = performance.now();
        this.#nextSyncAt = at + Math.min(250, Math.max(20, this.#rtt() / 2));
        if (this.#dirty) this.#trySync();
        else this.#arm(this.#quietMs());
      },
      // The screen alone while flooding (small, so frames follow each other quickly); the
      // snapshot that ends sync mode brings the scrollback.
      { screenOnly: true },
    );
  }

  /** Output quiet for this long ends sync mode. */
  #quietMs(): number {
    return Math.max(150, 2 * this.#rtt());
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), Math.max(1, Math.ceil(ms)));
    this.#timer.unref?.();
  }

  #tick(): void {
    if (!this.#open) return;
    if (this.#dirty) {
      this.#trySync();
      return;
    }
    if (this.#mode !== 'sync') return;
    const quietFor = performance.now() - this.#lastOutputAt;
    if (quietFor < this.#quietMs()) {
      this.#arm(this.#quietMs() - quietFor);
      return;
    }
    // Quiet again: one snapshot with scrollback, then stream from its offset.
    this.#snapshotting = true;
    this.#host.takeSnapshot((snap) => {
      this.#snapshotting = false;
      if (!this.#open) return;
      if (this.#dirty || this.#seen > snap.offset) {
        // Output came while the snapshot was taken: stay in sync.
        this.#dirty = true;
        this.#trySync();
        return;
      }
      this.#mode = 'stream';
      try {
        this.start(snap, true);
      } catch (err) {
        this.#failed(err);
        return;
      }
      this.#host.flowChanged();
    });
  }

  /** Snapshots at the head of the queue that an old client will never ack count as delivered. */
  #expireSnapshots(now: number): void {
    let expired = false;
    while (this.#head < this.#segments.length) {
      const seg = this.#segments[this.#head]!;
      if (!seg.snapshot || now - seg.sentAt < SNAPSHOT_ACK_TIMEOUT_MS) break;
      this.#head += 1;
      this.#inflight -= seg.bytes;
      this.#delivered += seg.bytes;
      expired = true;
    }
    if (expired) this.#compact();
  }

  #ensureOpen(): void {
    if (!this.#open) throw new HostError('closed', 'the attachment is closed');
  }
}
