/**
 * `pocketshell status`: this host's identity, key store, relay, devices, and
 * the running daemon's state when one answers.
 */
import { IdentityStore, openSecretStore, type StatePaths, TrustStore } from '@pocketshell/host-core';
import type { Command } from 'commander';
import { readConfig } from '../config.ts';
import { relayState } from '../service/index.ts';
import { type Cli, type Io, paths, print, withDaemon } from './common.ts';

export function statusCommand(program: Command, { io, version }: Cli): void {
  program
    .command('status')
    .description('identity, key store, relay connection, devices and sessions')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const { status, text } = await hostStatus(paths(io), io.env, version);
      print(io, o, status, text);
    });
}

/** What `status` prints: as data for `--json`, and as text. */
async function hostStatus(
  p: StatePaths,
  env: Io['env'],
  version: string,
): Promise<{ status: Record<string, unknown>; text: () => string }> {
  const live = (await withDaemon(p, (client) => client.call('status'))) ?? null;
  const secrets = await openSecretStore({ paths: p, env });
  const identity = await new IdentityStore({ paths: p, secrets }).load();
  const config = readConfig(p);
  const devices = new TrustStore({ paths: p }).list().length;
  const status = {
    version,
    state: p.root,
    identity: identity ? { id: identity.id, name: identity.name } : null,
    keystore: { kind: secrets.kind, reason: secrets.reason },
    relay: config.relay ?? null,
    devices,
    daemon: live ? { running: true, ...live } : { running: false },
  };
  const text = () =>
    [
      `pocketshell ${version}`,
      `host:      ${identity ? `${identity.name} (${identity.id})` : 'no identity yet (pocketshell pair)'}`,
      `key store: ${secrets.kind} — ${secrets.reason}`,
      `relay:     ${live ? `${(live.relay as { url: string }).url} — ${relayState(live.relay as { state: string })}` : (config.relay ?? 'not configured')}`,
      `devices:   ${devices} paired`,
      `daemon:    ${live ? `running (pid ${live.pid}${live.mode ? `, pocketshell ${live.mode}` : ''}), ${(live.sessions as unknown[]).length} sessions, ${(live.connections as unknown[]).length} connections, engine ${live.engine}` : 'not running'}`,
      ...(live
        ? [
            `sessions:  ${live.holder ? `in the session holder (pid ${live.holder.pid}): they outlive a daemon restart` : 'in the daemon: they end with it'}`,
          ]
        : []),
    ].join('\n');
  return { status, text };
}
