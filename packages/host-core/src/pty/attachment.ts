/**
 * One watcher of a session: the transport-neutral end of a `term:` channel.
 * Frames (from the protocol's codec) go out through the `send` callback the
 * transport gives; what the device sends comes back in through `receive`
 * (a raw frame) or the typed methods `input`, `resize` and `ack`. The
 * attachment counts output bytes sent and acknowledged; the session pauses
 * the PTY while any attachment is more than a window behind. There is no
 * queue here: bytes go straight to `send`, so what is buffered is bounded by
 * the window in the transport. `resync()` replaces a backlog with a fresh
 * `attached` + snapshot.
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
  takeSnapshot(send: (snapshot: Snapshot) => void): void;
  release(attachment: Attachment): void;
}

/** Why an attachment ended. */
export type DetachReason = 'detached' | 'exited' | 'closed';

/** Options given when attaching. */
export interface AttachOptions {
  /** Receives every outgoing frame, in order. */
  readonly send: FrameSink;
  /** Called once when the attachment ends (after an `exit` frame when the process ended). */
  readonly onClose?: (reason: DetachReason) => void;
}

export class Attachment {
  readonly #host: AttachmentHost;
  readonly #send: FrameSink;
  readonly #onClose: ((reason: DetachReason) => void) | undefined;
  readonly #maxData: number;
  #sent = 0;
  #acked = 0;
  #open = true;
  #error: unknown;

  /** @internal made by `Session.attach`. */
  constructor(host: AttachmentHost, opts: AttachOptions, maxData: number) {
    this.#host = host;
    this.#send = opts.send;
    this.#onClose = opts.onClose;
    this.#maxData = maxData;
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

  /** Bytes sent but not yet acknowledged. */
  get unacked(): number {
    return this.#sent - this.#acked;
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
    if (data.length > 0) this.#host.writeInput(data);
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
    if (offset <= this.#acked) return;
    this.#acked = offset;
    this.#host.flowChanged();
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

  /** @internal sends `attached` + the snapshot (in frames of at most `maxData`) and counts from its offset. */
  start(snap: Snapshot): void {
    this.#sent = snap.offset;
    this.#acked = snap.offset;
    this.#send(
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
      this.#send(encodeData(snap.data.subarray(i, Math.min(snap.data.length, i + this.#maxData))));
    }
    // The title is not part of the screen: it follows the snapshot (already made safe by the mirror).
    if (snap.title !== '') this.#send(encodeControl({ t: 'title', title: snap.title }));
  }

  /** @internal live output, `data` starting at offset `this.sent`. */
  output(data: Uint8Array): void {
    if (!this.#open) return;
    this.#sent += data.length;
    try {
      for (let i = 0; i < data.length; i += this.#maxData) {
        this.#send(encodeData(data.subarray(i, Math.min(data.length, i + this.#maxData))));
      }
    } catch (err) {
      this.#failed(err);
    }
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
    this.#host.release(this);
    this.#onClose?.(reason);
  }

  #ensureOpen(): void {
    if (!this.#open) throw new HostError('closed', 'the attachment is closed');
  }
}
