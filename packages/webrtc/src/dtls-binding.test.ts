/**
 * Tests of the DTLS binding's other exits, on real werift peers that never
 * connect: an abort (connect timeout) and a close both drop the peer with a
 * code; channels are never released to a binding that failed. The mismatch
 * cases, on connected peers, are in negotiate.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loopbackEngine, loopbackPeerOptions } from '../testing/testing.ts';
import { bindRemoteCertificate, gateChannels } from './dtls-binding.ts';
import { WebRtcError } from './errors.ts';

const engine = loopbackEngine();
const FP = Array.from({ length: 32 }, () => 'AB').join(':');
const isCode = (c: string) => (e: unknown) => e instanceof WebRtcError && e.code === c;

describe('bindRemoteCertificate', () => {
  it('drops the peer with connect_failed when aborted', async () => {
    const peer = await engine.createPeer(loopbackPeerOptions('offerer'));
    const controller = new AbortController();
    const bound = bindRemoteCertificate(peer, FP, { signal: controller.signal });
    const released: unknown[] = [];
    gateChannels(peer, bound, (c) => released.push(c));
    controller.abort();
    await assert.rejects(bound, isCode('connect_failed'));
    assert.equal(peer.connectionState, 'closed');
    assert.equal(released.length, 0);
  });

  it('fails at once with an already aborted signal', async () => {
    const peer = await engine.createPeer(loopbackPeerOptions('offerer'));
    await assert.rejects(
      bindRemoteCertificate(peer, FP, { signal: AbortSignal.abort() }),
      isCode('connect_failed'),
    );
    assert.equal(peer.connectionState, 'closed');
  });

  it('fails with peer_closed when the peer closes first', async () => {
    const peer = await engine.createPeer(loopbackPeerOptions('answerer'));
    const bound = bindRemoteCertificate(peer, FP);
    await peer.close();
    await assert.rejects(bound, isCode('peer_closed'));
  });
});
