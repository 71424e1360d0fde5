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
import type { ServiceBackend, ServiceSpec, ServiceState } from './backend.ts';
import { processAlive } from './pid-file.ts';

/** The daemon's own status over the local API, or null when nothing answers. */
export async function liveStatus(paths: StatePaths): Promise<Record<string, unknown> | null> {
  const client = await LocalClient.connect(socketPath(paths));
  if (!client) return null;
  try {
    return await client.call<Record<string, unknown>>('status');
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

/** Stops the service, then any daemon still answering on this state folder (one started by hand). */
export async function stopService(backend: ServiceBackend, paths: StatePaths): Promise<ServiceState> {
  const state = await backend.stop();
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
  }
  return state;
}

export interface DaemonReport {
  service: ServiceState;
  daemon: Record<string, unknown> | null;
}

/** Both views, for `daemon status`. */
export async function daemonReport(backend: ServiceBackend, paths: StatePaths): Promise<DaemonReport> {
  return { service: await backend.status(), daemon: await liveStatus(paths) };
}

/** `daemon status` for people. */
export function formatReport(r: DaemonReport): string {
  const s = r.service;
  const d = r.daemon as {
    pid?: number;
    version?: string;
    relay?: { url: string; state: string };
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
    `daemon:    pid ${d.pid}, version ${d.version}`,
    `relay:     ${d.relay?.url} — ${d.relay?.state}`,
    `devices:   ${d.devices} paired, ${d.connections?.length ?? 0} connected`,
    `sessions:  ${d.sessions?.length ?? 0} live`,
    `key store: ${d.keystore?.kind} — ${d.keystore?.reason}`,
  );
  return lines.join('\n');
}
