/**
 * `WebRtcError`: the stable codes of the WebRTC layer, for failures that are
 * not protocol refusals (those stay `ProtocolError` from
 * `@pocketshell/protocol`). `fingerprint_mismatch` is also what the host puts
 * in `hangup.reason` when a peer's DTLS certificate is not the one its signed
 * SDP named. Codes are never renamed, only added.
 */
import { type Catalogue, CodedError, type ExitName } from '@pocketshell/protocol';

/** Codes: default human message and exit code. */
export const WEBRTC_ERROR_CODES = {
  fingerprint_mismatch: 'The DTLS certificate the peer presented is not the one its signed SDP names.',
  connect_failed: 'The peer connection failed (ICE or DTLS) before it was verified.',
  peer_closed: 'The peer connection was closed.',
  not_open: 'The data channel is not open.',
  message_too_large: 'The data-channel message is larger than the allowed size.',
  wrong_role: 'This call does not fit the peer role (offerer or answerer).',
  engine: 'The WebRTC engine refused the operation.',
} as const;

/** One stable code. */
export type WebRtcErrorCode = keyof typeof WEBRTC_ERROR_CODES;

/** The exit code of each WebRTC code. */
const EXITS = {
  fingerprint_mismatch: 'failure',
  connect_failed: 'failure',
  peer_closed: 'failure',
  not_open: 'failure',
  message_too_large: 'failure',
  wrong_role: 'failure',
  engine: 'failure',
} as const satisfies Record<WebRtcErrorCode, ExitName>;

/** The catalogue: every code with its message, exit code. */
export const WEBRTC_ERRORS: Catalogue<WebRtcErrorCode> = { messages: WEBRTC_ERROR_CODES, exits: EXITS };

/** An error of the WebRTC layer with a stable code. Never holds a secret. */
export class WebRtcError extends CodedError<WebRtcErrorCode> {
  constructor(code: WebRtcErrorCode, message?: string, options?: { cause?: unknown }) {
    super(WEBRTC_ERRORS, code, message, options);
    this.name = 'WebRtcError';
  }
}
