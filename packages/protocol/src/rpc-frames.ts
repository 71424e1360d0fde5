/**
 * RPC messages larger than one data-channel message (docs/protocol.md §6).
 * A data channel carries at most `MAX_CHANNEL_MESSAGE` bytes per message;
 * an RPC message up to that size travels as one text message, as always. A
 * larger one travels as binary fragments: one header byte (`0x01` more
 * follow, `0x00` last) and up to `MAX_CHANNEL_MESSAGE − 1` bytes of its
 * UTF-8 each, in order (channels are reliable and ordered). The receiver
 * reassembles under a cap on the whole message and refuses (`bad_message`)
 * a fragment with another header, text arriving between fragments, or a
 * message past the cap — before holding more than the cap.
 */
import { utf8, utf8Length } from './bytes.ts';
import { HeldBytes } from './held-bytes.ts';

/** Largest data-channel message PocketShell sends: works with every stack. */
export const MAX_CHANNEL_MESSAGE = 16 * 1024;

const MORE = 0x01;
const LAST = 0x00;

/** The data-channel messages that carry `text`: itself, or its binary fragments. */
export function encodeRpcFrames(text: string, max = MAX_CHANNEL_MESSAGE): (string | Uint8Array)[] {
  if (utf8Length(text) <= max) return [text];
  const bytes = utf8(text);
  const step = max - 1;
  const frames: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += step) {
    const part = bytes.subarray(at, at + step);
    const frame = new Uint8Array(part.length + 1);
    frame[0] = at + step >= bytes.length ? LAST : MORE;
    frame.set(part, 1);
    frames.push(frame);
  }
  return frames;
}

/**
 * Puts fragmented RPC messages back together. `push` returns a whole
 * message (text as it came, or the reassembled UTF-8 bytes) or undefined
 * while fragments are pending; it throws `bad_message` (and forgets what it
 * held) on anything out of order or past `max` bytes (`held` tells how
 * many bytes of an unfinished message it holds now).
 */
export class RpcReassembler extends HeldBytes {
  push(data: string | Uint8Array): string | Uint8Array | undefined {
    if (typeof data === 'string') {
      if (this.holding) this.fail('a text message inside a fragmented one');
      return data;
    }
    const head = data[0];
    if (data.length < 2 || (head !== MORE && head !== LAST)) this.fail('not an RPC fragment');
    this.add(data.subarray(1), `message longer than ${this.max} bytes`);
    return head === MORE ? undefined : this.take();
  }
}
