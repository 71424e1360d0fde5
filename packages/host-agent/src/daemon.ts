/**
 * The long-running host: opens the state, connects to the relay, serves
 * devices, and answers the local API. `pocketshell daemon run` and
 * `pocketshell up` both run this; the process handles SIGINT, SIGTERM and
 * SIGQUIT itself — which also means PTY children start with those signals
 * at their default dispositions even when this process inherited them
 * ignored (from a non-interactive background shell), because caught
 * signals reset to default across exec while ignored ones do not.
 */

import { realpathSync } from 'node:fs';
import type { Server } from 'node:net';
import {
  type AlertCenter,
  type OpenedHost,
  openHost,
  RemoteSessionManager,
  type SessionHost,
  type StatePaths,
} from '@pocketshell/host-core';
import type { DeviceId, Grant } from '@pocketshell/protocol';
import { once, ProtocolError } from '@pocketshell/protocol';
import { readConfig, sessionTimeoutsOf, socketPath } from './config.ts';
import { CliError } from './exit-codes.ts';
import { LocalClient, serveLocalApi } from './local-api.ts';
import type { DaemonStatus } from './local-methods.ts';
import { stderrLog } from './log.ts';
import { relayFailure } from './relay-wait.ts';

/** What runs the daemon: `pocketshell daemon run` (by hand or a service) or `pocketshell up`. */
export type DaemonMode = 'daemon run' | 'up';

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
  /** What runs it (the local API's `status` says so; default `daemon run`). */
  mode?: DaemonMode;
  /**
   * Where the PTYs live (docs/host.md "Session holder"): `holder` (default
   * for `daemon run`) keeps them in the state folder's session holder, so
   * they outlive this process; `in-process` (default for `up`) in this one.
   */
  sessions?: 'holder' | 'in-process';
  /** How to start the holder (default: this `pocketshell` with `session-holder`). */
  holderCommand?: readonly string[];
  /** How claude starts the permission prompt tool (default: this `pocketshell` with `agent-permission-mcp`). */
  agentMcpCommand?: readonly string[];
}

export interface RunningDaemon {
  host: OpenedHost<SessionHost>;
  /** Closes everything; idempotent. */
  stop(): Promise<void>;
}

/** One daemon per state folder: says which one runs (and how to stop it) before anything starts. */
async function refuseSecondDaemon(paths: StatePaths): Promise<void> {
  const client = await LocalClient.connect(socketPath(paths));
  if (!client) return;
  let live: { pid?: number; mode?: string; relay?: { url?: string } } = {};
  try {
    live = await client.call('status');
  } catch {
    // It answers but not to status: still a daemon.
  } finally {
    client.close();
  }
  throw new CliError(
    'already_running',
    `pocketshell ${live.mode ?? 'daemon run'} (pid ${live.pid ?? '?'}) already runs on ${paths.root}${live.relay?.url ? ` with the relay ${live.relay.url}` : ''}; stop it first: pocketshell daemon stop`,
  );
}

/** Starts the daemon and its local API. */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const log = options.log ?? stderrLog(options.env);
  await refuseSecondDaemon(options.paths);
  const config = readConfig(options.paths);
  const { passEnv } = config;
  const inHolder = (options.sessions ?? (options.mode === 'up' ? 'in-process' : 'holder')) === 'holder';
  const host: OpenedHost<SessionHost> = await openHost({
    ...(inHolder
      ? {
          holder: {
            command: options.holderCommand ?? [
              process.execPath,
              realpathSync(process.argv[1]!),
              'session-holder',
            ],
            log,
          },
        }
      : {}),
    paths: options.paths,
    relayUrl: options.relayUrl,
    // config.json `relayFallbacks`: the other nodes of a relay fleet, tried in turn when this one drops
    ...(config.relayFallbacks ? { relayFallbackUrls: config.relayFallbacks } : {}),
    sessionTimeouts: sessionTimeoutsOf(config),
    // The monitoring history (stats.db): a sample a minute, kept 30 days by the minute, a year by the hour.
    keepHistory: true,
    // The alert center: rules evaluated every alerts.sampleMs, the alerts.exec hook (docs/host.md "Alerts").
    alerts: {
      ...(config.alerts?.sampleMs !== undefined ? { sampleMs: config.alerts.sampleMs } : {}),
      ...(config.alerts?.exec ? { exec: config.alerts.exec } : {}),
    },
    // Agent sessions (docs/host.md "Agents"): claude's permission prompt tool is this pocketshell.
    agents: {
      mcpCommand: options.agentMcpCommand ?? [
        process.execPath,
        realpathSync(process.argv[1]!),
        'agent-permission-mcp',
      ],
      // config.json `agents`: the sandbox (default on where bubblewrap works) and its network.
      ...(config.agents?.sandbox === false ? { sandbox: false as const } : {}),
      ...(config.agents?.network ? { network: config.agents.network } : {}),
    },
    ...(passEnv ? { passEnv } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.enroll ? { enroll: options.enroll } : {}),
  });
  const { agent } = host;
  // Why the relay cannot be reached, for the logs and `status`, until it is.
  let failure: { reason: string; attempts: number } | undefined;
  agent.on('relay', ({ state, reason }) => {
    if (state === 'ready') failure = undefined;
    if (state === 'backoff' && reason) {
      failure = { reason: relayFailure(reason), attempts: (failure?.attempts ?? 0) + 1 };
      log(`relay ${options.relayUrl}: attempt ${failure.attempts} failed: ${failure.reason}; retrying`);
    } else if (state !== 'backoff') log(`relay ${options.relayUrl}: ${state}`);
  });
  agent.on('connected', ({ device }) => log(`device connected: ${device}`));
  agent.on('disconnected', ({ device, reason }) => log(`device disconnected: ${device} (${reason})`));
  agent.on('refused', ({ code, what, device }) =>
    log(`refused ${what}${device ? ` from ${device}` : ''}: ${code}`),
  );
  agent.start();
  let server: Server;
  try {
    server = await serveLocalApi(socketPath(options.paths), {
      status: async () => ({
        id: host.identity.id,
        name: host.identity.name,
        version: options.version,
        pid: process.pid,
        mode: options.mode ?? 'daemon run',
        relay: {
          url: agent.relay.url,
          state: agent.relay.state,
          ...(failure ? { reason: failure.reason, attempts: failure.attempts } : {}),
        },
        keystore: { kind: host.secrets.kind, reason: host.secrets.reason },
        engine: host.engine.name,
        devices: host.trust.list().length,
        connections: agent.connections(),
        sessions: await host.sessions.list(),
        // Idle timeout and maximum lifetime in force (ms; config.json `sessionLimits` in minutes).
        sessionLimits: host.sessions.timeouts,
        // Where the shells live: the session holder (kept across daemon restarts) or this process.
        ...(host.sessions instanceof RemoteSessionManager
          ? { holder: { pid: host.sessions.holderPid } }
          : {}),
        ...(host.alerts ? { alerts: alertsStatus(host.alerts) } : {}),
      }),
      sessions: async () => ({
        sessions: await host.sessions.list(),
        links: await host.sessions.links(),
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
      // `pocketshell devices limits` changed config.json: apply its session limits to live sessions too.
      'limits.reload': () => {
        const fresh = readConfig(options.paths);
        host.sessions.setTimeouts(sessionTimeoutsOf(fresh));
        return { sessionLimits: fresh.sessionLimits ?? {} };
      },
      revoke: async (params) => ({
        revoked: await agent.revoke(String((params as { device?: unknown })?.device ?? '') as DeviceId),
      }),
      // `pocketshell devices root`: the daemon writes and audits it (one writer of the audit log).
      'devices.root': ({ device, root }) => {
        const pinned = host.trust.setFilesRoot(device, root);
        host.audit.append('files.root', { device, root: root ?? '', by: 'local' });
        return { device: pinned };
      },
      // `pocketshell devices agent`: the daemon writes and audits it; sessions started from then on use it.
      'devices.agent': ({ device, agent: policy }) => {
        const pinned = host.trust.setAgentPolicy(device, policy);
        host.audit.append('agent.tier', {
          device,
          tier: policy?.tier ?? 'default',
          roots: [...(policy?.roots ?? [])],
          by: 'local',
        });
        return { device: pinned };
      },
      // `pocketshell alerts test`: a test alert to one paired device or to each, by every path it has.
      'alerts.test': async ({ device }) => {
        const center = host.alerts;
        if (!center) throw new ProtocolError('unsupported', 'this daemon runs no alert center');
        const targets = device ? [device] : host.trust.list().map((d) => d.id);
        for (const d of targets)
          if (host.trust.status(d).status !== 'paired')
            throw new ProtocolError('not_found', 'no such device');
        const alerts = [];
        for (const d of targets) alerts.push({ device: d, id: (await center.test(d)).id });
        return { alerts };
      },
    });
  } catch (error) {
    await host.close();
    throw error;
  }
  // Up: the first connection's one-off engine costs now, not on its way.
  agent.prepareEngine();
  const stop = once(async () => {
    server.close();
    await host.close();
  });
  return { host, stop };
}

/** The alert center's line of `status`. */
function alertsStatus(center: AlertCenter): NonNullable<DaemonStatus['alerts']> {
  const { rules } = center.rules();
  return {
    rules: rules.length,
    enabled: rules.filter((r) => r.enabled).length,
    evaluating: center.evaluating,
    pushes: { ...center.pushes },
    ...(center.exec ? { exec: { ...center.exec.counts } } : {}),
  };
}

/** Stops `daemon` on SIGINT/SIGTERM/SIGQUIT, then exits. */
export function stopOnSignals(
  daemon: { stop(): Promise<void> },
  extra: () => Promise<void> = async () => {},
  log: (line: string) => void = stderrLog(),
): void {
  let once = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (once) return;
    once = true;
    log(`${signal}: stopping`);
    void daemon
      .stop()
      .then(extra)
      .finally(() => process.exit(0));
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP'] as const) process.on(s, onSignal);
}
