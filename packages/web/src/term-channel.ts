/**
 * The browser end of a `term:<target>` data channel: the protocol's
 * `TerminalStream` (frames, offsets, snapshot and output acks — the same
 * code as the Node client's) over the browser's `RTCDataChannel`.
 *
 * Acknowledging: each `data` event carries `consumed`, which the screen
 * calls when xterm.js has parsed those bytes (`term.write(bytes, consumed)`),
 * so what the page holds unparsed stays within the host's window. An ack
 * goes out each 32 KiB consumed (mid flood, so the host refills while
 * xterm.js works through the rest) and whenever everything handed over is
 * consumed (a quiet stream is acked at once) — not one per message:
 * `RTCDataChannel.send` is a costly call on the page's main thread.
 */
import { ProtocolError, TerminalStream, type TerminalStreamEvents, utf8 } from '@pocketshell/protocol';

export interface TermChannelEvents extends TerminalStreamEvents {
  close: undefined;
}

export class TermChannel extends TerminalStream<TermChannelEvents> {
  readonly channel: RTCDataChannel;
  #closed = false;

  constructor(channel: RTCDataChannel) {
    const open = () => channel.readyState === 'open';
    super(
      {
        // Input and resizes while the channel is not open are dropped: the screen reconnects.
        send: (frame) => {
          if (open()) channel.send(frame as Uint8Array<ArrayBuffer>);
        },
        isOpen: open,
      },
      // The page draws a screen (its parser takes 5–10 MB/s): under a flood it would rather
      // have the screen than hold the program back to its own pace (docs/web.md).
      { pace: 'screen' },
    );
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('message', (e: MessageEvent) => {
      const data: unknown = e.data;
      try {
        this.receive(
          typeof data === 'string'
            ? utf8(data)
            : new Uint8Array(data instanceof ArrayBuffer ? data : new ArrayBuffer(0)),
        );
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        // A host that sends garbage loses this channel.
        this.close();
      }
    });
    channel.addEventListener('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      this.emit('close');
    });
  }

  /** True while input written now reaches the host. */
  get live(): boolean {
    return !this.#closed && this.channel.readyState === 'open';
  }

  /** Detaches (the session lives on at the host). Idempotent. */
  close(): void {
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') this.channel.close();
    if (!this.#closed) {
      this.#closed = true;
      this.emit('close');
    }
  }
}
