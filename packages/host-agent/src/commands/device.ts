/**
 * `pocketshell device pair|hosts` and `pocketshell connect`: this machine as
 * a device of another host. The device client is loaded only when one of
 * these runs: a daemon never needs it.
 */
import { PREDICT_MODES, type PredictMode } from '@pocketshell/protocol';
import { type Command, Option } from 'commander';
import { type Cli, paths, print, table } from './common.ts';

const loadConnect = () => import('../connect.ts');

export function deviceCommands(program: Command, { io }: Cli): void {
  const deviceCmd = program.command('device').description('this machine as a device of another host');
  deviceCmd
    .command('pair <url>')
    .description('pair this machine as a device, from a pairing URL a host printed')
    .option('--name <name>', 'the name the host will see')
    .option('--accept-key-change', 'pair even when a host of the same name is paired under another key')
    .action(async (url: string, o: { name?: string; acceptKeyChange?: boolean }) => {
      const { devicePair } = await loadConnect();
      await devicePair(paths(io), io.env, url, o, io.out);
    });
  deviceCmd
    .command('hosts')
    .description('hosts this machine can connect to')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { deviceHosts } = await loadConnect();
      const hosts = await deviceHosts(paths(io), io.env);
      print(
        io,
        o,
        hosts.map((h) => ({ ...h, pub: undefined })),
        () =>
          hosts.length === 0
            ? 'No hosts. Pair with one: pocketshell device pair <url>'
            : table([
                ['ID', 'NAME', 'GRANTS', 'RELAY'],
                ...hosts.map((h) => [
                  h.id,
                  h.replacedBy ? `${h.name} (old key, replaced)` : h.name,
                  h.grants.join(','),
                  h.relay,
                ]),
              ]),
      );
    });
}

export function connectCommand(program: Command, { io }: Cli): void {
  program
    .command('connect <host>')
    .description('open a terminal on a paired host in this tty (Ctrl-] detaches)')
    .option(
      '--session <id>',
      'attach this session (an id, tmux:NAME or screen:NAME) instead of a new one',
      'new',
    )
    .addOption(
      new Option('--predict <mode>', 'predictive local echo: on slow links (auto), always or never')
        .choices(PREDICT_MODES)
        .default('auto'),
    )
    .addOption(
      new Option(
        '--path <path>',
        'how to reach the host: WebRTC first, then end-to-end through the relay (auto), WebRTC only (direct), or the relay path only (relay); default $POCKETSHELL_PATH or auto',
      ).choices(['auto', 'direct', 'relay']),
    )
    .action(async (query: string, o: { session: string; predict: PredictMode; path?: string }) => {
      const { connect, connectPathOf } = await loadConnect();
      const code = await connect(
        paths(io),
        io.env,
        query,
        o.session,
        io.err,
        o.predict,
        connectPathOf(o.path, io.env),
      );
      if (code !== 0)
        throw Object.assign(new Error(`remote program exited with ${code}`), {
          code: 'remote_exit',
          exit: code,
        });
    });
}
