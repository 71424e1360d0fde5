/**
 * The device end of a `term:` channel in Node: the protocol's
 * `TerminalStream` (frames, offsets, snapshot and output acks — the same
 * code as the web client's) over a WebRTC data channel. A device in Node is
 * done with output when its `data` listeners return, so output counts as
 * consumed then; acks of one event-loop turn go out together. With
 * `autoAck: false` the caller acknowledges by itself — the slow reader of
 * the flood tests.
 */

import {
  type AttachedControl,
  ProtocolError,
  TerminalStream,
  type TerminalStreamEvents,
  utf8,
} from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';

/** Events of a terminal client. */
export interface TerminalEvents extends TerminalStreamEvents {
  /** The channel closed. */
  close: undefined;
}

export class TerminalClient extends TerminalStream<TerminalEvents> {
  readonly channel: DataChannel;
  readonly attachedOnce: Promise<AttachedControl>;
  readonly exited: Promise<number>;
  readonly closed: Promise<void>;

  constructor(channel: DataChannel, options: { autoAck?: boolean } = {}) {
    super(
      { send: (frame) => channel.send(frame), isOpen: () => channel.readyState === 'open' },
      { autoAck: options.autoAck ?? true, consumeOnEmit: true, defer: (fn) => setImmediate(fn) },
    );
    this.channel = channel;
    this.attachedOnce = new Promise((resolve) => this.once('attached', resolve));
    this.exited = new Promise((resolve) => this.once('exit', resolve));
    this.closed = new Promise((resolve) => this.once('close', () => resolve()));
    channel.on('message', (data) => {
      try {
        this.receive(typeof data === 'string' ? utf8(data) : data);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        // A host that sends garbage loses this channel, not the device.
        this.channel.close();
      }
    });
    channel.on('close', () => this.emit('close'));
  }

  /** Detaches (the session lives on). */
  close(): void {
    this.channel.close();
  }
}
