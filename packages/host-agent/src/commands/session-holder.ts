/**
 * `pocketshell session-holder` (hidden): the session holder process of the
 * state folder (holder-main.ts). The launchers run holder-main.ts directly
 * without the CLI; this command is the same for anyone calling it through
 * the CLI (and shows in its help as hidden).
 */
import type { Command } from 'commander';
import { runSessionHolder } from '../holder-main.ts';
import type { Cli } from './common.ts';

export function sessionHolderCommand(program: Command, { io }: Cli): void {
  program
    .command('session-holder', { hidden: true })
    .description('the process that keeps terminal sessions across daemon restarts (started by the daemon)')
    .action(() => runSessionHolder(io.env));
}
