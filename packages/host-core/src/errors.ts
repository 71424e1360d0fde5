/**
 * The host library's own error codes and `HostError`. These are the local
 * failures of the machine the agent runs on (unsafe state files, a corrupt
 * trust store, running as root, an illegal lifecycle move); refusals that
 * travel to a device reuse `ProtocolError` and its wire codes instead
 * (`limit_reached`, `not_found`, `bad_message`). Codes are stable and only
 * ever added; each carries the exit code the CLI ends with (`CodedError`).
 */
import { CodedError, catalogue } from '@pocketshell/protocol';

/** A code of this catalogue. */
export type HostErrorCode = keyof typeof HOST_ERROR_CODES;

/** Stable host error codes: default human message and exit code. */
export const HOST_ERROR_CODES = catalogue({
  state_insecure: 'state - A state file or folder is not private to this user (owner, mode or symlink).',
  state_corrupt: 'state - A state file is unreadable or does not match its schema.',
  state_io: 'state - A state file could not be read or written.',
  running_as_root: 'root - Refusing to run as root.',
  keystore_unavailable: 'state - The secret store could not be used.',
  identity_missing: 'state - This host has no identity yet.',
  audit_field_refused: 'failure - An audit entry may not carry a field named like a secret.',
  audit_corrupt: 'state - The audit log is damaged.',
  bad_transition: 'failure - An illegal lifecycle transition was attempted.',
  closed: 'failure - The object is closed.',
  spawn_failed: 'failure - A process could not be started.',
});

/** An error with a stable host code; `path` names the file involved, if any. Never holds a secret. */
export class HostError extends CodedError<HostErrorCode> {
  readonly path: string | undefined;

  constructor(code: HostErrorCode, message?: string, options?: { cause?: unknown; path?: string }) {
    super(
      HOST_ERROR_CODES,
      code,
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'HostError';
    this.path = options?.path;
  }
}

/** True when `err` is a `HostError` with `code` (any code when omitted). */
export function isHostError(err: unknown, code?: HostErrorCode): err is HostError {
  return err instanceof HostError && (code === undefined || err.code === code);
}
