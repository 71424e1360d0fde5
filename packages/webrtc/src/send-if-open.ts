/**
 * `sendIfOpen`: a send for code that runs on its own — a transfer's pump, a
 * terminal's output, a reply finishing after its requester left. A channel
 * can close underneath between its `readyState` check and the send (the
 * peer went away, and the native library knows before our `close` event
 * has run); the send then throws `not_open`. Thrown from a timer or a
 * stream callback, that error would end the process, and nothing is lost
 * by dropping the message: the channel's `close` event follows and ends
 * whatever was sending. Any other error (a message too large) is a bug in
 * the caller and is thrown.
 */
import type { DataChannel } from './engine.ts';
import { WebRtcError } from './errors.ts';

/** Sends `data` when `channel` is open; false, and nothing sent, when it is not (or closed underneath). */
export function sendIfOpen(channel: DataChannel, data: Uint8Array | string): boolean {
  if (channel.readyState !== 'open') return false;
  try {
    channel.send(data);
    return true;
  } catch (error) {
    if (error instanceof WebRtcError && error.code === 'not_open') return false;
    throw error;
  }
}
