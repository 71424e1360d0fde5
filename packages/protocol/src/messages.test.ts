/**
 * Relay message parser tests: every message type accepted in its valid
 * form and refused in broken forms, the 64 KiB cap, and property tests —
 * 10^5 random and mutated frames never throw anything but ProtocolError and
 * take at most a few milliseconds each.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonValue, parserInputs } from '../testing/fuzz.ts';
import { b64u } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { deviceIdOf, generateKeyPair, hostIdOf } from './identity.ts';
import { parseInner } from './inner.ts';
import {
  type ClientMessage,
  decodeFrame,
  encodeMessage,
  errorMessage,
  MAX_MESSAGE_BYTES,
  readClientMessage,
  readServerMessage,
  ridOf,
  type ServerMessage,
} from './messages.ts';

const pub = b64u(generateKeyPair(new Uint8Array(32).fill(1)).publicKey);
const host = hostIdOf(generateKeyPair(new Uint8Array(32).fill(1)).publicKey);
const device = deviceIdOf(generateKeyPair(new Uint8Array(32).fill(2)).publicKey);
const env = {
  kind: 'offer',
  mid: b64u(new Uint8Array(16)),
  ts: 1_800_000_000,
  enc: b64u(new Uint8Array(32).fill(7)),
  ct: b64u(new Uint8Array(40)),
};
const sig = b64u(new Uint8Array(64));
const claim = b64u(new Uint8Array(16).fill(3));

const validClient: ClientMessage[] = [
  { t: 'auth', role: 'host', pub, ts: 1_800_000_000, sig },
  { t: 'auth', role: 'device', pub, ts: 1, sig, enroll: 'abcdefghijklmnopqrstuvwxyz' },
  { t: 'pair.create', rid: '1' },
  { t: 'pair.redeem', rid: 'r-2', claim, host, env },
  { t: 'pair.accept', rid: 'x', to: device, env },
  { t: 'pair.reject', rid: 'x', to: device },
  { t: 'pair.revoke', rid: 'x', peer: host },
  { t: 'send', to: host, env },
  { t: 'send', rid: 'abc', to: device, env },
  { t: 'turn.credentials', rid: '9' },
];

const validServer: ServerMessage[] = [
  { t: 'challenge', nonce: b64u(new Uint8Array(32)), relay: 'ws://127.0.0.1:8080' },
  { t: 'ready', id: host, time: 1_800_000_000 },
  { t: 'pair.created', rid: '1', claim, expires: 1_800_000_300 },
  { t: 'pair.request', from: device, pub, env },
  { t: 'ok', rid: '1' },
  { t: 'pair.accepted', from: host, pub, env },
  { t: 'pair.rejected', from: host },
  { t: 'pair.burned' },
  { t: 'pair.revoked', from: device },
  { t: 'deliver', from: device, env },
  { t: 'presence', host, online: true },
  {
    t: 'turn',
    rid: '1',
    urls: ['turn:127.0.0.1:3478?transport=udp'],
    username: '1:d_x',
    credential: 'c',
    ttl: 3600,
  },
  { t: 'error', code: 'not_paired' },
  { t: 'error', rid: '3', code: 'rate_limited', message: 'slow down' },
];

const isBad = (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message';

test('every valid client message parses to itself', () => {
  for (const m of validClient) assert.deepEqual(readClientMessage(encodeMessage(m)), m);
});

test('every valid server message parses to itself', () => {
  for (const m of validServer) assert.deepEqual(readServerMessage(encodeMessage(m)), m);
});

test('bytes frames (UTF-8) parse like text frames', () => {
  const m = validClient[3]!;
  assert.deepEqual(readClientMessage(new TextEncoder().encode(encodeMessage(m))), m);
  assert.throws(() => decodeFrame(Uint8Array.of(0xff, 0xfe)), isBad);
});

test('unknown fields are dropped, unknown types and wrong directions refused', () => {
  const parsed = readClientMessage(
    JSON.stringify({ t: 'pair.create', rid: '1', extra: 'x', __proto__: { a: 1 } }),
  );
  assert.deepEqual(Object.keys(parsed), ['t', 'rid']);
  assert.throws(() => readClientMessage('{"t":"deliver","from":"x"}'), isBad);
  assert.throws(() => readServerMessage(encodeMessage(validClient[2]!)), isBad);
  assert.throws(() => readClientMessage('{"t":"nope"}'), isBad);
});

test('broken fields are refused, each with bad_message naming the field', () => {
  const broken: [unknown, string][] = [
    [{ t: 'auth', role: 'admin', pub, ts: 1, sig }, 'role'],
    [{ t: 'auth', role: 'host', pub: b64u(new Uint8Array(31)), ts: 1, sig }, 'pub'],
    [{ t: 'auth', role: 'host', pub, ts: 1.5, sig }, 'ts'],
    [{ t: 'auth', role: 'host', pub, ts: -1, sig }, 'ts'],
    [{ t: 'auth', role: 'host', pub, ts: 1, sig: `${sig}=` }, 'sig'],
    [{ t: 'pair.create' }, 'rid'],
    [{ t: 'pair.create', rid: '' }, 'rid'],
    [{ t: 'pair.create', rid: 'a b' }, 'rid'],
    [{ t: 'pair.create', rid: 'x'.repeat(65) }, 'rid'],
    [{ t: 'pair.redeem', rid: '1', claim: b64u(new Uint8Array(15)), host, env }, 'claim'],
    [{ t: 'pair.redeem', rid: '1', claim, host: device, env }, 'host'],
    [{ t: 'pair.accept', rid: '1', to: host, env }, 'to'],
    [{ t: 'send', to: 'h_short', env }, 'to'],
    [{ t: 'send', to: host, env: { ...env, kind: 'Offer' } }, 'kind'],
    [{ t: 'send', to: host, env: { ...env, mid: b64u(new Uint8Array(15)) } }, 'mid'],
    [{ t: 'send', to: host, env: { ...env, enc: 'not base64!' } }, 'enc'],
    [{ t: 'send', to: host, env: { ...env, ct: b64u(new Uint8Array(47 * 1024)) } }, 'ct'],
    [{ t: 'send', to: host, env: [] }, 'env'],
    [[], 'message'],
    [null, 'message'],
    [{ t: 7 }, 't'],
  ];
  for (const [value, field] of broken) {
    assert.throws(
      () => readClientMessage(JSON.stringify(value)),
      (e: unknown) => isBad(e) && (e as Error).message.startsWith(`${field}`),
      JSON.stringify(value).slice(0, 80),
    );
  }
});

test('the 64 KiB cap: a frame of exactly the cap parses, one byte more is refused before JSON parsing', () => {
  const skeleton = JSON.stringify({ t: 'pair.create', rid: '1', pad: '' });
  const exact = JSON.stringify({
    t: 'pair.create',
    rid: '1',
    pad: 'x'.repeat(MAX_MESSAGE_BYTES - skeleton.length),
  });
  assert.equal(exact.length, MAX_MESSAGE_BYTES);
  assert.deepEqual(readClientMessage(exact), { t: 'pair.create', rid: '1' });
  const over = `${exact} `;
  assert.throws(
    () => readClientMessage(over),
    (e: unknown) => isBad(e) && /exceeds/.test((e as Error).message),
  );
  // Multi-byte characters count as their UTF-8 length, not UTF-16 units.
  const wide = JSON.stringify({ t: 'pair.create', rid: '1', pad: 'é'.repeat(MAX_MESSAGE_BYTES / 2) });
  assert.ok(wide.length < MAX_MESSAGE_BYTES * 0.6);
  assert.throws(() => readClientMessage(wide), isBad);
  assert.throws(() => readClientMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), isBad);
  assert.throws(
    () => encodeMessage({ t: 'error', code: 'x', message: 'y'.repeat(MAX_MESSAGE_BYTES) }),
    isBad,
  );
});

test('ridOf echoes only well-formed rids; errorMessage maps errors to codes', () => {
  assert.equal(ridOf({ rid: 'ok-1' }), 'ok-1');
  assert.equal(ridOf({ rid: 'no spaces' }), undefined);
  assert.equal(ridOf('x'), undefined);
  assert.deepEqual(errorMessage(new ProtocolError('not_paired'), '5'), {
    t: 'error',
    code: 'not_paired',
    message: 'There is no live pairing with that party.',
    rid: '5',
  });
  const internal = errorMessage(new Error('secret detail /home/me/.pocketshell/key'));
  assert.equal(internal.code, 'internal');
  assert.ok(!JSON.stringify(internal).includes('secret detail'), 'internal errors do not leak their message');
});

/** The slowest input seen, to be re-timed afterwards (one slow run may be a GC pause). */
interface Slowest {
  ms: number;
  fn: () => unknown;
}

/** Runs `fn`, requiring that it either returns or throws ProtocolError; remembers the slowest. */
function total(fn: () => unknown, slowest: Slowest) {
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
  const ms = performance.now() - t0;
  if (ms > slowest.ms) Object.assign(slowest, { ms, fn });
}

/** Best of five re-runs of the slowest input: what the input costs, without pauses. */
function retimeSlowest(slowest: Slowest): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    try {
      slowest.fn();
    } catch {}
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const frames = parserInputs([...validClient, ...validServer]);

test('property: 10^5 random or mutated frames → parsed or ProtocolError, never anything else, each fast', () => {
  const slowest: Slowest = { ms: 0, fn: () => undefined };
  fc.assert(
    fc.property(frames, (frame) => {
      total(() => readClientMessage(frame), slowest);
      total(() => readServerMessage(frame), slowest);
    }),
    { numRuns: 100_000, seed: 42 },
  );
  const ms = retimeSlowest(slowest);
  assert.ok(ms < 5, `slowest input takes ${ms.toFixed(2)} ms`);
});

test('property: 10^5 inner bodies (what a sealed envelope carries) likewise', () => {
  const slowest: Slowest = { ms: 0, fn: () => undefined };
  const kinds = ['pair.request', 'pair.accept', 'offer', 'answer', 'ice', 'hangup'] as const;
  fc.assert(
    fc.property(fc.constantFrom(...kinds), jsonValue, (kind, v) => total(() => parseInner(kind, v), slowest)),
    { numRuns: 100_000, seed: 7 },
  );
  const ms = retimeSlowest(slowest);
  assert.ok(ms < 5, `slowest input takes ${ms.toFixed(2)} ms`);
});

test('inner bodies: valid ones parse, names with control characters are refused', () => {
  assert.deepEqual(parseInner('pair.request', { name: 'Pixel 9', ts: 5, sig }), {
    name: 'Pixel 9',
    ts: 5,
    sig,
  });
  assert.throws(() => parseInner('pair.request', { name: 'evil\u001b[2J', ts: 5, sig }), isBad);
  assert.throws(() => parseInner('pair.request', { name: '', ts: 5, sig }), isBad);
  assert.deepEqual(parseInner('pair.accept', { host_name: 'box', grants: ['shell', 'stats'], sig }).grants, [
    'shell',
    'stats',
  ]);
  assert.throws(() => parseInner('pair.accept', { host_name: 'box', grants: ['root'], sig }), isBad);
  assert.deepEqual(parseInner('ice', { conn: 'abcdefgh', candidate: null }), {
    conn: 'abcdefgh',
    candidate: null,
  });
  assert.deepEqual(
    parseInner('ice', {
      conn: 'abcdefgh',
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' },
    }),
    {
      conn: 'abcdefgh',
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: null, sdpMLineIndex: null },
    },
  );
  assert.throws(() => parseInner('offer', { conn: 'short', sdp: '', nonce: claim, ts: 1, sig }), isBad);
});
