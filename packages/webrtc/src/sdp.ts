/**
 * The few things PocketShell reads from or changes in SDP (the
 * `a=fingerprint:sha-256` line, candidate addresses, candidate filtering).
 * They moved to `@pocketshell/protocol` so the browser shares them; this
 * module re-exports them so the WebRTC layer's users see no change.
 */
export {
  candidateAddress,
  filterSdpCandidates,
  fingerprintBytes,
  fingerprintsEqual,
  formatFingerprint,
  sdpFingerprint,
} from '@pocketshell/protocol';
