/**
 * The error-code catalogue and `ProtocolError`. Every refusal anywhere in
 * PocketShell carries one of these stable codes; the human message is for
 * people, the code is for programs. Codes are never renamed, only added.
 */

/** Stable error codes and their default human messages (docs/protocol.md §8). */
export const ERROR_CODES = {
  bad_message: 'The message is malformed, too large, or of an unknown type.',
  unauthorized: 'Authentication failed.',
  not_paired: 'There is no live pairing with that party.',
  revoked: 'The pairing was revoked.',
  rate_limited: 'Too many requests; slow down and retry later.',
  claim_invalid: 'The pairing claim is unknown, expired, already used, or for another host.',
  claim_burned: 'The pairing code was burned by wrong attempts from others; make a new one.',
  clock_skew: 'The timestamp is outside the allowed clock window.',
  replay: 'The message was already seen.',
  bad_signature: 'A signature did not verify.',
  bad_key: 'A key is malformed or of low order.',
  fingerprint_mismatch: 'The DTLS certificate presented is not the one the signed SDP names.',
  decrypt_failed: 'A sealed envelope failed to open.',
  grant_missing: 'The device does not hold the grant this needs.',
  registration_closed: 'This relay needs an enrollment token to register a new host.',
  too_many_connections: 'Too many connections for this identity.',
  limit_reached: 'A configured limit was reached.',
  not_found: 'No such object.',
  unsupported: 'Not supported by this peer.',
  unavailable: 'The relay or the peer cannot be reached right now.',
  timeout: 'No answer in time.',
  key_changed: 'A known name now comes with a different key; it needs a new pairing, acknowledged.',
  internal: 'Internal error.',
} as const;

/** One stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

const CODES = new Set<string>(Object.keys(ERROR_CODES));

/** True when `code` is one of the catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && CODES.has(code);
}

/** An error with a stable code. `message` must never hold a secret. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** Throws `ProtocolError(code, message)` when `condition` is false. */
export function ensure(condition: unknown, code: ErrorCode, message?: string): asserts condition {
  if (!condition) throw new ProtocolError(code, message);
}
