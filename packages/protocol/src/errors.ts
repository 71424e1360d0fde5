/**
 * One coded error for all of PocketShell, like undici's one errors file:
 * `CodedError` is the base, and `ERROR_CODES` is the one catalogue — every
 * code of every layer on one line, `"<layer> <exit> <status> <message>"`:
 * the layer that raises it (`wire` codes travel between peers; `host`,
 * `relay`, `webrtc` and `cli` codes stay local), the exit code a CLI ends
 * with (by name), the HTTP status it answers with (`-` when it never answers
 * HTTP) and the default human message. The template type `CodeSpec` makes
 * the compiler refuse an entry without any of them. Each layer's error
 * class takes only its layer's codes (`CodeOf<'host'>`…). Codes are never
 * renamed, only added; the message is for people, the code for programs,
 * and neither ever holds a secret. Codes become numbers only at the edge
 * (`exitCodeOf` in the CLI).
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

/** The layers that raise codes. */
export type Layer = 'wire' | 'host' | 'relay' | 'webrtc' | 'cli';

/** One code's entry: `"<layer> <exit> <status> <message>"` (see the header). */
export type CodeSpec = `${Layer} ${ExitName} ${number | '-'} ${string}`;

/** A catalogue of codes. */
export type Catalogue<C extends string = string> = Readonly<Record<C, CodeSpec>>;

function catalogue<const T extends Catalogue>(entries: T): T {
  return entries;
}

/** What an entry says, read out. */
export interface CodeInfo {
  readonly layer: Layer;
  readonly exit: ExitName;
  readonly status: number | undefined;
  readonly message: string;
}

/** Reads one code's entry, or undefined when the catalogue has no such code. */
export function codeInfo(code: string): CodeInfo | undefined {
  if (!Object.hasOwn(ERROR_CODES, code)) return undefined;
  const spec = ERROR_CODES[code as Code];
  const [layer, exit, status] = spec.split(' ', 3) as [Layer, ExitName, string];
  return {
    layer,
    exit,
    status: status === '-' ? undefined : Number(status),
    message: spec.slice(layer.length + exit.length + status.length + 3),
  };
}

/**
 * An error with a stable code from a catalogue. `message` must never hold a
 * secret. `exit` is the exit code a CLI ends with when this error reaches it.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly exit: number;

  constructor(code: C, message?: string, options?: { cause?: unknown }) {
    const info = codeInfo(code);
    super(message ?? info?.message ?? code, options?.cause === undefined ? undefined : options);
    this.name = 'CodedError';
    this.code = code;
    this.exit = EXIT[info?.exit ?? 'failure'];
  }
}

/**
 * The error class of one layer: `class FooError extends
 * codedErrorClass<CodeOf<'foo'>>('FooError') {}` — `new FooError(code,
 * message?, {cause?})`, `instanceof` as usual.
 */
export function codedErrorClass<C extends Code>(name: string) {
  return class extends CodedError<C> {
    constructor(code: C, message?: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
}

/** Every code of PocketShell (see the header for the format). */
export const ERROR_CODES = catalogue({
  // wire: refusals that travel between peers (docs/protocol.md §8)
  bad_message: 'wire usage 400 The message is malformed, too large, or of an unknown type.',
  unauthorized: 'wire refused 401 Authentication failed.',
  not_paired: 'wire refused 403 There is no live pairing with that party.',
  revoked: 'wire refused 403 The pairing was revoked.',
  rate_limited: 'wire failure 429 Too many requests; slow down and retry later.',
  claim_invalid: 'wire refused 403 The pairing claim is unknown, expired, already used, or for another host.',
  claim_burned: 'wire refused 403 The pairing code was burned by wrong attempts from others; make a new one.',
  clock_skew: 'wire failure 400 The timestamp is outside the allowed clock window.',
  replay: 'wire failure 400 The message was already seen.',
  bad_signature: 'wire failure 400 A signature did not verify.',
  bad_key: 'wire failure 400 A key is malformed or of low order.',
  fingerprint_mismatch:
    'wire failure 400 The DTLS certificate presented is not the one the signed SDP names.',
  decrypt_failed: 'wire failure 400 A sealed envelope failed to open.',
  grant_missing: 'wire refused 403 The device does not hold the grant this needs.',
  registration_closed: 'wire refused 403 This relay needs an enrollment token to register a new host.',
  too_many_connections: 'wire failure 429 Too many connections for this identity.',
  limit_reached: 'wire failure 429 A configured limit was reached.',
  replaced:
    'wire failure 409 A newer connection from the same device took this one’s place (the device was at its limit).',
  not_found: 'wire notFound 404 No such object.',
  not_permitted:
    'wire refused 403 The host may not act on that object (a protected process, or one its user does not own).',
  path_denied:
    'wire refused 403 The path is outside the device’s root, leads out of it through a link, or is on the deny list.',
  exists: 'wire failure 409 Something already exists under that name.',
  wrong_type:
    'wire failure 409 The object is of the wrong type (a folder where a file is needed, or the reverse).',
  integrity: 'wire failure 422 The bytes received do not match their SHA-256; nothing was written.',
  cancelled: 'wire failure 499 The operation was cancelled.',
  no_space: 'wire failure 507 The host’s disk is full.',
  agent_unavailable: 'wire unavailable 503 That agent is not installed on the host, or could not start.',
  tier_refused:
    'wire refused 403 The device’s agent tier does not allow that (read-only refuses writes and commands).',
  unsupported: 'wire failure 501 Not supported by this peer.',
  push_endpoint_refused:
    'wire refused 403 The push endpoint is not an https URL of a push service this relay sends to (its allowlist).',
  unavailable: 'wire unavailable 503 The relay or the peer cannot be reached right now.',
  timeout: 'wire timeout 504 No answer in time.',
  key_changed:
    'wire refused 409 A known name now comes with a different key; it needs a new pairing, acknowledged.',
  internal: 'wire failure 500 Internal error.',
  // host: local failures of the host agent's machine (state files, root, lifecycles)
  state_insecure: 'host state - A state file or folder is not private to this user (owner, mode or symlink).',
  state_corrupt: 'host state - A state file is unreadable or does not match its schema.',
  state_io: 'host state - A state file could not be read or written.',
  running_as_root: 'host root - Refusing to run as root.',
  keystore_unavailable: 'host state - The secret store could not be used.',
  identity_missing: 'host state - This host has no identity yet.',
  audit_field_refused: 'host failure - An audit entry may not carry a field named like a secret.',
  audit_corrupt: 'host state - The audit log is damaged.',
  bad_transition: 'host failure - An illegal lifecycle transition was attempted.',
  closed: 'host failure - The object is closed.',
  spawn_failed: 'host failure - A process could not be started.',
  // relay: the relay's own failures (configuration, listener, storage)
  config_invalid: 'relay usage 500 The configuration is invalid.',
  data_insecure: 'relay state 500 The data folder is not private (group or others can write it).',
  listen_failed: 'relay failure 500 The relay could not listen.',
  store_failed: 'relay failure 503 The relay storage failed.',
  redis_failed: 'relay failure 503 The relay could not reach Redis (its fleet link).',
  token_not_found: 'relay usage 404 No such enrollment token.',
  // webrtc: the WebRTC layer (fingerprint_mismatch is the wire code above)
  connect_failed: 'webrtc failure - The peer connection failed (ICE or DTLS) before it was verified.',
  peer_closed: 'webrtc failure - The peer connection was closed.',
  not_open: 'webrtc failure - The data channel is not open.',
  message_too_large: 'webrtc failure - The data-channel message is larger than the allowed size.',
  wrong_role: 'webrtc failure - This call does not fit the peer role (offerer or answerer).',
  engine: 'webrtc failure - The WebRTC engine refused the operation.',
  // cli: what only the `pocketshell` CLI raises
  not_running: 'cli unavailable - The daemon is not running.',
  port_in_use: 'cli unavailable - The port is already in use.',
  already_running: 'cli unavailable - Another daemon already runs on this state folder.',
  confirmation_needed: 'cli usage - This needs a confirmation (a terminal, or --yes).',
});

/** Any code. */
export type Code = keyof typeof ERROR_CODES;

/** The codes one layer raises. */
export type CodeOf<L extends Layer> = {
  [K in Code]: (typeof ERROR_CODES)[K] extends `${L} ${string}` ? K : never;
}[Code];

/** A wire code: one that travels between peers (docs/protocol.md §8). */
export type ErrorCode = CodeOf<'wire'>;

/** The default message of a wire code. */
export function messageOf(code: Code): string {
  return (codeInfo(code) as CodeInfo).message;
}

/** True when `code` is a wire code. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && codeInfo(code)?.layer === 'wire';
}

/** An error with a stable wire code. `message` must never hold a secret. */
export class ProtocolError extends codedErrorClass<ErrorCode>('ProtocolError') {}

/**
 * An error the other side of an RPC answered with: its code is whatever the
 * peer sent (checked to be a code-shaped string, not necessarily one this
 * side knows), looked up in the catalogue for the exit code.
 */
export class RemoteError extends CodedError<string> {
  constructor(code: string, message: string) {
    super(code, message);
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

/** A WebRTC-layer code. */
export type WebRtcErrorCode = CodeOf<'webrtc'> | 'fingerprint_mismatch';

/**
 * An error of the WebRTC layer with a stable code (data channel not open, a
 * message too large…). Here, not in `@pocketshell/webrtc`, because the relay
 * path (relay-link.ts) raises the same errors in the browser too. Never
 * holds a secret.
 */
export class WebRtcError extends codedErrorClass<WebRtcErrorCode>('WebRtcError') {}
