/**
 * Linux: the process list read straight from /proc, the way `top` does
 * (issue 14, docs/host.md "Live monitoring"), instead of running `ps` and
 * parsing its output every second.
 *
 * One pass reads `/proc/<pid>/stat` of every process (state, utime+stime,
 * starttime, rss, comm) into one reused buffer. A process's CPU share is the
 * tick delta since the previous pass over the time between the two passes,
 * in percent of one core; a process the previous pass did not see (or a
 * reused pid: another start time) gets its lifetime average instead, so a
 * new busy process shows at once. Memory is rss pages × page size over the
 * machine's total. Only the top `MAX_PROCESSES` by CPU have their user (the
 * real uid of `/proc/<pid>/status`, named through /etc/passwd — cached, and
 * reread when an unknown uid shows up) and command line (`cmdline`, NULs as
 * spaces, capped at 1024 characters; `[comm]` for a kernel thread, as `ps`
 * shows it) read. A process that vanishes mid-read (ENOENT, ESRCH) is
 * skipped, never an error.
 *
 * A pass within `MIN_WINDOW_MS` of the previous one reuses the previous
 * pass's figures: ticks are 10 ms, so a shorter window would measure noise.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';
import { MAX_PROCESSES, type ProcessInfo } from '@pocketshell/protocol';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux). */
const HZ = 100;
/** The shortest window a CPU share is measured over. */
export const MIN_WINDOW_MS = 250;

let pageSize: number | undefined;
/** The page size, from `getconf PAGESIZE` once (4096 when it cannot say). */
function pageBytes(): number {
  if (pageSize === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8', timeout: 2000 }).trim());
      pageSize = Number.isInteger(n) && n > 0 ? n : 4096;
    } catch {
      pageSize = 4096;
    }
  }
  return pageSize;
}

/** Whether this machine's process list can be read from `root` (Linux with /proc mounted). */
export function procfsAvailable(root = '/proc'): boolean {
  return process.platform === 'linux' && existsSync(`${root}/self/stat`);
}

const STATES: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'blocked',
  Z: 'zombie',
  T: 'stopped',
  t: 'stopped',
  W: 'paging',
  X: 'dead',
  x: 'dead',
  I: 'idle',
};

/** A process as one pass read it from its stat file. */
interface Row {
  pid: number;
  comm: string;
  state: string;
  ticks: number;
  start: number;
  rssPages: number;
  cpu: number;
}

const vanished = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
};

export interface ProcfsOptions {
  /** Where proc is mounted (default /proc). */
  root?: string;
  /** The user database (default /etc/passwd). */
  passwd?: string;
}

/** Reads the top processes from /proc; `read()` is one pass. */
export class ProcfsReader {
  readonly #root: string;
  readonly #passwd: string;
  readonly #buf = Buffer.alloc(4096);
  #prev = new Map<number, { start: number; ticks: number }>();
  #prevAt: number | undefined;
  #last: { rows: Row[]; uptime: number } = { rows: [], uptime: 0 };
  #users: Map<number, string> | undefined;
  #unknownUids = new Set<number>();

  constructor(options: ProcfsOptions = {}) {
    this.#root = options.root ?? '/proc';
    this.#passwd = options.passwd ?? '/etc/passwd';
  }

  /** The file's first 4096 bytes as text, or undefined when the process is gone. */
  #read(path: string, encoding: 'latin1' | 'utf8'): string | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if (vanished(e)) return undefined;
      throw e;
    }
    try {
      const n = readSync(fd, this.#buf, 0, this.#buf.length, null);
      return this.#buf.toString(encoding, 0, n);
    } catch (e) {
      if (vanished(e)) return undefined;
      throw e;
    } finally {
      closeSync(fd);
    }
  }

  /** One pass over every process's stat file, sorted by CPU (ties: larger rss, then lower pid). */
  #pass(): { rows: Row[]; uptime: number } {
    const at = performance.now();
    if (this.#prevAt !== undefined && at - this.#prevAt < MIN_WINDOW_MS) return this.#last;
    const uptime = Number(readFileSync(`${this.#root}/uptime`, 'latin1').split(' ')[0]);
    const seconds = this.#prevAt === undefined ? 0 : (at - this.#prevAt) / 1000;
    const rows: Row[] = [];
    const next = new Map<number, { start: number; ticks: number }>();
    for (const name of readdirSync(this.#root)) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      if (!Number.isInteger(pid)) continue;
      const stat = this.#read(`${this.#root}/${name}/stat`, 'latin1');
      if (stat === undefined) continue;
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]);
      const start = Number(f[19]);
      const rssPages = Number(f[21]);
      if (!Number.isFinite(ticks) || !Number.isFinite(start)) continue;
      const before = this.#prev.get(pid);
      let cpu: number;
      if (before && before.start === start && seconds > 0) {
        cpu = (100 * (ticks - before.ticks)) / HZ / seconds;
      } else {
        const age = uptime - start / HZ;
        cpu = age >= 0.2 ? (100 * ticks) / HZ / age : 0;
      }
      next.set(pid, { start, ticks });
      rows.push({
        pid,
        comm: stat.slice(stat.indexOf('(') + 1, close),
        state: STATES[f[0] ?? ''] ?? 'unknown',
        ticks,
        start,
        rssPages: Number.isFinite(rssPages) && rssPages > 0 ? rssPages : 0,
        cpu: Math.max(0, cpu),
      });
    }
    rows.sort((a, b) => b.cpu - a.cpu || b.rssPages - a.rssPages || a.pid - b.pid);
    this.#prev = next;
    this.#prevAt = at;
    this.#last = { rows, uptime };
    return this.#last;
  }

  /** The processes, highest CPU first, at most `limit` (`MAX_PROCESSES`), each with its user and command line. */
  read(limit: number = MAX_PROCESSES): ProcessInfo[] {
    const { rows, uptime } = this.#pass();
    const page = pageBytes();
    const total = os.totalmem();
    const out: ProcessInfo[] = [];
    for (const r of rows) {
      if (out.length >= limit) break;
      const status = this.#read(`${this.#root}/${r.pid}/status`, 'latin1');
      const cmdline = status === undefined ? undefined : this.#read(`${this.#root}/${r.pid}/cmdline`, 'utf8');
      if (cmdline === undefined) continue;
      const uid = Number(/\nUid:\s+(\d+)/.exec(status ?? '')?.[1]);
      const command = cmdline.replace(/\0+$/, '').replaceAll('\0', ' ').slice(0, 1024);
      const rss = r.rssPages * page;
      out.push({
        pid: r.pid,
        user: (Number.isInteger(uid) ? this.#user(uid) : '').slice(0, 64),
        cpu: Math.min(100_000, r.cpu),
        mem: total > 0 ? Math.min(100, (100 * rss) / total) : 0,
        rss,
        state: r.state,
        elapsed: Math.max(0, Math.round(uptime - r.start / HZ)),
        name: r.comm.slice(0, 256),
        command: command || `[${r.comm}]`.slice(0, 1024),
      });
    }
    return out;
  }

  /** A uid's name (the number when /etc/passwd has none). */
  #user(uid: number): string {
    if (!this.#users || (!this.#users.has(uid) && !this.#unknownUids.has(uid))) {
      this.#users = new Map();
      try {
        for (const line of readFileSync(this.#passwd, 'utf8').split('\n')) {
          const [name, , id] = line.split(':');
          const n = Number(id);
          if (name && id && Number.isInteger(n) && !this.#users.has(n)) this.#users.set(n, name);
        }
      } catch {
        // No user database: numbers.
      }
      // A uid still unnamed is remembered, so it does not make every pass reread the file.
      if (!this.#users.has(uid)) this.#unknownUids.add(uid);
    }
    return this.#users.get(uid) ?? String(uid);
  }
}
