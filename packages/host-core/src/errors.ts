/**
 * The host library's own error codes and `HostError`. These are the local
 * failures of the machine the agent runs on (unsafe state files, a corrupt
 * trust store, running as root, an illegal lifecycle move); refusals that
 * travel to a device reuse `ProtocolError` and its wire codes instead
 * (`limit_reached`, `not_found`, `bad_message`). Codes are stable and only
 * ever added; each carries the exit code the CLI ends with (`CodedError`).
 */
import { CodedError, type CodeInfo } from '@pocketshell/protocol';

/** Stable host error codes: default human message and exit code. */
export const HOST_ERROR_CODES = {
  state_insecure: {
    message: 'A state file or folder is not private to this user (owner, mode or symlink).',
    exit: 'state',
  },
  state_corrupt: { message: 'A state file is unreadable or does not match its schema.', exit: 'state' },
  state_io: { message: 'A state file could not be read or written.', exit: 'state' },
  running_as_root: { message: 'Refusing to run as root.', exit: 'root' },
  keystore_unavailable: { message: 'The secret store could not be used.', exit: 'state' },
  identity_missing: { message: 'This host has no identity yet.', exit: 'state' },
  audit_field_refused: {
    message: 'An audit entry may not carry a field named like a secret.',
    exit: 'failure',
  },
  audit_corrupt: { message: 'The audit log is damaged.', exit: 'state' },
  bad_transition: { message: 'An illegal lifecycle transition was attempted.', exit: 'failure' },
  closed: { message: 'The object is closed.', exit: 'failure' },
  spawn_failed: { message: 'A process could not be started.', exit: 'failure' },
} as const satisfies Readonly<Record<string, CodeInfo>>;

/** One stable host error code. */
export type HostErrorCode = keyof typeof HOST_ERROR_CODES;

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
