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

/**
 * A catalogue of codes, as columns: each code's default message, the exit
 * code a CLI ends with, and — for codes that can answer an HTTP request —
 * the HTTP status. Each column is typed `Record<Code, …>`, so a code cannot
 * be added to one without the others.
 */
export interface Catalogue<C extends string = string> {
  readonly messages: Readonly<Record<C, string>>;
  readonly exits: Readonly<Record<C, ExitName>>;
  readonly status?: Readonly<Record<C, number>>;
}

/**
 * An error with a stable code from a catalogue. `message` must never hold a
 * secret. `exit` is the exit code a CLI ends with when this error reaches it.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly exit: number;

  constructor(catalogue: Catalogue<C>, code: C, message?: string, options?: { cause?: unknown }) {
    const known = Object.hasOwn(catalogue.messages, code);
    super(
      message ?? (known ? catalogue.messages[code] : code),
      options?.cause === undefined ? undefined : options,
    );
    this.name = 'CodedError';
    this.code = code;
    this.exit = EXIT[known ? catalogue.exits[code] : 'failure'];
  }
}

/** Stable wire error codes (docs/protocol.md §8) and their default messages. */
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

/** One stable code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The exit code each wire code ends a CLI with. */
const EXITS = {
  bad_message: 'usage',
  unauthorized: 'refused',
  not_paired: 'refused',
  revoked: 'refused',
  rate_limited: 'failure',
  claim_invalid: 'refused',
  claim_burned: 'refused',
  clock_skew: 'failure',
  replay: 'failure',
  bad_signature: 'failure',
  bad_key: 'failure',
  fingerprint_mismatch: 'failure',
  decrypt_failed: 'failure',
  grant_missing: 'refused',
  registration_closed: 'refused',
  too_many_connections: 'failure',
  limit_reached: 'failure',
  not_found: 'notFound',
  unsupported: 'failure',
  unavailable: 'unavailable',
  timeout: 'timeout',
  key_changed: 'refused',
  internal: 'failure',
} as const satisfies Record<ErrorCode, ExitName>;

/** The HTTP status each wire code answers with. */
const STATUS = {
  bad_message: 400,
  unauthorized: 401,
  not_paired: 403,
  revoked: 403,
  rate_limited: 429,
  claim_invalid: 403,
  claim_burned: 403,
  clock_skew: 400,
  replay: 400,
  bad_signature: 400,
  bad_key: 400,
  fingerprint_mismatch: 400,
  decrypt_failed: 400,
  grant_missing: 403,
  registration_closed: 403,
  too_many_connections: 429,
  limit_reached: 429,
  not_found: 404,
  unsupported: 501,
  unavailable: 503,
  timeout: 504,
  key_changed: 409,
  internal: 500,
} as const satisfies Record<ErrorCode, number>;

/** The catalogue: every code with its message, exit code and HTTP status. */
export const WIRE_ERRORS: Catalogue<ErrorCode> = { messages: ERROR_CODES, exits: EXITS, status: STATUS };

/** True when `code` is one of the wire catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** An error with a stable wire code. `message` must never hold a secret. */
export class ProtocolError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(WIRE_ERRORS, code, message, options);
    this.name = 'ProtocolError';
  }
}

/**
 * An error the other side of an RPC answered with: its code is whatever the
 * peer sent (checked to be a code-shaped string, not necessarily one this
 * side knows), looked up in `catalogue` for the exit code.
 */
export class RemoteError extends CodedError<string> {
  constructor(code: string, message: string, catalogue: Catalogue<string> = WIRE_ERRORS) {
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
