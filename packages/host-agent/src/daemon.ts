/**
 * The long-running host: opens the state, connects to the relay, serves
 * devices, and answers the local API. `pocketshell daemon run` and
 * `pocketshell up` both run this; the process handles SIGINT, SIGTERM and
 * SIGQUIT itself — which also means PTY children start with those signals
 * at their default dispositions even when this process inherited them
 * ignored (from a non-interactive background shell), because caught
 * signals reset to default across exec while ignored ones do not.
 */
import type { Server } from 'node:net';
import { type OpenedHost, openHost, type StatePaths } from '@pocketshell/host-core';
import type { DeviceId, Grant } from '@pocketshell/protocol';
import { readConfig, socketPath } from './config.ts';
import { serveLocalApi } from './local-api.ts';

export interface DaemonOptions {
  paths: StatePaths;
  relayUrl: string;
  webUrl: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Log lines for people (stderr). */
  log?: (line: string) => void;
  version: string;
  /** Enrollment token for a relay with closed registration. */
  enroll?: string;
}

export interface RunningDaemon {
  host: OpenedHost;
  /** Closes everything; idempotent. */
  stop(): Promise<void>;
}

/** Starts the daemon and its local API. */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { passEnv } = readConfig(options.paths);
  const host = await openHost({
    paths: options.paths,
    relayUrl: options.relayUrl,
    ...(passEnv ? { passEnv } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.enroll ? { enroll: options.enroll } : {}),
  });
  const { agent } = host;
  agent.on('relay', ({ state, reason }) => log(`relay: ${state}${reason ? ` (${reason})` : ''}`));
  agent.on('connected', ({ device }) => log(`device connected: ${device}`));
  agent.on('disconnected', ({ device, reason }) => log(`device disconnected: ${device} (${reason})`));
  agent.on('refused', ({ code, what, device }) =>
    log(`refused ${what}${device ? ` from ${device}` : ''}: ${code}`),
  );
  agent.start();
  let server: Server;
  try {
    server = await serveLocalApi(socketPath(options.paths), {
      status: () => ({
        id: host.identity.id,
        name: host.identity.name,
        version: options.version,
        pid: process.pid,
        relay: { url: options.relayUrl, state: agent.relay.state },
        keystore: { kind: host.secrets.kind, reason: host.secrets.reason },
        engine: host.engine.name,
        devices: host.trust.list().length,
        connections: agent.connections(),
        sessions: host.sessions.list(),
      }),
      sessions: async () => ({
        sessions: host.sessions.list(),
        links: host.sessions.links(),
        ...(await host.sessions.discover()),
      }),
      pair: async (params, ctx) => {
        const p = (params ?? {}) as { grants?: Grant[] };
        const device = await agent.pair({
          webUrl: options.webUrl,
          ...(p.grants ? { grants: p.grants } : {}),
          onUrl: (url, expires) => ctx.event('url', { url, expires }),
          confirm: async (prompt) => {
            ctx.event('prompt', prompt);
            return ctx.nextConfirm();
          },
        });
        return { device };
      },
      revoke: async (params) => ({
        revoked: await agent.revoke(String((params as { device?: unknown })?.device ?? '') as DeviceId),
      }),
    });
  } catch (error) {
    await host.close();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      server.close();
      await host.close();
    })();
    return stopping;
  };
  return { host, stop };
}

/** Stops `daemon` on SIGINT/SIGTERM/SIGQUIT, then exits. */
export function stopOnSignals(
  daemon: { stop(): Promise<void> },
  extra: () => Promise<void> = async () => {},
): void {
  let once = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (once) return;
    once = true;
    process.stderr.write(`${signal}: stopping\n`);
    void daemon
      .stop()
      .then(extra)
      .finally(() => process.exit(0));
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP'] as const) process.on(s, onSignal);
}
