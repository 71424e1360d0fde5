/**
 * The daemon as a launchd agent on macOS: the property list in
 * `~/Library/LaunchAgents` (run at load, kept alive, output to the log file)
 * and `launchctl bootstrap / bootout / kickstart / print` in the user's GUI
 * domain. `stop` boots the agent out, so KeepAlive does not bring it back.
 */
import { join } from 'node:path';
import type { LogOptions, Runner, ServiceBackend, ServiceSpec, ServiceState } from './backend.ts';
import { FileServiceBackend, runChecked } from './backend.ts';
import { followLog, tailLog } from './log-file.ts';

export const LAUNCHD_LABEL = 'dev.pocketshell.agent';

function xml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** The property list for `spec`. */
export function launchdPlist(spec: ServiceSpec): string {
  const s = (v: string) => `<string>${xml(v)}</string>`;
  const env = Object.entries(spec.env)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `      <key>${xml(k)}</key>\n      ${s(v)}`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '  <dict>',
    '    <key>Label</key>',
    `    ${s(LAUNCHD_LABEL)}`,
    '    <key>ProgramArguments</key>',
    '    <array>',
    ...spec.command.map((a) => `      ${s(a)}`),
    '    </array>',
    '    <key>EnvironmentVariables</key>',
    '    <dict>',
    ...env,
    '    </dict>',
    '    <key>WorkingDirectory</key>',
    `    ${s(spec.home)}`,
    '    <key>RunAtLoad</key>',
    '    <true/>',
    '    <key>KeepAlive</key>',
    '    <dict>',
    '      <key>SuccessfulExit</key>',
    '      <false/>',
    '    </dict>',
    '    <key>ThrottleInterval</key>',
    '    <integer>5</integer>',
    '    <key>ProcessType</key>',
    `    ${s('Interactive')}`,
    '    <key>Umask</key>',
    '    <integer>63</integer>',
    '    <key>StandardOutPath</key>',
    `    ${s(spec.logFile)}`,
    '    <key>StandardErrorPath</key>',
    `    ${s(spec.logFile)}`,
    '  </dict>',
    '</plist>',
    '',
  ].join('\n');
}

export interface LaunchdOptions {
  readonly run: Runner;
  /** `~/Library/LaunchAgents` */
  readonly agentsDir: string;
  readonly uid: number;
  readonly logFile: string;
}

export class LaunchdService extends FileServiceBackend<LaunchdOptions> implements ServiceBackend {
  readonly kind = 'launchd' as const;

  constructor(options: LaunchdOptions) {
    super(options, join(options.agentsDir, `${LAUNCHD_LABEL}.plist`));
  }

  get #target(): string {
    return `gui/${this.options.uid}/${LAUNCHD_LABEL}`;
  }

  #ctl(args: string[], okCodes?: readonly number[]): Promise<string> {
    return runChecked(this.options.run, 'launchctl', args, okCodes);
  }

  async start(spec: ServiceSpec): Promise<ServiceState> {
    this.install(launchdPlist(spec));
    const now = await this.status();
    if (!now.running) {
      // bootout first: a loaded but stopped agent refuses a second bootstrap (error 5, 37).
      await this.options.run('launchctl', ['bootout', this.#target]);
      await this.#ctl(['bootstrap', `gui/${this.options.uid}`, this.file]);
    }
    return this.status();
  }

  async stop(): Promise<ServiceState> {
    // 3 / 113: not loaded — already stopped.
    await this.#ctl(['bootout', this.#target], [0, 3, 36, 113]);
    return this.status();
  }

  async restart(spec: ServiceSpec): Promise<ServiceState> {
    const now = await this.status();
    if (!now.running) return this.start(spec);
    this.install(launchdPlist(spec));
    await this.#ctl(['kickstart', '-k', this.#target]);
    return this.status();
  }

  async status(): Promise<ServiceState> {
    const r = await this.options.run('launchctl', ['print', this.#target]);
    if (r.code !== 0)
      return {
        kind: this.kind,
        running: false,
        enabled: false,
        detail: `launchd ${LAUNCHD_LABEL}: not loaded`,
      };
    const state = /^\s*state = (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? 'unknown';
    const pid = Number(/^\s*pid = (\d+)$/m.exec(r.stdout)?.[1] ?? 0);
    return {
      kind: this.kind,
      running: state === 'running',
      ...(pid > 0 ? { pid } : {}),
      enabled: true,
      detail: `launchd ${LAUNCHD_LABEL}: ${state}`,
    };
  }

  async logs(options: LogOptions): Promise<void> {
    const text = tailLog(this.options.logFile, options.lines);
    if (text) options.write(`${text}\n`);
    if (options.follow) await followLog(this.options.logFile, options.write, options.signal);
  }
}
