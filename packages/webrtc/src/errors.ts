/**
 * `WebRtcError`: failures of the WebRTC layer that are not protocol
 * refusals (those stay `ProtocolError`). Their codes are the `webrtc` lines
 * of the one catalogue (`ERROR_CODES` in `@pocketshell/protocol`), plus the
 * wire's `fingerprint_mismatch` — also what the host puts in
 * `hangup.reason` when a peer's DTLS certificate is not the one its signed
 * SDP named.
 */
export { WebRtcError, type WebRtcErrorCode } from '@pocketshell/protocol';
