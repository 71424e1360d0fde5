/**
 * Stable exit codes of the `pocketshell` CLI and the mapping from error
 * codes to them — the only place errors become numbers and human text.
 */

/** Exit codes (documented in docs/host.md, "Exit codes"; test/e2e/exit-codes.test.ts runs each). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
  refused: 4,
  state: 5,
  root: 6,
  timeout: 7,
  notFound: 8,
} as const;

const BY_CODE: Record<string, number> = {
  bad_message: EXIT.usage,
  config_invalid: EXIT.usage,
  confirmation_needed: EXIT.usage,
  unavailable: EXIT.unavailable,
  not_running: EXIT.unavailable,
  unauthorized: EXIT.refused,
  not_paired: EXIT.refused,
  revoked: EXIT.refused,
  claim_invalid: EXIT.refused,
  claim_burned: EXIT.refused,
  key_changed: EXIT.refused,
  grant_missing: EXIT.refused,
  registration_closed: EXIT.refused,
  state_insecure: EXIT.state,
  data_insecure: EXIT.state,
  state_corrupt: EXIT.state,
  state_io: EXIT.state,
  keystore_unavailable: EXIT.state,
  identity_missing: EXIT.state,
  audit_corrupt: EXIT.state,
  running_as_root: EXIT.root,
  timeout: EXIT.timeout,
  not_found: EXIT.notFound,
  port_in_use: EXIT.unavailable,
  already_running: EXIT.unavailable,
};

/** The exit code for an error (by its `code`). */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? (BY_CODE[code] ?? EXIT.failure) : EXIT.failure;
}

/** An error the CLI raises itself, with a code that maps to an exit code. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
