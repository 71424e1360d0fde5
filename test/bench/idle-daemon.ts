/**
 * The idle daemon as a user has it: the npm packages built by
 * `npm run package` (scripts/build-packages.ts), installed with
 * `npm install -g` into a temporary prefix (offline, from the tarballs), and
 * the daemon started with that prefix's `pocketshell daemon start` (the
 * detached service: the service's own command line and Node flags) — the
 * bundle, not the sources. Measured after a flood through one session (what a day of
 * use leaves behind), with one idle session and then with more: RSS and PSS
 * (proportional set size: the node binary's shared pages split between the
 * processes that map them) of the daemon and of any process it keeps for the
 * sessions (the session holder, `<state>/holder.pid`, when there is one).
 * Alone: `node test/bench/idle-daemon.ts` prints the figures; NODE_OPTIONS
 * for the daemon alone via BENCH_DAEMON_NODE_OPTIONS (to compare V8 flags).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TerminalClient } from '@pocketshell/client';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDeviceOn, ROOT, until } from '../support/cli.ts';
import { quiet, type Stream, throughput, waitFor } from './measure.ts';

/** RSS and PSS (KiB, from /proc/PID/smaps_rollup) and CPU ticks of each of `pids`. */
export function memoryOf(
  pids: number[],
): { pid: number; rssKiB: number; pssKiB: number; cpuTicks: number }[] {
  return pids.map((pid) => {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, rssKiB: kib('Rss'), pssKiB: kib('Pss'), cpuTicks: Number(f[11]) + Number(f[12]) };
  });
}

/** The daemon and the processes that hold its sessions (the holder's pid file, when it exists). */
export function daemonPids(daemonPid: number, stateDir: string): { daemon: number; holder?: number } {
  const file = join(stateDir, 'holder.pid');
  if (!existsSync(file)) return { daemon: daemonPid };
  const holder = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  return Number.isInteger(holder) && existsSync(`/proc/${holder}`)
    ? { daemon: daemonPid, holder }
    : { daemon: daemonPid };
}

/** Rest before each idle window (BENCH_IDLE_REST_MS, default 10 s). */
const REST_MS = Number(process.env.BENCH_IDLE_REST_MS ?? 10_000);

export interface IdleFigures {
  /** The daemon's RSS (MiB). */
  daemonRssMiB: number;
  /** The holder's RSS (MiB), when there is a holder process. */
  holderRssMiB: number | null;
  /** Daemon + holder, RSS summed (MiB; counts the node binary's shared pages twice). */
  rssMiB: number;
  /** Daemon + holder, PSS summed (MiB). */
  pssMiB: number;
  /** CPU of daemon + holder over the window, % of one core. */
  cpuPercent: number;
}

/** RSS/PSS at the end of, and CPU over, a `ms` window of the daemon (and its holder) doing nothing. */
export async function idleFigures(daemonPid: number, stateDir: string, ms = 10_000): Promise<IdleFigures> {
  const pids = () => {
    const p = daemonPids(daemonPid, stateDir);
    return p.holder ? [p.daemon, p.holder] : [p.daemon];
  };
  const a = memoryOf(pids());
  await new Promise((r) => setTimeout(r, ms));
  const list = pids();
  const b = memoryOf(list);
  const ticks = b.reduce(
    (n, s) => n + s.cpuTicks - (a.find((x) => x.pid === s.pid)?.cpuTicks ?? s.cpuTicks),
    0,
  );
  const mib = (k: number) => k / 1024;
  return {
    daemonRssMiB: mib(b[0]!.rssKiB),
    holderRssMiB: b[1] ? mib(b[1].rssKiB) : null,
    rssMiB: mib(b.reduce((n, s) => n + s.rssKiB, 0)),
    pssMiB: mib(b.reduce((n, s) => n + s.pssKiB, 0)),
    cpuPercent: (ticks / 100 / (ms / 1000)) * 100,
  };
}

/** Builds the npm tarballs of this checkout and installs them into `prefix`; the installed `pocketshell` launcher. */
export function installPackage(work: string): string {
  const out = join(work, 'pkg-out');
  const built = execFileSync(process.execPath, [join(ROOT, 'scripts/build-packages.ts'), '--out', out], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .filter((l) => l.endsWith('.tgz'));
  const prefix = join(work, 'prefix');
  execFileSync(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--offline',
      '--cache',
      join(work, 'npm-cache'),
      '--no-audit',
      '--no-fund',
      ...built,
    ],
    { stdio: 'ignore' },
  );
  return join(prefix, 'lib/node_modules/pocketshell/bin/pocketshell.js');
}

export interface IdleDaemonFigures {
  /** One idle session, after a flood through it. */
  one: IdleFigures;
  /** `sessions` idle sessions. */
  many: IdleFigures;
  sessions: number;
  /** (many − one) / (sessions − 1), PSS (MiB per extra idle session). */
  perExtraMiB: number;
  /** The same from RSS. */
  perExtraRssMiB: number;
  /** Before any session (just started, relay connected). */
  fresh: IdleFigures;
}

/**
 * The installed daemon (`bin`: its launcher) on node-datachannel, a Node
 * device paired; a flood (`file`) through one session, then idle figures
 * with 1 and `sessions` idle sessions (each with one attached terminal).
 */
export async function idleDaemonBench(o: {
  bin: string;
  work: string;
  file: string;
  env: Record<string, string>;
  sessions?: number;
  nodeOptions?: string | undefined;
}): Promise<IdleDaemonFigures> {
  const sessions = o.sessions ?? 5;
  const relay: StartedRelay = await startRelay();
  const home = join(o.work, 'idle-pkg');
  mkdirSync(home, { recursive: true });
  const state = join(home, 'state');
  const psEnv: Record<string, string> = {
    ...o.env,
    HOME: home,
    POCKETSHELL_ENGINE: 'node-datachannel',
    POCKETSHELL_HOME: state,
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_SERVICE: 'detached',
    ...(o.nodeOptions !== undefined ? { NODE_OPTIONS: o.nodeOptions } : {}),
  };
  let daemonPid = 0;
  const device = loopbackDeviceOn(relay.wsUrl, 'node-datachannel');
  const cli = (args: string[]) =>
    execFileSync(process.execPath, [o.bin, ...args], {
      env: { ...process.env, ...psEnv },
      encoding: 'utf8',
      timeout: 60_000,
    });
  try {
    // As a user starts it: `pocketshell daemon start`, the service the package sets up
    // (detached here: this machine has no user systemd), so the service's own command line
    // and Node flags are what is measured.
    const started = cli(['daemon', 'start', '--relay', relay.url]);
    daemonPid = Number(/running \(pid (\d+)\)/.exec(started)?.[1]);
    if (!daemonPid) throw new Error(`daemon start said: ${started}`);
    await until(
      () => {
        try {
          return JSON.parse(cli(['status', '--json'])).daemon.relay?.state === 'ready';
        } catch {
          return false;
        }
      },
      30_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = await idleFigures(daemonPid, state);
    const pair = spawn(process.execPath, [o.bin, 'pair', '--yes', '--grants', 'shell'], {
      env: { ...process.env, ...psEnv },
    });
    let out = '';
    pair.stdout.on('data', (d: Buffer) => (out += d));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    const host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'bench-idle' });
    await new Promise((r) => pair.on('exit', r));
    const conn = await device.connect(host.id);
    const terms: TerminalClient[] = [];
    const open = async () => {
      const term = await conn.openTerminal('new', { cols: 120, rows: 40 });
      terms.push(term);
      const stream: Stream = {
        write: (s) => term.write(s),
        onData: (l) => term.on('data', ({ bytes }) => l(bytes)),
      };
      stream.write("PS1='__IDLE__'\r");
      await waitFor(stream, '__IDLE__');
      return stream;
    };
    const first = await open();
    await throughput(first, o.file);
    await quiet(first, 500);
    // Let the daemon settle after the flood as it would between uses (V8's memory
    // reducer collects for some seconds after allocation stops).
    await new Promise((r) => setTimeout(r, REST_MS));
    const one = await idleFigures(daemonPid, state);
    for (let i = 1; i < sessions; i++) await open();
    await new Promise((r) => setTimeout(r, REST_MS));
    const many = await idleFigures(daemonPid, state);
    await conn.close();
    return {
      fresh,
      one,
      many,
      sessions,
      perExtraMiB: (many.pssMiB - one.pssMiB) / (sessions - 1),
      perExtraRssMiB: (many.rssMiB - one.rssMiB) / (sessions - 1),
    };
  } finally {
    await device.close();
    if (daemonPid) {
      try {
        cli(['daemon', 'stop']);
      } catch (error) {
        console.error('daemon stop failed:', error);
        process.kill(daemonPid, 'SIGKILL');
      }
    }
    await relay.stop();
  }
}

if (import.meta.main) {
  const work = mkdtempSync(join(tmpdir(), 'pocketshell-idle-'));
  try {
    const file = join(work, 'data.txt');
    const mb = Number(process.env.BENCH_MB ?? 16);
    writeFileSync(
      file,
      `${'0123456789abcdefghijklmnopqrstuvwxyz'.repeat(2).slice(0, 63)}\n`.repeat((mb * 1e6) / 64),
    );
    const bin = process.env.BENCH_BIN ?? installPackage(work);
    const env = { TERM: 'xterm-256color', LANG: 'C.UTF-8', SHELL: '/bin/bash' };
    const f = await idleDaemonBench({
      bin,
      work,
      file,
      env,
      nodeOptions: process.env.BENCH_DAEMON_NODE_OPTIONS,
    });
    console.log(JSON.stringify(f, (_k, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v), 2));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
