/**
 * `HostError`: the host library's local failures — unsafe state files, a
 * corrupt trust store, running as root, an illegal lifecycle move. Their
 * codes are the `host` lines of the one catalogue (`ERROR_CODES` in
 * `@pocketshell/protocol`), each with its exit code; refusals that travel
 * to a device use `ProtocolError` and its wire codes instead
 * (`limit_reached`, `not_found`, `bad_message`).
 */
import { CodedError, type CodeOf } from '@pocketshell/protocol';

/** A host code. */
export type HostErrorCode = CodeOf<'host'>;

/** An error with a stable host code; `path` names the file involved, if any. Never holds a secret. */
export class HostError extends CodedError<HostErrorCode> {
  readonly path: string | undefined;

  constructor(code: HostErrorCode, message?: string, options?: { cause?: unknown; path?: string }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HostError';
    this.path = options?.path;
  }
}

/** True when `err` is a `HostError` with `code` (any code when omitted). */
export function isHostError(err: unknown, code?: HostErrorCode): err is HostError {
  return err instanceof HostError && (code === undefined || err.code === code);
}
