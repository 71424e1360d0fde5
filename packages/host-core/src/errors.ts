/**
 * The host library's own error codes and `HostError`. These are the local
 * failures of the machine the agent runs on (unsafe state files, a corrupt
 * trust store, running as root, an illegal lifecycle move); refusals that
 * travel to a device reuse `ProtocolError` and its wire codes instead
 * (`limit_reached`, `not_found`, `bad_message`). Codes are stable and only
 * ever added; each carries the exit code the CLI ends with (`CodedError`).
 */
import { type Catalogue, CodedError, type ExitName } from '@pocketshell/protocol';

/** Stable host error codes: default human message and exit code. */
export const HOST_ERROR_CODES = {
  state_insecure: 'A state file or folder is not private to this user (owner, mode or symlink).',
  state_corrupt: 'A state file is unreadable or does not match its schema.',
  state_io: 'A state file could not be read or written.',
  running_as_root: 'Refusing to run as root.',
  keystore_unavailable: 'The secret store could not be used.',
  identity_missing: 'This host has no identity yet.',
  audit_field_refused: 'An audit entry may not carry a field named like a secret.',
  audit_corrupt: 'The audit log is damaged.',
  bad_transition: 'An illegal lifecycle transition was attempted.',
  closed: 'The object is closed.',
  spawn_failed: 'A process could not be started.',
} as const;

/** One stable code. */
export type HostErrorCode = keyof typeof HOST_ERROR_CODES;

/** The exit code of each host code. */
const EXITS = {
  state_insecure: 'state',
  state_corrupt: 'state',
  state_io: 'state',
  running_as_root: 'root',
  keystore_unavailable: 'state',
  identity_missing: 'state',
  audit_field_refused: 'failure',
  audit_corrupt: 'state',
  bad_transition: 'failure',
  closed: 'failure',
  spawn_failed: 'failure',
} as const satisfies Record<HostErrorCode, ExitName>;

/** The catalogue: every code with its message, exit code. */
export const HOST_ERRORS: Catalogue<HostErrorCode> = { messages: HOST_ERROR_CODES, exits: EXITS };

/** An error with a stable host code; `path` names the file involved, if any. Never holds a secret. */
export class HostError extends CodedError<HostErrorCode> {
  readonly path: string | undefined;

  constructor(code: HostErrorCode, message?: string, options?: { cause?: unknown; path?: string }) {
    super(HOST_ERRORS, code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HostError';
    this.path = options?.path;
  }
}

/** True when `err` is a `HostError` with `code` (any code when omitted). */
export function isHostError(err: unknown, code?: HostErrorCode): err is HostError {
  return err instanceof HostError && (code === undefined || err.code === code);
}
