/**
 * The fallback where no service manager can be used (a container, a machine
 * without a user bus): the daemon as a detached process in its own session,
 * its output appended to a log file, its pid in a pid file that makes it one
 * instance per state folder. `status` says plainly that nothing will restart
 * it after a crash or a reboot.
 */
import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { CliError } from '../exit-codes.ts';
import type { LogOptions, ServiceBackend, ServiceSpec, ServiceState } from './backend.ts';
import { followLog, openLog, tailLog } from './log-file.ts';
import { type DaemonProbe, isDaemonProcess, PidFile } from './pid-file.ts';

export interface DetachedOptions {
  readonly pidFile: string;
  readonly logFile: string;
  /** Resolves true once the daemon answers on its local API. */
  readonly ready: () => Promise<boolean>;
  readonly isDaemon?: DaemonProbe;
  readonly spawn?: typeof nodeSpawn;
  readonly kill?: (pid: number, signal: NodeJS.Signals) => void;
  readonly startTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  readonly pollMs?: number;
}

const DETAIL =
  'detached process (no systemd user manager or launchd here): it is not restarted after a crash or a reboot';

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class DetachedService implements ServiceBackend {
  readonly kind = 'detached' as const;
  readonly #o: DetachedOptions;
  readonly #pid: PidFile;
  readonly #isDaemon: DaemonProbe;

  constructor(options: DetachedOptions) {
    this.#o = options;
    this.#isDaemon = options.isDaemon ?? isDaemonProcess;
    this.#pid = new PidFile(options.pidFile, this.#isDaemon);
  }

  async status(): Promise<ServiceState> {
    const s = this.#pid.state();
    if (s.state === 'running') return { kind: this.kind, running: true, pid: s.pid, detail: DETAIL };
    const stale = s.state === 'stale' ? ` (stale pid file for ${s.pid ?? 'garbage'})` : '';
    return { kind: this.kind, running: false, detail: `detached process, no service manager${stale}` };
  }

  async start(spec: ServiceSpec): Promise<ServiceState> {
    const current = this.#pid.state();
    if (current.state === 'running') return this.status();
    this.#pid.claim(process.pid);
    let child: ChildProcess;
    const fd = openLog(this.#o.logFile);
    try {
      const [cmd, ...args] = spec.command;
      if (!cmd) throw new CliError('config_invalid', 'empty daemon command');
      child = (this.#o.spawn ?? nodeSpawn)(cmd, args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...spec.env },
        cwd: spec.home,
      });
    } catch (error) {
      this.#pid.release(process.pid);
      throw error;
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      this.#pid.release(process.pid);
      throw new CliError('unavailable', `could not start ${spec.command[0]}`);
    }
    this.#pid.write(pid);
    let exited: number | null | undefined;
    child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : null)));
    const deadline = Date.now() + (this.#o.startTimeoutMs ?? 30_000);
    try {
      while (exited === undefined) {
        if (await this.#o.ready()) return { kind: this.kind, running: true, pid, detail: DETAIL };
        if (Date.now() > deadline) {
          this.#signal(pid, 'SIGKILL');
          throw new CliError('timeout', `the daemon did not answer in time; see ${this.#o.logFile}`);
        }
        await delay(this.#o.pollMs ?? 100);
      }
      this.#pid.release(pid);
      const tail = tailLog(this.#o.logFile, 5);
      throw new CliError('unavailable', `the daemon exited (${exited}) at start:\n${tail}`);
    } finally {
      child.unref();
    }
  }

  async stop(): Promise<ServiceState> {
    const s = this.#pid.state();
    if (s.state !== 'running') {
      this.#pid.release();
      return this.status();
    }
    this.#signal(s.pid, 'SIGTERM');
    if (!(await this.#waitGone(s.pid, this.#o.stopTimeoutMs ?? 15_000))) {
      this.#signal(s.pid, 'SIGKILL');
      if (!(await this.#waitGone(s.pid, 5_000)))
        throw new CliError('unavailable', `pid ${s.pid} did not stop, even after SIGKILL`);
    }
    this.#pid.release(s.pid);
    return this.status();
  }

  async restart(spec: ServiceSpec): Promise<ServiceState> {
    await this.stop();
    return this.start(spec);
  }

  async logs(options: LogOptions): Promise<void> {
    const text = tailLog(this.#o.logFile, options.lines);
    if (text) options.write(`${text}\n`);
    if (options.follow) await followLog(this.#o.logFile, options.write, options.signal);
  }

  #signal(pid: number, signal: NodeJS.Signals): void {
    try {
      if (this.#o.kill) this.#o.kill(pid, signal);
      else process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  async #waitGone(pid: number, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!this.#isDaemon(pid)) return true;
      await delay(this.#o.pollMs ?? 100);
    }
    return !this.#isDaemon(pid);
  }
}
