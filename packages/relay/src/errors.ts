/**
 * The relay's own errors, for what is not a wire refusal: bad configuration,
 * a listener that cannot bind, storage that cannot open. Each carries a
 * stable code; the CLI maps them to exit codes and human messages. Wire
 * refusals use `ProtocolError` codes from `@pocketshell/protocol`.
 */
import { CodedError, type HttpCodeInfo } from '@pocketshell/protocol';

/** Stable relay error codes: default message, exit code of `pocketshell-relay`, HTTP status. */
export const RELAY_ERROR_CODES = {
  config_invalid: { message: 'The configuration is invalid.', exit: 'usage', status: 500 },
  data_insecure: {
    message: 'The data folder is not private (group or others can write it).',
    exit: 'usage',
    status: 500,
  },
  listen_failed: { message: 'The relay could not listen.', exit: 'failure', status: 500 },
  store_failed: { message: 'The relay storage failed.', exit: 'failure', status: 503 },
  token_not_found: { message: 'No such enrollment token.', exit: 'usage', status: 404 },
} as const satisfies Readonly<Record<string, HttpCodeInfo>>;

/** One relay error code. */
export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** An error with a stable relay code. `message` never holds a secret. */
export class RelayError extends CodedError<RelayErrorCode> {
  constructor(code: RelayErrorCode, message?: string, options?: { cause?: unknown }) {
    super(RELAY_ERROR_CODES, code, message, options);
    this.name = 'RelayError';
  }
}
