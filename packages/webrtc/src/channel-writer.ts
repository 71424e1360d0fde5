/**
 * `ChannelWriter`: sends over a data channel without ever queueing more than
 * a high-water mark (256 KiB) in the channel's buffer. Measured with werift,
 * queueing more collapses throughput, and a bounded buffer keeps Ctrl-C and
 * other small messages fast behind a bulk transfer. Writes keep their order,
 * and bulk bytes go out as messages of at most `MAX_MESSAGE_BYTES` (16 KiB).
 */
import { utf8Length } from '@pocketshell/protocol';
import { type DataChannel, MAX_MESSAGE_BYTES } from './engine.ts';
import { WebRtcError } from './errors.ts';

/** Most bytes the writer lets sit in a channel's buffer. */
export const SEND_HIGH_WATER = 256 * 1024;
/** Where a waiting writer resumes (`bufferedAmountLowThreshold`). */
export const SEND_LOW_WATER = 64 * 1024;

/** Options of a writer. */
export interface ChannelWriterOptions {
  highWaterMark?: number;
  lowWaterMark?: number;
}

/** Backpressured, ordered writes to one data channel. */
export class ChannelWriter {
  readonly #channel: DataChannel;
  readonly #high: number;
  readonly #low: number;
  #tail: Promise<void> = Promise.resolve();

  constructor(channel: DataChannel, options: ChannelWriterOptions = {}) {
    this.#high = options.highWaterMark ?? SEND_HIGH_WATER;
    this.#low = options.lowWaterMark ?? SEND_LOW_WATER;
    if (!(this.#low >= 0 && this.#low + MAX_MESSAGE_BYTES < this.#high)) {
      throw new RangeError('ChannelWriter: need 0 <= lowWaterMark < highWaterMark - 16 KiB');
    }
    this.#channel = channel;
    channel.bufferedAmountLowThreshold = this.#low;
  }

  /** Sends one message (at most 16 KiB) once the buffer has room. */
  write(message: Uint8Array | string): Promise<void> {
    return this.#enqueue(async () => this.#send(message));
  }

  /** Sends `bytes` as consecutive binary messages of at most `chunkBytes`. */
  writeAll(bytes: Uint8Array, chunkBytes = MAX_MESSAGE_BYTES): Promise<void> {
    if (!(chunkBytes > 0 && chunkBytes <= MAX_MESSAGE_BYTES)) {
      throw new RangeError(`writeAll: chunkBytes must be in 1..${MAX_MESSAGE_BYTES}`);
    }
    return this.#enqueue(async () => {
      for (let at = 0; at < bytes.length; at += chunkBytes) {
        await this.#send(bytes.subarray(at, at + chunkBytes));
      }
    });
  }

  /** Resolves when every write so far has been handed to the channel. */
  flushed(): Promise<void> {
    return this.#enqueue(async () => {});
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(task);
    // A failed write fails its caller; later writes still run (and fail fast if the channel is gone).
    this.#tail = run.catch(() => {});
    return run;
  }

  async #send(message: Uint8Array | string): Promise<void> {
    const size = typeof message === 'string' ? utf8Length(message) : message.byteLength;
    if (this.#channel.bufferedAmount + size > this.#high) await this.#drained();
    this.#channel.send(message);
  }

  #drained(): Promise<void> {
    const channel = this.#channel;
    return new Promise((resolve, reject) => {
      if (channel.readyState !== 'open') {
        reject(new WebRtcError('not_open', `channel ${channel.label} is not open`));
        return;
      }
      const offLow = channel.once('bufferedamountlow', () => {
        offClose();
        resolve();
      });
      const offClose = channel.once('close', () => {
        offLow();
        reject(new WebRtcError('not_open', `channel ${channel.label} closed while writing`));
      });
    });
  }
}
