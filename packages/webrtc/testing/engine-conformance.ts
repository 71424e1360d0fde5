/**
 * The conformance suite of the `WebRtcEngine` interface (test support, not
 * production code): one set of tests that every engine must pass, run by
 * `engine-conformance.test.ts` for werift, node-datachannel and both mixed
 * pairs (either engine offering). It covers candidates (127.0.0.1 only),
 * channels both ways, message sizes and copies, `bufferedAmount` and its
 * low-threshold event, close, roles, the signed handshake, and the DTLS
 * certificate binding against a tampered fingerprint in either direction —
 * the binding lives above the interface (`dtls-binding.ts`), once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  candidateAddress,
  deviceIdOf,
  generateKeyPair,
  hostIdOf,
  type IceCandidateInit,
  ProtocolError,
  ReplayCache,
  sdpFingerprint,
  unixNow,
} from '@pocketshell/protocol';
import type { DataChannel, Peer, WebRtcEngine } from '../src/engine.ts';
import { isLoopbackIPv4, MAX_MESSAGE_BYTES } from '../src/engine.ts';
import { WebRtcError } from '../src/errors.ts';
import { makeAnswer, makeOffer } from '../src/handshake.ts';
import {
  type Answered,
  type AnswerInput,
  answerOffer,
  type OfferInput,
  type Offering,
  startOffer,
} from '../src/negotiate.ts';
import {
  connectDirect,
  IcePipe,
  ignoreClosed,
  loopbackPeerOptions,
  messages,
  nextChannel,
  once,
  waitForEnd,
} from './testing.ts';

/** The two engines of one run: who offers (the device) and who answers (the host). */
export interface ConformancePair {
  offerer: WebRtcEngine;
  answerer: WebRtcEngine;
}

const host = generateKeyPair(new Uint8Array(32).fill(21));
const device = generateKeyPair(new Uint8Array(32).fill(22));
const hostId = hostIdOf(host.publicKey);
const deviceId = deviceIdOf(device.publicKey);
const now = () => unixNow();
const wire = <T>(body: T): unknown => JSON.parse(JSON.stringify(body));
const isCode = (code: string) => (e: unknown) =>
  (e instanceof ProtocolError || e instanceof WebRtcError) && e.code === code;

/** Replaces the SDP's fingerprint with another valid-looking one. */
export function lieAboutFingerprint(sdp: string): string {
  return sdp.replace(
    /a=fingerprint:sha-256 (\S+)/,
    (_, fp: string) => `a=fingerprint:sha-256 ${fp.replace(/^../, fp.startsWith('00') ? '01' : '00')}`,
  );
}

/** Resolves with every candidate `peer` trickles up to and including the final `null`. */
function trickled(peer: Peer): Promise<(IceCandidateInit | null)[]> {
  return new Promise((resolve) => {
    const got: (IceCandidateInit | null)[] = [];
    const off = peer.on('icecandidate', (c) => {
      got.push(c);
      if (c === null) {
        off();
        resolve(got);
      }
    });
  });
}

/** Sends `text` on `channel` once open, and asserts that its remote end `remote` receives it, once open too. */
async function assertCarries(
  channel: DataChannel,
  remote: Promise<DataChannel>,
  text: string,
): Promise<void> {
  await once(channel, 'open');
  const theirs = await remote;
  await once(theirs, 'open');
  const got = messages(theirs, 1);
  channel.send(text);
  assert.deepEqual(await got, [text]);
}

/** Registers the conformance tests for one pair of engines. */
export function engineConformance(pair: ConformancePair): void {
  const title = `${pair.offerer.name} offers, ${pair.answerer.name} answers`;
  const peers = async (): Promise<[Peer, Peer]> => [
    await pair.offerer.createPeer(loopbackPeerOptions('offerer')),
    await pair.answerer.createPeer(loopbackPeerOptions('answerer')),
  ];
  const closeAll = async (...list: Peer[]) => {
    for (const p of list) await p.close();
  };

  /** Two connected peers and one open channel a→b with its remote end. */
  const connected = async (label = 'control') => {
    const [a, b] = await peers();
    const channel = a.createDataChannel(label);
    const remote = nextChannel(b, label);
    await connectDirect(a, b);
    const theirs = await remote;
    await once(channel, 'open');
    await once(theirs, 'open');
    return { a, b, channel, theirs };
  };

  describe(`engine conformance: ${title}`, () => {
    it('signals only 127.0.0.1 host candidates, in SDP and trickled', async () => {
      const [a, b] = await peers();
      try {
        const all = trickled(a);
        a.createDataChannel('control');
        const offer = await a.setLocalDescription(await a.createOffer());
        const lines = offer.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
        // Engines may hold the offerer's candidates until the answer is applied.
        b.on('icecandidate', (c) => void a.addIceCandidate(c).catch(ignoreClosed));
        await b.setRemoteDescription(offer);
        await a.setRemoteDescription(await b.setLocalDescription(await b.createAnswer()));
        const got = await all;
        assert.ok(lines.length + got.length >= 2, 'candidates are in the offer or trickled');
        for (const line of lines) {
          assert.equal(candidateAddress(line), '127.0.0.1');
          assert.match(line, / typ host/);
        }
        assert.equal(got.at(-1), null, 'the end of candidates is trickled');
        for (const c of got.slice(0, -1)) {
          assert.ok(c);
          assert.equal(candidateAddress(c.candidate), '127.0.0.1');
          assert.equal(typeof c.sdpMid, 'string');
        }
        assert.ok(!offer.includes('typ srflx') && !offer.includes('typ relay'), 'no ICE server contacted');
        assert.equal(sdpFingerprint(offer), a.localFingerprint());
      } finally {
        await closeAll(a, b);
      }
    });

    it('drops refused and malformed remote candidates without error', async () => {
      const [a, b] = await peers();
      try {
        a.createDataChannel('control');
        await b.setRemoteDescription(await a.setLocalDescription(await a.createOffer()));
        await b.addIceCandidate({
          candidate: 'candidate:1 1 udp 2116026367 192.0.2.1 9 typ host',
          sdpMid: '0',
          sdpMLineIndex: 0,
        });
        await b.addIceCandidate({ candidate: 'garbage', sdpMid: '0', sdpMLineIndex: 0 });
        await b.addIceCandidate(null);
      } finally {
        await closeAll(a, b);
      }
    });

    it('connects, carries text and binary both ways, and reports the real remote certificate', async () => {
      const { a, b, channel, theirs } = await connected();
      try {
        assert.equal(theirs.label, 'control');
        assert.equal(theirs.readyState, 'open');
        assert.equal(a.connectionState, 'connected');
        assert.equal(b.connectionState, 'connected');
        const toB = messages(theirs, 3);
        channel.send('hello');
        channel.send(new Uint8Array([0, 1, 2, 255]));
        channel.send('é✓');
        assert.deepEqual(await toB, ['hello', new Uint8Array([0, 1, 2, 255]), 'é✓']);
        const toA = messages(channel, 2);
        theirs.send(new Uint8Array(MAX_MESSAGE_BYTES).fill(7));
        theirs.send('back');
        const [big, text] = await toA;
        assert.ok(big instanceof Uint8Array);
        assert.equal(big.length, MAX_MESSAGE_BYTES);
        assert.ok(big.every((x) => x === 7));
        assert.equal(text, 'back');
        assert.notEqual(a.localFingerprint(), b.localFingerprint());
        assert.equal(a.remoteCertificateFingerprint(), b.localFingerprint());
        assert.equal(b.remoteCertificateFingerprint(), a.localFingerprint());
      } finally {
        await closeAll(a, b);
      }
    });

    it('opens channels from either side', async () => {
      const { a, b } = await connected();
      try {
        const atA = nextChannel(a, 'back');
        await assertCarries(b.createDataChannel('back'), atA, 'from the answerer');
      } finally {
        await closeAll(a, b);
      }
    });

    it('copies sent bytes, and refuses oversized messages and closed channels', async () => {
      const [a, b] = await peers();
      try {
        const channel = a.createDataChannel('x');
        assert.throws(() => channel.send('early'), isCode('not_open'));
        const remote = nextChannel(b);
        await connectDirect(a, b);
        const theirs = await remote;
        await once(channel, 'open');
        assert.throws(() => channel.send(new Uint8Array(MAX_MESSAGE_BYTES + 1)), isCode('message_too_large'));
        assert.throws(() => channel.send('€'.repeat(MAX_MESSAGE_BYTES / 3 + 1)), isCode('message_too_large'));
        const got = messages(theirs, 1);
        const data = new Uint8Array([1, 2, 3]);
        channel.send(data);
        data.fill(9);
        assert.deepEqual(await got, [new Uint8Array([1, 2, 3])]);
      } finally {
        await closeAll(a, b);
      }
    });

    it('tracks bufferedAmount and fires bufferedamountlow, in order', async () => {
      const { a, b, channel, theirs } = await connected('bulk');
      try {
        channel.bufferedAmountLowThreshold = 32 * 1024;
        assert.equal(channel.bufferedAmountLowThreshold, 32 * 1024);
        // Engines hand bytes to their SCTP stack at different depths: send until the queue shows.
        let count = 0;
        const low = once(channel, 'bufferedamountlow');
        const all: Uint8Array[] = [];
        const received = new Promise<void>((resolve) => {
          channel.on('close', resolve);
          theirs.on('message', (m) => {
            if (m instanceof Uint8Array) all.push(m);
            if (all.length === count && channel.bufferedAmount <= 32 * 1024) resolve();
          });
        });
        while (channel.bufferedAmount <= 64 * 1024 && count < 1024) {
          channel.send(new Uint8Array(MAX_MESSAGE_BYTES).fill(count % 256));
          count++;
        }
        const queued = channel.bufferedAmount;
        assert.ok(queued > 64 * 1024 && queued <= count * MAX_MESSAGE_BYTES, `bufferedAmount ${queued}`);
        await low;
        assert.ok(channel.bufferedAmount <= 32 * 1024);
        await received;
        assert.deepEqual(
          all.map((m) => m[0]),
          Array.from({ length: count }, (_, i) => i % 256),
        );
      } finally {
        await closeAll(a, b);
      }
    });

    it('closes channels and peers cleanly and idempotently', async () => {
      const { a, b, channel, theirs } = await connected('c');
      const closedHere = once(channel, 'close');
      const closedThere = once(theirs, 'close');
      channel.close();
      channel.close();
      await Promise.all([closedHere, closedThere]);
      assert.equal(channel.readyState, 'closed');
      assert.equal(theirs.readyState, 'closed');
      assert.throws(() => channel.send('late'), isCode('not_open'));
      const other = a.createDataChannel('d');
      const otherClosed = once(other, 'close');
      const ended = waitForEnd(b);
      await Promise.all([a.close(), a.close()]);
      await a.close();
      await otherClosed;
      assert.equal(a.connectionState, 'closed');
      await b.close();
      assert.ok(['closed', 'disconnected', 'failed'].includes(await ended));
      assert.equal(b.connectionState, 'closed');
      await assert.rejects(a.createOffer(), isCode('peer_closed'));
      await a.addIceCandidate(null).then(
        () => assert.fail('accepted after close'),
        (e: unknown) => ignoreClosed(e),
      );
    });

    it('keeps roles apart', async () => {
      const [a, b] = await peers();
      try {
        await assert.rejects(a.createAnswer(), isCode('wrong_role'));
        await assert.rejects(b.createOffer(), isCode('wrong_role'));
      } finally {
        await closeAll(a, b);
      }
    });

    it('connects through the signed handshake, both ends bound to the DTLS certificate', async () => {
      const { offering, answered, deliver } = await signed(pair, 'conf-ok-0001');
      const atHost = nextChannel(answered.peer, 'control');
      try {
        const { verified } = await offering.acceptAnswer(wire(answered.answer));
        deliver();
        await Promise.all([verified, answered.verified]);
        await assertCarries(await boundDeviceChannel(offering, answered), atHost, 'signed');
      } finally {
        await closeAll(offering.peer, answered.peer);
      }
    });

    it('host drops a device whose DTLS certificate is not the signed one', async () => {
      const peer = await pair.offerer.createPeer(loopbackPeerOptions('offerer'));
      const { toHost, hostInput } = signedInputs(pair, 'conf-lie-0001');
      peer.on('icecandidate', toHost.send);
      peer.createDataChannel('control');
      const real = await peer.setLocalDescription(await peer.createOffer());
      const lie = makeOffer({
        sdp: lieAboutFingerprint(real),
        conn: 'conf-lie-0001',
        hostId,
        deviceId,
        deviceSecret: device.secretKey,
        now: now(),
      });
      const answered = await answerOffer(wire(lie), {
        ...hostInput,
        onIceCandidate: (c) => void peer.addIceCandidate(c).catch(ignoreClosed),
      });
      const states: string[] = [];
      answered.peer.on('connectionstatechange', (s) => states.push(s));
      const channels: DataChannel[] = [];
      answered.peer.on('datachannel', (c) => channels.push(c));
      try {
        // The host may refuse the liar's certificate before the liar has even applied the answer.
        await peer.setRemoteDescription(answered.answer.sdp).catch((e: unknown) => {
          if (!isCode('connect_failed')(e)) throw e;
        });
        await toHost.deliverTo(answered.peer);
        await assert.rejects(answered.verified, isCode('fingerprint_mismatch'));
        assert.equal(answered.peer.connectionState, 'closed');
        assert.equal(answered.peer.remoteCertificateFingerprint(), peer.localFingerprint());
        assert.ok(
          channels.every((c) => c.readyState !== 'open'),
          'no channel stays open',
        );
      } finally {
        await closeAll(peer, answered.peer);
      }
    });

    it('device drops a host whose DTLS certificate is not the signed one', async () => {
      const { toHost, deviceInput } = signedInputs(pair, 'conf-lie-0002');
      const offering = await startOffer(deviceInput);
      const hostPeer = await pair.answerer.createPeer(loopbackPeerOptions('answerer'));
      hostPeer.on('icecandidate', (c) => void offering.peer.addIceCandidate(c).catch(ignoreClosed));
      try {
        await hostPeer.setRemoteDescription(offering.offer.sdp);
        await toHost.deliverTo(hostPeer);
        const real = await hostPeer.setLocalDescription(await hostPeer.createAnswer());
        const lie = makeAnswer({
          sdp: lieAboutFingerprint(real),
          conn: 'conf-lie-0002',
          offerNonce: Buffer.from(offering.offer.nonce, 'base64url'),
          hostId,
          deviceId,
          hostSecret: host.secretKey,
          now: now(),
        });
        const { verified } = await offering.acceptAnswer(wire(lie));
        await assert.rejects(verified, isCode('fingerprint_mismatch'));
        assert.equal(offering.peer.connectionState, 'closed');
        assert.equal(offering.peer.remoteCertificateFingerprint(), hostPeer.localFingerprint());
      } finally {
        await closeAll(offering.peer, hostPeer);
      }
    });
  });
}

/**
 * The inputs of a device offering on `pair.offerer` and a host answering on
 * `pair.answerer` (channel `control`), each end's candidates held in an
 * `IcePipe` until delivered; `keys` are the host's and the device's.
 */
export function signedInputs(pair: ConformancePair, conn: string, keys = { host, device }) {
  const toHost = new IcePipe(conn);
  const toDevice = new IcePipe(conn);
  const common = {
    iceServers: [],
    localAddressFilter: isLoopbackIPv4,
    now,
    hostId: hostIdOf(keys.host.publicKey),
    deviceId: deviceIdOf(keys.device.publicKey),
  };
  const deviceInput: OfferInput = {
    ...common,
    engine: pair.offerer,
    onIceCandidate: toHost.send,
    deviceSecret: keys.device.secretKey,
    hostPub: keys.host.publicKey,
    conn,
    channels: ['control'],
  };
  const hostInput: AnswerInput = {
    ...common,
    engine: pair.answerer,
    onIceCandidate: toDevice.send,
    hostSecret: keys.host.secretKey,
    devicePub: keys.device.publicKey,
    replay: new ReplayCache(),
  };
  return { toHost, toDevice, deviceInput, hostInput };
}

/**
 * For a connection both ends verified: asserts that each end reports the
 * other's DTLS certificate, and resolves with the device's first channel
 * once it is open.
 */
export async function boundDeviceChannel(offering: Offering, answered: Answered): Promise<DataChannel> {
  assert.equal(answered.peer.remoteCertificateFingerprint(), offering.peer.localFingerprint());
  assert.equal(offering.peer.remoteCertificateFingerprint(), answered.peer.localFingerprint());
  const [channel] = offering.channels;
  assert.ok(channel);
  await once(channel, 'open');
  return channel;
}

/** A device offering and a host answering through the signed handshake, candidates held until `deliver`. */
async function signed(pair: ConformancePair, conn: string) {
  const { toHost, toDevice, deviceInput, hostInput } = signedInputs(pair, conn);
  const offering = await startOffer(deviceInput);
  const answered = await answerOffer(wire(offering.offer), hostInput);
  const deliver = () => {
    void toHost.deliverTo(answered.peer);
    void toDevice.deliverTo(offering.peer);
  };
  return { offering, answered, deliver };
}
