/**
 * The daemon as a `systemd --user` service: the unit file (restart on
 * failure, the sandboxing a user unit allows, the state folder writable),
 * and start/stop/status/logs through systemctl and journalctl. `stop`
 * disables as well, so a stopped agent stays stopped across logins.
 */
import { join } from 'node:path';
import { CliError } from '../exit-codes.ts';
import type { LogOptions, Runner, ServiceBackend, ServiceSpec, ServiceState } from './backend.ts';
import { FileServiceBackend, runChecked } from './backend.ts';

export const UNIT_NAME = 'pocketshell.service';

/** Quotes one word for ExecStart=/Environment= (C-style quoting; `%` and `$` escaped). */
export function systemdQuote(word: string, exec = false, specifiers = false): string {
  if (/[\0\n\r]/.test(word)) throw new CliError('config_invalid', 'a unit word cannot hold a newline or NUL');
  const escaped = word
    .replaceAll('\\', '\\\\')
    .replaceAll('"', '\\"')
    .replaceAll('%', specifiers ? '%' : '%%')
    .replaceAll('$', exec ? '$$$$' : '$');
  return `"${escaped}"`;
}

/** A path for a space-separated list setting (ReadWritePaths=): absolute, no whitespace, `%` escaped. */
function unitPath(path: string, specifiers = false): string {
  if (!(path.startsWith('/') || (specifiers && path.startsWith('%'))) || /\s/.test(path))
    throw new CliError('config_invalid', `a unit path must be absolute and without spaces: ${path}`);
  return specifiers ? path : path.replaceAll('%', '%%');
}

/** The unit file for `spec`. */
export function systemdUnit(spec: ServiceSpec): string {
  const env = Object.entries(spec.env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`, false, spec.specifiers)}`);
  const hardening = spec.hardened
    ? [
        '# Sandboxing a user unit can have. Shells opened from a phone run inside it:',
        '# no sudo (NoNewPrivileges), a private /tmp, and only the home folder writable.',
        '# `pocketshell daemon start --no-harden` writes the unit without these lines.',
        'NoNewPrivileges=yes',
        'PrivateTmp=yes',
        'ProtectSystem=strict',
        `ReadWritePaths=${unitPath(spec.stateDir, spec.specifiers)}`,
        `ReadWritePaths=-${unitPath(spec.home, spec.specifiers)}`,
        'RestrictSUIDSGID=yes',
        'LockPersonality=yes',
        'RestrictRealtime=yes',
        'SystemCallArchitectures=native',
      ]
    : [];
  return [
    spec.specifiers
      ? '# Reference unit; `pocketshell daemon start` writes one like it to ~/.config/systemd/user.'
      : '# Written by `pocketshell daemon start`; rewritten by the next start or restart.',
    '[Unit]',
    'Description=PocketShell host agent',
    'Documentation=man:pocketshell(1)',
    'StartLimitIntervalSec=300',
    'StartLimitBurst=10',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${spec.command.map((w) => systemdQuote(w, true)).join(' ')}`,
    ...env,
    'Restart=on-failure',
    'RestartSec=5s',
    'TimeoutStopSec=20s',
    // Stop and restart signal the daemon alone: the session holder it started keeps the shells
    // (docs/host.md "Session holder"); `pocketshell daemon stop` ends the holder itself.
    'KillMode=process',
    'UMask=0077',
    ...hardening,
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

export interface SystemdOptions {
  readonly run: Runner;
  /** `~/.config/systemd/user` (or `$XDG_CONFIG_HOME/systemd/user`). */
  readonly unitDir: string;
  readonly user: string;
  /** Where advice for people goes (linger). */
  readonly note: (line: string) => void;
  /** Turn on lingering (run without a login session) when it is off. */
  readonly linger?: boolean;
}

export class SystemdService extends FileServiceBackend<SystemdOptions> implements ServiceBackend {
  readonly kind = 'systemd' as const;

  constructor(options: SystemdOptions) {
    super(options, join(options.unitDir, UNIT_NAME));
  }

  #ctl(...args: string[]): Promise<string> {
    return runChecked(this.options.run, 'systemctl', ['--user', ...args]);
  }

  async #linger(): Promise<void> {
    const { run, user, linger, note } = this.options;
    const r = await run('loginctl', ['show-user', user, '--property=Linger', '--value']);
    if (r.code !== 0 || r.stdout.trim() === 'yes') return;
    if (linger) {
      const e = await run('loginctl', ['enable-linger', user]);
      note(
        e.code === 0
          ? 'Lingering enabled: the agent runs from boot, without a login session.'
          : `loginctl enable-linger failed: ${e.stderr.trim()}`,
      );
    } else {
      note(
        `The agent stops when ${user} logs out. To keep it running from boot: loginctl enable-linger ${user} (or daemon start --linger).`,
      );
    }
  }

  async start(spec: ServiceSpec): Promise<ServiceState> {
    this.install(systemdUnit(spec));
    await this.#ctl('daemon-reload');
    await this.#ctl('enable', '--now', UNIT_NAME);
    await this.#linger();
    return this.status();
  }

  async stop(): Promise<ServiceState> {
    await this.#ctl('disable', '--now', UNIT_NAME);
    return this.status();
  }

  async restart(spec: ServiceSpec): Promise<ServiceState> {
    this.install(systemdUnit(spec));
    await this.#ctl('daemon-reload');
    await this.#ctl('enable', UNIT_NAME);
    await this.#ctl('restart', UNIT_NAME);
    return this.status();
  }

  async status(): Promise<ServiceState> {
    const out = await this.#ctl(
      'show',
      UNIT_NAME,
      '--property=ActiveState,SubState,MainPID,UnitFileState,Result',
    );
    const p = Object.fromEntries(
      out
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string | undefined>;
    const pid = Number(p.MainPID ?? 0);
    return {
      kind: this.kind,
      running: p.ActiveState === 'active',
      ...(pid > 0 ? { pid } : {}),
      enabled: p.UnitFileState === 'enabled',
      detail: `systemd --user ${UNIT_NAME}: ${p.ActiveState ?? '?'} (${p.SubState ?? '?'}), ${p.UnitFileState || 'not installed'}${p.Result && p.Result !== 'success' ? `, last result ${p.Result}` : ''}`,
    };
  }

  async logs(options: LogOptions): Promise<void> {
    const args = [
      '--user',
      '-u',
      UNIT_NAME,
      '-n',
      String(options.lines),
      '--no-pager',
      ...(options.follow ? ['-f'] : []),
    ];
    const r = await this.options.run('journalctl', args, { inherit: true, signal: options.signal });
    if (r.code !== 0 && r.code !== null && !options.signal.aborted)
      throw new CliError('unavailable', `journalctl exited with ${r.code}`);
  }
}
