/**
 * Two real werift peers connected through the signed handshake on 127.0.0.1,
 * with an in-memory signaling pipe (JSON round-trips, bodies checked with
 * `parseInner` as the relay path would): a clean connection with channels
 * both ways; refusals before any peer exists; and peers whose DTLS
 * certificate is not the one they signed, dropped by the checking side
 * (the device dropping a lying host is in the engine conformance suite,
 * for every engine pair).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  deviceIdOf,
  generateKeyPair,
  hasStreamTurnHint,
  hostIdOf,
  type OfferBody,
  ProtocolError,
  parseInner,
  unixNow,
  withStreamTurnHint,
} from '@pocketshell/protocol';
import { boundDeviceChannel, lieAboutFingerprint, signedInputs } from '../testing/engine-conformance.ts';
import { loopbackEngine, messages, SpyEngine } from '../testing/testing.ts';
import { gateChannels } from './dtls-binding.ts';
import type { DataChannel, Peer, PeerOptions, WebRtcEngine } from './engine.ts';
import { isLoopbackIPv4 } from './engine.ts';
import { WebRtcError } from './errors.ts';
import { makeOffer } from './handshake.ts';
import { answerOffer, startOffer } from './negotiate.ts';

const host = generateKeyPair(new Uint8Array(32).fill(11));
const device = generateKeyPair(new Uint8Array(32).fill(12));
const stranger = generateKeyPair(new Uint8Array(32).fill(13));
const hostId = hostIdOf(host.publicKey);
const deviceId = deviceIdOf(device.publicKey);
const now = () => unixNow();
const isCode = (c: string) => (e: unknown) =>
  (e instanceof ProtocolError || e instanceof WebRtcError) && e.code === c;

const wire = <T>(body: T): unknown => JSON.parse(JSON.stringify(body));

/** Device and host inputs on one engine, candidates through `IcePipe`s (JSON, `parseInner`). */
const setup = (engine: WebRtcEngine, conn: string) =>
  signedInputs({ offerer: engine, answerer: engine }, conn, { host, device });

describe('the stream-TURN hint picks the answering engine', () => {
  it('an offer whose signed SDP carries the hint is answered on engineFor’s engine, others on the default', async () => {
    const base = loopbackEngine();
    const { deviceInput, hostInput } = setup(base, 'conn-hint-0001');
    const offering = await startOffer(deviceInput);
    const plainEngine = new SpyEngine(loopbackEngine());
    const streamEngine = new SpyEngine(loopbackEngine());
    const input = {
      ...hostInput,
      engine: plainEngine,
      engineFor: (sdp: string) => (hasStreamTurnHint(sdp) ? streamEngine : undefined),
    };
    const hinted = makeOffer({
      sdp: withStreamTurnHint(offering.offer.sdp),
      conn: 'conn-hint-0001',
      hostId,
      deviceId,
      deviceSecret: device.secretKey,
      now: unixNow(),
    });
    const a = await answerOffer(wire(hinted), input);
    assert.deepEqual([plainEngine.calls, streamEngine.calls], [0, 1]);
    const b = await answerOffer(wire(offering.offer), input);
    assert.deepEqual([plainEngine.calls, streamEngine.calls], [1, 1]);
    await Promise.all([a.peer.close(), b.peer.close(), offering.peer.close()]);
  });
});

describe('signed WebRTC connection (werift, loopback)', () => {
  it('connects through the signed handshake and carries messages both ways', async () => {
    const engine = new SpyEngine(loopbackEngine());
    const { toHost, toDevice, deviceInput, hostInput } = setup(engine, 'conn-ok-0001');
    const offering = await startOffer(deviceInput);
    const answered = await answerOffer(wire(offering.offer), hostInput);
    void toHost.deliverTo(answered.peer);
    const hostChannel = new Promise<DataChannel>((resolve) =>
      gateChannels(answered.peer, answered.verified, resolve),
    );
    const { verified: deviceVerified } = await offering.acceptAnswer(wire(answered.answer));
    void toDevice.deliverTo(offering.peer);
    try {
      await Promise.all([answered.verified, deviceVerified]);
      assert.equal(engine.calls, 2);
      assert.equal(answered.offer.fingerprint, offering.peer.localFingerprint());
      const deviceChannel = await boundDeviceChannel(offering, answered);
      const theirs = await hostChannel;
      assert.equal(theirs.label, 'control');
      await assert.rejects(offering.acceptAnswer(wire(answered.answer)), isCode('replay'));
      assert.equal(offering.peer.connectionState, 'connected', 'a replayed answer changes nothing');
      const atHost = messages(theirs, 2);
      deviceChannel.send('{"id":1,"method":"host.info"}');
      deviceChannel.send(new Uint8Array([0x00, 0x61]));
      assert.deepEqual(await atHost, ['{"id":1,"method":"host.info"}', new Uint8Array([0x00, 0x61])]);
      const atDevice = messages(deviceChannel, 2);
      theirs.send(new Uint8Array([0x01, 0x7b, 0x7d]));
      theirs.send('{"id":1,"result":{}}');
      assert.deepEqual(await atDevice, [new Uint8Array([0x01, 0x7b, 0x7d]), '{"id":1,"result":{}}']);
    } finally {
      await offering.peer.close();
      await answered.peer.close();
    }
  });

  it('refuses a flipped SDP byte, a foreign key, a stale ts before creating a peer', async () => {
    const engine = new SpyEngine(loopbackEngine());
    const { deviceInput, hostInput } = setup(engine, 'conn-bad-0001');
    const offering = await startOffer(deviceInput);
    try {
      const hostOnly = new SpyEngine(loopbackEngine());
      const input = { ...hostInput, engine: hostOnly };
      const flipped = {
        ...offering.offer,
        sdp: offering.offer.sdp.replace('a=setup:actpass', 'a=setup:actpasz'),
      };
      assert.notEqual(flipped.sdp, offering.offer.sdp);
      await assert.rejects(answerOffer(wire(flipped), input), isCode('bad_signature'));

      const foreign = makeOffer({
        sdp: offering.offer.sdp,
        conn: 'conn-bad-0002',
        hostId,
        deviceId,
        deviceSecret: stranger.secretKey,
        now: now(),
      });
      await assert.rejects(answerOffer(wire(foreign), input), isCode('bad_signature'));

      const stale = makeOffer({
        sdp: offering.offer.sdp,
        conn: 'conn-bad-0003',
        hostId,
        deviceId,
        deviceSecret: device.secretKey,
        now: now() - 3600,
      });
      await assert.rejects(answerOffer(wire(stale), input), isCode('clock_skew'));
      assert.equal(hostOnly.calls, 0, 'no peer was created for a refused offer');
    } finally {
      await offering.peer.close();
    }
  });

  it('refuses a replayed offer, creating one peer only', async () => {
    const engine = new SpyEngine(loopbackEngine());
    const { deviceInput, hostInput } = setup(engine, 'conn-replay-01');
    const offering = await startOffer(deviceInput);
    const hostOnly = new SpyEngine(loopbackEngine());
    const input = { ...hostInput, engine: hostOnly };
    const first = await answerOffer(wire(offering.offer), input);
    try {
      await assert.rejects(answerOffer(wire(offering.offer), input), isCode('replay'));
      assert.equal(hostOnly.calls, 1);
    } finally {
      await first.peer.close();
      await offering.peer.close();
    }
  });

  it('closes the device peer when the answer does not verify', async () => {
    const engine = new SpyEngine(loopbackEngine());
    const { deviceInput, hostInput } = setup(engine, 'conn-answer-01');
    const offering = await startOffer(deviceInput);
    const answered = await answerOffer(wire(offering.offer), hostInput);
    try {
      const tampered = {
        ...answered.answer,
        sdp: answered.answer.sdp.replace('a=setup:active', 'a=setup:passive'),
      };
      await assert.rejects(offering.acceptAnswer(wire(tampered)), isCode('bad_signature'));
      assert.equal(offering.peer.connectionState, 'closed');
    } finally {
      await answered.peer.close();
      await offering.peer.close();
    }
  });
});

/**
 * The device side of a connection whose signed offer names a certificate the
 * device does not hold: the signature is good, the DTLS certificate is not.
 */
async function lyingDevice(engine: WebRtcEngine, conn: string) {
  const peer = await engine.createPeer({
    iceServers: [],
    role: 'offerer',
    localAddressFilter: isLoopbackIPv4,
  });
  const channel = peer.createDataChannel('control');
  const real = await peer.setLocalDescription(await peer.createOffer());
  const offer: OfferBody = makeOffer({
    sdp: lieAboutFingerprint(real),
    conn,
    hostId,
    deviceId,
    deviceSecret: device.secretKey,
    now: now(),
  });
  return { peer, channel, offer, realFingerprint: peer.localFingerprint() };
}

/**
 * An engine without its own fingerprint check (as some stacks are): its
 * peers hand the engine the SDP with `trueFingerprint` put back, so only
 * PocketShell's binding can notice the lie.
 */
class BlindEngine implements WebRtcEngine {
  readonly name = 'blind(werift)';
  trueFingerprint = '';
  readonly inner: WebRtcEngine;

  constructor(inner: WebRtcEngine) {
    this.inner = inner;
  }

  async createPeer(options: PeerOptions): Promise<Peer> {
    const peer = await this.inner.createPeer(options);
    const setRemote = peer.setRemoteDescription.bind(peer);
    peer.setRemoteDescription = (sdp: string) =>
      setRemote(sdp.replace(/a=fingerprint:sha-256 \S+/, `a=fingerprint:sha-256 ${this.trueFingerprint}`));
    return peer;
  }
}

describe('DTLS certificate bound to the signed SDP', () => {
  it('host drops a device whose DTLS certificate is not the signed one (werift refuses too)', async () => {
    const engine = loopbackEngine();
    const { hostInput } = setup(engine, 'conn-lie-0001');
    const liar = await lyingDevice(engine, 'conn-lie-0001');
    const answered = await answerOffer(wire(liar.offer), hostInput);
    assert.notEqual(answered.offer.fingerprint, liar.realFingerprint);
    const states: string[] = [];
    answered.peer.on('connectionstatechange', (s) => states.push(s));
    await liar.peer.setRemoteDescription(answered.answer.sdp);
    try {
      const error = await answered.verified.then(
        () => assert.fail('the binding held'),
        (e: unknown) => e,
      );
      assert.ok(isCode('fingerprint_mismatch')(error));
      assert.equal(answered.peer.connectionState, 'closed');
      assert.ok(!states.includes('connected'));
      // The certificate the device really presented, read from DTLS.
      assert.equal(answered.peer.remoteCertificateFingerprint(), liar.realFingerprint);
      // The host tells the device why, as a sealed hangup; the code fits the wire format.
      const hangup = parseInner(
        'hangup',
        wire({ conn: 'conn-lie-0001', reason: (error as WebRtcError).code }),
      );
      assert.equal(hangup.reason, 'fingerprint_mismatch');
    } finally {
      await liar.peer.close();
      await answered.peer.close();
    }
  });

  it('host drops the lie on its own check when the engine does not check', async () => {
    const blind = new BlindEngine(loopbackEngine());
    const { hostInput } = setup(blind, 'conn-lie-0002');
    const liar = await lyingDevice(loopbackEngine(), 'conn-lie-0002');
    blind.trueFingerprint = liar.realFingerprint;
    const answered = await answerOffer(wire(liar.offer), hostInput);
    const states: string[] = [];
    answered.peer.on('connectionstatechange', (s) => states.push(s));
    const hostChannels: DataChannel[] = [];
    gateChannels(answered.peer, answered.verified, (c) => hostChannels.push(c));
    await liar.peer.setRemoteDescription(answered.answer.sdp);
    try {
      await assert.rejects(answered.verified, isCode('fingerprint_mismatch'));
      assert.ok(states.includes('connected'), 'the engine itself accepted the connection');
      assert.equal(answered.peer.connectionState, 'closed');
      assert.equal(hostChannels.length, 0, 'no channel reached the host');
    } finally {
      await liar.peer.close();
      await answered.peer.close();
    }
  });
});
