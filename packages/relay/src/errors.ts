/**
 * The relay's own errors, for what is not a wire refusal: bad configuration,
 * a listener that cannot bind, storage that cannot open. Each carries a
 * stable code; the CLI maps them to exit codes and human messages. Wire
 * refusals use `ProtocolError` codes from `@pocketshell/protocol`.
 */

/** Stable relay error codes. */
export const RELAY_ERROR_CODES = {
  config_invalid: 'The configuration is invalid.',
  data_insecure: 'The data folder is not private (group or others can write it).',
  listen_failed: 'The relay could not listen.',
  store_failed: 'The relay storage failed.',
  token_not_found: 'No such enrollment token.',
} as const;

/** One relay error code. */
export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** An error with a stable relay code. `message` never holds a secret. */
export class RelayError extends Error {
  readonly code: RelayErrorCode;

  constructor(code: RelayErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? RELAY_ERROR_CODES[code], options);
    this.name = 'RelayError';
    this.code = code;
  }
}
