/**
 * The bind address restricts only our own candidates: two peers bound to
 * different addresses (127.0.0.1 and 127.0.0.2, both loopback on Linux)
 * connect, for each engine and both mixed pairs, while the peer's address
 * filter still keeps remote candidates outside it away from the engine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectDirect, nextChannel, once } from '../testing/testing.ts';
import { candidatePolicy } from './candidate-policy.ts';
import type { PeerOptions, WebRtcEngine } from './engine.ts';
import { NodeDataChannelEngine } from './node-datachannel-engine.ts';
import { WeriftEngine } from './werift-engine.ts';

const A = '127.0.0.1';
const B = '127.0.0.2';
const twoLoopbacks = (address: string) => address === A || address === B;

function options(role: PeerOptions['role']): PeerOptions {
  return { iceServers: [], role, localAddressFilter: twoLoopbacks };
}

describe('candidatePolicy', () => {
  it('binds only our side; the filter applies to both', () => {
    const p = candidatePolicy(A, twoLoopbacks);
    assert.equal(p.local(A), true);
    assert.equal(p.local(B), false, 'not our bind address');
    assert.equal(p.remote(B), true, 'the remote may be elsewhere');
    assert.equal(p.remote(A), true);
    assert.equal(p.remote('10.0.0.1'), false, 'outside the filter');
    assert.equal(p.local('10.0.0.1'), false);
    assert.equal(p.restricts, true);
  });

  it('lets our relay candidates through whatever the bind address, still within the filter', () => {
    const p = candidatePolicy(A, twoLoopbacks);
    assert.equal(p.local(B, 'relay'), true, 'a TURN allocation is not one of our sockets');
    assert.equal(p.local(B, 'host'), false);
    assert.equal(p.local(B, 'srflx'), false);
    assert.equal(p.local('10.0.0.1', 'relay'), false, 'outside the filter');
    const unfiltered = candidatePolicy('10.88.0.2', undefined);
    assert.equal(unfiltered.local('10.88.0.1', 'relay'), true);
    assert.equal(unfiltered.local('10.88.0.1'), false);
  });

  it('without a filter, the remote is unrestricted and the local side is the bind address', () => {
    const p = candidatePolicy(A, undefined);
    assert.equal(p.local(A), true);
    assert.equal(p.local(B), false);
    assert.equal(p.remote('10.77.0.2'), true);
    assert.equal(p.restricts, true);
    const open = candidatePolicy(undefined, undefined);
    assert.equal(open.restricts, false);
    assert.equal(open.local('10.0.0.1') && open.remote('10.0.0.1'), true);
  });
});

const engines: Record<string, (bindAddress: string) => WebRtcEngine> = {
  werift: (bindAddress) => new WeriftEngine({ bindAddress }),
  'node-datachannel': (bindAddress) => new NodeDataChannelEngine({ bindAddress }),
};

for (const [offererName, offererEngine] of Object.entries(engines)) {
  for (const [answererName, answererEngine] of Object.entries(engines)) {
    describe(`bind addresses ${offererName} (${A}) -> ${answererName} (${B})`, () => {
      it('connects peers bound to different addresses, with only their own candidates', async () => {
        const offerer = await offererEngine(A).createPeer(options('offerer'));
        const answerer = await answererEngine(B).createPeer(options('answerer'));
        const sent = { offerer: [] as string[], answerer: [] as string[] };
        offerer.on('icecandidate', (c) => c && sent.offerer.push(c.candidate));
        answerer.on('icecandidate', (c) => c && sent.answerer.push(c.candidate));
        try {
          const channel = offerer.createDataChannel('control');
          const remote = nextChannel(answerer, 'control');
          await connectDirect(offerer, answerer);
          await once(channel, 'open');
          const incoming = await remote;
          const got = new Promise<unknown[]>((resolve) => incoming.once('message', (...m) => resolve(m)));
          channel.send('hello');
          assert.deepEqual(await got, ['hello']);
          for (const c of sent.offerer)
            assert.match(c, / 127\.0\.0\.1 /, 'offerer signals only its bind address');
          for (const c of sent.answerer)
            assert.match(c, / 127\.0\.0\.2 /, 'answerer signals only its bind address');
        } finally {
          await offerer.close();
          await answerer.close();
        }
      });

      it('still keeps remote candidates outside the filter away', async () => {
        // Each side's filter admits only its own address: every remote candidate is refused
        // on both sides, so no check is ever sent and nothing connects. (With only one side
        // refusing, the other's checks would still reach it as peer-reflexive candidates.)
        const offerer = await offererEngine(A).createPeer({
          iceServers: [],
          role: 'offerer',
          localAddressFilter: (address) => address === A,
        });
        const answerer = await answererEngine(B).createPeer({
          iceServers: [],
          role: 'answerer',
          localAddressFilter: (address) => address === B,
        });
        const signalled: string[] = [];
        try {
          offerer.createDataChannel('control');
          offerer.on('icecandidate', (c) => {
            if (c) signalled.push(c.candidate);
            void answerer.addIceCandidate(c).catch(() => {});
          });
          answerer.on('icecandidate', (c) => {
            if (c) signalled.push(c.candidate);
            void offerer.addIceCandidate(c).catch(() => {});
          });
          const offer = await offerer.setLocalDescription(await offerer.createOffer());
          await answerer.setRemoteDescription(offer);
          const answer = await answerer.setLocalDescription(await answerer.createAnswer());
          await offerer.setRemoteDescription(answer);
          const end = await new Promise<string>((resolve) => {
            const timer = setTimeout(() => resolve(offerer.connectionState), 3000);
            offerer.on('connectionstatechange', (s) => {
              if (s === 'connected' || s === 'failed') {
                clearTimeout(timer);
                resolve(s);
              }
            });
          });
          assert.ok(
            signalled.length + (offer.match(/a=candidate:/g)?.length ?? 0) > 0,
            'candidates were offered',
          );
          assert.notEqual(end, 'connected');
          assert.equal(answerer.connectionState === 'connected', false);
        } finally {
          await offerer.close();
          await answerer.close();
        }
      });
    });
  }
}
