/**
 * The mapping from error codes to the `pocketshell` CLI's exit codes — the
 * only place errors become numbers — and `CliError`. Every code, the CLI's
 * own included (the `cli` lines), is in the one catalogue (`ERROR_CODES` in
 * `@pocketshell/protocol`) with its exit code; so an error that crossed the
 * local API, known only by its code, keeps its exit code.
 */
import { type Code, CodedError, codeInfo, EXIT } from '@pocketshell/protocol';

export { EXIT };

/** The exit code for an error (by its `code`). */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  return EXIT[(typeof code === 'string' && codeInfo(code)?.exit) || 'failure'];
}

/** An error the CLI raises itself, with any code of the catalogue. */
export class CliError extends CodedError<Code> {
  constructor(code: Code, message: string) {
    super(code, message);
    this.name = 'CliError';
  }
}
