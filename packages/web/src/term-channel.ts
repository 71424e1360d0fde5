/**
 * The browser end of a `term:<target>` data channel: parses the host's
 * frames, tells the snapshot (the screen redraw after `attached`) from live
 * output, acknowledges output as it is consumed so the host's flow control
 * keeps going, and sends input and resizes. The same job as the Node
 * client's `TerminalClient`, over the browser's `RTCDataChannel`.
 */
import {
  type AttachedControl,
  Emitter,
  encodeControl,
  encodeData,
  parseHostFrame,
  utf8,
} from '@pocketshell/protocol';

export interface TermChannelEvents {
  [key: string]: unknown;
  attached: AttachedControl;
  data: { bytes: Uint8Array; snapshot: boolean };
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
  #snapshotLeft = 0;
  #ackQueued = false;
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
        this.emit('data', { bytes: frame.data, snapshot: true });
        return;
      }
      this.#offset += frame.data.length;
      this.emit('data', { bytes: frame.data, snapshot: false });
      this.#queueAck();
      return;
    }
    const c = frame.control;
    switch (c.t) {
      case 'attached':
        this.session = c.session;
        this.#offset = c.offset;
        this.#acked = c.offset;
        this.#snapshotLeft = c.snapshot;
        this.emit('attached', c);
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

  #queueAck(): void {
    if (this.#ackQueued) return;
    this.#ackQueued = true;
    setTimeout(() => {
      this.#ackQueued = false;
      this.ack();
    }, 0);
  }

  /** Acknowledges everything consumed so far. */
  ack(offset = this.#offset): void {
    if (offset <= this.#acked || this.channel.readyState !== 'open') return;
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
