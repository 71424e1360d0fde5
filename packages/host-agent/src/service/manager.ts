/**
 * Picks how the daemon runs as a service on this machine — systemd --user
 * where a user manager answers, launchd on macOS, else the detached
 * fallback — and builds the service specification from the state paths and
 * the command that is running now. `POCKETSHELL_SERVICE` forces a backend.
 */
import { realpathSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { StatePaths } from '@pocketshell/host-core';
import { socketPath } from '../config.ts';
import { CliError } from '../exit-codes.ts';
import { LocalClient } from '../local-api.ts';
import {
  type Runner,
  runCommand,
  SERVICE_KINDS,
  type ServiceBackend,
  type ServiceKind,
  type ServiceSpec,
} from './backend.ts';
import { DetachedService } from './detached.ts';
import { LaunchdService } from './launchd.ts';
import { SystemdService } from './systemd.ts';

export interface ManagerOptions {
  readonly paths: StatePaths;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly note: (line: string) => void;
  readonly platform?: NodeJS.Platform;
  readonly run?: Runner;
  readonly linger?: boolean;
}

/** The detached daemon's pid and log files. */
export function serviceFiles(paths: StatePaths): { pidFile: string; logFile: string } {
  return { pidFile: join(paths.root, 'daemon.pid'), logFile: join(paths.root, 'daemon.log') };
}

/** Whether the daemon answers on its local API. */
export async function daemonAnswers(paths: StatePaths): Promise<boolean> {
  const client = await LocalClient.connect(socketPath(paths));
  client?.close();
  return client !== null;
}

/** Which backend to use: forced by POCKETSHELL_SERVICE, else detected. */
export async function detectKind(options: ManagerOptions): Promise<ServiceKind> {
  const forced = options.env.POCKETSHELL_SERVICE;
  if (forced) {
    if (!(SERVICE_KINDS as readonly string[]).includes(forced))
      throw new CliError('config_invalid', `POCKETSHELL_SERVICE must be one of ${SERVICE_KINDS.join(', ')}`);
    return forced as ServiceKind;
  }
  const run = options.run ?? runCommand;
  const platform = options.platform ?? process.platform;
  if (platform === 'darwin') return 'launchd';
  if (platform === 'linux') {
    const r = await run('systemctl', ['--user', 'show-environment']);
    if (r.code === 0) return 'systemd';
  }
  return 'detached';
}

/** The backend for this machine. */
export async function serviceBackend(options: ManagerOptions): Promise<ServiceBackend> {
  const kind = await detectKind(options);
  const run = options.run ?? runCommand;
  const home = options.env.HOME || homedir();
  const files = serviceFiles(options.paths);
  switch (kind) {
    case 'systemd':
      return new SystemdService({
        run,
        unitDir: join(options.env.XDG_CONFIG_HOME || join(home, '.config'), 'systemd', 'user'),
        user: userInfo().username,
        note: options.note,
        ...(options.linger ? { linger: true } : {}),
      });
    case 'launchd':
      return new LaunchdService({
        run,
        agentsDir: join(home, 'Library', 'LaunchAgents'),
        uid: process.getuid?.() ?? 0,
        logFile: files.logFile,
      });
    case 'detached':
      return new DetachedService({ ...files, ready: () => daemonAnswers(options.paths) });
    default: {
      const never: never = kind;
      throw new Error(`unknown service kind ${String(never)}`);
    }
  }
}

/** Environment variables handed on to the service (the ones that change what the daemon does). */
const PASSED_ENV = [
  'POCKETSHELL_KEYSTORE',
  'POCKETSHELL_ICE_ADDRESS',
  'POCKETSHELL_ALLOW_ROOT',
  'POCKETSHELL_PAIR_YES',
] as const;

/**
 * Node flags of the service's daemon: a 1 MiB young generation. V8's default
 * semi-space grows to 8 MiB during a terminal flood and stays committed; set
 * at start (a flag set later by the launcher only shrinks it after a while),
 * it keeps the idle daemon 20–35 MiB smaller at no measured throughput cost
 * (docs/benchmarks.md, issue 17).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'] as const;

/**
 * What to run: this same node and this same entry script with `daemon run`,
 * so an installed package's service runs the installed package.
 */
export function serviceSpec(options: {
  paths: StatePaths;
  env: Readonly<Record<string, string | undefined>>;
  entry: string;
  execPath?: string;
  hardened: boolean;
  allowRoot?: boolean;
}): ServiceSpec {
  const env: Record<string, string> = { POCKETSHELL_HOME: options.paths.root };
  for (const k of PASSED_ENV) {
    const v = options.env[k];
    if (v) env[k] = v;
  }
  if (options.allowRoot) env.POCKETSHELL_ALLOW_ROOT = '1';
  const command = [
    options.execPath ?? process.execPath,
    ...DAEMON_NODE_FLAGS,
    realpathSync(options.entry),
    'daemon',
    'run',
    ...(options.allowRoot ? ['--allow-root'] : []),
  ];
  return {
    command,
    env,
    stateDir: options.paths.root,
    home: options.env.HOME || homedir(),
    logFile: serviceFiles(options.paths).logFile,
    hardened: options.hardened,
  };
}
