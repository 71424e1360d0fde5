/**
 * `WebRtcError`: the stable codes of the WebRTC layer, for failures that are
 * not protocol refusals (those stay `ProtocolError` from
 * `@pocketshell/protocol`). `fingerprint_mismatch` is also what the host puts
 * in `hangup.reason` when a peer's DTLS certificate is not the one its signed
 * SDP named. Codes are never renamed, only added.
 */
import { catalogue, codedErrorClass } from '@pocketshell/protocol';

/** A code of this catalogue. */
export type WebRtcErrorCode = keyof typeof WEBRTC_ERROR_CODES;

/** Codes: default human message and exit code. */
export const WEBRTC_ERROR_CODES = catalogue({
  fingerprint_mismatch:
    'failure - The DTLS certificate the peer presented is not the one its signed SDP names.',
  connect_failed: 'failure - The peer connection failed (ICE or DTLS) before it was verified.',
  peer_closed: 'failure - The peer connection was closed.',
  not_open: 'failure - The data channel is not open.',
  message_too_large: 'failure - The data-channel message is larger than the allowed size.',
  wrong_role: 'failure - This call does not fit the peer role (offerer or answerer).',
  engine: 'failure - The WebRTC engine refused the operation.',
});

/** An error of the WebRTC layer with a stable code. Never holds a secret. */
export class WebRtcError extends codedErrorClass('WebRtcError', WEBRTC_ERROR_CODES) {}
