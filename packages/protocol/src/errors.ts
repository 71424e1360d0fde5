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
 * One code's entry: `"<exit> <status> <message>"` — the exit code a CLI
 * ends with (by name), the HTTP status it answers with (`-` for a code that
 * never answers HTTP), and the default human message. One line per code;
 * the template type makes the compiler refuse an entry without an exit code
 * or a status.
 */
export type CodeSpec = `${ExitName} ${number | '-'} ${string}`;

/** A catalogue of codes. */
export type Catalogue<C extends string = string> = Readonly<Record<C, CodeSpec>>;

/** Declares a catalogue (keeps its literal codes; refuses an entry that is not a `CodeSpec`). */
export function catalogue<const T extends Catalogue>(entries: T): T {
  return entries;
}

/** What an entry says, read out. */
export interface CodeInfo {
  readonly exit: ExitName;
  readonly status: number | undefined;
  readonly message: string;
}

/** Reads one code's entry, or undefined when the catalogue has no such code. */
export function codeInfo(catalogue: Catalogue<string>, code: string): CodeInfo | undefined {
  if (!Object.hasOwn(catalogue, code)) return undefined;
  const spec = catalogue[code] as CodeSpec;
  const first = spec.indexOf(' ');
  const second = spec.indexOf(' ', first + 1);
  const status = spec.slice(first + 1, second);
  return {
    exit: spec.slice(0, first) as ExitName,
    status: status === '-' ? undefined : Number(status),
    message: spec.slice(second + 1),
  };
}

/**
 * An error with a stable code from a catalogue. `message` must never hold a
 * secret. `exit` is the exit code a CLI ends with when this error reaches it.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly exit: number;

  constructor(catalogue: Catalogue<C>, code: C, message?: string, options?: { cause?: unknown }) {
    const info = codeInfo(catalogue, code);
    super(message ?? info?.message ?? code, options?.cause === undefined ? undefined : options);
    this.name = 'CodedError';
    this.code = code;
    this.exit = EXIT[info?.exit ?? 'failure'];
  }
}

/**
 * The error class of one catalogue: `class FooError extends
 * codedErrorClass('FooError', FOO_CODES) {}` — `new FooError(code,
 * message?, {cause?})`, `instanceof` as usual.
 */
export function codedErrorClass<C extends string>(name: string, catalogue: Catalogue<C>) {
  return class extends CodedError<C> {
    constructor(code: C, message?: string, options?: { cause?: unknown }) {
      super(catalogue, code, message, options);
      this.name = name;
    }
  };
}

/** A code of this catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Stable wire error codes (docs/protocol.md §8): exit code, HTTP status, default message. */
export const ERROR_CODES = catalogue({
  bad_message: 'usage 400 The message is malformed, too large, or of an unknown type.',
  unauthorized: 'refused 401 Authentication failed.',
  not_paired: 'refused 403 There is no live pairing with that party.',
  revoked: 'refused 403 The pairing was revoked.',
  rate_limited: 'failure 429 Too many requests; slow down and retry later.',
  claim_invalid: 'refused 403 The pairing claim is unknown, expired, already used, or for another host.',
  claim_burned: 'refused 403 The pairing code was burned by wrong attempts from others; make a new one.',
  clock_skew: 'failure 400 The timestamp is outside the allowed clock window.',
  replay: 'failure 400 The message was already seen.',
  bad_signature: 'failure 400 A signature did not verify.',
  bad_key: 'failure 400 A key is malformed or of low order.',
  fingerprint_mismatch: 'failure 400 The DTLS certificate presented is not the one the signed SDP names.',
  decrypt_failed: 'failure 400 A sealed envelope failed to open.',
  grant_missing: 'refused 403 The device does not hold the grant this needs.',
  registration_closed: 'refused 403 This relay needs an enrollment token to register a new host.',
  too_many_connections: 'failure 429 Too many connections for this identity.',
  limit_reached: 'failure 429 A configured limit was reached.',
  not_found: 'notFound 404 No such object.',
  unsupported: 'failure 501 Not supported by this peer.',
  unavailable: 'unavailable 503 The relay or the peer cannot be reached right now.',
  timeout: 'timeout 504 No answer in time.',
  key_changed:
    'refused 409 A known name now comes with a different key; it needs a new pairing, acknowledged.',
  internal: 'failure 500 Internal error.',
});

/** The default message of a wire code. */
export function messageOf(code: ErrorCode): string {
  return (codeInfo(ERROR_CODES, code) as CodeInfo).message;
}

/** True when `code` is one of the wire catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** An error with a stable wire code. `message` must never hold a secret. */
export class ProtocolError extends codedErrorClass('ProtocolError', ERROR_CODES) {}

/**
 * An error the other side of an RPC answered with: its code is whatever the
 * peer sent (checked to be a code-shaped string, not necessarily one this
 * side knows), looked up in `catalogue` for the exit code.
 */
export class RemoteError extends CodedError<string> {
  constructor(code: string, message: string, catalogue: Catalogue<string> = ERROR_CODES) {
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
