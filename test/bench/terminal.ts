/**
 * `npm run bench` (terminal part): raw PTY read rate, OpenSSH (`ssh -tt` to
 * a private sshd on 127.0.0.1, started here) and PocketShell (a real relay
 * process, a real daemon process, the Node client here) measured side by
 * side in one run: throughput, keystroke echo round trip, connect to first
 * byte (cold and warm), Ctrl-C to prompt under `yes`, idle RSS and CPU.
 * Then, per engine, the same rows from the web client in headless Chromium
 * against its own relay and daemon (test/browser/chromium-bench.ts; skip
 * with BENCH_CHROMIUM=0). Then the idle daemon of the installed npm package
 * (idle-daemon.ts; skip with BENCH_PACKAGE=0). Every figure is the median
 * (min–max) of BENCH_RUNS rounds (default 3), each round running every system
 * once in the same order; ratios are taken within a round. Knobs: BENCH_MB
 * (file size, 16), BENCH_ECHO (echo samples, 200), BENCH_ENGINES,
 * BENCH_PROFILE (daemon CPU profiles), BENCH_RELAY=0 (skip the rows of the
 * relay path, measured on the same daemon and file); BENCH_AB="<node flags>" instead
 * compares the daemon without and with those flags, side by side;
 * After the rounds, the path rows: the Node client through each path —
 * direct, TURN over UDP, TCP, TLS (coturn on 127.0.0.1), the relay path —
 * side by side (BENCH_PATH_RUNS rounds, 1; BENCH_PATHS=0 skips them);
 * BENCH_TURN=1 runs those rows alone and prints them. Loopback
 * only. Results go to docs/benchmarks.md between markers, and a chart
 * (medians, min–max whiskers) to docs/benchmarks-terminal.svg.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Device, type TerminalClient } from '@pocketshell/client';
import { DAEMON_NODE_FLAGS } from '@pocketshell/host-agent';
import type { EngineName } from '@pocketshell/host-core';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import {
  type IceServer,
  isLoopbackIPv4,
  NodeDataChannelEngine,
  type WebRtcEngine,
  WeriftEngine,
} from '@pocketshell/webrtc';
import { freeTcpUdpPort, makeTestCa, startCoturn } from '@pocketshell/webrtc/testing';
import { WebSocket } from 'ws';
import {
  browserAvailable,
  type ChromiumFigures,
  chromiumTerminalBench,
  describeFigures,
} from '../browser/chromium-bench.ts';
import { buildWeb } from '../browser/harness.ts';
import { POCKETSHELL, startReadyDaemon, until } from '../support/cli.ts';
import { barChart, type ChartPanel } from './chart.ts';
import { type IdleDaemonFigures, idleDaemonBench, installPackage } from './idle-daemon.ts';
import {
  busy,
  ctrlC,
  echoRtt,
  idle,
  ptyStream as localPty,
  median,
  type Stream,
  summarize,
  throughput,
  waitFor,
  writeSection,
} from './measure.ts';
import { openRawChannel } from './raw-channel.ts';
import { sshArgs, startSshd } from './ssh.ts';

const MB = Number(process.env.BENCH_MB ?? 16);
/** Rounds: each figure is the median of this many runs, the systems interleaved within a round. */
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
/** Keystroke echo samples per run. */
const ECHO = Number(process.env.BENCH_ECHO ?? 200);
/** Also measure each PocketShell daemon over the relay path (BENCH_RELAY=0 skips it). */
const RELAY_PATH = process.env.BENCH_RELAY !== '0';
/** The path rows (direct, TURN/UDP, TCP, TLS, the relay path): on unless BENCH_PATHS=0; BENCH_PATH_RUNS rounds (1). */
const PATHS = process.env.BENCH_PATHS !== '0';
const PATH_RUNS = Math.max(1, Number(process.env.BENCH_PATH_RUNS ?? 1));
const work = mkdtempSync(join(tmpdir(), 'pocketshell-bench-'));
const file = join(work, 'data.txt');
const PROMPT = '__PR__';
const env = { TERM: 'xterm-256color', LANG: 'C.UTF-8', HOME: work, SHELL: '/bin/bash' };

function makeFile(): void {
  const line = `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'.repeat(1).slice(0, 63)}\n`;
  writeFileSync(file, line.repeat(Math.ceil((MB * 1e6) / line.length)));
}

/** A local PTY running `argv` in the bench's folder and environment. */
function ptyStream(argv: string[]) {
  return localPty(argv, { cwd: work, env: { ...process.env, ...env } });
}

function termStream(term: TerminalClient): Stream {
  return {
    write: (s) => term.write(s),
    // Snapshots count too: on a slow link the host sends the screen instead of a backlog.
    onData: (l) => term.on('data', ({ bytes }) => l(bytes)),
  };
}

async function rawPty() {
  const { pty, stream } = ptyStream(['/bin/bash', '--norc', '--noprofile']);
  stream.write(`PS1='${PROMPT}'\r`);
  await waitFor(stream, PROMPT);
  const r = await throughput(stream, file);
  const echo = await echoRtt(stream, ECHO);
  pty.kill();
  return { tput: r, echo };
}

// ---------------------------------------------------------------- the bare data channel

/**
 * The anchors of the Node-client rows: node-datachannel alone between this
 * process and another (raw-channel.ts), no PTY or anything of ours — the
 * file's bytes as 4 KiB messages (the size of a PTY read under a flood) and
 * as 16 KiB ones, and short messages there and back (the engine's share of
 * an echo).
 */
async function bareChannel() {
  const raw = await openRawChannel();
  try {
    const bytes = MB * 1e6;
    const mbps = (ms: number) => bytes / 1e3 / ms;
    const small = mbps(await raw.receive(bytes, 4096));
    const large = mbps(await raw.receive(bytes, 16 * 1024));
    return { small, large, ping: summarize(await raw.pingPong(ECHO)) };
  } finally {
    await raw.close();
  }
}

// ---------------------------------------------------------------- OpenSSH

async function openssh(round: number) {
  const sshd = await startSshd({ dir: join(work, `ssh-${round}`), home: work });
  try {
    const connects: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const { pty, stream } = ptyStream(sshArgs(sshd.port, sshd.key));
      await new Promise<void>((resolve) => {
        const off = stream.onData(() => {
          off();
          resolve();
        });
      });
      connects.push(performance.now() - t0);
      pty.kill();
    }
    const { pty, stream } = ptyStream(sshArgs(sshd.port, sshd.key));
    stream.write(`PS1='${PROMPT}'\r`);
    await waitFor(stream, PROMPT);
    // sshd's per-connection processes (its children and theirs), not the shell.
    // This connection's sshd process: the parent of its bash (asked through the session).
    const promptBack = waitFor(stream, PROMPT);
    const bashPid = await new Promise<number>((resolve) => {
      let text = '';
      const off = stream.onData((b) => {
        text += Buffer.from(b).toString('latin1');
        const m = /__PID(\d+)__/.exec(text);
        if (m) {
          off();
          resolve(Number(m[1]));
        }
      });
      stream.write('echo __PID$$""__\r');
    });
    await promptBack;
    const sessionPids = [Number(readFileSync(`/proc/${bashPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])];
    const { result: tput, ...busyStats } = await busy([sshd.proc.pid!, ...sessionPids], () =>
      throughput(stream, file),
    );
    const echo = await echoRtt(stream, ECHO);
    const ctrl: number[] = [];
    for (let i = 0; i < 3; i++) ctrl.push(await ctrlC(stream, PROMPT));
    const idleStats = await idle([sshd.proc.pid!, ...sessionPids]);
    pty.kill();
    return {
      connectCold: connects[0]!,
      connectWarm: median(connects.slice(1)),
      tput,
      echo,
      ctrl: median(ctrl),
      idle: idleStats,
      busy: busyStats,
    };
  } finally {
    sshd.proc.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------- PocketShell

/** How the bench's device connects, when not the daemon's engine straight (BENCH_TURN). */
interface DeviceSetup {
  engine: WebRtcEngine;
  iceServers: IceServer[];
  iceTransportPolicy: 'all' | 'relay';
  /** The path the connection must take (checked: a bench on the wrong path is no figure). */
  path: string;
}

/** A Node device on loopback whose WebRTC engine is `engine` (the daemon runs the same one). */
function benchDevice(relayWsUrl: string, engine: EngineName, setup?: DeviceSetup): Device {
  const device = new Device({
    keyPair: generateKeyPair(),
    relayUrl: relayWsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine:
      setup?.engine ??
      (engine === 'werift'
        ? new WeriftEngine({ bindAddress: '127.0.0.1' })
        : new NodeDataChannelEngine({ bindAddress: '127.0.0.1' })),
    ...(setup
      ? { iceServers: setup.iceServers, iceTransportPolicy: setup.iceTransportPolicy, relayTurn: false }
      : {}),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  device.start();
  return device;
}

/** Whether output shows something: a printable character outside escape sequences. */
function visible(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes)
    .toString('latin1')
    // CSI, OSC (BEL or ST ended), charset designations and single-character escapes.
    .replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what is stripped
      /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]/g,
      '',
    );
  return /[!-~]/.test(text);
}

async function pocketshellBench(
  engine: EngineName,
  round: number,
  nodeArgs: string[] = [],
  setup?: DeviceSetup,
) {
  const relay: StartedRelay = await startRelay();
  const home = join(work, `ps-${engine}-${round}-${nodeArgs.length}${setup ? `-${setup.path}` : ''}`);
  const psEnv = {
    ...env,
    POCKETSHELL_ENGINE: engine,
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  // BENCH_PROFILE=dir writes the daemon's CPU profile there (what bounds a figure).
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  // The service's Node flags (what `pocketshell daemon start` runs), then the bench's own.
  const daemon = await startReadyDaemon(psEnv, relay.url, [...DAEMON_NODE_FLAGS, ...profile, ...nodeArgs]);
  let device: Device | undefined;
  try {
    device = benchDevice(relay.wsUrl, engine, setup);
    const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'shell'], {
      env: { ...process.env, ...psEnv },
    });
    let out = '';
    pair.stdout.on('data', (d: Buffer) => (out += d));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    const host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'bench' });
    await new Promise((r) => pair.on('exit', r));

    let connects = 0;
    const connectOnce = async () => {
      connects++;
      const t0 = performance.now();
      const conn = await device!.connect(host.id);
      if (setup) {
        const path = await conn.path();
        if (path !== setup.path) throw new Error(`${setup.path} bench: the connection took ${path}`);
      }
      const term = await conn.openTerminal('new', { cols: 120, rows: 40 });
      // The shell's first output: live, or already in the attach snapshot (a session held by the
      // session holder may have printed its prompt before the daemon attached: the person sees it
      // in the snapshot). An empty screen's snapshot (escape sequences only) does not count.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(
            new Error(
              `${engine}: no shell output within 30 s of opening the terminal (connection ${connects})`,
            ),
          );
        }, 30_000);
        const off = term.on('data', ({ bytes }) => {
          if (!visible(bytes)) return;
          clearTimeout(timer);
          off();
          resolve();
        });
      });
      return { ms: performance.now() - t0, conn, term };
    };
    const cold = await connectOnce();
    await cold.conn.close();
    const warm: number[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await connectOnce();
      warm.push(c.ms);
      await c.conn.close();
    }
    const { conn, term } = await connectOnce();
    const stream = termStream(term);
    stream.write(`PS1='${PROMPT}'\r`);
    await waitFor(stream, PROMPT);
    const { result: tput, ...busyStats } = await busy([daemon.pid!], () => throughput(stream, file));
    const echo = await echoRtt(stream, ECHO);
    // The path rows (`setup`) report throughput, echo and connect only: no Ctrl-C or idle runs.
    const ctrl: number[] = [];
    if (!setup) for (let i = 0; i < 3; i++) ctrl.push(await ctrlC(stream, PROMPT));
    const idleStats = setup ? { rssMiB: Number.NaN, cpuPercent: Number.NaN } : await idle([daemon.pid!]);
    await conn.close();
    // The same daemon and file over the relay path (docs/protocol.md §10), beside the direct figures.
    let relayPath: {
      tput: Awaited<ReturnType<typeof throughput>>;
      echo: Awaited<ReturnType<typeof echoRtt>>;
    } | null = null;
    if (RELAY_PATH && (!setup || setup.path === 'direct')) {
      const rc = await device.connectRelay(host.id);
      const rt = await rc.openTerminal('new', { cols: 120, rows: 40 });
      const rs = termStream(rt);
      rs.write(`PS1='${PROMPT}'\r`);
      await waitFor(rs, PROMPT);
      relayPath = { tput: await throughput(rs, file), echo: await echoRtt(rs, ECHO) };
      await rc.close();
    }
    return {
      relayPath,
      connectCold: cold.ms,
      connectWarm: median(warm),
      tput,
      echo,
      ctrl: median(ctrl),
      idle: idleStats,
      busy: busyStats,
    };
  } finally {
    await device?.close();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await relay.stop();
  }
}

type PsFigures = Awaited<ReturnType<typeof pocketshellBench>>;

/** A figure over the runs: median, min and max (and how many runs it has). */
interface Spread {
  med: number;
  lo: number;
  hi: number;
  n: number;
}

function spread(xs: number[]): Spread | null {
  if (xs.length === 0) return null;
  return { med: median(xs), lo: Math.min(...xs), hi: Math.max(...xs), n: xs.length };
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const f0 = (n: number) => n.toFixed(0);
/** `median unit (lo–hi)`; the range left out with one run. */
function cell(s: Spread | null, fmt: (n: number) => string, unit: string, ratio?: Spread | null): string {
  if (!s) return '–';
  const range = s.n > 1 ? `${fmt(s.lo)}–${fmt(s.hi)}` : '';
  const inner = [ratio ? `${f2(ratio.med)}×` : '', range].filter(Boolean).join(', ');
  return `${fmt(s.med)}${unit ? ` ${unit}` : ''}${inner ? ` (${inner})` : ''}`;
}
/** `p50 / p99 ms (p50 range / p99 range)`. */
function pairCell(a: Spread | null, b: Spread | null, fmt: (n: number) => string, unit: string): string {
  if (!a || !b) return '–';
  const range = a.n > 1 ? ` (${fmt(a.lo)}–${fmt(a.hi)} / ${fmt(b.lo)}–${fmt(b.hi)})` : '';
  return `${fmt(a.med)} / ${fmt(b.med)} ${unit}${range}`;
}

async function main() {
  makeFile();
  const engines = (process.env.BENCH_ENGINES ?? 'werift,node-datachannel').split(',') as EngineName[];
  const chromium = process.env.BENCH_CHROMIUM !== '0' && browserAvailable();
  if (process.env.BENCH_CHROMIUM === '0') console.error('Chromium columns skipped (BENCH_CHROMIUM=0)');
  else if (!chromium) console.error('Chromium columns skipped: no Chromium (POCKETSHELL_CHROMIUM)');
  const pkg = process.env.BENCH_PACKAGE !== '0';
  console.error(`terminal bench: ${MB} MB file, ${RUNS} rounds, ${cpus().length} cores`);
  const started = performance.now();
  if (chromium) await buildWeb();
  const installed = pkg ? installPackage(work) : null;

  const raw: Awaited<ReturnType<typeof rawPty>>[] = [];
  const ssh: Awaited<ReturnType<typeof openssh>>[] = [];
  const bare: Awaited<ReturnType<typeof bareChannel>>[] = [];
  const ps: Record<string, PsFigures[]> = Object.fromEntries(engines.map((e) => [e, []]));
  /** Per round: the figures, or the error that ended that run (null). */
  const cr: Record<string, (ChromiumFigures | null)[]> = Object.fromEntries(engines.map((e) => [e, []]));
  const crErrors: string[] = [];
  const idlePkg: IdleDaemonFigures[] = [];
  let chromiumVersion = '';
  // Rounds: every system once per round, in the same order, so drift of the
  // shared machine hits all alike; ratios are taken within a round.
  for (let round = 0; round < RUNS; round++) {
    const at = `[round ${round + 1}/${RUNS}, ${((performance.now() - started) / 1000).toFixed(0)} s]`;
    raw.push(await rawPty());
    console.error(at, 'raw PTY', raw.at(-1));
    bare.push(await bareChannel());
    console.error(at, 'bare data channel', bare.at(-1));
    ssh.push(await openssh(round));
    console.error(at, 'OpenSSH', ssh.at(-1));
    for (const engine of engines) {
      ps[engine]!.push(await pocketshellBench(engine, round));
      console.error(at, `PocketShell (${engine})`, ps[engine]!.at(-1));
    }
    if (chromium)
      for (const engine of engines) {
        try {
          const work_ = join(work, `r${round}`);
          const f = await chromiumTerminalBench({
            engine,
            file,
            work: work_,
            env,
            build: false,
            echoSamples: ECHO,
          });
          cr[engine]!.push(f);
          chromiumVersion = f.chromium;
          console.error(at, `PocketShell (${engine}) → Chromium`, describeFigures(f));
        } catch (error) {
          cr[engine]!.push(null);
          crErrors.push(`${engine}, round ${round + 1}: ${(error as Error).message.split('\n')[0]}`);
          console.error(at, `PocketShell (${engine}) → Chromium: this run ended early:`, error);
        }
      }
    if (installed) {
      idlePkg.push(await idleDaemonBench({ bin: installed, work: join(work, `pkg-${round}`), file, env }));
      console.error(at, 'installed daemon idle', idlePkg.at(-1));
    }
  }
  const paths = PATHS ? await measurePaths(PATH_RUNS) : null;
  const seconds = (performance.now() - started) / 1000;
  console.error(`terminal bench: ${RUNS} rounds in ${seconds.toFixed(0)} s`);

  const crEngines = chromium ? engines : [];
  /** Per-round ratio to the raw PTY of the same round. */
  const ratio = (mbps: (number | null)[]) =>
    spread(mbps.flatMap((m, i) => (m === null ? [] : [m / raw[i]!.tput.mbps])));
  const of = <T>(runs: (T | null)[], pick: (r: T) => number) =>
    spread(runs.flatMap((r) => (r === null ? [] : [pick(r)])).filter(Number.isFinite));
  const crTput = (e: string) => cr[e]!.map((r) => r?.tput.mbps ?? null);
  const modeNote = (e: string) => {
    const runs = cr[e]!.filter((r) => r !== null);
    const screen = runs.filter((r) => r.tput.mode === 'screen').length;
    const failed = cr[e]!.length - runs.length;
    const parts = [
      screen === 0
        ? 'stream'
        : screen === runs.length
          ? 'screen sync¹'
          : `screen sync¹ in ${screen} of ${runs.length}`,
      failed ? `${failed} run${failed > 1 ? 's' : ''} ended early²` : '',
    ];
    return parts.filter(Boolean).join(', ');
  };
  const nodeCells = (f: (runs: PsFigures[]) => string) => engines.map((e) => f(ps[e]!));
  const crCells = (f: (runs: (ChromiumFigures | null)[], e: string) => string) =>
    crEngines.map((e) => f(cr[e]!, e));
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}`;
  const rows: string[][] = [
    [
      'terminal output throughput (`cat` of a text file)',
      cell(
        of(raw, (r) => r.tput.mbps),
        f1,
        'MB/s',
      ),
      cell(
        of(ssh, (r) => r.tput.mbps),
        f1,
        'MB/s',
        ratio(ssh.map((r) => r.tput.mbps)),
      ),
      ...nodeCells((runs) =>
        cell(
          of(runs, (r) => r.tput.mbps),
          f1,
          'MB/s',
          ratio(runs.map((r) => r.tput.mbps)),
        ),
      ),
      ...crCells(
        (runs, e) =>
          `${cell(
            of(runs, (r) => r.tput.mbps),
            f1,
            'MB/s',
            ratio(crTput(e)),
          )}, ${modeNote(e)}`,
      ),
    ],
    [
      'keystroke echo round trip p50 / p99',
      pairCell(
        of(raw, (r) => r.echo.p50),
        of(raw, (r) => r.echo.p99),
        f2,
        'ms',
      ),
      pairCell(
        of(ssh, (r) => r.echo.p50),
        of(ssh, (r) => r.echo.p99),
        f2,
        'ms',
      ),
      ...nodeCells((runs) =>
        pairCell(
          of(runs, (r) => r.echo.p50),
          of(runs, (r) => r.echo.p99),
          f2,
          'ms',
        ),
      ),
      ...crCells((runs) =>
        pairCell(
          of(runs, (r) => r.echo.p50),
          of(runs, (r) => r.echo.p99),
          f2,
          'ms',
        ),
      ),
    ],
    ...(RELAY_PATH
      ? [
          [
            'throughput over the relay path (end-to-end through the relay, §10 of docs/protocol.md)',
            '–',
            '–',
            ...nodeCells((runs) =>
              cell(
                of(
                  runs.filter((r) => r.relayPath),
                  (r) => r.relayPath!.tput.mbps,
                ),
                f1,
                'MB/s',
                ratio(runs.map((r) => r.relayPath?.tput.mbps ?? null)),
              ),
            ),
            ...crCells(() => '–'),
          ],
          [
            'keystroke echo round trip over the relay path p50 / p99',
            '–',
            '–',
            ...nodeCells((runs) =>
              pairCell(
                of(
                  runs.filter((r) => r.relayPath),
                  (r) => r.relayPath!.echo.p50,
                ),
                of(
                  runs.filter((r) => r.relayPath),
                  (r) => r.relayPath!.echo.p99,
                ),
                f2,
                'ms',
              ),
            ),
            ...crCells(() => '–'),
          ],
        ]
      : []),
    [
      'connect to first shell byte, cold',
      '–',
      cell(
        of(ssh, (r) => r.connectCold),
        f1,
        'ms',
      ),
      ...nodeCells((runs) =>
        cell(
          of(runs, (r) => r.connectCold),
          f1,
          'ms',
        ),
      ),
      ...crCells((runs) =>
        cell(
          of(runs, (r) => r.connectCold),
          f1,
          'ms',
        ),
      ),
    ],
    [
      'connect to first shell byte, warm (median of 4 per run)',
      '–',
      cell(
        of(ssh, (r) => r.connectWarm),
        f1,
        'ms',
      ),
      ...nodeCells((runs) =>
        cell(
          of(runs, (r) => r.connectWarm),
          f1,
          'ms',
        ),
      ),
      ...crCells((runs) =>
        cell(
          of(runs, (r) => r.connectWarm),
          f1,
          'ms',
        ),
      ),
    ],
    [
      'Ctrl-C to prompt under `yes` (median of 3 per run)',
      '–',
      cell(
        of(ssh, (r) => r.ctrl),
        f1,
        'ms',
      ),
      ...nodeCells((runs) =>
        cell(
          of(runs, (r) => r.ctrl),
          f1,
          'ms',
        ),
      ),
      ...crCells((runs) =>
        cell(
          of(runs, (r) => r.ctrl),
          f1,
          'ms',
        ),
      ),
    ],
    [
      'busy server peak RSS / CPU (during the `cat`; CPU in % of one core)',
      '–',
      `${cell(
        of(ssh, (r) => r.busy.rssMiB),
        f1,
        'MiB',
      )} / ${cell(
        of(ssh, (r) => r.busy.cpuPercent),
        f1,
        '%',
      )}`,
      ...nodeCells(
        (runs) =>
          `${cell(
            of(runs, (r) => r.busy.rssMiB),
            f1,
            'MiB',
          )} / ${cell(
            of(runs, (r) => r.busy.cpuPercent),
            f1,
            '%',
          )}`,
      ),
      ...crCells(() => '–'),
    ],
    [
      'idle server RSS / CPU (5 s, one idle session, after the run’s floods; from source)',
      '–',
      `${cell(
        of(ssh, (r) => r.idle.rssMiB),
        f1,
        'MiB',
      )} / ${cell(
        of(ssh, (r) => r.idle.cpuPercent),
        f2,
        '%',
      )}`,
      ...nodeCells(
        (runs) =>
          `${cell(
            of(runs, (r) => r.idle.rssMiB),
            f1,
            'MiB',
          )} / ${cell(
            of(runs, (r) => r.idle.cpuPercent),
            f2,
            '%',
          )}`,
      ),
      ...crCells(
        (runs) =>
          `${cell(
            of(runs, (r) => r.idle?.rssMiB ?? Number.NaN),
            f1,
            'MiB',
          )} / ${cell(
            of(runs, (r) => r.idle?.cpuPercent ?? Number.NaN),
            f2,
            '%',
          )}`,
      ),
    ],
  ];
  const columns = [
    ...engines.map((e) => `PocketShell (${e})`),
    ...crEngines.map((e) => `PocketShell (${e}) → Chromium`),
  ];
  const chromiumNote = crEngines.length
    ? `

The "→ Chromium" columns are the built web client in headless Chromium ${chromiumVersion} (412×915 phone emulation, xterm.js, the browser's own WebRTC) against its own relay process and \`pocketshell daemon run\` process on that engine, measured in the page with \`performance.now()\` on the terminal screen's live output as it comes off the data channel (xterm.js renders it as it goes); the goal for throughput to Chromium is ≥ 0.75× the raw PTY of the same run. Connect there is from the terminal screen starting (\`#/t/<host>/new\`) to the new shell's first output byte: cold is the page's first connection after pairing; warm is after the page left the screen and closed its peer connection (control channel closed, hangup sent, peer connection closed), the relay connection staying up. Idle is the daemon with the page's session open. The throughput cell says which mode ran: "stream" — every byte came through the terminal channel and the end marker was seen in it; ¹ "screen sync" — the page fell behind the program for 50 ms (it asks for the screen then: \`resize\` with \`pace: "screen"\`) or its link was measured too slow, and the host sent it the screen instead of the backlog (docs/transport.md); the figure is then the time until the final screen (with the end marker) was shown, over the file's size — what the person waited for — not bytes streamed.${crErrors.length ? ` ² Runs that ended early (left out of the medians): ${crErrors.map((e) => `${e}`).join('; ')}.` : ''}`
    : '';
  const pkgIdle = (pick: (f: IdleDaemonFigures) => number) => spread(idlePkg.map(pick));
  const pkgSection = idlePkg.length
    ? `

### The idle daemon as installed

The npm packages built from this checkout (\`npm run package\`), installed with \`npm install -g\` into a temporary prefix, \`pocketshell daemon start\` from the installed package (the detached service, so its command line and Node flags are the service's) on node-datachannel, a Node device paired and connected; then a ${MB} MB \`cat\` through one session, 10 s of rest (\`BENCH_IDLE_REST_MS\`: V8 collects for some seconds after a flood), a 10 s idle window (CPU from /proc in 10 ms ticks: 0.1 % resolution); then four more idle sessions, the same rest, another window. Daemon and session holder (\`<state>/holder.pid\`, when the daemon has one) counted together; PSS (proportional set size, from \`/proc/PID/smaps_rollup\`) splits the node binary's shared pages between the processes that map them, RSS counts them in each. Median (min–max) of ${RUNS} run${RUNS > 1 ? 's' : ''}, one per round. Goal: ≤ 60 MiB RSS and ≤ 0.2 % CPU with one idle session, ≤ 5 MiB per extra idle session.

| installed daemon | daemon RSS | holder RSS | RSS sum | PSS sum | CPU (% of one core) |
|---|---:|---:|---:|---:|---:|
${(
  [
    ['just started, relay connected, no session', (f: IdleDaemonFigures) => f.fresh],
    ['one idle session, after the flood', (f: IdleDaemonFigures) => f.one],
    [`${idlePkg[0]!.sessions} idle sessions`, (f: IdleDaemonFigures) => f.many],
  ] as const
)
  .map(
    ([label, pick]) =>
      `| ${label} | ${cell(
        pkgIdle((f) => pick(f).daemonRssMiB),
        f1,
        'MiB',
      )} | ${
        idlePkg.some((f) => pick(f).holderRssMiB !== null)
          ? cell(
              pkgIdle((f) => pick(f).holderRssMiB ?? 0),
              f1,
              'MiB',
            )
          : '–'
      } | ${cell(
        pkgIdle((f) => pick(f).rssMiB),
        f1,
        'MiB',
      )} | ${cell(
        pkgIdle((f) => pick(f).pssMiB),
        f1,
        'MiB',
      )} | ${cell(
        pkgIdle((f) => pick(f).cpuPercent),
        f2,
        '%',
      )} |`,
  )
  .join('\n')}
| each extra idle session | | | ${cell(
        pkgIdle((f) => f.perExtraRssMiB),
        f2,
        'MiB',
      )} | ${cell(
        pkgIdle((f) => f.perExtraMiB),
        f2,
        'MiB',
      )} | |`
    : '';

  const ndc = engines.includes('node-datachannel') ? ps['node-datachannel']! : null;
  /** Per round: a PocketShell figure over the bare channel's of the same round. */
  const share = (pick: (r: PsFigures) => number, bareOf: (b: (typeof bare)[number]) => number) =>
    ndc ? spread(ndc.map((r, i) => pick(r) / bareOf(bare[i]!))) : null;
  const bareSection = `

### The bare data channel: what the engine alone gives

The anchors of the Node-client rows, in the same rounds (after the raw PTY): node-datachannel alone between the bench process and another process (test/bench/raw-channel.ts and raw-peer.ts), on 127.0.0.1 — no PTY, session holder, frames, acks or pacing of ours. The file's ${MB} MB as 4 KiB messages (the size of a PTY read under a flood) and as 16 KiB ones, sent as fast as \`bufferedAmount\` lets (at most 256 KiB queued, as the daemon's writer), to the bench process; and a short text message there and back, ${ECHO} times one after the other (the engine's share of a keystroke's echo, which adds the PTY's own echo: the raw PTY column). Ratios in brackets are to the raw PTY of the same round; "PocketShell" is the node-datachannel column above, as a share of the bare channel's figure of the same round.

| bare data channel (node-datachannel, two processes) | figure | PocketShell (node-datachannel) against it |
|---|---:|---:|
${(
  [
    ['4 KiB', (b: (typeof bare)[number]) => b.small],
    ['16 KiB', (b: (typeof bare)[number]) => b.large],
  ] as const
)
  .map(
    ([size, pick]) =>
      `| throughput, ${size} messages | ${cell(of(bare, pick), f1, 'MB/s', ratio(bare.map(pick)))} | ${cell(
        share((r) => r.tput.mbps, pick),
        f2,
        '×',
      )} |`,
  )
  .join('\n')}
| there and back, p50 / p99 | ${pairCell(
    of(bare, (b) => b.ping.p50),
    of(bare, (b) => b.ping.p99),
    f2,
    'ms',
  )} | echo p50 ${cell(
    share(
      (r) => r.echo.p50,
      (b) => b.ping.p50,
    ),
    f2,
    '×',
  )} |`;

  const pathsSection = paths
    ? `

### Paths: direct, TURN over UDP, TCP and TLS, the relay path

The same measures through each path a connection can take (docs/transport.md, "Paths through blocking networks"), side by side, after the rounds above: ${paths.rounds === 1 ? 'one run' : `the median (min–max) of ${paths.rounds} runs`} (\`BENCH_PATH_RUNS\`; \`BENCH_PATHS=0\` skips them). Debian's coturn on 127.0.0.1 (TLS with a certificate from a test CA); the Node device on werift (the engine that speaks TURN over TCP and TLS) and held to relay candidates in the TURN columns, the daemon on ${paths.daemonEngine}; each connection's path is checked (a run on the wrong path is no figure). The relay path (docs/protocol.md §10) is measured on the direct column's daemon and file. Everything is loopback, so the TURN columns show TURN's own cost (the extra hop and framing through coturn), not a network's.

${pathTable(paths)}`
    : '';

  const md = `## Terminal (\`npm run bench\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. Everything on loopback: the raw PTY (bash in a local PTY), OpenSSH (\`ssh -tt\` in a local PTY to a private \`sshd\` on 127.0.0.1, ed25519 keys), and PocketShell (a \`pocketshell-relay\` process, a \`pocketshell daemon run\` process, and the Node client in the bench process, over a WebRTC data channel), once per WebRTC engine (daemon and client on the same engine, \`POCKETSHELL_ENGINE\`). Each figure is the **median of ${RUNS} runs (min–max in brackets)**: the bench runs in rounds, each round every system once in the same order (raw PTY, OpenSSH, the engines, the Chromium columns, the installed daemon), so the shared machine's drift hits all alike; a ratio is the median of the per-round ratios to that round's raw PTY (\`BENCH_RUNS\` sets the rounds; the whole bench took ${(seconds / 60).toFixed(1)} min). Throughput is a \`cat\` of a ${MB} MB text file as the client receives it (\`BENCH_MB\`; the default is 16 MB since issue 17, 32 MB before, to keep three rounds inside ~12 min on this machine); echo is one printable key to bash's readline echo (${ECHO} samples per run); connect is from starting the client to the shell's first output byte (for OpenSSH: TCP, key exchange, auth and session; for PocketShell: signed offer/answer through the relay, ICE, DTLS, data channel, PTY); idle counts sshd's listener and session processes, and the whole PocketShell daemon.${chromiumNote}

| measure | raw PTY | OpenSSH | ${columns.join(' | ')} |
|---|---:|---:|${columns.map(() => '---:').join('|')}|
${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}${bareSection}${pathsSection}${pkgSection}
`;
  const labels = [
    'raw PTY',
    'OpenSSH',
    ...engines.map((e) => `PocketShell (${e})`),
    ...crEngines.map((e) => `PS (${e}) → Chromium`),
  ];
  const panel = (
    title: string,
    unit: string,
    lowerIsBetter: boolean,
    rawS: Spread | null,
    sshS: Spread | null,
    pick: (r: PsFigures) => number,
    crPick: ((r: ChromiumFigures) => number) | null,
  ): ChartPanel => {
    const all = [
      rawS,
      sshS,
      ...engines.map((e) => of(ps[e]!, pick)),
      ...crEngines.map((e) => (crPick ? of(cr[e]!, crPick) : null)),
    ];
    return {
      title,
      unit,
      lowerIsBetter,
      values: all.map((s) => s?.med ?? null),
      ranges: all.map((s) => (s && s.n > 1 ? [s.lo, s.hi] : null)),
    };
  };
  const svg = barChart(labels, [
    panel(
      'terminal output throughput',
      'MB/s',
      false,
      of(raw, (r) => r.tput.mbps),
      of(ssh, (r) => r.tput.mbps),
      (r) => r.tput.mbps,
      (r) => r.tput.mbps,
    ),
    panel(
      'keystroke echo p50',
      'ms',
      true,
      of(raw, (r) => r.echo.p50),
      of(ssh, (r) => r.echo.p50),
      (r) => r.echo.p50,
      (r) => r.echo.p50,
    ),
    panel(
      'connect to first byte, cold',
      'ms',
      true,
      null,
      of(ssh, (r) => r.connectCold),
      (r) => r.connectCold,
      (r) => r.connectCold,
    ),
    panel(
      'connect to first byte, warm',
      'ms',
      true,
      null,
      of(ssh, (r) => r.connectWarm),
      (r) => r.connectWarm,
      (r) => r.connectWarm,
    ),
    panel(
      'Ctrl-C to prompt under yes',
      'ms',
      true,
      null,
      of(ssh, (r) => r.ctrl),
      (r) => r.ctrl,
      (r) => r.ctrl,
    ),
    panel(
      'idle server RSS',
      'MiB',
      true,
      null,
      of(ssh, (r) => r.idle.rssMiB),
      (r) => r.idle.rssMiB,
      (r) => r.idle?.rssMiB ?? Number.NaN,
    ),
  ]);
  writeFileSync(new URL('../../docs/benchmarks-terminal.svg', import.meta.url), svg);
  writeSection(
    'terminal',
    `${md}
![side-by-side figures of this run: medians, the whiskers min–max](benchmarks-terminal.svg)
`,
  );
  console.log(md);
}

/**
 * BENCH_AB="<node flags>": the Node-client rows only, the daemon without and
 * with those flags in alternation (BENCH_RUNS rounds of each), printing the
 * medians and the median per-round ratio; writes nothing to docs.
 */
async function ab(flags: string[]) {
  makeFile();
  const engines = (process.env.BENCH_ENGINES ?? 'node-datachannel').split(',') as EngineName[];
  for (const engine of engines) {
    const a: PsFigures[] = [];
    const b: PsFigures[] = [];
    for (let round = 0; round < RUNS; round++) {
      a.push(await pocketshellBench(engine, round));
      b.push(await pocketshellBench(engine, round, flags));
      console.error(
        `${engine} round ${round + 1}: ${f1(a.at(-1)!.tput.mbps)} vs ${f1(b.at(-1)!.tput.mbps)} MB/s, idle ${f1(a.at(-1)!.idle.rssMiB)} vs ${f1(b.at(-1)!.idle.rssMiB)} MiB`,
      );
    }
    const m = (runs: PsFigures[], pick: (r: PsFigures) => number) => cell(spread(runs.map(pick)), f1, '');
    console.log(
      `${engine}: throughput ${m(a, (r) => r.tput.mbps)} → ${m(b, (r) => r.tput.mbps)} MB/s (ratio ${f2(median(a.map((r, i) => b[i]!.tput.mbps / r.tput.mbps)))}); busy CPU ${m(a, (r) => r.busy.cpuPercent)} → ${m(b, (r) => r.busy.cpuPercent)} %; busy peak RSS ${m(a, (r) => r.busy.rssMiB)} → ${m(b, (r) => r.busy.rssMiB)} MiB; idle RSS ${m(a, (r) => r.idle.rssMiB)} → ${m(b, (r) => r.idle.rssMiB)} MiB; echo p50 ${m(a, (r) => r.echo.p50)} → ${m(b, (r) => r.echo.p50)} ms`,
    );
  }
}

/** Figures of the path rows (`measurePaths`). */
interface PathFigures {
  daemonEngine: EngineName;
  rounds: number;
  columns: string[];
  runs: Record<string, PsFigures[]>;
  failed: string[];
}

/**
 * The Node-client rows through each path side by side — direct, TURN over
 * UDP, TCP and TLS (coturn on 127.0.0.1, its certificate from a test CA),
 * and the relay path (docs/protocol.md §10, measured on the direct
 * column's daemon) — the device on werift (the engine that speaks TURN
 * over TCP and TLS, docs/transport.md) held to relay candidates for the
 * TURN columns, the daemon on node-datachannel (the first of
 * BENCH_ENGINES); each connection's path checked. A path that fails is
 * reported, not fatal. `only`: column names to run (all when empty).
 */
async function measurePaths(rounds: number, only: string[] = []): Promise<PathFigures> {
  const daemonEngine = (
    (process.env.BENCH_ENGINES ?? 'node-datachannel').includes('node-datachannel')
      ? 'node-datachannel'
      : 'werift'
  ) as EngineName;
  const ca = makeTestCa(mkdtempSync(join(work, 'ca-')), { ip: ['127.0.0.1'] });
  const coturn = await startCoturn({
    ip: '127.0.0.1',
    port: await freeTcpUdpPort(),
    tlsPort: await freeTcpUdpPort(),
    secret: 'bench-turn-secret-0123456789',
    ca,
  });
  try {
    const werift = () => new WeriftEngine({ bindAddress: '127.0.0.1', turnTlsCa: ca.caPem });
    const setups: [string, () => DeviceSetup][] = [
      ['direct', () => ({ engine: werift(), iceServers: [], iceTransportPolicy: 'all', path: 'direct' })],
      ...(['udp', 'tcp', 'tls'] as const).map((t): [string, () => DeviceSetup] => [
        `TURN/${t.toUpperCase()}`,
        () => ({
          engine: werift(),
          iceServers: [coturn.iceServer([coturn.urls[t]])],
          iceTransportPolicy: 'relay',
          path: `turn-${t}`,
        }),
      ]),
    ];
    const chosen = setups.filter(([name]) => only.length === 0 || only.includes(name));
    const runs: Record<string, PsFigures[]> = Object.fromEntries(chosen.map(([name]) => [name, []]));
    const failed: string[] = [];
    for (let round = 0; round < rounds; round++)
      for (const [name, setup] of chosen) {
        try {
          runs[name]!.push(await pocketshellBench(daemonEngine, round, [], setup()));
        } catch (error) {
          // A path that fails is a finding, not the end of the run.
          failed.push(`${name}, round ${round + 1}: ${(error as Error).message.split('\n')[0]}`);
          console.error(`paths, round ${round + 1} ${name}: failed`, error);
          if (process.env.BENCH_TURN_LOG) console.error(coturn.log().slice(-4000));
          continue;
        }
        const r = runs[name]!.at(-1)!;
        console.error(
          `paths, round ${round + 1} ${name}: ${f1(r.tput.mbps)} MB/s, echo p50 ${f2(r.echo.p50)} ms${r.relayPath ? `; relay path ${f1(r.relayPath.tput.mbps)} MB/s, echo p50 ${f2(r.relayPath.echo.p50)} ms` : ''}`,
        );
      }
    const columns = chosen.map(([n]) => n);
    if (RELAY_PATH && runs.direct) {
      columns.push('relay path');
      runs['relay path'] = runs.direct.flatMap((r) =>
        r.relayPath ? [{ ...r, tput: r.relayPath.tput, echo: r.relayPath.echo }] : [],
      );
    }
    return { daemonEngine, rounds, columns, runs, failed };
  } finally {
    await coturn.stop();
  }
}

/** The path rows as a markdown table (throughput, echo, connect; the relay path has no connect figure here). */
function pathTable(p: PathFigures): string {
  const m = (name: string, pick: (r: PsFigures) => number, fmt: (n: number) => string, unit = '') =>
    cell(spread(p.runs[name]!.map(pick).filter(Number.isFinite)), fmt, unit);
  const connect = (name: string) => (name === 'relay path' ? '–' : m(name, (r) => r.connectWarm, f0, 'ms'));
  const rows = [
    `| measure (Node device on werift, daemon on ${p.daemonEngine}) | ${p.columns.join(' | ')} |`,
    `|---|${p.columns.map(() => '---:').join('|')}|`,
    `| terminal output throughput | ${p.columns.map((n) => m(n, (r) => r.tput.mbps, f1, 'MB/s')).join(' | ')} |`,
    `| keystroke echo p50 | ${p.columns.map((n) => m(n, (r) => r.echo.p50, f2, 'ms')).join(' | ')} |`,
    `| keystroke echo p99 | ${p.columns.map((n) => m(n, (r) => r.echo.p99, f2, 'ms')).join(' | ')} |`,
    `| connect to first shell byte, warm | ${p.columns.map(connect).join(' | ')} |`,
  ];
  return `${rows.join('\n')}${p.failed.length > 0 ? `\n\nFailed runs (left out): ${p.failed.join('; ')}.` : ''}`;
}

/** BENCH_TURN=1 (or a list of columns, `BENCH_TURN=TURN/TCP`): the path rows alone, on stdout; writes nothing. */
async function turnPaths() {
  makeFile();
  const only = (process.env.BENCH_TURN ?? '').split(',').filter((c) => c !== '1');
  console.log(pathTable(await measurePaths(RUNS, only)));
}

try {
  if (process.env.BENCH_AB) await ab(process.env.BENCH_AB.split(' ').filter(Boolean));
  else if (process.env.BENCH_TURN) await turnPaths();
  else await main();
} finally {
  // A shell of a run may still be writing its history: retry, and never hide the run's own error.
  try {
    rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  } catch (error) {
    console.error(`could not remove ${work}:`, error);
  }
}
