/**
 * Tests of `ChannelWriter` over two real werift peers on 127.0.0.1: every
 * byte arrives, in order, in messages of at most 16 KiB, the channel's
 * buffer never holds more than the high-water mark, and a closed channel
 * fails the pending write. Correctness only; speed is for the benchmark.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectDirect, loopbackEngine, loopbackPeerOptions, nextChannel, once } from '../testing/testing.ts';
import { ChannelWriter, SEND_HIGH_WATER } from './channel-writer.ts';
import type { DataChannel, Peer } from './engine.ts';
import { MAX_MESSAGE_BYTES } from './engine.ts';
import { WebRtcError } from './errors.ts';

/** A deterministic byte pattern that differs at every position within 2^24 bytes. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x12345678;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Records the largest `bufferedAmount` right after each `send`. */
function watchBuffer(channel: DataChannel): { max: number } {
  const seen = { max: 0 };
  const send = channel.send.bind(channel);
  channel.send = (data) => {
    send(data);
    seen.max = Math.max(seen.max, channel.bufferedAmount);
  };
  return seen;
}

describe('ChannelWriter', () => {
  const engine = loopbackEngine();
  let a: Peer;
  let b: Peer;

  before(async () => {
    a = await engine.createPeer(loopbackPeerOptions('offerer'));
    b = await engine.createPeer(loopbackPeerOptions('answerer'));
    // One channel is needed for the offer to carry a data section.
    a.createDataChannel('warmup');
    await connectDirect(a, b);
  });

  after(async () => {
    await a.close();
    await b.close();
  });

  async function channelPair(label: string): Promise<[DataChannel, DataChannel]> {
    const remote = nextChannel(b, label);
    const mine = a.createDataChannel(label);
    await once(mine, 'open');
    return [mine, await remote];
  }

  it('delivers 3 MiB intact and in order, never buffering more than 256 KiB', async () => {
    const [mine, theirs] = await channelPair('bulk');
    const total = 3 * 1024 * 1024 + 123;
    const data = pattern(total);
    const received = new Uint8Array(total);
    let at = 0;
    let largest = 0;
    const done = new Promise<void>((resolve, reject) => {
      theirs.on('message', (m) => {
        if (typeof m === 'string') return reject(new Error('unexpected text'));
        largest = Math.max(largest, m.byteLength);
        received.set(m, at);
        at += m.byteLength;
        if (at === total) resolve();
      });
    });
    const seen = watchBuffer(mine);
    await new ChannelWriter(mine).writeAll(data);
    await done;
    assert.equal(at, total);
    assert.ok(Buffer.from(received).equals(Buffer.from(data)), 'content and order are intact');
    assert.equal(largest, MAX_MESSAGE_BYTES);
    assert.ok(seen.max <= SEND_HIGH_WATER, `bufferedAmount peaked at ${seen.max}`);
    assert.ok(seen.max > SEND_HIGH_WATER / 2, 'the writer did fill the buffer (the bound was exercised)');
  });

  it('keeps the order of interleaved writes', async () => {
    const [mine, theirs] = await channelPair('mixed');
    const writer = new ChannelWriter(mine);
    const expected: (string | number)[] = [];
    const got: (string | number)[] = [];
    const count = 200;
    const done = new Promise<void>((resolve) => {
      theirs.on('message', (m) => {
        got.push(typeof m === 'string' ? m : m.byteLength);
        if (got.length === expected.length) resolve();
      });
    });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      if (i % 3 === 0) {
        writes.push(writer.write(`text ${i}`));
        expected.push(`text ${i}`);
      } else {
        writes.push(writer.writeAll(new Uint8Array(MAX_MESSAGE_BYTES + i), MAX_MESSAGE_BYTES));
        expected.push(MAX_MESSAGE_BYTES, i);
      }
    }
    await Promise.all(writes);
    await writer.flushed();
    await done;
    assert.deepEqual(got, expected);
  });

  it('fails a write waiting on a channel that closes, and later writes fast', async () => {
    const [mine] = await channelPair('closing');
    const writer = new ChannelWriter(mine, { highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 });
    // Resolves once the writer has filled the buffer, i.e. when its next write must wait.
    const full = new Promise<void>((resolve) => {
      const send = mine.send.bind(mine);
      mine.send = (data) => {
        send(data);
        if (mine.bufferedAmount + MAX_MESSAGE_BYTES > 64 * 1024) resolve();
      };
    });
    const big = writer.writeAll(new Uint8Array(4 * 1024 * 1024));
    await full;
    mine.close();
    await assert.rejects(big, (e: unknown) => e instanceof WebRtcError && e.code === 'not_open');
    await assert.rejects(
      writer.write('after'),
      (e: unknown) => e instanceof WebRtcError && e.code === 'not_open',
    );
  });

  it('refuses bad water marks and chunk sizes', () => {
    const fake = { bufferedAmountLowThreshold: 0 } as unknown as DataChannel;
    assert.throws(
      () => new ChannelWriter(fake, { highWaterMark: 32 * 1024, lowWaterMark: 16 * 1024 }),
      RangeError,
    );
    assert.throws(
      () => new ChannelWriter(fake).writeAll(new Uint8Array(1), MAX_MESSAGE_BYTES + 1),
      RangeError,
    );
  });
});
