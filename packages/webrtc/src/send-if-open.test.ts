import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataChannel, DataChannelState } from './engine.ts';
import { WebRtcError } from './errors.ts';
import { sendIfOpen } from './send-if-open.ts';

/** A channel whose send does what `behave` says (the native library's refusals are reproduced by throwing). */
function channel(state: DataChannelState, behave: () => void): DataChannel & { sent: number } {
  const ch = {
    label: 'files',
    readyState: state,
    bufferedAmount: 0,
    bufferedAmountLowThreshold: 0,
    sent: 0,
    send() {
      behave();
      ch.sent++;
    },
    close() {},
    on: () => () => {},
    once: () => () => {},
    off() {},
  };
  return ch as unknown as DataChannel & { sent: number };
}

test('sendIfOpen sends on an open channel', () => {
  const ch = channel('open', () => {});
  assert.equal(sendIfOpen(ch, new Uint8Array(3)), true);
  assert.equal(ch.sent, 1);
});

test('sendIfOpen drops the message on a channel that is not open, without calling send', () => {
  for (const state of ['connecting', 'closing', 'closed'] as const) {
    const ch = channel(state, () => assert.fail('send called'));
    assert.equal(sendIfOpen(ch, 'x'), false);
  }
});

test('sendIfOpen drops the message when the channel closed underneath (send throws not_open)', () => {
  const ch = channel('open', () => {
    throw new WebRtcError('not_open', 'channel files refused the message');
  });
  assert.equal(sendIfOpen(ch, new Uint8Array(1)), false);
});

test('sendIfOpen throws any other error: a message too large is the caller’s bug', () => {
  const ch = channel('open', () => {
    throw new WebRtcError('message_too_large', 'too big');
  });
  assert.throws(
    () => sendIfOpen(ch, new Uint8Array(1)),
    (e: unknown) => e instanceof WebRtcError && e.code === 'message_too_large',
  );
});
