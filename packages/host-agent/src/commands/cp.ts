/**
 * `pocketshell cp [-r] HOST:PATH LOCAL` and `pocketshell cp [-r] LOCAL
 * HOST:PATH`: files between this machine, paired as a device, and a host
 * (copy.ts). Loaded only when it runs: a daemon never needs it.
 */
import type { Command } from 'commander';
import { type Cli, paths } from './common.ts';

export function cpCommand(program: Command, { io }: Cli): void {
  program
    .command('cp <from> <to>')
    .description('copy files to or from a paired host: cp [-r] HOST:PATH LOCAL, or cp [-r] LOCAL HOST:PATH')
    .option('-r, --recursive', 'copy folders and what they hold')
    .option('-f, --force', 'overwrite files that exist at the destination')
    .option('-q, --quiet', 'no progress line and no notes')
    .addHelpText(
      'after',
      `
HOST is a paired host's name or id (pocketshell device hosts). Remote paths are
relative to this device's root on the host (its home by default): HOST: is the
root, HOST:~/x starts from the host user's home. A copy cut short (Ctrl-C, a
lost link) goes on where it stopped when run again.`,
    )
    .action(
      async (from: string, to: string, o: { recursive?: boolean; force?: boolean; quiet?: boolean }) => {
        const { cp } = await import('../copy.ts');
        await cp(paths(io), io.env, from, to, o, { err: io.err, stream: process.stderr });
      },
    );
}
