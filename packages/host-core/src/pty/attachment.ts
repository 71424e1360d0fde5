/**
 * One watcher of a session: the transport-neutral end of a `term:` channel.
 * Frames (from the protocol's codec) go out through the `send` callback the
 * transport gives; what the device sends comes back in through `receive`
 * (a raw frame) or the typed methods `input`, `resize` and `ack`. There is no
 * queue here: bytes go straight to `send`, so what is buffered is bounded by
 * the window in the transport.
 *
 * Pacing follows the link: this is the wiring between the session, the
 * transport and the pacing unit — the link estimator (link-estimator.ts:
 * segments in flight, rate and RTT samples, the window) and the stream /
 * screen-sync modes (pacing.ts), which decide; the timers and snapshots
 * they ask for are carried out here. In screen sync the device is sent a
 * fresh `attached` + snapshot from the session's headless terminal instead
 * of the bytes it could not take; the screen stays exact, and skipped lines
 * are only missing from the device's scrollback beyond what the snapshot
 * that ends sync carries (mosh keeps none).
 */
import {
  type DeviceControl,
  encodeControl,
  encodeData,
  ProtocolError,
  parseDeviceFrame,
} from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import { PACING_DEFAULTS, Pacer, type PacingInfo, type PacingStep, type PacingTuning } from './pacing.ts';
import type { Snapshot } from './screen-mirror.ts';

export { PACING_DEFAULTS, type PacingInfo, type PacingTuning } from './pacing.ts';

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
  readonly #pacer: Pacer;
  #sent = 0;
  #acked = 0;
  #error: unknown;
  #timer: NodeJS.Timeout | undefined;

  /** @internal made by `Session.attach`. */
  constructor(host: AttachmentHost, opts: AttachOptions, maxData: number, pacing?: Partial<PacingTuning>) {
    this.#host = host;
    this.#send = opts.send;
    this.#onClose = opts.onClose;
    this.#maxData = maxData;
    this.#pacer = new Pacer({ ...PACING_DEFAULTS, ...pacing, ...opts.pacing }, () => performance.now());
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
    return this.#pacer.link.inflight;
  }

  /** The window now: what the measured link drains in `drainMs`, within the bounds. */
  get window(): number {
    return this.#pacer.link.window;
  }

  /** True when this attachment needs the PTY paused (streaming, and its window is full). */
  get blocking(): boolean {
    return this.#pacer.blocking;
  }

  /** True while streaming and back under half its window (the PTY may resume). */
  get drained(): boolean {
    return this.#pacer.drained;
  }

  pacingInfo(): PacingInfo {
    return this.#pacer.info();
  }

  get open(): boolean {
    return this.#pacer.mode !== 'CLOSED';
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
        this.#pacer.prefer(c.pace);
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
    this.#pacer.input();
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
    if (offset === this.#acked && this.#pacer.link.nextAckAt !== offset) return;
    this.#acked = offset;
    this.#pacer.link.ack(offset);
    this.#host.flowChanged();
    if (this.#pacer.dirty) this.#do(this.#pacer.step());
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
        if (!this.open) return resolve(this.#sent);
        try {
          this.#pacer.link.drop();
          this.#pacer.resync();
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
      this.#pacer.startAt(snap.offset);
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
    if (keepInflight) this.#pacer.link.track(snap.offset, bytes, true);
  }

  /** @internal live output, the bytes that follow everything handed over so far. */
  output(data: Uint8Array): void {
    if (!this.open || data.length === 0) return;
    if (this.#pacer.output(data.length) === 'skip') {
      this.#do(this.#pacer.step());
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
    this.#pacer.link.track(end, data.length + Math.ceil(data.length / this.#maxData), false);
  }

  /** @internal a control frame (exit, title, bell). */
  control(frame: Uint8Array): void {
    if (!this.open) return;
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
    if (!this.open) return;
    this.#pacer.close();
    clearTimeout(this.#timer);
    this.#host.release(this);
    this.#onClose?.(reason);
  }

  /** Carries out what the pacer decided: a timer, or a snapshot. */
  #do(step: PacingStep): void {
    if (step.kind === 'wait') this.#arm(step.ms);
    if (step.kind !== 'snapshot') return;
    // The screen alone while flooding (small, so frames follow each other quickly); the
    // snapshot that ends sync mode brings the scrollback.
    if (step.final) this.#host.takeSnapshot((snap) => this.#final(snap));
    else this.#host.takeSnapshot((snap) => this.#synced(snap), { screenOnly: true });
  }

  /** A screen-sync snapshot is ready: send it. */
  #synced(snap: Snapshot): void {
    this.#pacer.synced(snap.offset);
    if (!this.open) return;
    try {
      this.start(snap, true);
    } catch (err) {
      this.#failed(err);
      return;
    }
    this.#do(this.#pacer.syncSent());
  }

  /** The snapshot that ends screen sync is ready: send it and stream, unless output came meanwhile. */
  #final(snap: Snapshot): void {
    if (!this.#pacer.final(snap.offset)) {
      if (this.open) this.#do(this.#pacer.step());
      return;
    }
    try {
      this.start(snap, true);
    } catch (err) {
      this.#failed(err);
      return;
    }
    this.#host.flowChanged();
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#do(this.#pacer.step()), Math.max(1, Math.ceil(ms)));
    this.#timer.unref?.();
  }

  #ensureOpen(): void {
    if (!this.open) throw new HostError('closed', 'the attachment is closed');
  }
}
