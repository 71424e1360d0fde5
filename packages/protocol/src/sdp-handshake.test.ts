/**
 * Tests of the SDP helpers the WebRTC layer relies on (shared with the
 * browser): the one sha-256
 * fingerprint, candidate filtering, constant-time comparison.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from './errors.ts';
import {
  candidateAddress,
  filterSdpCandidates,
  fingerprintBytes,
  fingerprintsEqual,
  formatFingerprint,
  sdpFingerprint,
} from './sdp-handshake.ts';

const FP = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');
const sdpWith = (...lines: string[]) =>
  [
    'v=0',
    'o=- 1 0 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    ...lines,
    '',
  ].join('\r\n');
const badMessage = (e: unknown) => e instanceof ProtocolError && e.code === 'bad_message';

describe('sdpFingerprint', () => {
  it('returns the one sha-256 value, uppercase', () => {
    assert.equal(sdpFingerprint(sdpWith(`a=fingerprint:sha-256 ${FP.toLowerCase()}`)), FP);
    assert.equal(sdpFingerprint(sdpWith(`a=fingerprint:SHA-256 ${FP}`).replaceAll('\r\n', '\n')), FP);
  });

  it('refuses none, two, another algorithm, or a malformed value', () => {
    assert.throws(() => sdpFingerprint(sdpWith()), badMessage);
    assert.throws(
      () => sdpFingerprint(sdpWith(`a=fingerprint:sha-256 ${FP}`, `a=fingerprint:sha-256 ${FP}`)),
      badMessage,
    );
    assert.throws(
      () => sdpFingerprint(sdpWith(`a=fingerprint:sha-256 ${FP}`, 'a=fingerprint:sha-1 00:11:22')),
      badMessage,
    );
    assert.throws(() => sdpFingerprint(sdpWith(`a=fingerprint:sha-1 ${FP.slice(0, 59)}`)), badMessage);
    assert.throws(() => sdpFingerprint(sdpWith(`a=fingerprint:sha-256 ${FP.slice(0, -3)}`)), badMessage);
    assert.throws(() => sdpFingerprint(sdpWith(`a=fingerprint:sha-256 ${FP}:00`)), badMessage);
    assert.throws(
      () => sdpFingerprint(sdpWith(`a=fingerprint:sha-256 ${FP.replace('00', 'G0')}`)),
      badMessage,
    );
  });
});

describe('fingerprints', () => {
  it('round-trip through bytes and compare case-insensitively', () => {
    const bytes = fingerprintBytes(FP);
    assert.equal(bytes.length, 32);
    assert.equal(bytes[31], 31);
    assert.equal(formatFingerprint(bytes), FP);
    assert.ok(fingerprintsEqual(FP, FP.toLowerCase()));
    assert.ok(!fingerprintsEqual(FP, FP.replace(/..$/, '20')));
    assert.ok(!fingerprintsEqual(FP, 'not a fingerprint'));
    assert.throws(() => fingerprintBytes('00:11'), badMessage);
  });
});

describe('candidates', () => {
  const loop = 'candidate:1 1 udp 2116026367 127.0.0.1 50000 typ host generation 0';
  const lan = 'candidate:2 1 udp 2116026367 192.0.2.2 50001 typ host generation 0';

  it('reads the connection address', () => {
    assert.equal(candidateAddress(loop), '127.0.0.1');
    assert.equal(candidateAddress(`a=${lan}`), '192.0.2.2');
    assert.equal(candidateAddress('candidate:1 1 udp 1 127.0.0.1'), null);
    assert.equal(candidateAddress(''), null);
  });

  it('filters SDP candidate lines and keeps everything else', () => {
    const sdp = sdpWith(
      `a=${loop}`,
      `a=${lan}`,
      'a=candidate:broken',
      'a=end-of-candidates',
      `a=fingerprint:sha-256 ${FP}`,
    );
    const out = filterSdpCandidates(sdp, (a) => a === '127.0.0.1');
    assert.equal(out, sdpWith(`a=${loop}`, 'a=end-of-candidates', `a=fingerprint:sha-256 ${FP}`));
    assert.equal(
      filterSdpCandidates(sdp.replaceAll('\r\n', '\n'), () => true),
      sdpWith(`a=${loop}`, `a=${lan}`, 'a=end-of-candidates', `a=fingerprint:sha-256 ${FP}`).replaceAll(
        '\r\n',
        '\n',
      ),
    );
  });
});
