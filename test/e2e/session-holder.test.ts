/**
 * Sessions outlive the daemon (docs/host.md "Session holder"): real
 * processes on loopback — a relay, `pocketshell daemon start` (the detached
 * service), its session holder, a Node device. A shell running
 * `sleep 1000` with a marker on its screen survives `pocketshell daemon
 * restart` and a `kill -9` of the daemon: the device reattaches to the same
 * session (same shell pid, same sleep, the marker in the snapshot), and
 * Ctrl-C and a command still work. `pocketshell daemon stop` ends the holder
 * and its shells.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection, PairedHost, TerminalClient } from '@pocketshell/client';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, POCKETSHELL, pocketshell, until, waitForText } from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
let env: Record<string, string>;
let device: Device;
let host: PairedHost;

interface Listed {
  sessions: { id: string; pid: number; state: string }[];
}

interface Status {
  pid?: number;
  relay?: { state: string };
  holder?: { pid: number };
}

async function daemonStatus(): Promise<Status | null> {
  const r = await pocketshell(['status', '--json'], env);
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout) as { daemon: Status | null }).daemon;
}

async function ready(): Promise<number> {
  let pid = 0;
  await until(
    async () => {
      const d = await daemonStatus().catch(() => null);
      pid = d?.pid ?? 0;
      return d?.relay?.state === 'ready';
    },
    30_000,
    200,
  );
  return pid;
}

async function sessions(): Promise<Listed> {
  const r = await pocketshell(['sessions', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of `sleep 1000` whose parent is `parent`, or 0. */
function sleepUnder(parent: number): number {
  try {
    return Number(
      execFileSync('pgrep', ['-P', String(parent), '-x', 'sleep'])
        .toString()
        .trim()
        .split('\n')[0],
    );
  } catch {
    return 0;
  }
}

/** A fresh connection to the host (the last one died with the daemon), retried until it opens. */
async function reconnect(): Promise<HostConnection> {
  let conn: HostConnection | undefined;
  await until(
    async () => {
      try {
        conn = await device.connect(host.id);
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    300,
  );
  return conn!;
}

/** Opens `term:<id>` and collects what arrives (the snapshot first). */
async function reattach(
  conn: HostConnection,
  id: string,
): Promise<{ term: TerminalClient; text: () => string }> {
  const term = await conn.openTerminal(id, { cols: 80, rows: 24 });
  let text = '';
  term.on('data', ({ bytes }) => {
    text += new TextDecoder().decode(bytes);
  });
  return { term, text: () => text };
}

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'ps-holder-'));
  env = {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_SERVICE: 'detached',
    HOME: home,
    SHELL: '/bin/bash',
  };
  const started = await pocketshell(['daemon', 'start', '--relay', relay.url], env);
  assert.equal(started.code, 0, started.stderr);
  await ready();
  device = loopbackDevice(relay.wsUrl);
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'shell'], {
    env: { ...process.env, ...env },
  });
  let out = '';
  pair.stdout.on('data', (d: Buffer) => (out += d));
  pair.stderr.on('data', (d: Buffer) => (out += d));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 50);
  host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'holder test' });
  assert.equal(await new Promise<number | null>((r) => pair.on('exit', r)), 0, out);
});

after(async () => {
  await device?.close();
  await pocketshell(['daemon', 'stop'], env).catch(() => {});
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('a shell running sleep 1000 survives daemon restart and kill -9: same session, pid and screen; stop ends it', async () => {
  let conn = await device.connect(host.id);
  const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
  const id = term.session;
  term.write('echo marker-$((6*7)); sleep 1000\r');
  await waitForText(term, /marker-42/);
  const shellPid = (await sessions()).sessions.find((s) => s.id === id)!.pid;
  await until(() => sleepUnder(shellPid) > 0, 10_000);
  let sleepPid = sleepUnder(shellPid);
  const holderPid = Number(readFileSync(join(env.POCKETSHELL_HOME!, 'holder.pid'), 'utf8'));
  assert.ok(alive(holderPid), 'the holder runs');
  assert.equal((await daemonStatus())?.holder?.pid, holderPid, 'status names the holder');
  const text = await pocketshell(['status'], env);
  assert.match(text.stdout, new RegExp(`sessions: +in the session holder \\(pid ${holderPid}\\)`));

  const restart = await pocketshell(['daemon', 'restart'], env);
  assert.equal(restart.code, 0, restart.stderr);
  await ready();
  conn = await reconnect();
  const after1 = await reattach(conn, id);
  await until(() => after1.text().includes('marker-42'), 10_000);
  const listed = (await sessions()).sessions.find((s) => s.id === id);
  assert.equal(listed?.pid, shellPid, 'the same shell');
  assert.equal(sleepUnder(shellPid), sleepPid, 'the same sleep');
  after1.term.write('\x03');
  after1.term.write('echo after-$((1+1))\r');
  await waitForText(after1.term, /after-2/);
  after1.term.write('echo again-$((2+3)); sleep 1000\r');
  await waitForText(after1.term, /again-5/);
  await until(() => sleepUnder(shellPid) > 0, 10_000);
  sleepPid = sleepUnder(shellPid);

  // A crash: kill -9, then start it again (the detached service does not restart by itself).
  const daemonPid = (await daemonStatus())!.pid!;
  process.kill(daemonPid, 'SIGKILL');
  await until(() => !alive(daemonPid), 10_000);
  const started = await pocketshell(['daemon', 'start'], env);
  assert.equal(started.code, 0, started.stderr);
  await ready();
  conn = await reconnect();
  const after2 = await reattach(conn, id);
  await until(() => after2.text().includes('again-5'), 10_000);
  assert.equal((await sessions()).sessions.find((s) => s.id === id)?.pid, shellPid);
  assert.equal(sleepUnder(shellPid), sleepPid, 'the same sleep after kill -9');
  assert.equal(Number(readFileSync(join(env.POCKETSHELL_HOME!, 'holder.pid'), 'utf8')), holderPid);
  after2.term.write('\x03');
  after2.term.write('echo crash-$((3*3))\r');
  await waitForText(after2.term, /crash-9/);

  // Stop means stopped: the holder and its shell end too.
  const stop = await pocketshell(['daemon', 'stop'], env);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`Ended the session holder \\(pid ${holderPid}\\) and its 1 shell\\.`));
  await until(() => !alive(holderPid) && !alive(shellPid) && !alive(sleepPid), 10_000);
  assert.ok(!existsSync(join(env.POCKETSHELL_HOME!, 'holder.sock')), 'the socket is removed');
});
