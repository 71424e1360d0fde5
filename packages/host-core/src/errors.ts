/**
 * The host library's own error codes and `HostError`. These are the local
 * failures of the machine the agent runs on (unsafe state files, a corrupt
 * trust store, running as root, an illegal lifecycle move); refusals that
 * travel to a device reuse `ProtocolError` and its wire codes instead
 * (`limit_reached`, `not_found`, `bad_message`). Codes are stable and only
 * ever added; the CLI maps them to exit codes and messages at the edge.
 */

/** Stable host error codes and their default human messages. */
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

/** One stable host error code. */
export type HostErrorCode = keyof typeof HOST_ERROR_CODES;

/** An error with a stable host code; `path` names the file involved, if any. Never holds a secret. */
export class HostError extends Error {
  readonly code: HostErrorCode;
  readonly path: string | undefined;

  constructor(code: HostErrorCode, message?: string, options?: { cause?: unknown; path?: string }) {
    super(
      message ?? HOST_ERROR_CODES[code],
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'HostError';
    this.code = code;
    this.path = options?.path;
  }
}

/** True when `err` is a `HostError` with `code` (any code when omitted). */
export function isHostError(err: unknown, code?: HostErrorCode): err is HostError {
  return err instanceof HostError && (code === undefined || err.code === code);
}
