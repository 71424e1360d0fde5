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
import { isErrorCode, ProtocolError, type RemoteError } from './errors.ts';
import { BadRequest, method, noParams, parseReply, parseRequest, RpcClient, rpcServer } from './rpc.ts';
import { object, string } from './schema.ts';

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

/** A tiny map for the server/client tests. */
const MAP = {
  echo: method({
    grant: null,
    params: (v) => ({ text: string(object(v, 'params'), 'text', 16) }),
    result: (v) => ({ text: string(object(v, 'result'), 'text', 16) }),
  }),
  secret: method({ grant: 'admin', params: noParams, result: (v) => ({ ok: object(v).ok === true }) }),
  broken: method({ grant: null, params: noParams, result: (v) => ({ n: string(object(v), 'n', 4) }) }),
  fails: method({ grant: null, params: noParams, result: () => null }),
} as const;

/** A server and a client joined by two in-memory pipes; `grants` are the peer's. */
function pair(grants: string[]) {
  const refusals: string[] = [];
  const toServer: string[] = [];
  const client = new RpcClient(MAP, (text) => {
    toServer.push(text);
    void feed(text);
  });
  const feed = rpcServer({
    methods: MAP,
    maxRequest: 256,
    grants: () => new Set(grants),
    context: () => undefined,
    send: (text) => queueMicrotask(() => client.receive(text)),
    onRefusal: (e, m) => refusals.push(`${e.code} ${m}`),
    handlers: {
      echo: ({ text }) => ({ text }),
      secret: () => ({ ok: true }),
      // The peer answers with a shape the map does not allow.
      broken: () => ({ n: 'too long a string' }) as unknown as { n: string },
      fails: () => {
        throw new Error('a local detail that must not travel');
      },
    },
  });
  return { client, refusals, toServer, feed };
}

describe('rpc server and client', () => {
  test('a call round-trips; results are checked on arrival', async () => {
    const { client } = pair([]);
    assert.deepEqual(await client.call('echo', { text: 'hi' }), { text: 'hi' });
    await assert.rejects(
      client.call('broken'),
      (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message',
    );
  });

  test('refusals: unsupported method, missing grant, bad params, a handler failure as internal without detail', async () => {
    const { client, refusals } = pair([]);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: RemoteError) => `${e.code}: ${e.message}`,
      );
    assert.equal(await code(client.callUntyped('nosuch')), 'unsupported: no method nosuch');
    assert.equal(await code(client.call('secret')), 'grant_missing: admin');
    assert.equal(
      await code(client.callUntyped('echo', { text: 42 })),
      'bad_message: text: expected a string',
    );
    assert.equal(
      await code(client.callUntyped('echo', { text: 'x'.repeat(17) })),
      'bad_message: text: longer than 16',
    );
    assert.equal(await code(client.call('fails')), 'internal: internal error');
    assert.deepEqual(refusals, [
      'unsupported nosuch',
      'grant_missing secret',
      'bad_message echo',
      'bad_message echo',
      'internal fails',
    ]);
    const { client: admin } = pair(['admin']);
    assert.deepEqual(await admin.call('secret'), { ok: true });
  });

  test('a malformed request is answered with its id when readable, else id null', async () => {
    const answers: string[] = [];
    const feed = rpcServer({
      methods: MAP,
      maxRequest: 64,
      context: () => undefined,
      send: (text) => answers.push(text),
      handlers: {
        echo: ({ text }) => ({ text }),
        secret: () => ({ ok: true }),
        broken: () => ({ n: '' }),
        fails: () => null,
      },
    });
    await feed('{"id":9,"method":"Bad!"}');
    await feed('{"method":"echo"}');
    await feed(`{"id":3,"method":"echo","params":{"text":"${'x'.repeat(80)}"}}`);
    assert.deepEqual(
      answers.map((a) => parseReply(a, 1024)),
      [
        { kind: 'error', id: 9, code: 'bad_message', message: 'method: bad format' },
        { kind: 'error', id: null, code: 'bad_message', message: 'id: expected an integer' },
        { kind: 'error', id: null, code: 'bad_message', message: 'request longer than 64 bytes' },
      ],
    );
  });

  test('events reach their call; close rejects what is pending and what comes later', async () => {
    const sent: string[] = [];
    const client = new RpcClient(MAP, (t) => sent.push(t));
    const events: string[] = [];
    const pending = client.call(
      'echo',
      { text: 'a' },
      { onEvent: (e, d) => events.push(`${e}=${JSON.stringify(d)}`) },
    );
    assert.equal(client.receive('{"id":1,"event":"url","data":{"u":1}}'), true);
    assert.equal(client.receive('not json'), false, 'not a reply');
    assert.equal(client.receive('{"id":77,"result":1}'), true, 'a reply to nobody is dropped');
    assert.deepEqual(events, ['url={"u":1}']);
    assert.equal(client.pending, 1);
    client.close();
    await assert.rejects(pending, (e: unknown) => e instanceof ProtocolError && e.code === 'unavailable');
    await assert.rejects(
      client.call('echo', { text: 'b' }),
      (e: unknown) => e instanceof ProtocolError && e.code === 'unavailable',
    );
    assert.equal(sent.length, 1, 'nothing is sent after close');
  });

  test('onId hears each request’s own id before the request is sent', () => {
    const sent: string[] = [];
    const heard: [number, number][] = [];
    const client = new RpcClient(MAP, (t) => sent.push(t));
    for (const text of ['a', 'b']) {
      void client.call('echo', { text }, { onId: (id) => heard.push([id, sent.length]) }).catch(() => {});
    }
    // Each id is the one its request carries, heard while nothing of that request was sent.
    assert.deepEqual(
      heard,
      sent.map((t, i) => [(JSON.parse(t) as { id: number }).id, i]),
    );
    client.close();
  });
});
