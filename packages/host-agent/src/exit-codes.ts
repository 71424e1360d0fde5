/**
 * The `pocketshell` CLI's error catalogue and the mapping from error codes
 * to exit codes — the only place errors become numbers. The CLI's own codes
 * are data like every other catalogue (a `Catalogue`: exit code and message);
 * `exitCodeOf` looks a code up in all of them (wire, host, relay, WebRTC,
 * CLI — the CLI's entries win where it reads a code its own way, as
 * `data_insecure` of an embedded relay's folder is unsafe state here), so
 * an error that crossed the local API keeps its exit code.
 */

import { HOST_ERROR_CODES, type HostErrorCode } from '@pocketshell/host-core';
import {
  type Catalogue,
  CodedError,
  catalogue,
  codeInfo,
  ERROR_CODES,
  type ErrorCode,
  EXIT,
} from '@pocketshell/protocol';
import { RELAY_ERROR_CODES, type RelayErrorCode } from '@pocketshell/relay';
import { WEBRTC_ERROR_CODES, type WebRtcErrorCode } from '@pocketshell/webrtc';

export { EXIT };

/** A code of this catalogue. */
export type CliOwnCode = keyof typeof CLI_ERROR_CODES;

/** Codes only the CLI raises (docs/host.md, "Exit codes"). */
export const CLI_ERROR_CODES = catalogue({
  not_running: 'unavailable - The daemon is not running.',
  port_in_use: 'unavailable - The port is already in use.',
  already_running: 'unavailable - Another daemon already runs on this state folder.',
  confirmation_needed: 'usage - This needs a confirmation (a terminal, or --yes).',
  data_insecure: 'state - The relay data folder is not private.',
});

/** A code the CLI knows. */
export type CliCode = ErrorCode | HostErrorCode | RelayErrorCode | WebRtcErrorCode | CliOwnCode;

/** Every code the CLI can meet, merged (the CLI's own last, so they win). */
const ALL: Catalogue<CliCode> = {
  ...ERROR_CODES,
  ...WEBRTC_ERROR_CODES,
  ...HOST_ERROR_CODES,
  ...RELAY_ERROR_CODES,
  ...CLI_ERROR_CODES,
};

/** The exit code for an error (by its `code`). */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  return EXIT[(typeof code === 'string' && codeInfo(ALL, code)?.exit) || 'failure'];
}

/** An error the CLI raises itself, with a code from one of the catalogues. */
export class CliError extends CodedError<CliCode> {
  constructor(code: CliCode, message: string) {
    super(ALL, code, message);
    this.name = 'CliError';
  }
}
