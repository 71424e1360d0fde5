/**
 * The real processes, end to end on loopback: a `pocketshell-relay`
 * process, a `pocketshell daemon run` process started the way a careless
 * script would (from a non-interactive shell, in the background, stdin from
 * /dev/null, so SIGINT and SIGQUIT arrive ignored), `pocketshell pair`
 * talking to it over its local socket, and a Node device in this process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection, PairedHost } from '@pocketshell/client';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, POCKETSHELL, pocketshell, until, waitForText } from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
let env: Record<string, string>;
let daemonPid = 0;
let device: Device;
let host: PairedHost;
let conn: HostConnection;

/** The daemon's relay state via `pocketshell status --json` (undefined while it is still starting). */
async function relayState(): Promise<string | undefined> {
  try {
    return (await status()).daemon.relay?.state;
  } catch {
    return undefined;
  }
}

async function status(): Promise<{
  daemon: { running: boolean; relay?: { state: string }; sessions?: unknown[] };
}> {
  const r = await pocketshell(['status', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-daemon-'));
  env = {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
    SHELL: '/bin/bash',
  };
  // Started like `sh -c 'cmd &'` from cron or a CI script: the shell sets SIGINT/SIGQUIT to ignored for it.
  const log = join(home, 'daemon.log');
  const script = `"${process.execPath}" "${POCKETSHELL}" daemon run --relay ${relay.url} > "${log}" 2>&1 < /dev/null & echo $!`;
  daemonPid = Number(
    execFileSync('/bin/sh', ['-c', script], { env: { ...process.env, ...env } })
      .toString()
      .trim(),
  );
  await until(async () => (await relayState()) === 'ready', 30_000, 200);
  // The shell handed the daemon SIGINT (bit 1) and SIGQUIT (bit 2) ignored; the daemon must not keep them so.
  const sigIgn = BigInt(
    `0x${/SigIgn:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${daemonPid}/status`, 'utf8'))![1]}`,
  );
  assert.equal(sigIgn & 6n, 0n, `daemon ignores SIGINT or SIGQUIT (SigIgn ${sigIgn.toString(16)})`);

  device = loopbackDevice(relay.wsUrl);
  const { spawn } = await import('node:child_process');
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'shell'], {
    env: { ...process.env, ...env },
  });
  let out = '';
  pair.stdout.on('data', (d: Buffer) => (out += d));
  pair.stderr.on('data', (d: Buffer) => (out += d));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 50);
  const url = /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0];
  let deviceSas = '';
  host = await device.pair(url, { name: 'daemon test', onSas: (s) => (deviceSas = s) });
  const code = await new Promise<number | null>((resolve) => pair.on('exit', resolve));
  assert.equal(code, 0, out);
  assert.ok(
    out.includes(`code: ${deviceSas.slice(0, 3)} ${deviceSas.slice(3)}`),
    `host printed the same SAS: ${out}`,
  );
  conn = await device.connect(host.id);
});

after(async () => {
  await device?.close();
  if (daemonPid) {
    try {
      process.kill(daemonPid, 'SIGTERM');
    } catch {}
    await until(() => {
      try {
        process.kill(daemonPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 15_000).catch(() => process.kill(daemonPid, 'SIGKILL'));
  }
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('echo $((6*7)) prints 42 through the daemon', async () => {
  const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
  term.write('echo $((6*7))\r');
  await waitForText(term, /[\r\n]42\r\n/);
  term.close();
});

test('Ctrl-C interrupts sleep 100 in a session of a daemon started from a background shell', async () => {
  const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
  term.write('echo ready-$((2+2))\r');
  await waitForText(term, /ready-4/);
  term.write('sleep 100\r');
  await new Promise((r) => setTimeout(r, 500));
  const back = waitForText(term, /after-2/, 15_000);
  term.write('\x03');
  term.write('echo after-$((1+1))\r');
  await back;
  term.close();
});

test('the relay killed and restarted mid-session: the terminal keeps working and the daemon reconnects', async () => {
  const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
  await relay.kill('SIGKILL');
  term.write('echo p2p-$((3*3))\r');
  await waitForText(term, /p2p-9/);
  await relay.restart();
  await until(async () => (await relayState()) === 'ready', 30_000, 200);
  term.write('echo still-$((5*5))\r');
  await waitForText(term, /still-25/);
  const sessions = await pocketshell(['sessions', '--json'], env);
  assert.equal(sessions.code, 0);
  const listed = JSON.parse(sessions.stdout) as {
    sessions: { id: string }[];
    links: Record<string, { mode: string; rate: number; minRtt: number | null }[]>;
  };
  assert.ok(listed.sessions.some((s) => s.id === term.session));
  // The attachment's pacing: streaming on loopback, with a measured rate and round trip.
  const [link] = listed.links[term.session] ?? [];
  assert.equal(link?.mode, 'stream');
  assert.ok((link?.rate ?? 0) > 0 && link?.minRtt !== null, JSON.stringify(link));
  const human = await pocketshell(['sessions'], env);
  assert.match(human.stdout, new RegExp(`${term.session}.*stream [\\d.]+ MB/s rtt [\\d.]+ ms`));
  term.close();
});

test('audit log verifies and holds the pairing and the connection', async () => {
  const r = await pocketshell(['audit', 'verify'], env);
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(join(env.POCKETSHELL_HOME!, 'audit.jsonl'), 'utf8').trim().split('\n');
  const events = lines.map((l) => (JSON.parse(l) as { event: string }).event);
  assert.ok(
    events.includes('pairing') && events.includes('connection') && events.includes('session.opened'),
    events.join(),
  );
});

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

test('flood: `yes` with a slow reader — flow control holds the host back, its memory stays bounded, Ctrl-C still works', async () => {
  const term = await conn.openTerminal('new', { cols: 80, rows: 24, autoAck: false });
  term.ack();
  const base = rssKiB(daemonPid);
  // Bytes that reached the device (live output and snapshots alike), and how many of them
  // were not yet acknowledged at most: what the host let itself have in flight.
  let wire = 0;
  let wireAtAck = 0;
  let peakUnacked = 0;
  const start = term.offset;
  term.on('data', ({ bytes }) => {
    wire += bytes.length;
    peakUnacked = Math.max(peakUnacked, wire - wireAtAck);
  });
  term.write('yes\r');
  let peakRss = base;
  // Read slowly: acknowledge what has arrived only every 50 ms, for 4 seconds.
  for (let i = 0; i < 80; i++) {
    await new Promise((r) => setTimeout(r, 50));
    term.ack();
    wireAtAck = wire;
    peakRss = Math.max(peakRss, rssKiB(daemonPid));
  }
  // Without flow control `yes` would have pushed far more than the window at the reader.
  assert.ok(peakUnacked <= 256 * 1024 + 64 * 1024, `unacknowledged bytes peaked at ${peakUnacked}`);
  assert.ok(term.offset - start > 256 * 1024, `the flood moved (${term.offset - start} bytes)`);
  assert.ok(wire < 80 * (256 * 1024 + 64 * 1024), `${wire} bytes reached the reader`);
  assert.ok(peakRss - base < 64 * 1024, `daemon RSS grew by ${(peakRss - base) / 1024} MiB`);
  // Ctrl-C, then read freely: the prompt comes back.
  const back = waitForText(term, /flood-over-7/, 20_000);
  term.write('\x03');
  const drain = setInterval(() => term.ack(), 10);
  term.write('echo flood-over-$((3+4))\r');
  try {
    await back;
  } finally {
    clearInterval(drain);
  }
  term.close();
});
