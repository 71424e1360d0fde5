/**
 * The device end of a `term:` channel: parses the host's frames, tracks the
 * output offset, acknowledges what it has consumed (so the host's flow
 * control keeps going), and sends input and resizes. With `autoAck: false`
 * the caller acknowledges by itself — the slow reader of the flood tests.
 */

import type { DataChannel } from '@pocketshell/host-core';
import {
  type AttachedControl,
  Emitter,
  encodeControl,
  encodeData,
  parseHostFrame,
  utf8,
} from '@pocketshell/protocol';

/** Events of a terminal client. */
export interface TerminalEvents {
  [key: string]: unknown;
  /** `attached` (first, and again after a resync); the snapshot follows as `data` events with `snapshot: true`. */
  attached: AttachedControl;
  /** Output bytes; `snapshot` marks the screen redraw that does not count toward the offset. */
  data: { bytes: Uint8Array; snapshot: boolean };
  title: string;
  bell: undefined;
  /** The program ended with this code. */
  exit: number;
  /** The channel closed. */
  close: undefined;
}

export class TerminalClient extends Emitter<TerminalEvents> {
  readonly channel: DataChannel;
  #session = '';
  #offset = 0;
  #acked = 0;
  /** A snapshot was consumed since the last ack: ack its offset even if already acked (the host counts each). */
  #snapshotDone = false;
  /** Snapshot bytes still to come after the latest `attached`. */
  #snapshotLeft = 0;
  #autoAck: boolean;
  #ackQueued = false;
  #exitCode: number | undefined;
  readonly attachedOnce: Promise<AttachedControl>;
  readonly exited: Promise<number>;
  readonly closed: Promise<void>;

  constructor(channel: DataChannel, options: { autoAck?: boolean } = {}) {
    super();
    this.channel = channel;
    this.#autoAck = options.autoAck ?? true;
    this.attachedOnce = new Promise((resolve) => this.once('attached', resolve));
    this.exited = new Promise((resolve) => this.once('exit', resolve));
    this.closed = new Promise((resolve) => this.once('close', () => resolve()));
    channel.on('message', (data) => this.#onFrame(data));
    channel.on('close', () => this.emit('close', undefined));
  }

  /** The session id the host attached us to. */
  get session(): string {
    return this.#session;
  }

  /** Output bytes received so far (the session's offset). */
  get offset(): number {
    return this.#offset;
  }

  /** The exit code, once the program ended. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  #onFrame(data: Uint8Array | string): void {
    let frame: ReturnType<typeof parseHostFrame>;
    try {
      frame = parseHostFrame(typeof data === 'string' ? utf8(data) : data);
    } catch {
      // A host that sends garbage loses this channel, not the device.
      this.channel.close();
      return;
    }
    if (frame.type === 'data') {
      if (this.#snapshotLeft > 0) {
        if (frame.data.length > this.#snapshotLeft)
          throw new Error('terminal: snapshot frames overrun their length');
        this.#snapshotLeft -= frame.data.length;
        this.emit('data', { bytes: frame.data, snapshot: true });
        // A snapshot consumed is acknowledged too: a host in screen-sync mode paces by it.
        if (this.#snapshotLeft === 0 && this.#autoAck) {
          this.#snapshotDone = true;
          this.#queueAck();
        }
        return;
      }
      this.#offset += frame.data.length;
      this.emit('data', { bytes: frame.data, snapshot: false });
      if (this.#autoAck) this.#queueAck();
      return;
    }
    const c = frame.control;
    switch (c.t) {
      case 'attached':
        this.#session = c.session;
        this.#offset = c.offset;
        this.#snapshotLeft = c.snapshot;
        this.emit('attached', c);
        if (c.snapshot === 0 && this.#autoAck) {
          this.#snapshotDone = true;
          this.#queueAck();
        }
        return;
      case 'exit':
        this.#exitCode = c.code;
        this.emit('exit', c.code);
        return;
      case 'title':
        this.emit('title', c.title);
        return;
      case 'bell':
        this.emit('bell', undefined);
        return;
    }
  }

  #queueAck(): void {
    if (this.#ackQueued) return;
    this.#ackQueued = true;
    setImmediate(() => {
      this.#ackQueued = false;
      this.ack();
    });
  }

  /** Acknowledges everything received so far (or up to `offset`). */
  ack(offset = this.#offset): void {
    const again = this.#snapshotDone && offset === this.#acked;
    this.#snapshotDone = false;
    if ((offset <= this.#acked && !again) || this.channel.readyState !== 'open') return;
    this.#acked = offset;
    this.channel.send(encodeControl({ t: 'ack', offset }));
  }

  /** Keyboard input. */
  write(input: string | Uint8Array): void {
    this.channel.send(encodeData(typeof input === 'string' ? utf8(input) : input));
  }

  /** Tells the host our terminal size. */
  resize(cols: number, rows: number): void {
    this.channel.send(encodeControl({ t: 'resize', cols, rows }));
  }

  /** Detaches (the session lives on). */
  close(): void {
    this.channel.close();
  }
}
