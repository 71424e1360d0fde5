/**
 * Tests of RPC fragmentation over data channels: a message that fits goes
 * as one text message; a larger one as binary fragments of at most the
 * channel's size that reassemble to the same bytes (fast-check over sizes
 * and multi-byte text); out-of-order fragments, text between fragments and
 * messages past the cap are refused with `bad_message` and nothing held.
 * `rpcEndpoint` calls through fragments both ways.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fromUtf8, utf8Length } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { method } from './rpc.ts';
import { rpcEndpoint } from './rpc-endpoint.ts';
import { encodeRpcFrames, MAX_CHANNEL_MESSAGE, RpcReassembler } from './rpc-frames.ts';
import { object, string } from './schema.ts';

const bad = (fn: () => unknown) =>
  assert.throws(fn, (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message');

describe('rpc frames', () => {
  test('a message that fits is one text message; a larger one is fragments of at most the channel size', () => {
    assert.deepEqual(encodeRpcFrames('{"id":1}'), ['{"id":1}']);
    const fits = 'x'.repeat(MAX_CHANNEL_MESSAGE);
    assert.deepEqual(encodeRpcFrames(fits), [fits]);
    const big = `{"id":1,"result":"${'é'.repeat(20_000)}"}`;
    const frames = encodeRpcFrames(big);
    assert.ok(frames.length > 2);
    for (const f of frames) assert.ok(f instanceof Uint8Array && f.length <= MAX_CHANNEL_MESSAGE);
    const r = new RpcReassembler(1 << 20);
    const out = frames.map((f) => r.push(f));
    assert.deepEqual(out.slice(0, -1), new Array(frames.length - 1).fill(undefined));
    assert.equal(fromUtf8(out.at(-1) as Uint8Array), big);
    assert.equal(r.held, 0);
  });

  test('property: any text at any channel size reassembles to itself', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 3000 }),
        fc.integer({ min: 2, max: 700 }),
        (text, max) => {
          const r = new RpcReassembler(1 << 20);
          let whole: string | Uint8Array | undefined;
          for (const f of encodeRpcFrames(text, max)) {
            assert.ok((typeof f === 'string' ? utf8Length(f) : f.length) <= max);
            assert.equal(whole, undefined, 'nothing before the last fragment');
            whole = r.push(f);
          }
          assert.equal(typeof whole === 'string' ? whole : fromUtf8(whole as Uint8Array), text);
        },
      ),
      { numRuns: 2000, seed: 14 },
    );
  });

  test('refusals: a bad header, text between fragments, past the cap — nothing held afterwards', () => {
    const r = new RpcReassembler(100);
    bad(() => r.push(Uint8Array.of(0x7b, 0x7d)));
    bad(() => r.push(Uint8Array.of(0x00)));
    assert.equal(r.push(Uint8Array.of(0x01, 0x41)), undefined);
    bad(() => r.push('{"id":1}'));
    assert.equal(r.held, 0);
    assert.equal(r.push(Uint8Array.of(0x01, ...new Array(60).fill(0x41))), undefined);
    bad(() => r.push(Uint8Array.of(0x00, ...new Array(60).fill(0x41))));
    assert.equal(r.held, 0);
    // After a refusal the next message reassembles normally.
    assert.equal(r.push('{"id":2}'), '{"id":2}');
  });

  test('rpcEndpoint: a large request goes as fragments, a fragmented reply resolves, a bad fragment throws', async () => {
    const methods = {
      echo: method({
        grant: null,
        params: (v) => ({ text: string(object(v), 'text', 1 << 20) }),
        result: (v) => ({ text: string(object(v), 'text', 1 << 20) }),
      }),
    };
    const sent: (string | Uint8Array)[] = [];
    const end = rpcEndpoint(methods, (m) => sent.push(m), 1 << 20);
    const text = 'é'.repeat(20_000);
    const call = end.rpc.call('echo', { text });
    assert.ok(sent.length > 2 && sent.every((m) => m instanceof Uint8Array));
    const request = new RpcReassembler(1 << 20);
    const whole = sent.map((m) => request.push(m)).at(-1) as Uint8Array;
    assert.deepEqual(JSON.parse(fromUtf8(whole)), { id: 1, method: 'echo', params: { text } });
    for (const frame of encodeRpcFrames(JSON.stringify({ id: 1, result: { text } }))) end.receive(frame);
    assert.deepEqual(await call, { text });
    bad(() => end.receive(Uint8Array.of(0x07, 1, 2)));
  });
});
