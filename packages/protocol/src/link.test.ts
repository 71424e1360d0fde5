/**
 * Tests of the relay path's set-up and frame crypto (link.ts): both ends
 * derive the same direction keys only from a genuine signed open and
 * accept; a replayed, re-wrapped, forged or stale open is refused before
 * any key exists; frames authenticate per direction and counter; records
 * are size-capped and checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { b64u, equalBytes, fromB64u } from './bytes.ts';
import { sealJson } from './envelope.ts';
import { ProtocolError } from './errors.ts';
import { deviceIdOf, generateKeyPair, hostIdOf } from './identity.ts';
import {
  acceptLinkOpen,
  decodeLinkRecords,
  encodeLinkRecords,
  LINK_MAX_MESSAGE,
  LINK_MAX_PLAINTEXT,
  LINK_RECORD,
  LinkCipher,
  linkAck,
  linkAckValue,
  linkFrameSeq,
  makeLinkOpen,
} from './link.ts';
import { ReplayCache } from './replay.ts';

const NOW = 1_800_000_000;
const host = generateKeyPair(new Uint8Array(32).fill(1));
const device = generateKeyPair(new Uint8Array(32).fill(2));
const hostId = hostIdOf(host.publicKey);
const deviceId = deviceIdOf(device.publicKey);
const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

function open(now = NOW) {
  return makeLinkOpen({ hostId, hostPub: host.publicKey, deviceId, deviceSecret: device.secretKey, now });
}

function hostSide(
  envelope = open().envelope,
  caches = { e: new ReplayCache({ now: () => NOW }), s: new ReplayCache({ now: () => NOW }) },
) {
  return acceptLinkOpen({
    envelope,
    hostId,
    hostSecret: host.secretKey,
    deviceId,
    devicePub: device.publicKey,
    envelopes: caches.e,
    sessions: caches.s,
    now: NOW,
  });
}

function session() {
  const o = open();
  const h = hostSide(o.envelope);
  const keys = o.accept(h.accept, NOW);
  return {
    device: new LinkCipher(keys, 'device', o.sid),
    host: new LinkCipher(h.keys, 'host', h.sid),
    keys,
    hostKeys: h.keys,
  };
}

describe('link set-up', () => {
  it('gives both ends the same two direction keys, different from each other', () => {
    const { keys, hostKeys } = session();
    assert.ok(equalBytes(keys.d2h, hostKeys.d2h));
    assert.ok(equalBytes(keys.h2d, hostKeys.h2d));
    assert.ok(!equalBytes(keys.d2h, keys.h2d));
  });

  it('gives every session fresh keys', () => {
    const a = session();
    const b = session();
    assert.ok(!equalBytes(a.keys.d2h, b.keys.d2h));
  });

  it('refuses the same open twice (replay)', () => {
    const o = open();
    const caches = { e: new ReplayCache({ now: () => NOW }), s: new ReplayCache({ now: () => NOW }) };
    hostSide(o.envelope, caches);
    assert.throws(() => hostSide(o.envelope, caches), code('replay'));
  });

  it('refuses an open whose body was re-sealed in another envelope (it signs the first one)', () => {
    const o = open();
    const caches = { e: new ReplayCache({ now: () => NOW }), s: new ReplayCache({ now: () => NOW }) };
    hostSide(o.envelope, caches);
    const forged = sealJson({
      kind: 'link.open',
      body: {
        conn: b64u(new Uint8Array(16).fill(3)),
        enc: o.envelope.enc,
        ts: NOW,
        sig: b64u(new Uint8Array(64)),
      },
      senderId: deviceId,
      senderSecret: device.secretKey,
      recipientId: hostId,
      recipientPublic: host.publicKey,
      ts: NOW,
    });
    assert.throws(() => hostSide(forged, caches), code('bad_message'));
  });

  it('refuses an open from another key, a stale one, and a bad signature', () => {
    const stranger = generateKeyPair(new Uint8Array(32).fill(9));
    const o = makeLinkOpen({
      hostId,
      hostPub: host.publicKey,
      deviceId,
      deviceSecret: stranger.secretKey,
      now: NOW,
    });
    assert.throws(() => hostSide(o.envelope), code('decrypt_failed'));
    assert.throws(() => hostSide(open(NOW - 600).envelope), code('clock_skew'));
  });

  it('refuses an accept with a bad signature, for another session, or twice', () => {
    const o = open();
    const h = hostSide(o.envelope);
    assert.throws(() => o.accept({ ...h.accept, sig: b64u(new Uint8Array(64)) }, NOW), code('bad_signature'));
    const other = open();
    assert.throws(() => other.accept(h.accept, NOW), code('bad_message'));
    o.accept(h.accept, NOW);
    assert.throws(() => o.accept(h.accept, NOW), code('replay'));
  });
});

describe('link frames', () => {
  it('carry records one way and authenticate per direction and counter', () => {
    const s = session();
    const records = [
      { type: LINK_RECORD.text, chan: 1, payload: new TextEncoder().encode('hello') },
    ] as const;
    const f = s.device.seal(0, NOW, encodeLinkRecords(records));
    assert.equal(f.kind, 'link');
    assert.equal(linkFrameSeq(f), 0);
    const got = decodeLinkRecords(s.host.open(f, 0));
    assert.equal(new TextDecoder().decode(got[0]!.payload), 'hello');
    // Wrong counter, wrong direction, tampered bytes or time: refused.
    assert.throws(() => s.host.open(f, 1), code('decrypt_failed'));
    assert.throws(() => s.device.open({ ...f }, 0), code('decrypt_failed'));
    const ct = fromB64u(f.ct);
    ct[0] = ct[0]! ^ 1;
    assert.throws(() => s.host.open({ ...f, ct: b64u(ct) }, 0), code('decrypt_failed'));
    assert.throws(() => s.host.open({ ...f, ts: NOW + 1 }, 0), code('decrypt_failed'));
    assert.throws(() => s.host.open({ ...f, mid: b64u(new Uint8Array(16)) }, 0), code('bad_message'));
  });

  it('read their counter from enc and refuse a malformed one', () => {
    const s = session();
    const f = s.host.seal(2 ** 40 + 7, NOW, new Uint8Array(0));
    assert.equal(linkFrameSeq(f), 2 ** 40 + 7);
    const enc = fromB64u(f.enc);
    enc[31] = 1;
    assert.throws(() => linkFrameSeq({ ...f, enc: b64u(enc) }), code('bad_message'));
  });

  it('cap the plaintext and each record', () => {
    const s = session();
    assert.throws(() => s.device.seal(0, NOW, new Uint8Array(LINK_MAX_PLAINTEXT + 1)), code('bad_message'));
    const big = new Uint8Array(9 + LINK_MAX_MESSAGE + 1);
    big[0] = LINK_RECORD.binary;
    new DataView(big.buffer).setUint32(5, LINK_MAX_MESSAGE + 1);
    assert.throws(() => decodeLinkRecords(big), code('bad_message'));
    assert.throws(() => decodeLinkRecords(Uint8Array.of(0x7f, 0, 0, 0, 1, 0, 0, 0, 0)), code('bad_message'));
    assert.throws(
      () => decodeLinkRecords(Uint8Array.of(LINK_RECORD.text, 0, 0, 0, 1, 0, 0, 0, 9)),
      code('bad_message'),
    );
    // An ack must be on channel 0 with 8 bytes.
    const ack = encodeLinkRecords([linkAck(5)]);
    assert.equal(linkAckValue(decodeLinkRecords(ack)[0]!), 5);
    ack[4] = 1;
    assert.throws(() => decodeLinkRecords(ack), code('bad_message'));
  });
});
