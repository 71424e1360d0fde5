/**
 * `pocketshell pair`: pair a phone. Through the running daemon (or `up`) when
 * one answers, since it holds the relay connection and the host key; else
 * with a host opened here for the time of the pairing. Either way the phone
 * scans a QR code, both sides compare the SAS, and the device is pinned.
 */
import {
  IdentityStore,
  openHost,
  openSecretStore,
  type StatePaths,
  TrustStore,
} from '@pocketshell/host-core';
import { GRANTS, type Grant } from '@pocketshell/protocol';
import type { Command } from 'commander';
import { writeConfig } from '../config.ts';
import { CliError } from '../exit-codes.ts';
import type { LocalClient } from '../local-api.ts';
import { type ConfirmOptions, chooseGrants, confirmPairing, showPairingUrl } from '../pairing-prompt.ts';
import { waitForRelay } from '../relay-wait.ts';
import { type Cli, daemonClient, type Io, parseGrants, paths, relayFlag, relayFrom } from './common.ts';

interface PairOptions {
  relay?: string;
  yes?: boolean;
  grants?: string;
  acceptKeyChange?: boolean;
  reset?: boolean;
}

/** One pairing, decided from argv before either path runs. */
interface Pairing {
  o: PairOptions;
  /** `--relay`, checked. */
  flagged: { relay: string; web: string } | undefined;
  grants: Grant[];
  answers: ConfirmOptions;
  io: Io;
}

export function pairCommand(program: Command, { io }: Cli): void {
  program
    .command('pair')
    .description('pair a phone: show a QR code, compare the code, pin the device')
    .option('--relay <url>', 'relay URL (saved for next time)')
    .option('-y, --yes', 'accept without asking (the SAS is still printed; never a key change)')
    .option('--grants <list>', `grants for the device (${GRANTS.join(',')}); asked on a terminal, else shell`)
    .option('--accept-key-change', 'accept a device whose name is already paired under another key')
    .option('--reset', 'wipe this host’s identity and pinned devices first')
    .option('--allow-root', 'run even as root')
    .action(async (o: PairOptions) => {
      const p = paths(io);
      if (o.grants !== undefined) parseGrants(o.grants); // a typo is a usage error before anything else
      const yes = o.yes === true || io.env.POCKETSHELL_PAIR_YES === '1';
      const answers = { yes, out: io.out, ...(o.acceptKeyChange ? { acceptKeyChange: true } : {}) };
      // Checked before anything else, so a typo is a usage error however the rest goes.
      const flagged = o.relay !== undefined ? relayFlag(o.relay) : undefined;
      const grants = await chooseGrants(o.grants, parseGrants, io.out);
      const client = await daemonClient(p);
      if (client && !o.reset) {
        try {
          await pairThroughDaemon(client, { o, flagged, grants, answers, io });
        } finally {
          client.close();
        }
        return;
      }
      if (client) {
        client.close();
        throw new CliError('unavailable', 'stop the daemon before --reset (pocketshell daemon stop)');
      }
      await pairHere(p, { o, flagged, grants, answers, io });
    });
}

/** Pairing through the running daemon, on the relay it is connected to. */
async function pairThroughDaemon(
  client: LocalClient,
  { o, flagged, grants, answers, io }: Pairing,
): Promise<void> {
  const live = await client.call('status');
  const runner = live.mode === 'up' ? 'pocketshell up' : 'the pocketshell daemon';
  if (flagged) {
    if (live.relay.url !== flagged.relay) {
      throw new CliError(
        'config_invalid',
        `${runner} (pid ${live.pid}) is running with the relay ${live.relay.url}, and pairing goes through it: --relay ${flagged.relay} would not be used. Pair on its relay (run without --relay), or switch: pocketshell daemon stop, then pocketshell pair --relay ${o.relay}`,
      );
    }
  }
  if (live.relay.state !== 'ready' && live.relay.reason)
    throw new CliError(
      'unavailable',
      `${runner} (pid ${live.pid}) cannot reach its relay ${live.relay.url}: ${live.relay.reason} (${live.relay.attempts ?? 1} attempts so far), and pairing needs it. See pocketshell daemon logs; to use another relay: pocketshell daemon stop, then pocketshell pair --relay URL`,
    );
  const result = await client.call(
    'pair',
    { grants },
    {
      onEvent: (event, data) => {
        if (event === 'url') {
          const d = data as { url: string; expires: number };
          void showPairingUrl(d.url, d.expires, io.out);
        } else if (event === 'prompt') {
          void confirmPairing(data as Parameters<typeof confirmPairing>[0], answers).then((ok) =>
            client.confirm(ok),
          );
        }
      },
    },
  );
  io.out(`Paired "${result.device.name}" (${result.device.id}). Open PocketShell on the phone to connect.`);
}

/** Pairing with a host opened here (no daemon running); `--reset` first wipes its identity. */
async function pairHere(p: StatePaths, { o, flagged, grants, answers, io }: Pairing): Promise<void> {
  if (o.reset) {
    const secrets = await openSecretStore({ paths: p, env: io.env });
    await new IdentityStore({ paths: p, secrets }).reset();
    new TrustStore({ paths: p }).clear();
    io.out('Identity and pinned devices wiped; a new identity is made now.');
  }
  const urls = flagged ?? relayFrom(p, undefined);
  const host = await openHost({ paths: p, relayUrl: urls.relay, env: io.env });
  try {
    host.agent.start();
    await waitForRelay(host.agent, urls.relay, io.err);
    const device = await host.agent.pair({
      webUrl: urls.web,
      grants,
      onUrl: (url, expires) => void showPairingUrl(url, expires, io.out),
      confirm: (prompt) => confirmPairing(prompt, answers),
    });
    // Saved only now that it worked: a mistyped relay never reaches config.json.
    if (flagged) writeConfig(p, { relay: urls.relay, web: urls.web });
    io.out(
      `Paired "${device.name}" (${device.id}). Next: run \`pocketshell daemon run\` (or \`daemon start\`) so it can connect.`,
    );
  } finally {
    await host.close();
  }
}
