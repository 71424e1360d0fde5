/**
 * Sealed-envelope tests: round trip, every single-bit flip refused with a
 * coded error, replay and clock window, wrong parties, and the relay's view.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64u, fromB64u, fromUtf8, utf8 } from './bytes.ts';
import { type Envelope, openEnvelope, openJson, sealEnvelope, sealJson } from './envelope.ts';
import { ProtocolError } from './errors.ts';
import { deviceIdOf, generateKeyPair, hostIdOf } from './identity.ts';
import { ReplayCache } from './replay.ts';

const host = generateKeyPair(new Uint8Array(32).fill(1));
const device = generateKeyPair(new Uint8Array(32).fill(2));
const stranger = generateKeyPair(new Uint8Array(32).fill(3));
const hostId = hostIdOf(host.publicKey);
const deviceId = deviceIdOf(device.publicKey);
const NOW = 1_800_000_000;

function seal(plaintext = 'hello, host', kind = 'offer', ts = NOW): Envelope {
  return sealEnvelope({
    kind,
    plaintext: utf8(plaintext),
    senderId: deviceId,
    senderSecret: device.secretKey,
    recipientId: hostId,
    recipientPublic: host.publicKey,
    ts,
  });
}

function open(envelope: Envelope, replay?: ReplayCache): string {
  return fromUtf8(
    openEnvelope({
      envelope,
      senderId: deviceId,
      senderPublic: device.publicKey,
      recipientId: hostId,
      recipientSecret: host.secretKey,
      ...(replay ? { replay } : {}),
    }),
  );
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw new Error(`threw a non-ProtocolError: ${String(e)}`);
  }
  return 'opened';
}

test('seal → open round trip; the relay-visible form holds no plaintext', () => {
  const e = seal('secret sentinel 1234');
  assert.deepEqual(Object.keys(e).sort(), ['ct', 'enc', 'kind', 'mid', 'ts']);
  assert.equal(fromB64u(e.mid).length, 16);
  assert.equal(fromB64u(e.enc).length, 32);
  assert.ok(!JSON.stringify(e).includes('sentinel'));
  assert.equal(open(e), 'secret sentinel 1234');
  const j = sealJson({
    kind: 'hangup',
    body: { conn: 'abcdefgh', reason: 'x' },
    senderId: deviceId,
    senderSecret: device.secretKey,
    recipientId: hostId,
    recipientPublic: host.publicKey,
  });
  assert.deepEqual(
    openJson({
      envelope: j,
      senderId: deviceId,
      senderPublic: device.publicKey,
      recipientId: hostId,
      recipientSecret: host.secretKey,
    }),
    { conn: 'abcdefgh', reason: 'x' },
  );
});

test('two seals of the same message differ (fresh ephemeral key and mid)', () => {
  const a = seal();
  const b = seal();
  assert.notEqual(a.enc, b.enc);
  assert.notEqual(a.mid, b.mid);
  assert.notEqual(a.ct, b.ct);
});

test('one flipped bit anywhere (kind, mid, ts, enc, ct) fails with a coded error', () => {
  const e = seal('tamper me');
  const codes = new Map<string, number>();
  const tally = (c: string) => codes.set(c, (codes.get(c) ?? 0) + 1);
  const flipBytes = (field: 'mid' | 'enc' | 'ct') => {
    const raw = fromB64u(e[field]);
    for (let bit = 0; bit < raw.length * 8; bit++) {
      const t = raw.slice();
      t[bit >> 3]! ^= 1 << (bit & 7);
      const c = codeOf(() => open({ ...e, [field]: b64u(t) }));
      assert.notEqual(c, 'opened', `${field} bit ${bit}`);
      tally(c);
    }
  };
  flipBytes('mid');
  flipBytes('enc');
  flipBytes('ct');
  for (let bit = 0; bit < 31; bit++) {
    const c = codeOf(() => open({ ...e, ts: e.ts ^ (1 << bit) }));
    assert.notEqual(c, 'opened', `ts bit ${bit}`);
    tally(c);
  }
  for (let i = 0; i < e.kind.length; i++) {
    for (let bit = 0; bit < 7; bit++) {
      const k =
        e.kind.slice(0, i) + String.fromCharCode(e.kind.charCodeAt(i) ^ (1 << bit)) + e.kind.slice(i + 1);
      const c = codeOf(() => open({ ...e, kind: k }));
      assert.notEqual(c, 'opened', `kind char ${i} bit ${bit}`);
      tally(c);
    }
  }
  // Only these codes may come out of a tampered envelope.
  for (const c of codes.keys()) assert.ok(['decrypt_failed', 'bad_key'].includes(c), c);
  assert.ok((codes.get('decrypt_failed') ?? 0) > 500);
  assert.equal(open(e), 'tamper me', 'the untouched envelope still opens');
});

test('a wrong sender key, a wrong recipient, or swapped ids do not open', () => {
  const e = seal();
  const base = {
    envelope: e,
    senderId: deviceId,
    senderPublic: device.publicKey,
    recipientId: hostId,
    recipientSecret: host.secretKey,
  } as const;
  assert.equal(
    codeOf(() => openEnvelope({ ...base, senderPublic: stranger.publicKey })),
    'decrypt_failed',
  );
  assert.equal(
    codeOf(() => openEnvelope({ ...base, recipientSecret: stranger.secretKey })),
    'decrypt_failed',
  );
  assert.equal(
    codeOf(() => openEnvelope({ ...base, senderId: deviceIdOf(stranger.publicKey) })),
    'decrypt_failed',
  );
  assert.equal(
    codeOf(() => openEnvelope({ ...base, recipientId: hostIdOf(stranger.publicKey) })),
    'decrypt_failed',
  );
});

test('replay cache: a replayed mid → replay; ts 61 s off either way → clock_skew; 60 s is accepted', () => {
  let now = NOW;
  const replay = new ReplayCache({ now: () => now });
  const e = seal('once');
  assert.equal(open(e, replay), 'once');
  assert.equal(
    codeOf(() => open(e, replay)),
    'replay',
  );
  assert.equal(
    codeOf(() => open(seal('late', 'offer', NOW - 61), replay)),
    'clock_skew',
  );
  assert.equal(
    codeOf(() => open(seal('early', 'offer', NOW + 61), replay)),
    'clock_skew',
  );
  assert.equal(open(seal('edge', 'offer', NOW - 60), replay), 'edge');
  assert.equal(open(seal('edge', 'offer', NOW + 60), replay), 'edge');
  // Still refused 119 s later (its ts is now out of window anyway), and the id is forgotten after 120 s.
  now = NOW + 119;
  assert.equal(
    codeOf(() => open(e, replay)),
    'clock_skew',
  );
  now = NOW + 200;
  assert.equal(replay.size, 3);
  replay.check('fresh-id', now);
  assert.equal(replay.size, 0);
});

test('a forged envelope does not poison the replay cache', () => {
  const replay = new ReplayCache({ now: () => NOW });
  const e = seal('real');
  const ct = fromB64u(e.ct);
  ct[0]! ^= 1;
  assert.equal(
    codeOf(() => open({ ...e, ct: b64u(ct) }, replay)),
    'decrypt_failed',
  );
  assert.equal(open(e, replay), 'real');
});

test('the replay cache fails closed when full', () => {
  const replay = new ReplayCache({ now: () => NOW, maxEntries: 2 });
  replay.record('a');
  replay.record('b');
  assert.equal(
    codeOf(() => replay.record('c')),
    'rate_limited',
  );
});
