/**
 * `RelayError`: the relay's own failures, for what is not a wire refusal —
 * bad configuration, a listener that cannot bind, storage that cannot open.
 * Their codes are the `relay` lines of the one catalogue (`ERROR_CODES` in
 * `@pocketshell/protocol`), each with its exit code and HTTP status. Wire
 * refusals use `ProtocolError`.
 */
import { type CodeOf, codedErrorClass } from '@pocketshell/protocol';

/** A relay code. */
export type RelayErrorCode = CodeOf<'relay'>;

/** An error with a stable relay code. `message` never holds a secret. */
export class RelayError extends codedErrorClass<RelayErrorCode>('RelayError') {}
