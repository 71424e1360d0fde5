/**
 * Tests of what is particular to the node-datachannel engine (the shared
 * behaviour is in the conformance suite): ICE server URLs in libdatachannel's
 * form, the offerer's candidates held until the answer is applied, and the
 * optional answerer-as-DTLS-server workaround. 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectDirect, loopbackEngine, loopbackPeerOptions, nextChannel, once } from '../testing/testing.ts';
import type { IceCandidateInit } from './engine.ts';
import { WebRtcError } from './errors.ts';
import {
  NodeDataChannelEngine,
  nodeDataChannelAvailable,
  toNdcIceServers,
} from './node-datachannel-engine.ts';

describe('NodeDataChannelEngine', () => {
  it('loads here and names itself', () => {
    assert.equal(nodeDataChannelAvailable(), true);
    assert.equal(new NodeDataChannelEngine().name, 'node-datachannel');
  });

  it('converts ICE server URLs to libdatachannel form, and refuses what it cannot express', () => {
    assert.deepEqual(
      toNdcIceServers([
        { urls: 'stun:127.0.0.1:3478' },
        { urls: ['turn:127.0.0.1:3479?transport=tcp', 'turns:[::1]'], username: 'u', credential: 'p' },
      ]),
      [
        { hostname: '127.0.0.1', port: 3478 },
        { hostname: '127.0.0.1', port: 3479, relayType: 'TurnTcp', username: 'u', password: 'p' },
        { hostname: '::1', port: 5349, relayType: 'TurnTls', username: 'u', password: 'p' },
      ],
    );
    assert.throws(
      () => toNdcIceServers([{ urls: 'http://example.invalid' }]),
      (e: unknown) => e instanceof WebRtcError && e.code === 'engine',
    );
  });

  it('signs an offer without candidates and trickles them once the answer is applied', async () => {
    const engine = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
    const a = await engine.createPeer(loopbackPeerOptions('offerer'));
    const b = await engine.createPeer(loopbackPeerOptions('answerer'));
    try {
      const trickled: (IceCandidateInit | null)[] = [];
      a.on('icecandidate', (c) => {
        trickled.push(c);
        void b.addIceCandidate(c);
      });
      b.on('icecandidate', (c) => void a.addIceCandidate(c));
      a.createDataChannel('control');
      const offer = await a.setLocalDescription(await a.createOffer());
      assert.ok(!offer.includes('a=candidate:'), 'no candidate in the offer');
      await b.setRemoteDescription(offer);
      const answer = await b.setLocalDescription(await b.createAnswer());
      assert.ok(answer.includes('a=candidate:'), 'the answer carries its candidates');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(trickled.length, 0, 'nothing trickled before the answer');
      const done = new Promise<void>((resolve) => a.on('icecandidate', (c) => c === null && resolve()));
      await a.setRemoteDescription(answer);
      await done;
      assert.ok(trickled.length >= 2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('can answer as the DTLS server toward a libdatachannel offerer (answererDtlsServer)', async () => {
    const server = new NodeDataChannelEngine({ bindAddress: '127.0.0.1', answererDtlsServer: true });
    const client = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
    const a = await client.createPeer(loopbackPeerOptions('offerer'));
    const b = await server.createPeer(loopbackPeerOptions('answerer'));
    try {
      const channel = a.createDataChannel('control');
      const remote = nextChannel(b);
      const answered = new Promise<string>((resolve) => {
        const set = b.setLocalDescription.bind(b);
        b.setLocalDescription = async (sdp) => {
          const out = await set(sdp);
          resolve(out);
          return out;
        };
      });
      await connectDirect(a, b);
      assert.match(await answered, /a=setup:passive/);
      await once(channel, 'open');
      await remote;
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps the standard roles toward a werift offerer', async () => {
    const a = await loopbackEngine().createPeer(loopbackPeerOptions('offerer'));
    const b = await new NodeDataChannelEngine({
      bindAddress: '127.0.0.1',
      answererDtlsServer: true,
    }).createPeer(loopbackPeerOptions('answerer'));
    try {
      a.createDataChannel('control');
      await b.setRemoteDescription(await a.setLocalDescription(await a.createOffer()));
      const answer = await b.setLocalDescription(await b.createAnswer());
      assert.match(answer, /a=setup:active/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
