/**
 * The files channel's binary frames (files-frames.ts): data and ack frames
 * round-trip (offsets up to 2^53 − 1), malformed ones are `bad_message`,
 * RPC fragments and text are passed through; a `ChunkSender` never has
 * more than its window unacked whatever the acks do; a `ChunkReceiver`
 * refuses frames out of order and a sender that overruns the window, and
 * acks at least every `ackEvery` consumed bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChunkReceiver,
  ChunkSender,
  decodeFilesMessage,
  encodeAckFrame,
  encodeDataFrame,
  FILES_ACK_EVERY,
  FILES_CHUNK,
  FILES_FRAME_HEADER,
  FILES_WINDOW,
} from './files-frames.ts';
import { MAX_CHANNEL_MESSAGE } from './rpc-frames.ts';

const badMessage = (e: Error & { code?: string }) => e.code === 'bad_message';

describe('files frames codec', () => {
  it('round-trips data and ack frames, offsets up to 2^53 − 1', () => {
    for (const offset of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      for (const id of [0, 1, 0xffffffff]) {
        const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i * 7 + offset) & 0xff);
        const d = decodeFilesMessage(encodeDataFrame(id, offset, bytes));
        assert.equal(d.kind, 'data');
        if (d.kind !== 'data') return;
        assert.equal(d.id, id);
        assert.equal(d.offset, offset);
        assert.deepEqual([...d.bytes], [...bytes]);
        assert.deepEqual(decodeFilesMessage(encodeAckFrame(id, offset)), { kind: 'ack', id, offset });
      }
    }
  });

  it('a full data frame is exactly one channel message', () => {
    const frame = encodeDataFrame(7, 0, new Uint8Array(FILES_CHUNK));
    assert.equal(frame.length, MAX_CHANNEL_MESSAGE);
    assert.throws(() => encodeDataFrame(7, 0, new Uint8Array(FILES_CHUNK + 1)), RangeError);
    assert.throws(() => encodeDataFrame(7, 0, new Uint8Array(0)), RangeError);
    assert.throws(() => encodeDataFrame(7, -1, new Uint8Array(1)), RangeError);
    assert.throws(() => encodeDataFrame(2 ** 32, 0, new Uint8Array(1)), RangeError);
    assert.throws(() => encodeAckFrame(1, 2 ** 53), RangeError);
  });

  it('passes text and RPC fragments through', () => {
    assert.deepEqual(decodeFilesMessage('{"id":1}'), { kind: 'rpc', data: '{"id":1}' });
    for (const first of [0x00, 0x01]) {
      const f = Uint8Array.of(first, 0x7b, 0x7d);
      assert.deepEqual(decodeFilesMessage(f), { kind: 'rpc', data: f });
    }
  });

  it('refuses unknown types, short frames, acks with data, empty data and offsets past 2^53', () => {
    assert.throws(() => decodeFilesMessage(Uint8Array.of(0x04, 0, 0, 0, 1)), badMessage);
    assert.throws(() => decodeFilesMessage(Uint8Array.of(0xff)), badMessage);
    assert.throws(() => decodeFilesMessage(Uint8Array.of(0x02, 0, 0, 0, 1, 0, 0)), badMessage);
    assert.throws(() => decodeFilesMessage(Uint8Array.of(0x03)), badMessage);
    const ack = encodeAckFrame(1, 5);
    const long = new Uint8Array(ack.length + 1);
    long.set(ack);
    assert.throws(() => decodeFilesMessage(long), badMessage);
    const empty = encodeDataFrame(1, 5, Uint8Array.of(9)).subarray(0, FILES_FRAME_HEADER);
    assert.throws(() => decodeFilesMessage(empty), badMessage);
    const past = encodeAckFrame(1, 0);
    past[5] = 0x00;
    past[6] = 0x20; // high word 2^21: offset 2^53
    assert.throws(() => decodeFilesMessage(past), badMessage);
  });

  it('decodes a frame at a non-zero byteOffset of a larger buffer', () => {
    const frame = encodeDataFrame(3, 2 ** 33 + 1, Uint8Array.of(1, 2, 3));
    const big = new Uint8Array(frame.length + 10);
    big.set(frame, 10);
    const d = decodeFilesMessage(big.subarray(10));
    assert.equal(d.kind, 'data');
    if (d.kind === 'data') {
      assert.equal(d.offset, 2 ** 33 + 1);
      assert.deepEqual([...d.bytes], [1, 2, 3]);
    }
  });
});

describe('ChunkSender', () => {
  it('never has more than the window unacked, with acks of any size at any time', async () => {
    const frames: { offset: number; length: number }[] = [];
    let sender!: ChunkSender;
    let maxInFlight = 0;
    sender = new ChunkSender(9, 1000, (frame) => {
      const m = decodeFilesMessage(frame);
      assert.equal(m.kind, 'data');
      if (m.kind !== 'data') return;
      frames.push({ offset: m.offset, length: m.bytes.length });
      maxInFlight = Math.max(maxInFlight, sender.inFlight + m.bytes.length);
    });
    const total = 3 * 1024 * 1024 + 17;
    const pushing = sender.push(new Uint8Array(total));
    let acked = 1000;
    let rnd = 12345;
    // A receiver that acks irregular amounts, sometimes nothing, between turns.
    while (acked < 1000 + total) {
      await new Promise((r) => setImmediate(r));
      assert.ok(sender.inFlight <= FILES_WINDOW, `in flight ${sender.inFlight}`);
      rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
      const step = rnd % 3 === 0 ? 0 : rnd % (FILES_WINDOW + 1);
      acked = Math.min(sender.sent, acked + step);
      sender.ack(acked);
    }
    await pushing;
    assert.ok(maxInFlight <= FILES_WINDOW, `max in flight ${maxInFlight}`);
    // In order, without gaps, from the start offset, each frame at most FILES_CHUNK.
    let at = 1000;
    for (const f of frames) {
      assert.equal(f.offset, at);
      assert.ok(f.length >= 1 && f.length <= FILES_CHUNK);
      at += f.length;
    }
    assert.equal(at, 1000 + total);
  });

  it('stops at a full window until an ack comes', async () => {
    let sent = 0;
    const sender = new ChunkSender(1, 0, (f) => {
      sent += f.length - FILES_FRAME_HEADER;
    });
    let done = false;
    const p = sender.push(new Uint8Array(FILES_WINDOW * 2)).then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    assert.ok(sent <= FILES_WINDOW && sent > FILES_WINDOW - FILES_CHUNK, `sent ${sent}`);
    sender.ack(sender.sent);
    await new Promise((r) => setImmediate(r));
    sender.ack(sender.sent);
    await p;
    assert.equal(sent, FILES_WINDOW * 2);
  });

  it('refuses acks before what was acked or past what was sent, and abort fails a waiting push', async () => {
    const sender = new ChunkSender(1, 100, () => {});
    await sender.push(new Uint8Array(1000));
    assert.throws(() => sender.ack(1101), badMessage);
    assert.throws(() => sender.ack(99), badMessage);
    sender.ack(600);
    assert.throws(() => sender.ack(500), badMessage);
    const waiting = sender.push(new Uint8Array(FILES_WINDOW));
    sender.abort(new Error('stop'));
    await assert.rejects(waiting, /stop/);
    await assert.rejects(sender.push(Uint8Array.of(1)), /stop/);
  });
});

describe('ChunkReceiver', () => {
  it('refuses a frame out of order', () => {
    const r = new ChunkReceiver(1, 50, () => {});
    assert.throws(() => r.accept(0, 10), badMessage);
    r.accept(50, 10);
    assert.throws(() => r.accept(50, 10), badMessage);
    assert.throws(() => r.accept(61, 10), badMessage);
    r.accept(60, 10);
    assert.equal(r.received, 70);
  });

  it('refuses a sender that overruns the window, and takes exactly the window', () => {
    const r = new ChunkReceiver(1, 0, () => {});
    let at = 0;
    while (at + FILES_CHUNK <= FILES_WINDOW) {
      r.accept(at, FILES_CHUNK);
      at += FILES_CHUNK;
    }
    r.accept(at, FILES_WINDOW - at);
    assert.throws(() => r.accept(FILES_WINDOW, 1), badMessage);
  });

  it('acks at least every ackEvery consumed bytes, and room opens only after an ack', () => {
    const acks: number[] = [];
    const r = new ChunkReceiver(4, 0, (f) => {
      const m = decodeFilesMessage(f);
      if (m.kind === 'ack') acks.push(m.offset);
    });
    let at = 0;
    for (let i = 0; i < 40; i++) {
      r.accept(at, 10_000);
      at += 10_000;
      r.consumed(at);
    }
    for (let i = 1; i < acks.length; i++) assert.ok(acks[i]! - acks[i - 1]! >= FILES_ACK_EVERY);
    assert.ok(at - acks[acks.length - 1]! < FILES_ACK_EVERY);
    r.flush();
    assert.equal(acks[acks.length - 1], at);
    assert.throws(() => r.consumed(at + 1), RangeError);
    // Consumed but not acked (less than ackEvery): the window is still full.
    const s = new ChunkReceiver(5, 0, () => {});
    s.accept(0, FILES_WINDOW);
    s.consumed(FILES_ACK_EVERY - 1); // below ackEvery: not acked yet
    assert.throws(() => s.accept(FILES_WINDOW, 1), badMessage);
  });
});
