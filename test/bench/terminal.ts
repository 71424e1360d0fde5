/**
 * `npm run bench` (terminal part): raw PTY read rate, OpenSSH (`ssh -tt` to
 * a private sshd on 127.0.0.1, started here) and PocketShell (a real relay
 * process, a real daemon process, the Node client here) measured side by
 * side in one run: throughput, keystroke echo round trip, connect to first
 * byte (cold and warm), Ctrl-C to prompt under `yes`, idle RSS and CPU.
 * Then, per engine, the same rows from the web client in headless Chromium
 * against its own relay and daemon (test/browser/chromium-bench.ts; skip
 * with BENCH_CHROMIUM=0). Loopback only. Results go to docs/benchmarks.md
 * between markers, and a chart to docs/benchmarks-terminal.svg.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Device, type TerminalClient } from '@pocketshell/client';
import type { EngineName } from '@pocketshell/host-core';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { isLoopbackIPv4, NodeDataChannelEngine, WeriftEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import {
  browserAvailable,
  type ChromiumFigures,
  chromiumTerminalBench,
  describeFigures,
} from '../browser/chromium-bench.ts';
import { buildWeb } from '../browser/harness.ts';
import { POCKETSHELL, startReadyDaemon, until } from '../support/cli.ts';
import { barChart } from './chart.ts';
import {
  busy,
  ctrlC,
  echoRtt,
  idle,
  ptyStream as localPty,
  median,
  type Stream,
  throughput,
  waitFor,
  writeSection,
} from './measure.ts';
import { sshArgs, startSshd } from './ssh.ts';

const MB = Number(process.env.BENCH_MB ?? 32);
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
  const echo = await echoRtt(stream, 200);
  pty.kill();
  return { tput: r, echo };
}

// ---------------------------------------------------------------- OpenSSH

async function openssh() {
  const sshd = await startSshd({ dir: join(work, 'ssh'), home: work });
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
    const echo = await echoRtt(stream);
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

/** A Node device on loopback whose WebRTC engine is `engine` (the daemon runs the same one). */
function benchDevice(relayWsUrl: string, engine: EngineName): Device {
  const device = new Device({
    keyPair: generateKeyPair(),
    relayUrl: relayWsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine:
      engine === 'werift'
        ? new WeriftEngine({ bindAddress: '127.0.0.1' })
        : new NodeDataChannelEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  device.start();
  return device;
}

async function pocketshellBench(engine: EngineName) {
  const relay: StartedRelay = await startRelay();
  const home = join(work, `ps-${engine}`);
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
  const daemon = await startReadyDaemon(psEnv, relay.url, profile);
  let device: Device | undefined;
  try {
    device = benchDevice(relay.wsUrl, engine);
    const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'shell'], {
      env: { ...process.env, ...psEnv },
    });
    let out = '';
    pair.stdout.on('data', (d: Buffer) => (out += d));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    const host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'bench' });
    await new Promise((r) => pair.on('exit', r));

    const connectOnce = async () => {
      const t0 = performance.now();
      const conn = await device!.connect(host.id);
      const term = await conn.openTerminal('new', { cols: 120, rows: 40 });
      await new Promise<void>((resolve) => {
        const off = term.on('data', ({ snapshot }) => {
          if (snapshot) return;
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
    const echo = await echoRtt(stream);
    const ctrl: number[] = [];
    for (let i = 0; i < 3; i++) ctrl.push(await ctrlC(stream, PROMPT));
    const idleStats = await idle([daemon.pid!]);
    await conn.close();
    return {
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

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function main() {
  makeFile();
  console.error(`terminal bench: ${MB} MB file, ${cpus().length} cores`);
  const raw = await rawPty();
  console.error('raw PTY', raw);
  const ssh = await openssh();
  console.error('OpenSSH', ssh);
  const engines = (process.env.BENCH_ENGINES ?? 'werift,node-datachannel').split(',') as EngineName[];
  const ps: Record<string, Awaited<ReturnType<typeof pocketshellBench>>> = {};
  for (const engine of engines) {
    ps[engine] = await pocketshellBench(engine);
    console.error(`PocketShell (${engine})`, ps[engine]);
  }
  // The web client in Chromium, per engine, against its own relay and daemon.
  const cr: Record<string, ChromiumFigures | null> = {};
  let chromiumVersion = '';
  if (process.env.BENCH_CHROMIUM === '0') console.error('Chromium columns skipped (BENCH_CHROMIUM=0)');
  else if (!browserAvailable()) console.error('Chromium columns skipped: no Chromium (POCKETSHELL_CHROMIUM)');
  else {
    await buildWeb();
    for (const engine of engines) {
      try {
        cr[engine] = await chromiumTerminalBench({ engine, file, work, env, build: false });
        chromiumVersion = cr[engine]!.chromium;
        console.error(`PocketShell (${engine}) → Chromium`, describeFigures(cr[engine]!));
      } catch (error) {
        cr[engine] = null;
        console.error(`PocketShell (${engine}) → Chromium FAILED:`, error);
      }
    }
  }
  const crEngines = engines.filter((e) => e in cr);
  const each = (cell: (r: Awaited<ReturnType<typeof pocketshellBench>>) => string) =>
    engines.map((e) => cell(ps[e]!));
  /** Node-client cells, then the Chromium cells ('failed' where that run failed). */
  const both = (
    cell: (r: Awaited<ReturnType<typeof pocketshellBench>>) => string,
    crCell: (r: ChromiumFigures) => string,
  ) => [...each(cell), ...crEngines.map((e) => (cr[e] ? crCell(cr[e]!) : 'failed'))];
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}`;
  const rows = [
    [
      'terminal output throughput (`cat` of a text file)',
      `${f1(raw.tput.mbps)} MB/s`,
      `${f1(ssh.tput.mbps)} MB/s (${f2(ssh.tput.mbps / raw.tput.mbps)}×)`,
      ...both(
        (r) => `${f1(r.tput.mbps)} MB/s (${f2(r.tput.mbps / raw.tput.mbps)}×)`,
        (r) =>
          `${f1(r.tput.mbps)} MB/s (${f2(r.tput.mbps / raw.tput.mbps)}×)${r.tput.mode === 'screen' ? ', screen sync¹' : ''}`,
      ),
    ],
    [
      'keystroke echo round trip p50 / p99',
      `${f2(raw.echo.p50)} / ${f2(raw.echo.p99)} ms`,
      `${f2(ssh.echo.p50)} / ${f2(ssh.echo.p99)} ms`,
      ...both(
        (r) => `${f2(r.echo.p50)} / ${f2(r.echo.p99)} ms`,
        (r) => `${f2(r.echo.p50)} / ${f2(r.echo.p99)} ms`,
      ),
    ],
    [
      'connect to first shell byte, cold',
      '–',
      `${f1(ssh.connectCold)} ms`,
      ...both(
        (r) => `${f1(r.connectCold)} ms`,
        (r) => `${f1(r.connectCold)} ms`,
      ),
    ],
    [
      'connect to first shell byte, warm (median of 4)',
      '–',
      `${f1(ssh.connectWarm)} ms`,
      ...both(
        (r) => `${f1(r.connectWarm)} ms`,
        (r) => `${f1(r.connectWarm)} ms`,
      ),
    ],
    [
      'Ctrl-C to prompt under `yes` (median of 3)',
      '–',
      `${f1(ssh.ctrl)} ms`,
      ...both(
        (r) => `${f1(r.ctrl)} ms`,
        (r) => `${f1(r.ctrl)} ms`,
      ),
    ],
    [
      'busy server peak RSS / CPU (during the `cat`; CPU in % of one core)',
      '–',
      `${f1(ssh.busy.rssMiB)} MiB / ${f1(ssh.busy.cpuPercent)} %`,
      ...both(
        (r) => `${f1(r.busy.rssMiB)} MiB / ${f1(r.busy.cpuPercent)} %`,
        () => '–',
      ),
    ],
    [
      'idle server RSS / CPU (5 s, one idle session)',
      '–',
      `${f1(ssh.idle.rssMiB)} MiB / ${f2(ssh.idle.cpuPercent)} %`,
      ...both(
        (r) => `${f1(r.idle.rssMiB)} MiB / ${f2(r.idle.cpuPercent)} %`,
        (r) => (r.idle ? `${f1(r.idle.rssMiB)} MiB / ${f2(r.idle.cpuPercent)} %` : '–'),
      ),
    ],
  ];
  const columns = [
    ...engines.map((e) => `PocketShell (${e})`),
    ...crEngines.map((e) => `PocketShell (${e}) → Chromium`),
  ];
  const chromiumNote = crEngines.length
    ? `

The "→ Chromium" columns are the built web client in headless Chromium ${chromiumVersion} (412×915 phone emulation, xterm.js, the browser's own WebRTC) against its own relay process and \`pocketshell daemon run\` process on that engine, measured in the page with \`performance.now()\` on the terminal screen's live output as it comes off the data channel (xterm.js renders it as it goes); the goal for throughput to Chromium is ≥ 0.75× the raw PTY of the same run. Connect there is from the terminal screen starting (\`#/t/<host>/new\`) to the new shell's first output byte: cold is the page's first connection after pairing; warm is after the page left the screen and closed its peer connection (control channel closed, hangup sent, peer connection closed), the relay connection staying up. Idle is the daemon with the page's session open. ¹ "screen sync": the host measured the page's link as too slow to drain its window (docs/transport.md) and sent it the screen instead of the backlog; the figure is then the time until the final screen (with the end marker) was shown, over the file's size — what the person waited for — not bytes streamed.`
    : '';

  const md = `## Terminal (\`npm run bench\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. Everything on loopback, in one run: the raw PTY (bash in a local PTY), OpenSSH (\`ssh -tt\` in a local PTY to a private \`sshd\` on 127.0.0.1, ed25519 keys), and PocketShell (a \`pocketshell-relay\` process, a \`pocketshell daemon run\` process, and the Node client in the bench process, over a WebRTC data channel), once per WebRTC engine (daemon and client on the same engine, \`POCKETSHELL_ENGINE\`). Throughput is a \`cat\` of a ${MB} MB text file as the client receives it; echo is one printable key to bash's readline echo; connect is from starting the client to the shell's first output byte (for OpenSSH: TCP, key exchange, auth and session; for PocketShell: signed offer/answer through the relay, ICE, DTLS, data channel, PTY); idle counts sshd's listener and session processes, and the whole PocketShell daemon.${chromiumNote}

| measure | raw PTY | OpenSSH | ${columns.join(' | ')} |
|---|---:|---:|${columns.map(() => '---:').join('|')}|
${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}
`;
  const labels = [
    'raw PTY',
    'OpenSSH',
    ...engines.map((e) => `PocketShell (${e})`),
    ...crEngines.map((e) => `PS (${e}) → Chromium`),
  ];
  const all = engines.map((e) => ps[e]!);
  const inPage = crEngines.map((e) => cr[e] ?? null);
  const svg = barChart(labels, [
    {
      title: 'terminal output throughput',
      unit: 'MB/s',
      lowerIsBetter: false,
      values: [
        raw.tput.mbps,
        ssh.tput.mbps,
        ...all.map((r) => r.tput.mbps),
        ...inPage.map((r) => r?.tput.mbps ?? null),
      ],
    },
    {
      title: 'keystroke echo p50',
      unit: 'ms',
      lowerIsBetter: true,
      values: [
        raw.echo.p50,
        ssh.echo.p50,
        ...all.map((r) => r.echo.p50),
        ...inPage.map((r) => r?.echo.p50 ?? null),
      ],
    },
    {
      title: 'connect to first byte, cold',
      unit: 'ms',
      lowerIsBetter: true,
      values: [
        null,
        ssh.connectCold,
        ...all.map((r) => r.connectCold),
        ...inPage.map((r) => r?.connectCold ?? null),
      ],
    },
    {
      title: 'connect to first byte, warm',
      unit: 'ms',
      lowerIsBetter: true,
      values: [
        null,
        ssh.connectWarm,
        ...all.map((r) => r.connectWarm),
        ...inPage.map((r) => r?.connectWarm ?? null),
      ],
    },
    {
      title: 'Ctrl-C to prompt under yes',
      unit: 'ms',
      lowerIsBetter: true,
      values: [null, ssh.ctrl, ...all.map((r) => r.ctrl), ...inPage.map((r) => r?.ctrl ?? null)],
    },
    {
      title: 'idle server RSS',
      unit: 'MiB',
      lowerIsBetter: true,
      values: [
        null,
        ssh.idle.rssMiB,
        ...all.map((r) => r.idle.rssMiB),
        ...inPage.map((r) => r?.idle?.rssMiB ?? null),
      ],
    },
  ]);
  writeFileSync(new URL('../../docs/benchmarks-terminal.svg', import.meta.url), svg);
  writeSection(
    'terminal',
    `${md}
![side-by-side figures of this run](benchmarks-terminal.svg)
`,
  );
  console.log(md);
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
