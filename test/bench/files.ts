/**
 * `npm run bench:files` (issue 15): file throughput both ways on loopback,
 * in one run, side by side:
 * - the raw data-channel rate: two node-datachannel peers on 127.0.0.1,
 *   this process and raw-peer.ts (two processes, as PocketShell's two ends
 *   are), 16 KiB binary messages through `ChannelWriter` (paced by
 *   `bufferedAmount`), both ways, no files, no framing — the ceiling;
 * - PocketShell: a real relay process, a real `pocketshell daemon run`
 *   (node-datachannel) and the Node `FilesClient` here — `downloadFile`
 *   and `uploadFile` of one file (SHA-256 on both ends, fsync and atomic
 *   rename on upload); and the same through the `pocketshell cp` command
 *   (a process per copy, its connection included);
 * - `scp` to a private OpenSSH server on 127.0.0.1 (ssh.ts; ed25519 keys).
 * Each figure is the median of `BENCH_FILES_RUNS` (3) runs with their
 * spread; the file is `BENCH_FILES_MB` (256) MiB of random bytes. Writes
 * the "Files" section of docs/benchmarks.md and prints it. `iceServers: []`,
 * candidates filtered to 127.0.0.1: nothing leaves loopback.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Device } from '@pocketshell/client';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { isLoopbackIPv4, NodeDataChannelEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import { POCKETSHELL, pocketshell, startReadyDaemon, until } from '../support/cli.ts';
import { browserAvailable, chromiumFilesBench } from './files-chromium.ts';
import { median, writeSection } from './measure.ts';
import { openRawChannel } from './raw-channel.ts';
import { rawChromiumBench } from './raw-chromium.ts';
import { sshOptions, startSshd } from './ssh.ts';

const MIB = 2 ** 20;
const SIZE_MB = Number(process.env.BENCH_FILES_MB ?? 256);
const SIZE = SIZE_MB * MIB;
const RUNS = Number(process.env.BENCH_FILES_RUNS ?? 3);
const CHROMIUM_MB = Number(process.env.BENCH_FILES_CHROMIUM_MB ?? 64);
const run = promisify(execFile);

const work = mkdtempSync(join(tmpdir(), 'pocketshell-filesbench-'));
const hostHome = join(work, 'host');
const here = join(work, 'here');
mkdirSync(hostHome);
mkdirSync(here);
const source = join(hostHome, 'data.bin');

/** `SIZE` random bytes (nothing compresses them), written in 4 MiB pieces; their SHA-256. */
function makeFile(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let at = 0; at < SIZE; at += 4 * MIB) {
    const piece = randomBytes(Math.min(4 * MIB, SIZE - at));
    hash.update(piece);
    writeSync(fd, piece);
  }
  closeSync(fd);
  return hash.digest('hex');
}

/** The SHA-256 of a file, read in 4 MiB pieces. */
function sha256Of(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(4 * MIB);
  for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  closeSync(fd);
  return hash.digest('hex');
}

/** MiB/s of `SIZE` bytes in `ms`. */
const rate = (ms: number) => SIZE / MIB / (ms / 1000);

/** Runs `once` `RUNS` times (after `prepare` each time), each timed; MiB/s. */
async function timed(what: string, prepare: () => void | Promise<void>, once: () => Promise<void>) {
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await prepare();
    const t0 = performance.now();
    await once();
    rates.push(rate(performance.now() - t0));
    console.error(`${what} run ${i + 1}: ${rates.at(-1)!.toFixed(1)} MiB/s`);
  }
  return rates;
}

// ---------------------------------------------------------------- the raw channel

/** Both directions between this process and raw-peer.ts (another process, as the daemon is). */
async function rawChannel(): Promise<{ down: number[]; up: number[] }> {
  const raw = await openRawChannel();
  try {
    const up = await timed(
      'raw data channel, here → there',
      () => {},
      async () => void (await raw.send(SIZE)),
    );
    const down = await timed(
      'raw data channel, there → here',
      () => {},
      async () => void (await raw.receive(SIZE, 16 * 1024)),
    );
    return { down, up };
  } finally {
    await raw.close();
  }
}

// ---------------------------------------------------------------- OpenSSH

async function scp(sum: string) {
  const sshd = await startSshd({ dir: join(work, 'ssh'), home: hostHome });
  const opts = sshOptions(sshd.port, sshd.key).map((o) => (o === '-p' ? '-P' : o));
  const user = process.env.USER ?? 'root';
  const local = join(here, 'scp.bin');
  try {
    const down = await timed(
      'scp download',
      () => rmSync(local, { force: true }),
      async () => {
        await run('scp', ['-q', ...opts, `${user}@127.0.0.1:${source}`, local]);
      },
    );
    if (sha256Of(local) !== sum) throw new Error('scp download: wrong bytes');
    const remote = join(hostHome, 'scp-up.bin');
    const up = await timed(
      'scp upload',
      () => rmSync(remote, { force: true }),
      async () => {
        await run('scp', ['-q', ...opts, local, `${user}@127.0.0.1:${remote}`]);
      },
    );
    if (sha256Of(remote) !== sum) throw new Error('scp upload: wrong bytes');
    rmSync(remote, { force: true });
    return { down, up };
  } finally {
    rmSync(local, { force: true });
    sshd.proc.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------- PocketShell

async function pocketShell(sum: string) {
  const relay: StartedRelay = await startRelay();
  const psEnv = {
    LANG: 'C.UTF-8',
    HOME: hostHome,
    SHELL: '/bin/sh',
    POCKETSHELL_ENGINE: 'node-datachannel',
    POCKETSHELL_HOME: join(work, 'state-host'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  const cliEnv = { ...psEnv, HOME: here, POCKETSHELL_HOME: join(work, 'state-cli') };
  const daemon = await startReadyDaemon(psEnv, relay.url);
  const device = new Device({
    keyPair: generateKeyPair(),
    relayUrl: relay.wsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine: new NodeDataChannelEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
  });
  device.start();
  const pairUrl = async () => {
    const pair = spawn(
      process.execPath,
      [POCKETSHELL, 'pair', '--yes', '--grants', 'files:read,files:write'],
      {
        env: { ...process.env, ...psEnv },
      },
    );
    let out = '';
    pair.stdout.on('data', (d: Buffer) => (out += d));
    await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
    return {
      url: /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0],
      exited: new Promise((r) => pair.on('exit', r)),
    };
  };
  try {
    const p1 = await pairUrl();
    const host = await device.pair(p1.url, { name: 'bench' });
    await p1.exited;
    const conn = await device.connect(host.id);
    const files = await conn.openFiles();
    const local = join(here, 'ps.bin');
    const down = await timed(
      'PocketShell download (FilesClient)',
      () => rmSync(local, { force: true }),
      async () => {
        const r = await files.downloadFile('data.bin', local);
        if (r.sha256 !== sum) throw new Error('PocketShell download: wrong hash');
      },
    );
    if (sha256Of(local) !== sum) throw new Error('PocketShell download: wrong bytes');
    const remote = join(hostHome, 'ps-up.bin');
    const up = await timed(
      'PocketShell upload (FilesClient)',
      () => rmSync(remote, { force: true }),
      async () => {
        const r = await files.uploadFile(local, 'ps-up.bin');
        if (r.sha256 !== sum) throw new Error('PocketShell upload: wrong hash');
      },
    );
    if (sha256Of(remote) !== sum) throw new Error('PocketShell upload: wrong bytes');
    files.close();
    await conn.close();

    // The same through the CLI, paired as a device of its own; each copy a new process and connection.
    const p2 = await pairUrl();
    const paired = await pocketshell(['device', 'pair', p2.url, '--name', 'bench-cli'], cliEnv);
    if (paired.code !== 0) throw new Error(`device pair: ${paired.stderr}`);
    await p2.exited;
    const cliLocal = join(here, 'cli.bin');
    const cp = async (args: string[]) => {
      const r = await pocketshell(['cp', '--quiet', ...args], cliEnv, 600_000);
      if (r.code !== 0) throw new Error(`pocketshell cp ${args.join(' ')}: ${r.stderr}`);
    };
    const cliDown = await timed(
      'pocketshell cp download',
      () => rmSync(cliLocal, { force: true }),
      () => cp([`${host.name}:data.bin`, cliLocal]),
    );
    if (sha256Of(cliLocal) !== sum) throw new Error('pocketshell cp download: wrong bytes');
    const cliUp = await timed(
      'pocketshell cp upload',
      () => rmSync(remote, { force: true }),
      () => cp([cliLocal, `${host.name}:ps-up.bin`]),
    );
    if (sha256Of(remote) !== sum) throw new Error('pocketshell cp upload: wrong bytes');
    rmSync(remote, { force: true });
    rmSync(local, { force: true });
    rmSync(cliLocal, { force: true });
    return { down, up, cliDown, cliUp };
  } finally {
    await device.close();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await relay.stop();
  }
}

// ---------------------------------------------------------------- the table

/** `median MiB/s (min–max)`. */
function cell(rates: number[]): string {
  const lo = Math.min(...rates);
  const hi = Math.max(...rates);
  return `${median(rates).toFixed(1)} MiB/s (${lo.toFixed(1)}–${hi.toFixed(1)})`;
}

async function main(): Promise<void> {
  try {
    const load = loadavg()[0]!.toFixed(2);
    const sum = makeFile(source);
    const raw = await rawChannel();
    const ssh = await scp(sum);
    const ps = await pocketShell(sum);
    const browser = browserAvailable()
      ? {
          files: await chromiumFilesBench({ sizeMB: CHROMIUM_MB, runs: RUNS }),
          raw: await rawChromiumBench({ sizeMB: CHROMIUM_MB, runs: RUNS }),
        }
      : undefined;
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}`;
    const pct = (rates: number[], of: number[]) => `${((median(rates) / median(of)) * 100).toFixed(0)} %`;
    const markdown = `## Files (\`npm run bench:files\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machine} (load average ${load} at the start: the figures move with what else runs). One ${SIZE_MB} MiB file of random bytes each way, on loopback, in one run; median of ${RUNS} runs (min–max), from the start of the copy to the last byte on disk. PocketShell: a \`pocketshell-relay\` process, a \`pocketshell daemon run\` process (node-datachannel) and the Node \`FilesClient\` in the bench process over one \`files\` channel (data frames with a 256 KiB window, SHA-256 of the whole file on both ends; an upload is fsynced and renamed into place); \`pocketshell cp\` is the CLI, one process per copy, its WebRTC connection included. \`scp\`: OpenSSH to a private \`sshd\` on 127.0.0.1 (ed25519 keys, default cipher). The raw data channel is two node-datachannel peers, the bench process and another one (test/bench/raw-peer.ts), as PocketShell's two ends are, sending 16 KiB binary messages paced by \`bufferedAmount\` (at most 256 KiB queued), with no files, framing or hashing: the ceiling for PocketShell's transfers. "Download" there is the other process sending to the bench process.

| | download (host → here) | upload (here → host) |
|---|---:|---:|
| raw data channel (node-datachannel, two processes) | ${cell(raw.down)} | ${cell(raw.up)} |
| PocketShell, \`FilesClient\` | ${cell(ps.down)} (${pct(ps.down, raw.down)} of raw) | ${cell(ps.up)} (${pct(ps.up, raw.up)} of raw) |
| PocketShell, \`pocketshell cp\` (connection included) | ${cell(ps.cliDown)} | ${cell(ps.cliUp)} |
| \`scp\` (OpenSSH) | ${cell(ssh.down)} | ${cell(ssh.up)} |
${
  browser
    ? `| raw data channel, Chromium ↔ node-datachannel (${CHROMIUM_MB} MiB) | ${cell(browser.raw.down)} | ${cell(browser.raw.up)} |
| PocketShell, Chromium web client (${CHROMIUM_MB} MiB) | ${cell(browser.files.down)} (${pct(browser.files.down, browser.raw.down)} of raw) | ${cell(browser.files.up)} (${pct(browser.files.up, browser.raw.up)} of raw) |

The Chromium rows: headless Chromium ${browser.files.chromium} (phone emulation), the built web client's Files screen paired to its own \`pocketshell daemon run\` (node-datachannel) and relay processes; upload from \`setInputFiles\` to the transfer's line saying done (the host checked the SHA-256, fsynced and renamed the file), download from the tap to done (the page checked the SHA-256 and built the Blob); SHA-256 in a Web Worker. Their raw channel is a bare \`RTCPeerConnection\` in a page and a node-datachannel peer in the bench process, 16 KiB messages, at most 256 KiB queued: the browser's channel, not PocketShell, is what bounds these (see "Files: what bounds a transfer" below).
`
    : '(Chromium not installed: no browser rows.)\n'
}`;
    writeSection('files', markdown);
    console.log(markdown);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
