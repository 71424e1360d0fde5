/**
 * `WebRtcError`: the stable codes of the WebRTC layer, for failures that are
 * not protocol refusals (those stay `ProtocolError` from
 * `@pocketshell/protocol`). `fingerprint_mismatch` is also what the host puts
 * in `hangup.reason` when a peer's DTLS certificate is not the one its signed
 * SDP named. Codes are never renamed, only added.
 */
import { CodedError, type CodeInfo } from '@pocketshell/protocol';

/** Codes: default human message and exit code. */
export const WEBRTC_ERROR_CODES = {
  fingerprint_mismatch: {
    message: 'The DTLS certificate the peer presented is not the one its signed SDP names.',
    exit: 'failure',
  },
  connect_failed: {
    message: 'The peer connection failed (ICE or DTLS) before it was verified.',
    exit: 'failure',
  },
  peer_closed: { message: 'The peer connection was closed.', exit: 'failure' },
  not_open: { message: 'The data channel is not open.', exit: 'failure' },
  message_too_large: {
    message: 'The data-channel message is larger than the allowed size.',
    exit: 'failure',
  },
  wrong_role: { message: 'This call does not fit the peer role (offerer or answerer).', exit: 'failure' },
  engine: { message: 'The WebRTC engine refused the operation.', exit: 'failure' },
} as const satisfies Readonly<Record<string, CodeInfo>>;

/** One WebRTC-layer error code. */
export type WebRtcErrorCode = keyof typeof WEBRTC_ERROR_CODES;

/** An error of the WebRTC layer with a stable code. Never holds a secret. */
export class WebRtcError extends CodedError<WebRtcErrorCode> {
  constructor(code: WebRtcErrorCode, message?: string, options?: { cause?: unknown }) {
    super(WEBRTC_ERROR_CODES, code, message, options);
    this.name = 'WebRtcError';
  }
}
