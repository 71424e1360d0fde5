/**
 * What every way of running the daemon as a service has in common: the
 * specification of what to run (`ServiceSpec`), the state a backend reports
 * (`ServiceState`), the backend interface itself, and the injected command
 * runner through which backends talk to systemctl, launchctl and journalctl,
 * and the base of the backends whose service manager reads a file we write.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError } from '../exit-codes.ts';

/** What to run and where: the same for systemd, launchd and the detached fallback. */
export interface ServiceSpec {
  /** argv of the daemon: `[node, pocketshell-entry, 'daemon', 'run']`. */
  readonly command: readonly string[];
  /** Environment the daemon needs beyond the service manager's (POCKETSHELL_HOME at least). */
  readonly env: Readonly<Record<string, string>>;
  /** The state folder (writable for the daemon, everything else read-only when hardened). */
  readonly stateDir: string;
  /** The user's home (shells started from a phone write there). */
  readonly home: string;
  /** Log file for backends without a journal. */
  readonly logFile: string;
  /** Sandboxing options in the unit (see docs/operations.md for what they cost). */
  readonly hardened: boolean;
  /**
   * Paths and environment hold systemd specifiers (`%h`) to keep as they are:
   * for the reference unit a package installs for every user.
   */
  readonly specifiers?: boolean;
}

export const SERVICE_KINDS = ['systemd', 'launchd', 'detached'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

export interface ServiceState {
  readonly kind: ServiceKind;
  readonly running: boolean;
  readonly pid?: number;
  /** Starts at login/boot. */
  readonly enabled?: boolean;
  /** One line for people: what the service manager says. */
  readonly detail: string;
}

export interface ServiceBackend {
  readonly kind: ServiceKind;
  /** Installs (unit, plist) and starts; idempotent when already running. */
  start(spec: ServiceSpec): Promise<ServiceState>;
  /** Stops, and keeps it stopped (no restart on failure, no start at login). Idempotent. */
  stop(): Promise<ServiceState>;
  restart(spec: ServiceSpec): Promise<ServiceState>;
  status(): Promise<ServiceState>;
  /** Prints recent log lines; with `follow`, keeps printing until `signal` aborts. */
  logs(options: LogOptions): Promise<void>;
}

export interface LogOptions {
  readonly lines: number;
  readonly follow: boolean;
  readonly write: (text: string) => void;
  readonly signal: AbortSignal;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (captured), or with the terminal (`inherit`) for journalctl -f. */
export type Runner = (
  command: string,
  args: readonly string[],
  options?: { inherit?: boolean; signal?: AbortSignal },
) => Promise<RunResult>;

/** The real runner: `child_process.spawn`, never through a shell. A missing command is code 127. */
export const runCommand: Runner = (command, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: options.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d));
    child.stderr?.on('data', (d: Buffer) => (stderr += d));
    child.on('error', (error) =>
      resolve({
        code: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 1,
        stdout,
        stderr: String(error),
      }),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

/**
 * Runs a service manager's command (`systemctl --user …`, `launchctl …`) and
 * returns its output; an exit code outside `okCodes` is `unavailable`, with
 * the command and what it said.
 */
export async function runChecked(
  run: Runner,
  command: string,
  args: readonly string[],
  okCodes: readonly number[] = [0],
): Promise<string> {
  const r = await run(command, args);
  if (r.code === null || !okCodes.includes(r.code))
    throw new CliError('unavailable', `${command} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/**
 * The base of a backend whose service manager reads a file we write
 * (systemd's unit, launchd's property list): its options, that file's path,
 * and writing it.
 */
export abstract class FileServiceBackend<O> {
  protected readonly options: O;
  /** The file the service manager reads. */
  readonly file: string;

  constructor(options: O, file: string) {
    this.options = options;
    this.file = file;
  }

  /** Writes the file, 0644, through a rename: the manager never reads half of one. */
  protected install(text: string): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, this.file);
  }
}
