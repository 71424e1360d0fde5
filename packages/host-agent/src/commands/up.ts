/**
 * `pocketshell up`: a local relay and this machine's agent in one process,
 * printing pairing codes. The relay (SQLite, HTTP server) is loaded only when
 * `up` runs: a daemon never needs it, and every module it loads stays
 * resident for as long as it idles.
 */
import { privateUmask } from '@pocketshell/host-core';
import { GRANTS } from '@pocketshell/protocol';
import type { Command } from 'commander';
import { stopOnSignals } from '../daemon.ts';
import { type Cli, parseGrants, paths } from './common.ts';

export function upCommand(program: Command, { io, version }: Cli): void {
  program
    .command('up')
    .description('start a local relay and this machine’s agent, and print pairing codes')
    .option('--listen <host:port>', 'relay address', '127.0.0.1:8080')
    .option('--lan', 'listen on this machine’s LAN address so a phone on the same network can pair')
    .option('--data <dir>', 'relay data folder')
    .option(
      '-y, --yes',
      'accept pairing requests without asking (the SAS is still printed; never a key change)',
    )
    .option('--grants <list>', `grants for each device paired (${GRANTS.join(',')})`, 'shell')
    .option('--accept-key-change', 'also accept a device whose name is paired under another key')
    .option('--allow-root', 'run even as root')
    .action(
      async (o: {
        listen: string;
        lan?: boolean;
        data?: string;
        yes?: boolean;
        grants: string;
        acceptKeyChange?: boolean;
      }) => {
        const grants = parseGrants(o.grants);
        privateUmask();
        const { up } = await import('../up.ts');
        const running = await up({
          paths: paths(io),
          listen: o.listen,
          yes: o.yes === true || io.env.POCKETSHELL_PAIR_YES === '1',
          grants,
          version,
          out: io.out,
          ...(o.acceptKeyChange ? { acceptKeyChange: true } : {}),
          ...(o.lan ? { lan: true } : {}),
          ...(o.data ? { data: o.data } : {}),
        });
        stopOnSignals(running);
        await new Promise(() => {});
      },
    );
}
