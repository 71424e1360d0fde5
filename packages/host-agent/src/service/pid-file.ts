/**
 * The detached daemon's pid file: one running instance per state folder.
 * Claiming is atomic (`O_EXCL`), a file naming a dead process (or a process
 * that is not a pocketshell daemon any more: the pid was reused) is stale and
 * is taken over, and the file is replaced atomically once the child's pid is
 * known. Whether a pid is alive, and whether it is ours, is injected.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { CliError } from '../exit-codes.ts';

/** Answers whether `pid` is a live pocketshell daemon. */
export type DaemonProbe = (pid: number) => boolean;

export type PidState =
  | { readonly state: 'absent' }
  | { readonly state: 'running'; readonly pid: number }
  | { readonly state: 'stale'; readonly pid: number | null };

export class PidFile {
  readonly path: string;
  readonly #isDaemon: DaemonProbe;

  constructor(path: string, isDaemon: DaemonProbe) {
    this.path = path;
    this.#isDaemon = isDaemon;
  }

  /** The pid written in the file, or null when there is no (valid) file. */
  read(): number | null | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const pid = Number(text.trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  }

  state(): PidState {
    const pid = this.read();
    if (pid === undefined) return { state: 'absent' };
    if (pid !== null && this.#isDaemon(pid)) return { state: 'running', pid };
    return { state: 'stale', pid };
  }

  /**
   * Claims the file for `pid` (the caller's own, until the child's is known).
   * A stale file is removed first; a live one makes this throw `unavailable`.
   */
  claim(pid: number): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.path, 'wx', 0o600);
        try {
          writeSync(fd, `${pid}\n`);
        } finally {
          closeSync(fd);
        }
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const s = this.state();
      if (s.state === 'running')
        throw new CliError('unavailable', `a pocketshell daemon is already running (pid ${s.pid})`);
      this.#removeIf(s.state === 'stale' ? s.pid : undefined);
    }
    throw new CliError('unavailable', `could not claim ${this.path}: another start is racing this one`);
  }

  /** Replaces the pid in a file this process claimed. */
  write(pid: number): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${pid}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }

  /** Removes the file if it still names `pid` (any pid when omitted). Idempotent. */
  release(pid?: number): void {
    this.#removeIf(pid);
  }

  #removeIf(pid: number | null | undefined): void {
    if (pid !== undefined && this.read() !== pid) return;
    try {
      unlinkSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Whether a process exists (EPERM means it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` is a live `pocketshell daemon run` process: on Linux its
 * command line must say so (a reused pid is not ours); elsewhere, alive is enough.
 */
export function isDaemonProcess(pid: number): boolean {
  if (!processAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  const args = cmdline.split('\0');
  const i = args.indexOf('daemon');
  return i >= 0 && args[i + 1] === 'run';
}
