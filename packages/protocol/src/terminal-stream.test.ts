/**
 * The device end of a terminal channel, as both devices use it: offsets,
 * snapshots, and when acks go out (consumed, not received; batched; each
 * consumed snapshot acked, even at an offset already acked; nothing from a
 * stream an `attached` replaced).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeControl, encodeData, type HostControl, parseDeviceFrame } from './frames.ts';
import { TerminalStream, type TerminalStreamEvents } from './terminal-stream.ts';

function harness(options: ConstructorParameters<typeof TerminalStream>[1] = {}) {
  const acks: number[] = [];
  const sent: string[] = [];
  const stream = new TerminalStream(
    {
      send: (frame) => {
        const f = parseDeviceFrame(frame);
        if (f.type === 'control' && f.control.t === 'ack') acks.push(f.control.offset);
        else sent.push(f.type === 'data' ? new TextDecoder().decode(f.data) : JSON.stringify(f.control));
      },
      isOpen: () => true,
    },
    options,
  );
  const data: TerminalStreamEvents['data'][] = [];
  stream.on('data', (d) => data.push(d));
  const attached = (offset: number, snapshot: number): void =>
    stream.receive(
      encodeControl({ t: 'attached', session: 's1', offset, cols: 80, rows: 24, snapshot } as HostControl),
    );
  const bytes = (n: number, fill = 0x61): void => stream.receive(encodeData(new Uint8Array(n).fill(fill)));
  return { stream, acks, sent, data, attached, bytes };
}

test('output is acked once consumed, in batches; a consumed snapshot is acked even at an offset already acked', () => {
  const h = harness({ ackEvery: 1000 });
  h.attached(100, 10);
  h.bytes(10);
  assert.deepEqual(h.acks, [], 'nothing before the snapshot is consumed');
  h.data[0]!.consumed();
  assert.deepEqual(h.acks, [100], 'the snapshot, at its offset');
  h.bytes(600);
  h.bytes(600);
  assert.equal(h.stream.offset, 1300);
  h.data[1]!.consumed();
  assert.deepEqual(h.acks, [100], 'under ackEvery with more outstanding: not yet');
  h.data[2]!.consumed();
  assert.deepEqual(h.acks, [100, 1300], 'everything consumed: acked');
  // Screen sync: the same offset again, a new snapshot; its consumption is acked again.
  h.attached(1300, 5);
  h.bytes(5);
  h.data[3]!.consumed();
  assert.deepEqual(h.acks, [100, 1300, 1300]);
  // An empty snapshot is consumed at once.
  h.attached(2000, 0);
  assert.deepEqual(h.acks, [100, 1300, 1300, 2000]);
});

test('consumption reported for a stream an attached replaced is ignored; bad frames throw ProtocolError', () => {
  const h = harness();
  h.attached(0, 0);
  h.bytes(50);
  const stale = h.data.at(-1)!;
  h.attached(5000, 0);
  const before = [...h.acks];
  stale.consumed();
  assert.deepEqual(h.acks, before);
  h.attached(6000, 3);
  assert.throws(() => h.bytes(4), { name: 'ProtocolError' });
  assert.throws(() => h.stream.receive(Uint8Array.of(7)), { name: 'ProtocolError' });
});

test('consumeOnEmit with a deferred ack: one ack per turn; autoAck false leaves acks to the caller', async () => {
  const h = harness({ consumeOnEmit: true, defer: (fn) => setImmediate(fn) });
  h.attached(0, 0);
  for (let i = 0; i < 5; i++) h.bytes(10);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(h.acks, [50]);
  const slow = harness({ consumeOnEmit: true, autoAck: false });
  slow.attached(0, 0);
  slow.bytes(10);
  assert.deepEqual(slow.acks, []);
  slow.stream.ack();
  assert.deepEqual(slow.acks, [10]);
  slow.stream.write('x');
  assert.deepEqual(slow.sent, ['x']);
});

test('exit: the code and the host reason are kept and the code emitted; no reason when the program ended by itself', () => {
  const h = harness();
  const codes: number[] = [];
  h.stream.on('exit', (code) => codes.push(code));
  h.attached(0, 0);
  assert.equal(h.stream.exitCode, undefined);
  assert.equal(h.stream.exitReason, undefined);
  h.stream.receive(encodeControl({ t: 'exit', code: 130, reason: 'idle_timeout' }));
  assert.deepEqual([h.stream.exitCode, h.stream.exitReason, codes], [130, 'idle_timeout', [130]]);
  const own = harness();
  own.attached(0, 0);
  own.stream.receive(encodeControl({ t: 'exit', code: 0 }));
  assert.deepEqual([own.stream.exitCode, own.stream.exitReason], [0, undefined]);
});
