/**
 * The path of a connection from its selected candidate pair (link-path.ts):
 * what the badge and `pocketshell connect` show.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  betterLinkPath,
  candidateType,
  hasStreamTurnHint,
  LINK_PATHS,
  linkPathLabel,
  linkPathOf,
  STREAM_TURN_HINT,
  withStreamTurnHint,
} from './link-path.ts';

test('a local relay candidate is TURN over its relay protocol', () => {
  assert.equal(linkPathOf({ localType: 'relay', relayProtocol: 'udp', remoteType: 'host' }), 'turn-udp');
  assert.equal(linkPathOf({ localType: 'relay', relayProtocol: 'tcp', remoteType: 'host' }), 'turn-tcp');
  assert.equal(linkPathOf({ localType: 'relay', relayProtocol: 'TLS', remoteType: 'relay' }), 'turn-tls');
  assert.equal(linkPathOf({ localType: 'relay', remoteType: 'host' }), 'turn-udp', 'unknown protocol: UDP');
});

test('only the remote on TURN is TURN/UDP; neither is direct', () => {
  assert.equal(linkPathOf({ localType: 'host', remoteType: 'relay' }), 'turn-udp');
  assert.equal(linkPathOf({ localType: 'srflx', remoteType: 'prflx' }), 'direct');
  assert.equal(linkPathOf({ localType: 'host', remoteType: 'host', relayProtocol: 'tcp' }), 'direct');
});

test('labels and order', () => {
  assert.deepEqual(LINK_PATHS.map(linkPathLabel), ['direct', 'TURN/UDP', 'TURN/TCP', 'TURN/TLS', 'relay']);
  assert.equal(betterLinkPath('direct', 'turn-udp'), true);
  assert.equal(betterLinkPath('turn-tls', 'turn-tcp'), false);
  assert.equal(betterLinkPath('turn-tls', 'relay'), true);
});

test('candidate types from candidate lines', () => {
  assert.equal(candidateType('candidate:1 1 udp 2122 10.0.0.1 5000 typ host'), 'host');
  assert.equal(
    candidateType('a=candidate:2 1 UDP 16777215 10.89.0.3 50546 typ relay raddr 10.89.0.2 rport 1'),
    'relay',
  );
  assert.equal(candidateType('candidate:1 1 udp 2122 10.0.0.1 5000 host'), null);
});

test('the stream-TURN hint goes in at session level, once, and is found only as a whole line', () => {
  const sdp =
    'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';
  assert.equal(hasStreamTurnHint(sdp), false);
  const hinted = withStreamTurnHint(sdp);
  assert.equal(hinted.split('\r\n')[4], STREAM_TURN_HINT, 'right after t=, before the first m=');
  assert.equal(hasStreamTurnHint(hinted), true);
  assert.equal(withStreamTurnHint(hinted), hinted);
  assert.equal(hasStreamTurnHint(sdp.replace('s=-', `s=${STREAM_TURN_HINT}`)), false);
  assert.equal(hasStreamTurnHint(withStreamTurnHint('v=0\nt=0 0\n')), true);
});
