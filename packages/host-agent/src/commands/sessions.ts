/**
 * `pocketshell sessions`: the running daemon's terminal sessions, with the
 * link each attachment measured, and the tmux/screen sessions it can attach.
 */
import type { PacingInfo } from '@pocketshell/host-core';
import type { Command } from 'commander';
import { CliError } from '../exit-codes.ts';
import { type Cli, paths, print, table, withDaemon } from './common.ts';

export function sessionsCommand(program: Command, { io }: Cli): void {
  program
    .command('sessions')
    .description('terminal sessions of the running daemon, and tmux/screen sessions')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const r = await withDaemon(paths(io), (client) => client.call('sessions'));
      if (!r) throw new CliError('not_running', 'the daemon is not running (pocketshell daemon run)');
      // Per attachment: streaming or screen sync, and the link it measured.
      const link = (p: PacingInfo) =>
        `${p.mode} ${(p.rate / 1e6).toFixed(p.rate < 1e6 ? 2 : 1)} MB/s${p.minRtt === null ? '' : ` rtt ${p.minRtt.toFixed(1)} ms`}`;
      print(io, o, r, () =>
        table([
          ['ID', 'KIND', 'STATE', 'ATTACHED', 'LINKS', 'TITLE'],
          ...r.sessions.map((s) => [
            s.id,
            s.kind,
            s.state,
            String(s.attached),
            (r.links?.[s.id] ?? []).map(link).join('; ') || '-',
            s.title,
          ]),
          ...r.tmux.map((n) => [`tmux:${n}`, 'tmux', '-', '-', '-', '']),
          ...r.screen.map((n) => [`screen:${n}`, 'screen', '-', '-', '-', '']),
        ]),
      );
    });
}
