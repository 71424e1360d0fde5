/**
 * The `pocketshell` CLI's error catalogue and the mapping from error codes
 * to exit codes — the only place errors become numbers. The CLI's own codes
 * are data like every other catalogue (`CodeInfo`: message and exit code);
 * `exitCodeOf` looks a code up in all of them (wire, host, relay, WebRTC,
 * CLI — the CLI's entries win where it reads a code its own way, as
 * `data_insecure` of an embedded relay's folder is unsafe state here), so
 * an error that crossed the local API keeps its exit code.
 */

import { HOST_ERROR_CODES } from '@pocketshell/host-core';
import { CodedError, type CodeInfo, ERROR_CODES, EXIT } from '@pocketshell/protocol';
import { RELAY_ERROR_CODES } from '@pocketshell/relay';
import { WEBRTC_ERROR_CODES } from '@pocketshell/webrtc';

export { EXIT };

/** Codes only the CLI raises (docs/host.md, "Exit codes"). */
export const CLI_ERROR_CODES = {
  not_running: { message: 'The daemon is not running.', exit: 'unavailable' },
  port_in_use: { message: 'The port is already in use.', exit: 'unavailable' },
  already_running: { message: 'Another daemon already runs on this state folder.', exit: 'unavailable' },
  confirmation_needed: { message: 'This needs a confirmation (a terminal, or --yes).', exit: 'usage' },
  data_insecure: { message: 'The relay data folder is not private.', exit: 'state' },
} as const satisfies Readonly<Record<string, CodeInfo>>;

/** Every code the CLI can meet, with its exit code. */
const CODES: Readonly<Record<string, CodeInfo>> = {
  ...ERROR_CODES,
  ...WEBRTC_ERROR_CODES,
  ...HOST_ERROR_CODES,
  ...RELAY_ERROR_CODES,
  ...CLI_ERROR_CODES,
};

/** A code the CLI knows. */
export type CliCode =
  | keyof typeof ERROR_CODES
  | keyof typeof HOST_ERROR_CODES
  | keyof typeof RELAY_ERROR_CODES
  | keyof typeof WEBRTC_ERROR_CODES
  | keyof typeof CLI_ERROR_CODES;

/** The exit code for an error (by its `code`). */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  const info = typeof code === 'string' && Object.hasOwn(CODES, code) ? CODES[code] : undefined;
  return EXIT[info?.exit ?? 'failure'];
}

/** An error the CLI raises itself, with a code from one of the catalogues. */
export class CliError extends CodedError<CliCode> {
  constructor(code: CliCode, message: string) {
    super(CODES, code, message);
    this.name = 'CliError';
  }
}
