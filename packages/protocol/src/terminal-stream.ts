/**
 * The device end of a `term:` channel, for every device (the Node client and
 * the web client): parses the host's frames, tells the snapshot (the screen
 * redraw after `attached`) from live output, tracks the output offset,
 * acknowledges output once it is consumed so the host's pacing keeps going,
 * and sends input and resizes. The transport is a `TerminalLink` (a data
 * channel's `send` and whether it is open).
 *
 * Consuming: each `data` event carries `consumed`, to be called once the
 * bytes are dealt with (the web client: when xterm.js has parsed them), so
 * what the device holds unconsumed stays within the host's window. With
 * `consumeOnEmit` the stream calls it itself right after the event (a
 * device that is done with the bytes when its listeners return). An ack
 * goes out whenever everything handed over is consumed, and mid-flood every
 * `ackEvery` bytes consumed — not one per message; `defer` coalesces the
 * acks of one turn of the event loop. A consumed snapshot is acknowledged
 * too, with its offset even when already acked: a host in screen sync paces
 * by it (docs/protocol.md §6). With `autoAck: false` nothing is acked by
 * itself: the caller calls `ack()` (the slow reader of the flood tests).
 */
import { utf8 } from './bytes.ts';
import { Emitter } from './emitter.ts';
import { ProtocolError } from './errors.ts';
import {
  type AttachedControl,
  type ExitControl,
  encodeControl,
  encodeData,
  parseHostFrame,
} from './frames.ts';

/** Where the stream's frames go. */
export interface TerminalLink {
  send(frame: Uint8Array): void;
  isOpen(): boolean;
}

export interface TerminalStreamEvents {
  /** `attached` (first, and again after a resync or in screen sync); the snapshot follows as `data`. */
  attached: AttachedControl;
  /** Output; `snapshot` marks the screen redraw, which does not count toward the offset. */
  data: { bytes: Uint8Array; snapshot: boolean; consumed: () => void };
  title: string;
  bell: undefined;
  /** The program ended with this code. */
  exit: number;
}

export interface TerminalStreamOptions {
  /** Acknowledge by itself as output is consumed (default true). */
  readonly autoAck?: boolean;
  /** Call `consumed` right after each `data` event (default false). */
  readonly consumeOnEmit?: boolean;
  /** Consumed bytes after which an ack goes out while more waits (default 32 KiB). */
  readonly ackEvery?: number;
  /** Runs an ack later, coalescing those of one turn (e.g. `setImmediate`); default: at once. */
  readonly defer?: (fn: () => void) => void;
  /**
   * `screen`: this device shows a screen, so when output comes faster than
   * it takes it the host may send the screen instead (screen sync); sent
   * with every `resize`. Default: every byte, unless the link is slow.
   */
  readonly pace?: 'screen';
}

export class TerminalStream<E extends TerminalStreamEvents = TerminalStreamEvents> extends Emitter<E> {
  readonly #link: TerminalLink;
  readonly #autoAck: boolean;
  readonly #consumeOnEmit: boolean;
  readonly #ackEvery: number;
  readonly #defer: (fn: () => void) => void;
  readonly #pace: 'screen' | undefined;
  #session = '';
  #offset = 0;
  #acked = 0;
  /** Highest offset consumed, maybe not yet acknowledged. */
  #consumed = 0;
  /** A snapshot was consumed since the last ack: ack even if its offset was acked already. */
  #snapshotDone = false;
  #snapshotLeft = 0;
  /** Bumped by `attached`: consumption reported for an older stream is ignored. */
  #epoch = 0;
  /** Data events of this stream not consumed yet. */
  #outstanding = 0;
  #ackQueued = false;
  /** The host's `exit`, once the program ended. */
  #exit: ExitControl | undefined;

  constructor(link: TerminalLink, options: TerminalStreamOptions = {}) {
    super();
    this.#link = link;
    this.#autoAck = options.autoAck ?? true;
    this.#consumeOnEmit = options.consumeOnEmit ?? false;
    this.#ackEvery = options.ackEvery ?? 32 * 1024;
    this.#defer = options.defer ?? ((fn) => fn());
    this.#pace = options.pace;
  }

  /** The session attached (empty before `attached`). */
  get session(): string {
    return this.#session;
  }

  /** Output bytes received so far (the session's offset). */
  get offset(): number {
    return this.#offset;
  }

  /** The exit code, once the program ended. */
  get exitCode(): number | undefined {
    return this.#exit?.code;
  }

  /**
   * Why the host ended the session (`idle_timeout`, `max_lifetime`,
   * `closed`, `shutdown`, or a later reason), set before `exit` is emitted;
   * undefined when the program ended by itself.
   */
  get exitReason(): string | undefined {
    return this.#exit?.reason;
  }

  /** Handles one frame from the host; throws `ProtocolError` for a bad one. */
  receive(frame: Uint8Array): void {
    const f = parseHostFrame(frame);
    if (f.type === 'data') {
      if (this.#snapshotLeft > 0) {
        if (f.data.length > this.#snapshotLeft)
          throw new ProtocolError('bad_message', 'terminal: snapshot frames overrun their length');
        this.#snapshotLeft -= f.data.length;
        this.#emitData(f.data, true, this.#consumer(this.#offset, this.#snapshotLeft === 0));
        return;
      }
      this.#offset += f.data.length;
      this.#emitData(f.data, false, this.#consumer(this.#offset, false));
      return;
    }
    const c = f.control;
    switch (c.t) {
      case 'attached':
        this.#session = c.session;
        this.#epoch++;
        this.#outstanding = 0;
        this.#offset = c.offset;
        this.#consumed = c.offset;
        this.#snapshotDone = false;
        this.#snapshotLeft = c.snapshot;
        this.#emit('attached', c);
        // An empty snapshot is consumed at once.
        if (c.snapshot === 0) {
          this.#snapshotDone = true;
          this.#maybeAck();
        }
        return;
      case 'exit':
        this.#exit = c;
        this.#emit('exit', c.code);
        return;
      case 'title':
        this.#emit('title', c.title);
        return;
      case 'bell':
        this.#emit('bell', undefined);
        return;
    }
  }

  /** Acknowledges everything consumed so far (or up to `offset`). */
  ack(offset = this.#consumed): void {
    const again = this.#snapshotDone && offset === this.#acked;
    this.#snapshotDone = false;
    if ((offset <= this.#acked && !again) || !this.#link.isOpen()) return;
    this.#acked = offset;
    this.#link.send(encodeControl({ t: 'ack', offset }));
  }

  /** Keyboard input. */
  write(input: string | Uint8Array): void {
    this.#link.send(encodeData(typeof input === 'string' ? utf8(input) : input));
  }

  /** Tells the host our terminal size. */
  resize(cols: number, rows: number): void {
    this.#link.send(encodeControl({ t: 'resize', cols, rows, ...(this.#pace ? { pace: this.#pace } : {}) }));
  }

  #emit(event: keyof TerminalStreamEvents & string, payload: unknown): void {
    // E extends the base events, so each of these payloads is what E's listeners expect.
    (this.emit as (event: string, payload: unknown) => void).call(this, event, payload);
  }

  #emitData(bytes: Uint8Array, snapshot: boolean, consumed: () => void): void {
    this.#emit('data', { bytes, snapshot, consumed });
    if (this.#consumeOnEmit) consumed();
  }

  /** The `consumed` callback for output up to `offset` (the snapshot's last frame when `snapshotEnd`). */
  #consumer(offset: number, snapshotEnd: boolean): () => void {
    const epoch = this.#epoch;
    this.#outstanding++;
    let called = false;
    return () => {
      if (called || epoch !== this.#epoch) return;
      called = true;
      this.#outstanding--;
      if (offset > this.#consumed) this.#consumed = offset;
      if (snapshotEnd) this.#snapshotDone = true;
      this.#maybeAck();
    };
  }

  #maybeAck(): void {
    if (!this.#autoAck) return;
    const due =
      this.#snapshotDone || this.#outstanding === 0 || this.#consumed - this.#acked >= this.#ackEvery;
    if (!due || this.#ackQueued) return;
    this.#ackQueued = true;
    this.#defer(() => {
      this.#ackQueued = false;
      this.ack();
    });
  }
}
