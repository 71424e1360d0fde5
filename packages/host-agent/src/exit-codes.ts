/**
 * The `pocketshell` CLI's error catalogue and the mapping from error codes
 * to exit codes — the only place errors become numbers. The CLI's own codes
 * are data like every other catalogue (a `Catalogue`: messages and exit codes);
 * `exitCodeOf` looks a code up in all of them (wire, host, relay, WebRTC,
 * CLI — the CLI's entries win where it reads a code its own way, as
 * `data_insecure` of an embedded relay's folder is unsafe state here), so
 * an error that crossed the local API keeps its exit code.
 */

import { HOST_ERRORS, type HostErrorCode } from '@pocketshell/host-core';
import {
  type Catalogue,
  CodedError,
  type ErrorCode,
  EXIT,
  type ExitName,
  WIRE_ERRORS,
} from '@pocketshell/protocol';
import { RELAY_ERRORS, type RelayErrorCode } from '@pocketshell/relay';
import { WEBRTC_ERRORS, type WebRtcErrorCode } from '@pocketshell/webrtc';

export { EXIT };

/** Codes only the CLI raises (docs/host.md, "Exit codes"). */
export const CLI_ERROR_CODES = {
  not_running: 'The daemon is not running.',
  port_in_use: 'The port is already in use.',
  already_running: 'Another daemon already runs on this state folder.',
  confirmation_needed: 'This needs a confirmation (a terminal, or --yes).',
  data_insecure: 'The relay data folder is not private.',
} as const;

/** One stable code. */
export type CliOwnCode = keyof typeof CLI_ERROR_CODES;

/** The exit code of each CLI code. */
const EXITS = {
  not_running: 'unavailable',
  port_in_use: 'unavailable',
  already_running: 'unavailable',
  confirmation_needed: 'usage',
  data_insecure: 'state',
} as const satisfies Record<CliOwnCode, ExitName>;

/** The catalogue: every code with its message, exit code. */
export const CLI_ERRORS: Catalogue<CliOwnCode> = { messages: CLI_ERROR_CODES, exits: EXITS };

/** A code the CLI knows. */
export type CliCode = ErrorCode | HostErrorCode | RelayErrorCode | WebRtcErrorCode | CliOwnCode;

/** Every code the CLI can meet, merged (the CLI's own last, so they win). */
const ALL: Catalogue<CliCode> = {
  messages: {
    ...WIRE_ERRORS.messages,
    ...WEBRTC_ERRORS.messages,
    ...HOST_ERRORS.messages,
    ...RELAY_ERRORS.messages,
    ...CLI_ERRORS.messages,
  },
  exits: {
    ...WIRE_ERRORS.exits,
    ...WEBRTC_ERRORS.exits,
    ...HOST_ERRORS.exits,
    ...RELAY_ERRORS.exits,
    ...CLI_ERRORS.exits,
  },
};

/** The exit code for an error (by its `code`). */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  const known = typeof code === 'string' && Object.hasOwn(ALL.exits, code);
  return EXIT[known ? ALL.exits[code as CliCode] : 'failure'];
}

/** An error the CLI raises itself, with a code from one of the catalogues. */
export class CliError extends CodedError<CliCode> {
  constructor(code: CliCode, message: string) {
    super(ALL, code, message);
    this.name = 'CliError';
  }
}
