/**
 * `pocketshell doctor`: checks this machine (Node, key store, state
 * permissions, relay, ICE, tmux/screen, service). Its probes are loaded only
 * when it runs: a daemon never needs them.
 */
import type { Command } from 'commander';
import { CliError } from '../exit-codes.ts';
import { type Cli, paths, print, serviceFor } from './common.ts';

export function doctorCommand(program: Command, cli: Cli): void {
  const { io } = cli;
  program
    .command('doctor')
    .description('check this machine: Node, key store, state permissions, relay, ICE, tmux/screen, service')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const p = paths(io);
      const { doctor, formatDoctor } = await import('../doctor.ts');
      const report = await doctor({
        paths: p,
        env: io.env,
        version: cli.version,
        service: () => serviceFor(cli, p),
      });
      print(io, o, report, formatDoctor);
      if (!report.ok) throw new CliError('unavailable', 'some checks failed');
    });
}
