/**
 * `WebRtcError`: failures of the WebRTC layer that are not protocol
 * refusals (those stay `ProtocolError`). Their codes are the `webrtc` lines
 * of the one catalogue (`ERROR_CODES` in `@pocketshell/protocol`), plus the
 * wire's `fingerprint_mismatch` — also what the host puts in
 * `hangup.reason` when a peer's DTLS certificate is not the one its signed
 * SDP named.
 */
import { type CodeOf, codedErrorClass } from '@pocketshell/protocol';

/** A WebRTC-layer code. */
export type WebRtcErrorCode = CodeOf<'webrtc'> | 'fingerprint_mismatch';

/** An error of the WebRTC layer with a stable code. Never holds a secret. */
export class WebRtcError extends codedErrorClass<WebRtcErrorCode>('WebRtcError') {}
