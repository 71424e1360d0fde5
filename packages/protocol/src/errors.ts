/**
 * One coded error for all of PocketShell. `CodedError` is the base; each
 * layer keeps its codes as a catalogue of data — the wire's here
 * (`ERROR_CODES`), the host's, the relay's, the WebRTC layer's and the
 * CLI's in their packages — where every code carries its human message,
 * the exit code a CLI ends with, and (for codes that can answer an HTTP
 * request) the HTTP status. The catalogues are checked with `satisfies`, so
 * a code cannot be added without its exit code or status. Codes are never
 * renamed, only added; the human message is for people, the code for
 * programs, and neither ever holds a secret. The mapping to numbers happens
 * only at the edge (`exitCodeOf`, `httpStatusOf` over the catalogues there).
 */

/**
 * Exit codes of PocketShell's command-line tools (documented in
 * docs/host.md, "Exit codes"; test/e2e/exit-codes.test.ts runs each).
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
  refused: 4,
  state: 5,
  root: 6,
  timeout: 7,
  notFound: 8,
} as const;

/** The name of an exit code. */
export type ExitName = keyof typeof EXIT;

/** What every code of every catalogue says: its default message and the exit code it ends a CLI with. */
export interface CodeInfo {
  readonly message: string;
  readonly exit: ExitName;
}

/** A code that can also answer an HTTP request carries the status it answers with. */
export interface HttpCodeInfo extends CodeInfo {
  readonly status: number;
}

/** A catalogue of codes. */
export type Catalogue = Readonly<Record<string, CodeInfo>>;

/**
 * An error with a stable code from a catalogue. `message` must never hold a
 * secret. `exit` is the exit code a CLI ends with when this error reaches it.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly exit: number;

  constructor(catalogue: Catalogue, code: C, message?: string, options?: { cause?: unknown }) {
    const info = catalogue[code];
    super(message ?? info?.message ?? code, options?.cause === undefined ? undefined : options);
    this.name = 'CodedError';
    this.code = code;
    this.exit = EXIT[info?.exit ?? 'failure'];
  }
}

/** Stable wire error codes (docs/protocol.md §8): default message, exit code, HTTP status. */
export const ERROR_CODES = {
  bad_message: {
    message: 'The message is malformed, too large, or of an unknown type.',
    exit: 'usage',
    status: 400,
  },
  unauthorized: { message: 'Authentication failed.', exit: 'refused', status: 401 },
  not_paired: { message: 'There is no live pairing with that party.', exit: 'refused', status: 403 },
  revoked: { message: 'The pairing was revoked.', exit: 'refused', status: 403 },
  rate_limited: {
    message: 'Too many requests; slow down and retry later.',
    exit: 'failure',
    status: 429,
  },
  claim_invalid: {
    message: 'The pairing claim is unknown, expired, already used, or for another host.',
    exit: 'refused',
    status: 403,
  },
  claim_burned: {
    message: 'The pairing code was burned by wrong attempts from others; make a new one.',
    exit: 'refused',
    status: 403,
  },
  clock_skew: { message: 'The timestamp is outside the allowed clock window.', exit: 'failure', status: 400 },
  replay: { message: 'The message was already seen.', exit: 'failure', status: 400 },
  bad_signature: { message: 'A signature did not verify.', exit: 'failure', status: 400 },
  bad_key: { message: 'A key is malformed or of low order.', exit: 'failure', status: 400 },
  fingerprint_mismatch: {
    message: 'The DTLS certificate presented is not the one the signed SDP names.',
    exit: 'failure',
    status: 400,
  },
  decrypt_failed: { message: 'A sealed envelope failed to open.', exit: 'failure', status: 400 },
  grant_missing: { message: 'The device does not hold the grant this needs.', exit: 'refused', status: 403 },
  registration_closed: {
    message: 'This relay needs an enrollment token to register a new host.',
    exit: 'refused',
    status: 403,
  },
  too_many_connections: {
    message: 'Too many connections for this identity.',
    exit: 'failure',
    status: 429,
  },
  limit_reached: { message: 'A configured limit was reached.', exit: 'failure', status: 429 },
  not_found: { message: 'No such object.', exit: 'notFound', status: 404 },
  unsupported: { message: 'Not supported by this peer.', exit: 'failure', status: 501 },
  unavailable: {
    message: 'The relay or the peer cannot be reached right now.',
    exit: 'unavailable',
    status: 503,
  },
  timeout: { message: 'No answer in time.', exit: 'timeout', status: 504 },
  key_changed: {
    message: 'A known name now comes with a different key; it needs a new pairing, acknowledged.',
    exit: 'refused',
    status: 409,
  },
  internal: { message: 'Internal error.', exit: 'failure', status: 500 },
} as const satisfies Readonly<Record<string, HttpCodeInfo>>;

/** One stable wire error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is one of the wire catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** An error with a stable wire code. `message` must never hold a secret. */
export class ProtocolError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(ERROR_CODES, code, message, options);
    this.name = 'ProtocolError';
  }
}

/**
 * An error the other side of an RPC answered with: its code is whatever the
 * peer sent (checked to be a code-shaped string, not necessarily one this
 * side knows), looked up in `catalogue` for the exit code.
 */
export class RemoteError extends CodedError<string> {
  constructor(code: string, message: string, catalogue: Catalogue = ERROR_CODES) {
    super(catalogue, code, message);
    this.name = 'RemoteError';
  }
}

/** Throws `ProtocolError(code, message)` when `condition` is false. */
export function ensure(condition: unknown, code: ErrorCode, message?: string): asserts condition {
  if (!condition) throw new ProtocolError(code, message);
}

/** The code of any error (a coded one's, or `code` set on a plain one), else `internal`. */
export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'internal';
}
