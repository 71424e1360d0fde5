/**
 * The relay's own errors, for what is not a wire refusal: bad configuration,
 * a listener that cannot bind, storage that cannot open. Each carries a
 * stable code; the CLI maps them to exit codes and human messages. Wire
 * refusals use `ProtocolError` codes from `@pocketshell/protocol`.
 */
import { type Catalogue, CodedError, type ExitName } from '@pocketshell/protocol';

/** Stable relay error codes: default message, exit code of `pocketshell-relay`, HTTP status. */
export const RELAY_ERROR_CODES = {
  config_invalid: 'The configuration is invalid.',
  data_insecure: 'The data folder is not private (group or others can write it).',
  listen_failed: 'The relay could not listen.',
  store_failed: 'The relay storage failed.',
  token_not_found: 'No such enrollment token.',
} as const;

/** One stable code. */
export type RelayErrorCode = keyof typeof RELAY_ERROR_CODES;

/** The exit code of `pocketshell-relay` (2: usage or configuration, 1: runtime). */
const EXITS = {
  config_invalid: 'usage',
  data_insecure: 'usage',
  listen_failed: 'failure',
  store_failed: 'failure',
  token_not_found: 'usage',
} as const satisfies Record<RelayErrorCode, ExitName>;

/** The HTTP status of each relay code. */
const STATUS = {
  config_invalid: 500,
  data_insecure: 500,
  listen_failed: 500,
  store_failed: 503,
  token_not_found: 404,
} as const satisfies Record<RelayErrorCode, number>;

/** The catalogue: every code with its message, exit code and HTTP status. */
export const RELAY_ERRORS: Catalogue<RelayErrorCode> = {
  messages: RELAY_ERROR_CODES,
  exits: EXITS,
  status: STATUS,
};

/** An error with a stable relay code. `message` never holds a secret. */
export class RelayError extends CodedError<RelayErrorCode> {
  constructor(code: RelayErrorCode, message?: string, options?: { cause?: unknown }) {
    super(RELAY_ERRORS, code, message, options);
    this.name = 'RelayError';
  }
}
