/**
 * `npm run bench:shaped`: Ctrl-C to prompt under `yes`, and keystroke to
 * glyph (predictive echo: mosh's, `pocketshell connect`'s), across an emulated
 * slow link (default 50 ms one way, 2 Mbit/s each way, 64 KiB drop-tail
 * queue) for OpenSSH, mosh and PocketShell. Needs root: it creates two network
 * namespaces (server side `psb-a-PID` on 10.77.0.1, client side `psb-b-PID` on
 * 10.77.0.2) joined by two TUN devices that scripts/tun-shaper.py forwards
 * between (this kernel has no netem). Nothing leaves those namespaces: they
 * have only `lo` and the point-to-point TUN link, no default route.
 *
 * Knobs: BENCH_SHAPED_SYSTEMS=ssh,mosh,pocketshell  BENCH_ENGINES=node-datachannel,werift
 * BENCH_SHAPED_SAMPLES=5  BENCH_SHAPED_FLOOD_MS=2000  BENCH_SHAPED_DELAY_MS=50
 * BENCH_SHAPED_RATE_KBIT=2000  BENCH_SHAPED_QUEUE_BYTES=65536
 * Results go to docs/benchmarks.md between the bench:shaped markers.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineName } from '@pocketshell/host-core';
import { endHolder, POCKETSHELL, until } from '../support/cli.ts';
import { barChart } from './chart.ts';
import {
  ctrlCSamples,
  ptyStream as localPty,
  median,
  quiet,
  type Stream,
  waitFor,
  writeSection,
} from './measure.ts';
import { type Sshd, sshArgs, startSshd } from './ssh.ts';

const SAMPLES = Number(process.env.BENCH_SHAPED_SAMPLES ?? 5);
const FLOOD_MS = Number(process.env.BENCH_SHAPED_FLOOD_MS ?? 2000);
const DELAY_MS = Number(process.env.BENCH_SHAPED_DELAY_MS ?? 50);
const RATE_KBIT = Number(process.env.BENCH_SHAPED_RATE_KBIT ?? 2000);
const QUEUE_BYTES = Number(process.env.BENCH_SHAPED_QUEUE_BYTES ?? 65536);
const SYSTEMS = (process.env.BENCH_SHAPED_SYSTEMS ?? 'ssh,mosh,pocketshell').split(',');
const ENGINES = (process.env.BENCH_ENGINES ?? 'node-datachannel,werift').split(',') as EngineName[];

const SERVER_IP = '10.77.0.1';
const CLIENT_IP = '10.77.0.2';
const NS_A = `psb-a-${process.pid}`;
const NS_B = `psb-b-${process.pid}`;
const TUN_A = `psbA${process.pid}`;
const TUN_B = `psbB${process.pid}`;
const inA = ['ip', 'netns', 'exec', NS_A];
const inB = ['ip', 'netns', 'exec', NS_B];
const SHAPER = fileURLToPath(new URL('../../scripts/tun-shaper.py', import.meta.url));
const CLIENT = fileURLToPath(new URL('./shaped-client.ts', import.meta.url));
const RELAY_BIN = fileURLToPath(new URL('../../packages/relay/bin/pocketshell-relay.js', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'pocketshell-shaped-'));
const PROMPT = '__PR__';
const env = { TERM: 'xterm-256color', LANG: 'C.UTF-8', HOME: work, SHELL: '/bin/bash' };

// ---------------------------------------------------------------- processes and cleanup

const children = new Set<ChildProcess>();
const extraPids = new Set<number>();
let shaper: ChildProcess | undefined;

function run(argv: string[], options: Parameters<typeof spawn>[2] = {}): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Pids of every process inside our own namespace `ns` (all started by this run). */
function nsPids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.pid !== undefined) tryKill(c.pid, 'SIGTERM');
  for (const pid of extraPids) tryKill(pid, 'SIGTERM');
  for (const ns of [NS_A, NS_B]) for (const pid of nsPids(ns)) tryKill(pid, 'SIGTERM');
  execFileSync('sleep', ['0.3']);
  for (const ns of [NS_A, NS_B]) for (const pid of nsPids(ns)) tryKill(pid, 'SIGKILL');
  for (const c of children) if (c.pid !== undefined && c.exitCode === null) tryKill(c.pid, 'SIGKILL');
  if (shaper?.pid !== undefined) tryKill(shaper.pid, 'SIGTERM');
  for (const ns of [NS_A, NS_B]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not created
    }
  }
  // The TUN devices vanish with their namespace or when the shaper closes its fds.
  rmSync(work, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`shaped bench: ${sig}, cleaning up`);
    cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- the link

async function setUpLink(): Promise<void> {
  ip('netns', 'add', NS_A);
  ip('netns', 'add', NS_B);
  ip('-n', NS_A, 'link', 'set', 'lo', 'up');
  ip('-n', NS_B, 'link', 'set', 'lo', 'up');
  // stdin stays a pipe: the shaper exits when this process goes away, however it goes.
  shaper = spawn(
    'python3',
    [
      SHAPER,
      '--dev-a',
      TUN_A,
      '--dev-b',
      TUN_B,
      '--delay-ms',
      String(DELAY_MS),
      '--rate-kbit',
      String(RATE_KBIT),
      '--queue-bytes',
      String(QUEUE_BYTES),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  shaper.stdout!.on('data', (d: Buffer) => (out += d));
  await until(
    () => {
      if (shaper!.exitCode !== null) throw new Error('tun-shaper exited');
      return out.includes('ready');
    },
    10_000,
    20,
  );
  ip('link', 'set', TUN_A, 'netns', NS_A);
  ip('link', 'set', TUN_B, 'netns', NS_B);
  ip('-n', NS_A, 'addr', 'add', SERVER_IP, 'peer', CLIENT_IP, 'dev', TUN_A);
  ip('-n', NS_B, 'addr', 'add', CLIENT_IP, 'peer', SERVER_IP, 'dev', TUN_B);
  ip('-n', NS_A, 'link', 'set', TUN_A, 'up');
  ip('-n', NS_B, 'link', 'set', TUN_B, 'up');
}

/** Reads a child's stdout until it exits; resolves with the last JSON line. */
function jsonResult<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(line) as T);
      } catch (error) {
        reject(new Error(`${what} failed (${(error as Error).message}); stdout: ${out.slice(-500)}`));
      }
    });
  });
}

interface LinkCheck {
  connectMs: number;
  rttMs: number;
  rttSamples: number[];
  upMbps: number;
  downMbps: number;
}

async function checkLink(): Promise<LinkCheck> {
  const port = 9000 + Math.floor(Math.random() * 1000);
  const server = run([...inA, process.execPath, CLIENT, 'link-server', SERVER_IP, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d));
  await until(() => out.includes('listening'), 10_000, 20);
  try {
    const check = run([...inB, process.execPath, CLIENT, 'link-check', SERVER_IP, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return await jsonResult<LinkCheck>(check, 'link check');
  } finally {
    server.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------- terminals

/** A local PTY (in the root namespace) running `argv`, as a Stream. */
function ptyStream(argv: string[], extraEnv: Record<string, string> = {}) {
  const local = localPty(argv, { cwd: work, env: { ...process.env, ...env, ...extraEnv } });
  extraPids.add(local.pty.pid);
  return local;
}

function measureCtrlC(stream: Stream, label: string): Promise<number[]> {
  return ctrlCSamples(stream, PROMPT, { samples: SAMPLES, floodMs: FLOOD_MS, label });
}

/** Keys typed one by one for keystroke-to-glyph (none of them a final byte of the escape sequences drawn). */
const GLYPH_KEYS = 'wxyzuvwxyz';

/**
 * Keystroke to glyph, for typing a shell can predict: at the prompt, `echo `
 * then each of GLYPH_KEYS alone, the time from writing it to the client's
 * PTY until the glyph is in what the client draws (a prediction or the
 * host's echo, whichever comes first), the echo let in before the next key
 * (as a person typing slower than the RTT). ^U drops the line after.
 */
async function keyToGlyph(stream: Stream, label: string): Promise<number[]> {
  stream.write('echo ');
  await quiet(stream, 600);
  const out: number[] = [];
  for (const ch of GLYPH_KEYS) {
    const seen = waitFor(stream, ch, 10_000);
    const t0 = performance.now();
    stream.write(ch);
    out.push((await seen) - t0);
    await new Promise((r) => setTimeout(r, 4 * DELAY_MS + 100));
  }
  stream.write('\x15');
  await quiet(stream, 500);
  console.error(`  ${label} keystroke to glyph: ${out.map((ms) => ms.toFixed(1)).join(', ')} ms`);
  return out;
}

interface Measured {
  ctrl: number[];
  glyph?: number[];
}

let sshd: Sshd | undefined;
async function ensureSshd(): Promise<Sshd> {
  sshd ??= await startSshd({ dir: join(work, 'ssh'), home: work, listen: SERVER_IP, wrap: inA });
  children.add(sshd.proc);
  return sshd;
}

async function openssh(): Promise<Measured> {
  const { port, key } = await ensureSshd();
  const { pty, stream } = ptyStream([...inB, ...sshArgs(port, key, SERVER_IP)]);
  try {
    // ssh connected and bash drew its first prompt: input typed before that can be dropped.
    await quiet(stream, 1000);
    const ctrl = await measureCtrlC(stream, 'OpenSSH');
    return { ctrl, glyph: await keyToGlyph(stream, 'OpenSSH') };
  } finally {
    pty.kill();
  }
}

async function mosh(): Promise<Measured> {
  // mosh-server directly (the ssh bootstrap only matters for connect time, not measured here).
  const port = 60000 + Math.floor(Math.random() * 1000);
  const server = run(
    [
      ...inA,
      'mosh-server',
      'new',
      '-i',
      SERVER_IP,
      '-p',
      String(port),
      '--',
      'bash',
      '--norc',
      '--noprofile',
      '-i',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d));
  server.stderr!.on('data', (d: Buffer) => (out += d));
  await until(() => /detached, pid = \d+/.test(out) || server.exitCode !== null, 10_000, 20);
  const connect = /MOSH CONNECT (\d+) (\S+)/.exec(out);
  const detached = /detached, pid = (\d+)/.exec(out);
  if (!connect || !detached) throw new Error(`mosh-server did not start: ${out}`);
  extraPids.add(Number(detached[1]));
  const { pty, stream } = ptyStream([...inB, 'mosh-client', SERVER_IP, connect[1]!], {
    MOSH_KEY: connect[2]!,
  });
  try {
    await quiet(stream, 1000); // mosh connected and bash drew its first prompt
    const ctrl = await measureCtrlC(stream, 'mosh');
    return { ctrl, glyph: await keyToGlyph(stream, 'mosh') };
  } finally {
    pty.kill();
    tryKill(Number(detached[1]), 'SIGTERM');
  }
}

async function pocketshell(engine: EngineName): Promise<Measured> {
  const home = join(work, `ps-${engine}`);
  mkdirSync(home, { recursive: true });
  const relay = run(
    [
      ...inA,
      process.execPath,
      RELAY_BIN,
      '--listen',
      `${SERVER_IP}:0`,
      '--data',
      join(home, 'relay'),
      '--registration',
      'open',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: home } },
  );
  let relayOut = '';
  relay.stdout!.on('data', (d: Buffer) => (relayOut += d));
  relay.stderr!.on('data', (d: Buffer) => (relayOut += d));
  await until(
    () => {
      if (relay.exitCode !== null) throw new Error(`relay exited: ${relayOut}`);
      return /"msg":"listening"/.test(relayOut);
    },
    20_000,
    50,
  );
  const relayUrl = /"url":"([^"]+)"/.exec(relayOut)![1]!;
  const relayWs = `${relayUrl.replace(/^http/, 'ws')}/ws`;
  const psEnv = {
    ...env,
    POCKETSHELL_ENGINE: engine,
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    // No POCKETSHELL_ICE_ADDRESS: the engines would accept only that address from
    // the remote too (see shaped-client.ts); the namespace confines ICE anyway.
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  const ps = (args: string[], stdio: 'ignore' | 'pipe' = 'pipe') =>
    run([...inA, process.execPath, POCKETSHELL, ...args], { env: { ...process.env, ...psEnv }, stdio });
  const daemon = ps(['daemon', 'run', '--relay', relayUrl], 'ignore');
  try {
    await until(
      async () => {
        const status = ps(['status', '--json']);
        let text = '';
        status.stdout!.on('data', (d: Buffer) => (text += d));
        const code = await new Promise((r) => status.once('exit', r));
        try {
          return code === 0 && JSON.parse(text).daemon.relay?.state === 'ready';
        } catch {
          return false;
        }
      },
      30_000,
      200,
    );
    const pair = ps(['pair', '--yes', '--grants', 'shell']);
    let out = '';
    pair.stdout!.on('data', (d: Buffer) => (out += d));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    const pairUrl = /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0];
    const client = run(
      [
        ...inB,
        process.execPath,
        CLIENT,
        'pocketshell',
        engine,
        relayWs,
        pairUrl,
        `${SERVER_IP},${CLIENT_IP}`,
        String(SAMPLES),
        String(FLOOD_MS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const r = await jsonResult<{ ctrl: number[]; connectMs: number }>(
      client,
      `PocketShell client (${engine})`,
    );
    // Keystroke to glyph through `pocketshell connect` (predictive echo, `--predict auto`) in a
    // PTY on the client side: a second device, the CLI's, paired with the same daemon.
    const pair2 = ps(['pair', '--yes', '--grants', 'shell']);
    let out2 = '';
    pair2.stdout!.on('data', (d: Buffer) => (out2 += d));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out2), 20_000, 20);
    const pairUrl2 = /http:\/\/\S+#\/pair\/1\/\S+/.exec(out2)![0];
    const cliEnv = { ...psEnv, POCKETSHELL_HOME: join(home, 'cli') };
    const devicePair = run([...inB, process.execPath, POCKETSHELL, 'device', 'pair', pairUrl2], {
      env: { ...process.env, ...cliEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let paired = '';
    devicePair.stdout!.on('data', (d: Buffer) => (paired += d));
    await new Promise((r) => (devicePair.exitCode !== null ? r(null) : devicePair.once('exit', r)));
    const hostId = /Paired with "[^"]*" \(([^)]+)\)/.exec(paired)?.[1];
    if (!hostId) throw new Error(`device pair failed: ${paired}`);
    const { pty, stream } = ptyStream(
      [...inB, process.execPath, POCKETSHELL, 'connect', hostId, '--predict', 'auto'],
      cliEnv,
    );
    try {
      await quiet(stream, 1500);
      stream.write(`PS1='${PROMPT}'\r`);
      await waitFor(stream, PROMPT, 30_000);
      await quiet(stream, 500);
      // The engine learns the RTT from the first keys' echoes (as mosh does): a word typed first.
      stream.write('true ');
      await quiet(stream, 1000);
      stream.write('\x15');
      await quiet(stream, 500);
      const glyph = await keyToGlyph(stream, `PocketShell (${engine}, connect)`);
      return { ctrl: r.ctrl, glyph };
    } finally {
      pty.kill();
    }
  } finally {
    daemon.kill('SIGTERM');
    await Promise.race([
      new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r))),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    endHolder(psEnv.POCKETSHELL_HOME); // it outlives the daemon by design
    relay.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------- report

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench:shaped needs root (network namespaces, TUN devices)');
  await setUpLink();
  const link = await checkLink();
  console.error(
    `link: RTT ${link.rttMs.toFixed(1)} ms (TCP connect ${link.connectMs.toFixed(1)} ms), 1 MB up ${link.upMbps.toFixed(2)} Mbit/s, down ${link.downMbps.toFixed(2)} Mbit/s`,
  );
  const rows: { name: string; samples: number[]; glyph: number[]; note?: string }[] = [];
  const attempt = async (name: string, f: () => Promise<Measured>) => {
    console.error(`${name}…`);
    try {
      const m = await f();
      rows.push({ name, samples: m.ctrl, glyph: m.glyph ?? [] });
    } catch (error) {
      console.error(`${name} failed:`, error);
      rows.push({
        name,
        samples: [],
        glyph: [],
        note: `failed: ${String((error as Error).message).split('\n')[0]}`,
      });
    }
  };
  if (SYSTEMS.includes('ssh')) await attempt('OpenSSH', openssh);
  if (SYSTEMS.includes('mosh')) await attempt('mosh', mosh);
  if (SYSTEMS.includes('pocketshell')) {
    for (const engine of ENGINES) {
      await attempt(`PocketShell (${engine})`, () => pocketshell(engine));
    }
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}`;
  const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
  const md = `## Shaped link (\`npm run bench:shaped\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. The link: ${DELAY_MS} ms one way and ${RATE_KBIT / 1000} Mbit/s each way, drop-tail queue of ${QUEUE_BYTES} bytes each way (≈${(((QUEUE_BYTES * 8) / (RATE_KBIT * 1000)) * 1000).toFixed(0)} ms at that rate), emulated by \`scripts/tun-shaper.py\` between two TUN devices in two network namespaces (server side 10.77.0.1, client side 10.77.0.2); measured on it: small-message TCP echo RTT ${link.rttMs.toFixed(1)} ms (TCP connect ${link.connectMs.toFixed(1)} ms), 1 MB over a fresh TCP connection ${link.downMbps.toFixed(2)} Mbit/s server→client and ${link.upMbps.toFixed(2)} Mbit/s client→server (slow start and one RTT included).

Method: the server side runs in the server namespace (a private \`sshd\`; \`mosh-server new\`; a \`pocketshell-relay\` and \`pocketshell daemon run\`), the client in the client namespace (\`ssh -tt\` and \`mosh-client\` in a local PTY; the Node \`Device\` in a child process, its ICE held to the link's two addresses, daemon and client on the same WebRTC engine; the device's signalling to the relay crosses the link too). Each sample: \`PS1\` is a marker, \`yes\` floods for ${FLOOD_MS} ms, then ^C is written and the time runs until the marker appears in what the client receives (for OpenSSH whatever was queued on the way drains first; mosh and PocketShell send the screen — PocketShell switches to screen sync on a link this slow, docs/transport.md — so the marker can arrive inside a screen update). Median of ${SAMPLES}, individual samples beside it.

Keystroke to glyph (issue 17's predictive echo): after the Ctrl-C samples, at the prompt, \`echo \` and then ${GLYPH_KEYS.length} keys typed one at a time, each after the echo of the one before (as a person typing slower than the RTT); the time from writing the key to the client's PTY until the glyph is in what the client draws — mosh's prediction or PocketShell's (\`pocketshell connect --predict auto\`, a second device on the same daemon), or the echo for OpenSSH. \`echo \` goes first because the first key after a prompt is never predicted (a new epoch waits for the host's echo, in mosh as here): the keys measured are steady typing. PocketShell's device first types and drops one word, as its engine learns the RTT from echoes (so does mosh's, from its own traffic). Median and all samples.

| system | Ctrl-C to prompt under \`yes\` (median) | samples | keystroke to glyph (median) | samples |
|---|---:|---|---:|---|
${rows
  .map((r) => {
    const glyph =
      r.glyph.length > 0
        ? `${median(r.glyph).toFixed(1)} ms | ${r.glyph.map((ms) => ms.toFixed(1)).join(', ')}`
        : '– | –';
    return r.samples.length > 0
      ? `| ${r.name} | ${fmt(median(r.samples))} | ${r.samples.map(fmt).join(', ')} | ${glyph} |`
      : `| ${r.name} | – | ${r.note ?? ''} | ${glyph} |`;
  })
  .join('\n')}

![Ctrl-C to prompt on the shaped link](benchmarks-shaped.svg)
`;
  const svg = barChart(
    rows.map((r) => r.name),
    [
      {
        title: `Ctrl-C to prompt under yes, ${DELAY_MS} ms / ${RATE_KBIT / 1000} Mbit/s link`,
        unit: 'ms',
        lowerIsBetter: true,
        values: rows.map((r) => (r.samples.length > 0 ? Math.round(median(r.samples)) : null)),
      },
    ],
  );
  writeFileSync(new URL('../../docs/benchmarks-shaped.svg', import.meta.url), svg);
  writeSection('shaped', md);
  console.log(md);
}

try {
  await main();
} finally {
  cleanup();
}
process.exit(0);
