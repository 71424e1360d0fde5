/**
 * The browser end of a `term:<target>` data channel: parses the host's
 * frames, tells the snapshot (the screen redraw after `attached`) from live
 * output, acknowledges output once it is consumed so the host's flow control
 * keeps going, and sends input and resizes. The same job as the Node
 * client's `TerminalClient`, over the browser's `RTCDataChannel`.
 *
 * Acknowledging: each `data` event carries `consumed`, which the screen
 * calls when xterm.js has parsed those bytes (`term.write(bytes, consumed)`),
 * so what the page holds unparsed stays within the host's window. An ack
 * goes out each `ACK_EVERY` bytes consumed (mid flood, so the host refills
 * while xterm.js works through the rest) and whenever everything handed
 * over is consumed (a quiet stream is acked at once) — not one per message:
 * `RTCDataChannel.send` is a costly call on the page's main thread. A
 * snapshot consumed is acknowledged too (its offset again): a host in
 * screen-sync mode paces by it.
 */
import {
  type AttachedControl,
  Emitter,
  encodeControl,
  encodeData,
  parseHostFrame,
  utf8,
} from '@pocketshell/protocol';

/** Consumed bytes after which an ack goes out even while more waits to be parsed. */
const ACK_EVERY = 32 * 1024;

export interface TermChannelEvents {
  [key: string]: unknown;
  attached: AttachedControl;
  /**
   * Output; `snapshot` marks the screen redraw. The listener must call `consumed` once the bytes
   * are parsed: nothing is acknowledged before, so the host stops when its window is full.
   */
  data: { bytes: Uint8Array; snapshot: boolean; consumed: () => void };
  title: string;
  bell: undefined;
  exit: number;
  close: undefined;
}

export class TermChannel extends Emitter<TermChannelEvents> {
  readonly channel: RTCDataChannel;
  session = '';
  #offset = 0;
  #acked = 0;
  /** Highest offset consumed (parsed by the screen), not yet acknowledged maybe. */
  #consumed = 0;
  /** A snapshot was consumed since the last ack: ack even if the offset was acked already. */
  #snapshotDone = false;
  #snapshotLeft = 0;
  /** Bumped by `attached`: consumption reported for an older stream is ignored. */
  #epoch = 0;
  /** Data events of this stream not consumed yet. */
  #outstanding = 0;
  #closed = false;

  constructor(channel: RTCDataChannel) {
    super();
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('message', (e: MessageEvent) => {
      try {
        this.#onFrame(e.data);
      } catch {
        this.close();
      }
    });
    channel.addEventListener('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      this.emit('close', undefined);
    });
  }

  /** Output bytes received so far. */
  get offset(): number {
    return this.#offset;
  }

  #onFrame(data: unknown): void {
    const bytes =
      typeof data === 'string'
        ? utf8(data)
        : new Uint8Array(data instanceof ArrayBuffer ? data : new ArrayBuffer(0));
    const frame = parseHostFrame(bytes);
    if (frame.type === 'data') {
      if (this.#snapshotLeft > 0) {
        this.#snapshotLeft = Math.max(0, this.#snapshotLeft - frame.data.length);
        this.emit('data', {
          bytes: frame.data,
          snapshot: true,
          consumed: this.#consumer(this.#offset, this.#snapshotLeft === 0),
        });
        return;
      }
      this.#offset += frame.data.length;
      this.emit('data', {
        bytes: frame.data,
        snapshot: false,
        consumed: this.#consumer(this.#offset, false),
      });
      return;
    }
    const c = frame.control;
    switch (c.t) {
      case 'attached':
        this.session = c.session;
        this.#epoch++;
        this.#outstanding = 0;
        this.#offset = c.offset;
        this.#acked = c.offset;
        this.#consumed = c.offset;
        this.#snapshotDone = false;
        this.#snapshotLeft = c.snapshot;
        this.emit('attached', c);
        // An empty snapshot is consumed at once.
        if (c.snapshot === 0) {
          this.#snapshotDone = true;
          this.ack();
        }
        return;
      case 'exit':
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
      if (this.#snapshotDone || this.#outstanding === 0 || this.#consumed - this.#acked >= ACK_EVERY)
        this.ack();
    };
  }

  /** Acknowledges everything consumed so far (or up to `offset`). */
  ack(offset = this.#consumed): void {
    const again = this.#snapshotDone && offset === this.#acked;
    this.#snapshotDone = false;
    if ((offset <= this.#acked && !again) || this.channel.readyState !== 'open') return;
    this.#acked = offset;
    this.channel.send(encodeControl({ t: 'ack', offset }) as Uint8Array<ArrayBuffer>);
  }

  write(input: string | Uint8Array): void {
    if (this.channel.readyState !== 'open') return;
    this.channel.send(encodeData(typeof input === 'string' ? utf8(input) : input) as Uint8Array<ArrayBuffer>);
  }

  resize(cols: number, rows: number): void {
    if (this.channel.readyState !== 'open') return;
    this.channel.send(encodeControl({ t: 'resize', cols, rows }) as Uint8Array<ArrayBuffer>);
  }

  /** Detaches (the session lives on at the host). Idempotent. */
  close(): void {
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') this.channel.close();
    if (!this.#closed) {
      this.#closed = true;
      this.emit('close', undefined);
    }
  }
}
