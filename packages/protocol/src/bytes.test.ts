/** Tests for the byte helpers: strict base64url, base32, hex, UTF-8 length, constant-time compare. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  b64u,
  base32Lower,
  concat,
  equalBytes,
  fromB64u,
  fromHex,
  i2osp,
  toHex,
  utf8,
  utf8Length,
} from './bytes.ts';
import { ProtocolError } from './errors.ts';

const isBadMessage = (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message';

test('base64url matches Node’s encoder and round-trips', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const s = b64u(bytes);
      assert.equal(s, Buffer.from(bytes).toString('base64url'));
      assert.deepEqual(fromB64u(s), bytes);
    }),
    { numRuns: 2000 },
  );
});

test('base64url decoding is strict: padding, other alphabets, bad length and non-canonical bits are refused', () => {
  for (const s of ['AA==', 'A', 'AB+/', 'AB/_', 'A A', 'AF', 'AAB', '\u00e9A']) {
    assert.throws(() => fromB64u(s), isBadMessage, s);
  }
  assert.deepEqual(fromB64u('AA'), Uint8Array.of(0));
  assert.deepEqual(fromB64u('AAE'), Uint8Array.of(0, 1));
});

test('base32 matches RFC 4648 §10 (lowercase, unpadded)', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['f', 'my'],
    ['fo', 'mzxq'],
    ['foo', 'mzxw6'],
    ['foob', 'mzxw6yq'],
    ['fooba', 'mzxw6ytb'],
    ['foobar', 'mzxw6ytboi'],
  ];
  for (const [input, out] of cases) assert.equal(base32Lower(utf8(input)), out);
});

test('hex round-trips and rejects bad input', () => {
  assert.equal(toHex(fromHex('00ff10AB')), '00ff10ab');
  assert.throws(() => fromHex('abc'), isBadMessage);
  assert.throws(() => fromHex('zz'), isBadMessage);
});

test('utf8Length equals the encoded length, surrogates included', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
      assert.equal(utf8Length(s), utf8(s).length);
    }),
    { numRuns: 2000 },
  );
});

test('i2osp is big-endian and refuses values that do not fit', () => {
  assert.deepEqual(i2osp(0x0102, 2), Uint8Array.of(1, 2));
  assert.deepEqual(i2osp(2 ** 40 + 5, 12).slice(6), Uint8Array.of(1, 0, 0, 0, 0, 5));
  assert.throws(() => i2osp(256, 1), RangeError);
  assert.throws(() => i2osp(-1, 4), RangeError);
});

test('equalBytes compares content and length', () => {
  assert.ok(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)));
  assert.ok(!equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)));
  assert.ok(!equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)));
  assert.deepEqual(concat(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)), Uint8Array.of(1, 2, 3));
});
