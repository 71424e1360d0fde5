/**
 * The relay's own errors, for what is not a wire refusal: bad configuration,
 * a listener that cannot bind, storage that cannot open. Each carries a
 * stable code; the CLI maps them to exit codes and human messages. Wire
 * refusals use `ProtocolError` codes from `@pocketshell/protocol`.
 */
import { catalogue, codedErrorClass } from '@pocketshell/protocol';

/** A code of this catalogue. */
export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** Stable relay error codes: exit code of `pocketshell-relay` (2 usage or configuration, 1 runtime), HTTP status, default message. */
export const RELAY_ERROR_CODES = catalogue({
  config_invalid: 'usage 500 The configuration is invalid.',
  data_insecure: 'usage 500 The data folder is not private (group or others can write it).',
  listen_failed: 'failure 500 The relay could not listen.',
  store_failed: 'failure 503 The relay storage failed.',
  token_not_found: 'usage 404 No such enrollment token.',
});

/** An error with a stable relay code. `message` never holds a secret. */
export class RelayError extends codedErrorClass('RelayError', RELAY_ERROR_CODES) {}
