/**
 * The bytes of the `files` channel (docs/protocol.md §6): file data travels
 * as binary frames beside the channel's JSON RPC, never as base64, and is
 * paced by the receiver's acknowledgements so that at most `FILES_WINDOW`
 * bytes of one transfer are in flight in either direction — memory stays
 * flat for any file size, and a slow disk or a slow phone slows the sender.
 *
 * A binary message's first byte says what it is: `0x00`/`0x01` an RPC
 * fragment (rpc-frames.ts), `0x02` a data frame, `0x03` an ack; anything
 * else is `bad_message`.
 *
 *     data: 0x02 | id (u32 BE) | offset (u64 BE, < 2^53) | bytes (1…FILES_CHUNK)
 *     ack:  0x03 | id (u32 BE) | offset (u64 BE, < 2^53)
 *
 * `id` is the request id of a `files.read`/`files.download`/`files.tail`
 * (host → device) or the `handle` of an upload (device → host). `offset`
 * is the position in the file of the frame's first byte; frames of a
 * transfer arrive in order with no gap (the channel is reliable and
 * ordered), so a frame at another offset than the next expected one is
 * `bad_message`. An ack says "every byte before `offset` is consumed"
 * (written to disk, handed to the page); the receiver acks at least every
 * `FILES_ACK_EVERY` bytes, and a sender never has more than `FILES_WINDOW`
 * bytes sent and not acked. A receiver holding more than that unacked from
 * one sender refuses the transfer (`bad_message`).
 */
import { ProtocolError } from './errors.ts';
import { MAX_CHANNEL_MESSAGE } from './rpc-frames.ts';

/** First byte of a data frame. */
export const FILES_FRAME_DATA = 0x02;
/** First byte of an ack frame. */
export const FILES_FRAME_ACK = 0x03;
/** Bytes before a frame's data. */
export const FILES_FRAME_HEADER = 13;
/** Most data bytes in one frame (one channel message). */
export const FILES_CHUNK = MAX_CHANNEL_MESSAGE - FILES_FRAME_HEADER;
/** Most bytes of one transfer sent and not yet acked. */
export const FILES_WINDOW = 256 * 1024;
/** The receiver acks at least every this many consumed bytes. */
export const FILES_ACK_EVERY = 64 * 1024;

/** One message of the files channel, sorted out. */
export type FilesMessage =
  /** JSON text, or an RPC fragment (for `RpcReassembler`). */
  | { readonly kind: 'rpc'; readonly data: string | Uint8Array }
  | { readonly kind: 'data'; readonly id: number; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: 'ack'; readonly id: number; readonly offset: number };

function header(type: number, id: number, offset: number, extra: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError('frame id out of range');
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('frame offset out of range');
  const frame = new Uint8Array(FILES_FRAME_HEADER + extra);
  const view = new DataView(frame.buffer);
  frame[0] = type;
  view.setUint32(1, id);
  view.setUint32(5, Math.floor(offset / 2 ** 32));
  view.setUint32(9, offset >>> 0);
  return frame;
}

/** A data frame: `bytes` (1…FILES_CHUNK) at `offset` of transfer `id`. */
export function encodeDataFrame(id: number, offset: number, bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0 || bytes.length > FILES_CHUNK) throw new RangeError('data frame size out of range');
  const frame = header(FILES_FRAME_DATA, id, offset, bytes.length);
  frame.set(bytes, FILES_FRAME_HEADER);
  return frame;
}

/** An ack frame: every byte of transfer `id` before `offset` is consumed. */
export function encodeAckFrame(id: number, offset: number): Uint8Array {
  return header(FILES_FRAME_ACK, id, offset, 0);
}

/** Sorts one channel message out; a binary one of an unknown type or a bad frame is `bad_message`. */
export function decodeFilesMessage(data: string | Uint8Array): FilesMessage {
  if (typeof data === 'string') return { kind: 'rpc', data };
  const type = data[0];
  if (type === 0x00 || type === 0x01) return { kind: 'rpc', data };
  if (type !== FILES_FRAME_DATA && type !== FILES_FRAME_ACK)
    throw new ProtocolError('bad_message', 'unknown frame type');
  if (data.length < FILES_FRAME_HEADER)
    throw new ProtocolError('bad_message', 'frame shorter than its header');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const id = view.getUint32(1);
  const hi = view.getUint32(5);
  if (hi >= 2 ** 21) throw new ProtocolError('bad_message', 'frame offset past 2^53');
  const offset = hi * 2 ** 32 + view.getUint32(9);
  if (type === FILES_FRAME_ACK) {
    if (data.length !== FILES_FRAME_HEADER) throw new ProtocolError('bad_message', 'ack frame with data');
    return { kind: 'ack', id, offset };
  }
  if (data.length === FILES_FRAME_HEADER) throw new ProtocolError('bad_message', 'empty data frame');
  return { kind: 'data', id, offset, bytes: data.subarray(FILES_FRAME_HEADER) };
}

/**
 * The sending end of one transfer: cuts bytes into data frames and keeps
 * at most `window` bytes sent and not acked, waiting for acks beyond that.
 */
export class ChunkSender {
  readonly id: number;
  readonly window: number;
  #send: (frame: Uint8Array) => void;
  #sent: number;
  #acked: number;
  #wake: (() => void) | undefined;
  #failed: Error | undefined;

  /** `start`: the offset of the first byte to send (a resumed transfer starts past 0). */
  constructor(id: number, start: number, send: (frame: Uint8Array) => void, window = FILES_WINDOW) {
    this.id = id;
    this.window = window;
    this.#send = send;
    this.#sent = start;
    this.#acked = start;
  }

  /** The offset of the next byte to send. */
  get sent(): number {
    return this.#sent;
  }

  /** Bytes sent and not yet acked. */
  get inFlight(): number {
    return this.#sent - this.#acked;
  }

  /** Sends `bytes` (any length) as the next frames, waiting for room in the window before each. */
  async push(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length; at += FILES_CHUNK) {
      const part = bytes.subarray(at, at + FILES_CHUNK);
      while (this.#sent - this.#acked + part.length > this.window) {
        if (this.#failed) throw this.#failed;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
      if (this.#failed) throw this.#failed;
      this.#send(encodeDataFrame(this.id, this.#sent, part));
      this.#sent += part.length;
    }
  }

  /** Takes an ack; one before what was acked or past what was sent is `bad_message`. */
  ack(offset: number): void {
    if (offset < this.#acked || offset > this.#sent)
      throw new ProtocolError('bad_message', 'ack outside the bytes in flight');
    this.#acked = offset;
    this.#wakeUp();
  }

  /** Fails a waiting `push` (and every later one) with `error`. */
  abort(error: Error): void {
    this.#failed ??= error;
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * The receiving end of one transfer: checks each data frame's offset and
 * the sender's window, and acks consumed bytes at least every `ackEvery`.
 */
export class ChunkReceiver {
  readonly id: number;
  readonly window: number;
  readonly ackEvery: number;
  #sendAck: (frame: Uint8Array) => void;
  #received: number;
  #consumed: number;
  #acked: number;

  constructor(
    id: number,
    start: number,
    sendAck: (frame: Uint8Array) => void,
    window = FILES_WINDOW,
    ackEvery = FILES_ACK_EVERY,
  ) {
    this.id = id;
    this.window = window;
    this.ackEvery = ackEvery;
    this.#sendAck = sendAck;
    this.#received = start;
    this.#consumed = start;
    this.#acked = start;
  }

  /** The offset the next frame must carry. */
  get received(): number {
    return this.#received;
  }

  /**
   * Takes a data frame's place: `bad_message` when it is not the next
   * offset, or when the sender has more than the window unacked.
   */
  accept(offset: number, length: number): void {
    if (offset !== this.#received) throw new ProtocolError('bad_message', 'data frame out of order');
    if (offset + length - this.#acked > this.window)
      throw new ProtocolError('bad_message', 'the sender overran its window');
    this.#received = offset + length;
  }

  /** Says every byte before `offset` is consumed; acks when `ackEvery` bytes have been since the last ack. */
  consumed(offset: number): void {
    if (offset < this.#consumed || offset > this.#received)
      throw new RangeError('consumed outside what was received');
    this.#consumed = offset;
    if (this.#consumed - this.#acked >= this.ackEvery) this.flush();
  }

  /** Acks everything consumed now. */
  flush(): void {
    if (this.#consumed === this.#acked) return;
    this.#acked = this.#consumed;
    this.#sendAck(encodeAckFrame(this.id, this.#acked));
  }
}
