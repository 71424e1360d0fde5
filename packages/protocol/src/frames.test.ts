/**
 * Tests of the terminal frame codec: hex fixtures for each frame, round
 * trips, the caps (control size, sizes, offsets), direction checks, and a
 * property test that random bytes never make a parser throw anything but
 * `ProtocolError('bad_message')`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { toHex, utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import {
  encodeControl,
  encodeData,
  MAX_CONTROL_BYTES,
  parseDeviceFrame,
  parseHostFrame,
  type TermControl,
} from './frames.ts';

const control = (json: string): Uint8Array => {
  const body = utf8(json);
  const out = new Uint8Array(body.length + 1);
  out[0] = 1;
  out.set(body, 1);
  return out;
};

const badMessage = (fn: () => unknown) =>
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.code === 'bad_message');

describe('terminal frames', () => {
  test('data frames are 0x00 + bytes, both directions', () => {
    const frame = encodeData(Uint8Array.of(0x6c, 0x73, 0x0d));
    assert.equal(toHex(frame), '006c730d');
    const h = parseHostFrame(frame);
    assert.equal(h.type, 'data');
    assert.equal(toHex(h.type === 'data' ? h.data : new Uint8Array()), '6c730d');
    assert.deepEqual(parseDeviceFrame(Uint8Array.of(0)), { type: 'data', data: new Uint8Array() });
  });

  test('control frames have fixed encodings', () => {
    assert.equal(toHex(encodeControl({ t: 'bell' })), '01' + toHex(utf8('{"t":"bell"}')));
    assert.equal(
      toHex(encodeControl({ t: 'attached', session: 'abc', offset: 7, cols: 80, rows: 24, snapshot: 5 })),
      '01' + toHex(utf8('{"t":"attached","session":"abc","offset":7,"cols":80,"rows":24,"snapshot":5}')),
    );
  });

  test('every control round-trips in its own direction', () => {
    const host: TermControl[] = [
      { t: 'attached', session: 'tmux:main', offset: 0, cols: 1, rows: 1000, snapshot: 0 },
      { t: 'exit', code: 130 },
      { t: 'exit', code: 129, reason: 'idle_timeout' },
      { t: 'title', title: 'vim ~/notes — ✓' },
      { t: 'bell' },
    ];
    for (const c of host) assert.deepEqual(parseHostFrame(encodeControl(c)), { type: 'control', control: c });
    const device: TermControl[] = [
      { t: 'resize', cols: 120, rows: 40 },
      { t: 'ack', offset: Number.MAX_SAFE_INTEGER },
    ];
    for (const c of device)
      assert.deepEqual(parseDeviceFrame(encodeControl(c)), { type: 'control', control: c });
  });

  test('unknown keys are dropped, not passed on', () => {
    const f = parseDeviceFrame(control('{"t":"ack","offset":3,"__proto__":{"x":1},"extra":true}'));
    assert.deepEqual(f, { type: 'control', control: { t: 'ack', offset: 3 } });
  });

  test('a control from the wrong direction is refused', () => {
    badMessage(() => parseHostFrame(encodeControl({ t: 'ack', offset: 1 })));
    badMessage(() => parseDeviceFrame(encodeControl({ t: 'bell' })));
  });

  test('malformed frames are refused with bad_message', () => {
    const bad: Uint8Array[] = [
      new Uint8Array(),
      Uint8Array.of(2, 0),
      Uint8Array.of(0xff),
      control(''),
      control('{'),
      control('[]'),
      control('null'),
      control('{"t":"nope"}'),
      control('{"t":"resize","cols":0,"rows":24}'),
      control('{"t":"resize","cols":80,"rows":1001}'),
      control('{"t":"resize","cols":80.5,"rows":24}'),
      control('{"t":"resize","cols":"80","rows":24}'),
      control('{"t":"ack","offset":-1}'),
      control('{"t":"ack","offset":9007199254740992}'),
      control('{"t":"ack"}'),
      Uint8Array.of(1, 0xc3, 0x28),
    ];
    for (const f of bad) badMessage(() => parseDeviceFrame(f));
    badMessage(() => parseHostFrame(control('{"t":"exit","code":256}')));
    // A reason is a short lowercase word: no control characters, markup or length to spoof a message.
    for (const reason of ['', 'Idle', 'idle timeout', 'x'.repeat(33), '<b>', 7, null])
      badMessage(() => parseHostFrame(control(JSON.stringify({ t: 'exit', code: 129, reason }))));
    // One this device does not know yet is passed on as it is.
    assert.deepEqual(parseHostFrame(control('{"t":"exit","code":129,"reason":"quota_used"}')), {
      type: 'control',
      control: { t: 'exit', code: 129, reason: 'quota_used' },
    });
    badMessage(() => parseHostFrame(control('{"t":"title","title":"a\\u001b]0;x"}')));
    badMessage(() =>
      parseHostFrame(control('{"t":"attached","session":"","offset":0,"cols":80,"rows":24,"snapshot":0}')),
    );
    badMessage(() =>
      parseHostFrame(control('{"t":"attached","session":"a","offset":0,"cols":80,"rows":24}')),
    );
    badMessage(() =>
      parseHostFrame(
        control('{"t":"attached","session":"a","offset":0,"cols":80,"rows":24,"snapshot":1048577}'),
      ),
    );
    badMessage(() => parseHostFrame('not bytes'));
  });

  test('control JSON is capped at 4 KiB', () => {
    const pad = ' '.repeat(MAX_CONTROL_BYTES - '{"t":"bell"}'.length);
    assert.equal(parseHostFrame(control('{"t":"bell"}' + pad)).type, 'control');
    badMessage(() => parseHostFrame(control('{"t":"bell"}' + pad + ' ')));
    badMessage(() => encodeControl({ t: 'title', title: 'x'.repeat(5000) }));
  });

  test("a resize may carry the device's pace: a lowercase word, kept as it is", () => {
    const parsed = parseDeviceFrame(control('{"t":"resize","cols":80,"rows":24,"pace":"screen"}'));
    assert.deepEqual(parsed, {
      type: 'control',
      control: { t: 'resize', cols: 80, rows: 24, pace: 'screen' },
    });
    // A word this version does not know is kept for the host to ignore; without it, no key.
    const later = parseDeviceFrame(control('{"t":"resize","cols":80,"rows":24,"pace":"later"}'));
    assert.equal(later.type === 'control' && later.control.t === 'resize' && later.control.pace, 'later');
    const none = parseDeviceFrame(control('{"t":"resize","cols":80,"rows":24}'));
    assert.equal(none.type === 'control' && 'pace' in none.control, false);
    for (const bad of ['"Screen"', '""', '"x".repeat', '7', `"${'a'.repeat(17)}"`])
      badMessage(() => parseDeviceFrame(control(`{"t":"resize","cols":80,"rows":24,"pace":${bad}}`)));
  });

  test('encoders refuse what the parsers would refuse', () => {
    badMessage(() => encodeControl({ t: 'resize', cols: 0, rows: 1 }));
    badMessage(() => encodeControl({ t: 'ack', offset: 1.5 }));
    badMessage(() => encodeControl({ t: 'exit', code: -1 }));
  });

  test('10^5 random bytes never throw anything but ProtocolError(bad_message)', () => {
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.of(1, ...b)),
      fc.json().map((j) => control(j)),
      fc
        .record({
          t: fc.constantFrom('attached', 'exit', 'title', 'bell', 'resize', 'ack'),
          x: fc.anything(),
        })
        .map((r) => control(JSON.stringify({ ...r, offset: r.x, cols: r.x, code: r.x, reason: r.x }) ?? '')),
    );
    fc.assert(
      fc.property(frames, (f) => {
        for (const parse of [parseHostFrame, parseDeviceFrame]) {
          try {
            parse(f);
          } catch (err) {
            if (!(err instanceof ProtocolError) || err.code !== 'bad_message') return false;
          }
        }
        return true;
      }),
      { numRuns: 100_000 },
    );
  });
});
