/**
 * Tests of the shared RPC codec. The request parser (issue 12: every parser
 * a peer reaches is fuzzed; moved here from the control channel's tests):
 * fixed cases, then 10^5 random and mutated requests — as text and as
 * bytes, including invalid UTF-8 and over-size — each of which parses to a
 * well-formed request or throws `ProtocolError` with a catalogue code (a
 * `BadRequest` keeping the id whenever one was readable), never any other
 * exception. Then the server and the client over an in-memory pair of
 * pipes: unsupported methods, grants, params, results checked on arrival.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { mutatedJson, parserInputs } from '../testing/fuzz.ts';
import { utf8 } from './bytes.ts';
import { MAX_CONTROL_REQUEST } from './control-methods.ts';
import { isErrorCode, ProtocolError } from './errors.ts';
import { BadRequest, parseRequest } from './rpc.ts';

const parseControlRequest = (data: string | Uint8Array) => parseRequest(data, MAX_CONTROL_REQUEST);

const METHOD_RE = /^[a-z][a-z.]*$/;

/** Parses `data`, requiring a well-formed request or a coded ProtocolError. */
function total(data: string | Uint8Array): void {
  try {
    const r = parseControlRequest(data);
    if (!(Number.isSafeInteger(r.id) && r.id >= 0 && r.id <= 2 ** 31)) throw new Error(`id ${r.id}`);
    if (!(METHOD_RE.test(r.method) && r.method.length <= 64)) throw new Error(`method ${r.method}`);
  } catch (error) {
    if (!(error instanceof ProtocolError) || !isErrorCode(error.code)) throw error;
    if (error instanceof BadRequest && error.id !== undefined && !Number.isSafeInteger(error.id))
      throw new Error(`bad id ${error.id}`);
  }
}

const valid = [
  { id: 1, method: 'host.info' },
  { id: 2, method: 'sessions.list', params: {} },
  { id: 3, method: 'sessions.close', params: { id: 'AbCdEfGhIjKl' } },
  { id: 2 ** 31, method: 'x' },
];
const mutated = mutatedJson(valid);
/** A valid request's bytes with a few bytes flipped, cut or inserted. */
const flipped = fc
  .tuple(
    fc.constantFrom(...valid),
    fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.nat(80),
  )
  .map(([m, flips, cut]) => {
    const b = utf8(JSON.stringify(m));
    for (const [at, v] of flips) b[at % b.length] = v;
    return cut % 3 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
  });
const requests = parserInputs(
  valid,
  mutated.map((s) => utf8(s)),
  flipped,
  flipped,
);

describe('control requests', () => {
  test('valid requests parse; a malformed method keeps its id; over-size and non-JSON are bad_message', () => {
    assert.deepEqual(parseControlRequest(JSON.stringify(valid[2])), valid[2]);
    assert.deepEqual(parseControlRequest(utf8(JSON.stringify(valid[0]))), { ...valid[0], params: undefined });
    const bad = (data: string | Uint8Array, id?: number) =>
      assert.throws(
        () => parseControlRequest(data),
        (e: unknown) =>
          e instanceof ProtocolError &&
          e.code === 'bad_message' &&
          (e instanceof BadRequest ? e.id : undefined) === id,
      );
    bad('{"id":4,"method":"Bad-Method!"}', 4);
    bad('{"id":4}', 4);
    bad('{"id":-4,"method":"host.info"}');
    bad('nope');
    bad(Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d));
    bad(JSON.stringify({ id: 1, method: 'host.info', params: 'x'.repeat(MAX_CONTROL_REQUEST) }));
    // The cap counts bytes: 9000 two-byte characters are over 16 KiB.
    bad(JSON.stringify({ id: 1, method: 'host.info', params: 'é'.repeat(9000) }));
    bad(new Uint8Array(MAX_CONTROL_REQUEST + 1).fill(0x20));
  });

  test('property: 10^5 random or mutated requests → a request or a coded ProtocolError, never anything else', () => {
    fc.assert(fc.property(requests, total), { numRuns: 100_000, seed: 13 });
  });
});
