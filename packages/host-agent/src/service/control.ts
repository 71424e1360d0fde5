/**
 * What the `daemon start|stop|restart|status|logs` commands do, on top of a
 * backend: refuse a second instance, make `stop` stop a daemon started by
 * hand too, and merge the service manager's view with the daemon's own
 * (relay connection, devices, sessions, key store, version).
 */
import type { StatePaths } from '@pocketshell/host-core';
import { socketPath } from '../config.ts';
import { CliError } from '../exit-codes.ts';
import { LocalClient } from '../local-api.ts';
import type { DaemonStatus } from '../local-methods.ts';
import type { ServiceBackend, ServiceSpec, ServiceState } from './backend.ts';
import { processAlive } from './pid-file.ts';

/** The daemon's own status over the local API, or null when nothing answers. */
export async function liveStatus(paths: StatePaths): Promise<DaemonStatus | null> {
  const client = await LocalClient.connect(socketPath(paths));
  if (!client) return null;
  try {
    return await client.call('status');
  } catch (error) {
    // A daemon that closes its socket mid-answer (it is stopping) is not answering.
    if ((error as { code?: unknown }).code === 'unavailable') return null;
    throw error;
  } finally {
    client.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await delay(150);
  }
  return fn();
}

/** Starts the service; refuses while a daemon outside it answers. Waits until the daemon answers. */
export async function startService(
  backend: ServiceBackend,
  spec: ServiceSpec,
  paths: StatePaths,
): Promise<ServiceState> {
  const before = await backend.status();
  if (!before.running) {
    const live = await liveStatus(paths);
    if (live)
      throw new CliError(
        'unavailable',
        `a pocketshell daemon is already running outside the service (pid ${String(live.pid)}); stop it first: pocketshell daemon stop`,
      );
  }
  const state = await backend.start(spec);
  if (state.running && !(await waitFor(async () => (await liveStatus(paths)) !== null, 20_000)))
    throw new CliError(
      'timeout',
      `the service runs but the daemon does not answer yet: pocketshell daemon logs`,
    );
  return state;
}

/** What `daemon stop` stopped: the service's daemon, or one started by hand (`daemon run`, `up`). */
export interface Stopped {
  what: 'service' | 'daemon run' | 'up';
  pid: number;
}

/**
 * Stops the service, then any daemon still answering on this state folder
 * (one started by hand); says what it stopped.
 */
export async function stopService(
  backend: ServiceBackend,
  paths: StatePaths,
): Promise<{ state: ServiceState; stopped: Stopped[] }> {
  const before = await backend.status();
  const stopped: Stopped[] = [];
  const state = await backend.stop();
  if (before.running) stopped.push({ what: 'service', pid: before.pid ?? 0 });
  const live = await liveStatus(paths);
  const pid = Number(live?.pid);
  if (live && Number.isSafeInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
    if (!(await waitFor(async () => !processAlive(pid) || (await liveStatus(paths)) === null, 20_000)))
      throw new CliError('unavailable', `the daemon (pid ${pid}) did not stop`);
    stopped.push({ what: live.mode === 'up' ? 'up' : 'daemon run', pid });
  }
  return { state, stopped };
}

/** `daemon stop`'s report: what was stopped, in words. */
export function formatStopped(stopped: readonly Stopped[], kind: string): string {
  if (stopped.length === 0) return 'Nothing to stop: no pocketshell daemon was running.';
  return stopped
    .map((s) =>
      s.what === 'service'
        ? `Stopped the service (${kind}${s.pid ? `, pid ${s.pid}` : ''}).`
        : `Stopped \`pocketshell ${s.what}\` (pid ${s.pid}), started by hand.`,
    )
    .join('\n');
}

export interface DaemonReport {
  service: ServiceState;
  daemon: DaemonStatus | null;
}

/** Both views, for `daemon status`. */
export async function daemonReport(backend: ServiceBackend, paths: StatePaths): Promise<DaemonReport> {
  return { service: await backend.status(), daemon: await liveStatus(paths) };
}

/** The relay connection in words: its state, and why it cannot connect while it cannot. */
export function relayState(relay: { state: string; reason?: string; attempts?: number } | undefined): string {
  if (!relay) return 'unknown';
  if (!relay.reason) return relay.state;
  return `${relay.state}: cannot connect (${relay.reason}; ${relay.attempts ?? 1} attempt${relay.attempts === 1 ? '' : 's'}), retrying; see pocketshell daemon logs`;
}

/** `daemon status` for people. */
export function formatReport(r: DaemonReport): string {
  const s = r.service;
  const d = r.daemon as {
    pid?: number;
    version?: string;
    mode?: string;
    relay?: { url: string; state: string; reason?: string; attempts?: number };
    keystore?: { kind: string; reason: string };
    devices?: number;
    sessions?: unknown[];
    connections?: unknown[];
  } | null;
  const lines = [
    `service:   ${s.running ? 'running' : 'not running'}${s.pid ? ` (pid ${s.pid})` : ''} — ${s.detail}`,
  ];
  if (!d) {
    lines.push('daemon:    not answering on its local socket');
    return lines.join('\n');
  }
  lines.push(
    `daemon:    pid ${d.pid}, version ${d.version}${d.mode ? ` (pocketshell ${d.mode})` : ''}`,
    `relay:     ${d.relay?.url} — ${relayState(d.relay)}`,
    `devices:   ${d.devices} paired, ${d.connections?.length ?? 0} connected`,
    `sessions:  ${d.sessions?.length ?? 0} live`,
    `key store: ${d.keystore?.kind} — ${d.keystore?.reason}`,
  );
  return lines.join('\n');
}
