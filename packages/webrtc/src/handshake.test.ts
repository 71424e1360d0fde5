/**
 * Tests of the signed offer/answer: what each side signs, and every refusal
 * (`bad_signature`, `clock_skew`, `replay`, `bad_message`) with a fixed SDP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  b64u,
  deviceIdOf,
  fromB64u,
  generateKeyPair,
  hostIdOf,
  ProtocolError,
  ReplayCache,
  sdpTranscript,
  sign,
  verify,
} from '@pocketshell/protocol';
import { makeAnswer, makeOffer, verifyAnswer, verifyOffer } from './handshake.ts';

const host = generateKeyPair(new Uint8Array(32).fill(1));
const device = generateKeyPair(new Uint8Array(32).fill(2));
const stranger = generateKeyPair(new Uint8Array(32).fill(3));
const hostId = hostIdOf(host.publicKey);
const deviceId = deviceIdOf(device.publicKey);
const NOW = 1_800_000_000;
const FP = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(
  ':',
);
const SDP = `v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=fingerprint:sha-256 ${FP}\r\na=setup:actpass\r\n`;
const nonce = new Uint8Array(16).fill(9);
const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

const offerInput = {
  sdp: SDP,
  conn: 'conn-0001',
  hostId,
  deviceId,
  deviceSecret: device.secretKey,
  now: NOW,
  nonce,
};
const offerContext = () => ({
  devicePub: device.publicKey,
  hostId,
  deviceId,
  replay: new ReplayCache({ now: () => NOW }),
  now: NOW,
});

describe('offer', () => {
  it('signs the docs/protocol.md §6 transcript and verifies', () => {
    const body = makeOffer(offerInput);
    assert.equal(body.nonce, b64u(nonce));
    const transcript = sdpTranscript('offer', hostId, deviceId, 'conn-0001', nonce, NOW, SDP);
    assert.ok(verify(fromB64u(body.sig), transcript, device.publicKey));
    const ctx = offerContext();
    const verified = verifyOffer(JSON.parse(JSON.stringify(body)), ctx);
    assert.deepEqual(verified, { conn: 'conn-0001', sdp: SDP, nonce, ts: NOW, fingerprint: FP });
    assert.equal(ctx.replay.size, 1);
  });

  it('uses a fresh nonce by default', () => {
    const { nonce: _, ...input } = offerInput;
    assert.notEqual(makeOffer(input).nonce, makeOffer(input).nonce);
  });

  it('refuses one flipped SDP byte, another key, another host or device', () => {
    const body = makeOffer(offerInput);
    const flipped = { ...body, sdp: body.sdp.replace('actpass', 'actpasS') };
    const ctx = offerContext();
    assert.throws(() => verifyOffer(flipped, ctx), code('bad_signature'));
    const foreign = makeOffer({ ...offerInput, deviceSecret: stranger.secretKey });
    assert.throws(() => verifyOffer(foreign, ctx), code('bad_signature'));
    assert.throws(
      () => verifyOffer(body, { ...ctx, hostId: hostIdOf(stranger.publicKey) }),
      code('bad_signature'),
    );
    assert.throws(
      () => verifyOffer(body, { ...ctx, deviceId: deviceIdOf(stranger.publicKey) }),
      code('bad_signature'),
    );
    assert.throws(() => verifyOffer({ ...body, conn: 'conn-0002' }, ctx), code('bad_signature'));
    assert.equal(ctx.replay.size, 0, 'nothing refused is remembered');
  });

  it('refuses a replay and a stale or future timestamp', () => {
    const ctx = offerContext();
    const body = makeOffer(offerInput);
    verifyOffer(body, ctx);
    assert.throws(() => verifyOffer(body, ctx), code('replay'));
    assert.throws(() => verifyOffer(makeOffer({ ...offerInput, now: NOW - 61 }), ctx), code('clock_skew'));
    assert.throws(() => verifyOffer(makeOffer({ ...offerInput, now: NOW + 61 }), ctx), code('clock_skew'));
    verifyOffer(makeOffer({ ...offerInput, now: NOW - 60, nonce: new Uint8Array(16) }), ctx);
  });

  it('refuses malformed bodies and SDP without exactly one sha-256 fingerprint', () => {
    const ctx = offerContext();
    assert.throws(() => verifyOffer(null, ctx), code('bad_message'));
    assert.throws(() => verifyOffer({ ...makeOffer(offerInput), nonce: 'short' }, ctx), code('bad_message'));
    assert.throws(() => makeOffer({ ...offerInput, sdp: 'v=0\r\n' }), code('bad_message'));
    // A device that signs a fingerprint-less SDP anyway is refused before anything is created.
    const twoLines = `${SDP}a=fingerprint:sha-256 ${FP}\r\n`;
    const signed = makeOffer(offerInput);
    const sig = sign(
      sdpTranscript('offer', hostId, deviceId, signed.conn, nonce, NOW, twoLines),
      device.secretKey,
    );
    const body = { ...signed, sdp: twoLines, sig: b64u(sig) };
    assert.throws(() => verifyOffer(body, ctx), code('bad_message'));
    assert.equal(ctx.replay.size, 0);
  });
});

describe('answer', () => {
  const answerInput = {
    sdp: SDP,
    conn: 'conn-0001',
    offerNonce: nonce,
    hostId,
    deviceId,
    hostSecret: host.secretKey,
    now: NOW,
  };
  const answerContext = {
    hostPub: host.publicKey,
    hostId,
    deviceId,
    conn: 'conn-0001',
    offerNonce: nonce,
    now: NOW,
  };

  it('signs over the offer nonce and verifies', () => {
    const body = makeAnswer(answerInput);
    const transcript = sdpTranscript('answer', hostId, deviceId, 'conn-0001', nonce, NOW, SDP);
    assert.ok(verify(fromB64u(body.sig), transcript, host.publicKey));
    assert.deepEqual(verifyAnswer(body, answerContext), {
      conn: 'conn-0001',
      sdp: SDP,
      ts: NOW,
      fingerprint: FP,
    });
  });

  it('refuses a flipped byte, another key, another offer, another connection, a stale ts', () => {
    const body = makeAnswer(answerInput);
    assert.throws(
      () => verifyAnswer({ ...body, sdp: body.sdp.replace('0.0.0.0', '0.0.0.1') }, answerContext),
      code('bad_signature'),
    );
    assert.throws(
      () => verifyAnswer(makeAnswer({ ...answerInput, hostSecret: stranger.secretKey }), answerContext),
      code('bad_signature'),
    );
    assert.throws(
      () => verifyAnswer(body, { ...answerContext, offerNonce: new Uint8Array(16) }),
      code('bad_signature'),
    );
    assert.throws(() => verifyAnswer(body, { ...answerContext, conn: 'conn-0002' }), code('bad_message'));
    assert.throws(
      () => verifyAnswer(makeAnswer({ ...answerInput, now: NOW - 61 }), answerContext),
      code('clock_skew'),
    );
  });
});
