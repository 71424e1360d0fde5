/**
 * `pocketshell daemon start|status|stop|logs` with the detached fallback
 * (this test environment has no systemd user manager; the backend is also
 * forced with POCKETSHELL_SERVICE=detached so the test means the same
 * everywhere): start → status running → a second start and a hand-started
 * daemon are refused or no-ops → stop really stops → a stale pid file does
 * not block the next start → logs print the daemon's output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { POCKETSHELL, pocketshell } from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
let env: Record<string, string>;
let state: string;

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-service-'));
  state = join(home, 'state');
  env = {
    POCKETSHELL_HOME: state,
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_SERVICE: 'detached',
    HOME: home,
    SHELL: '/bin/bash',
  };
});

after(async () => {
  const pid = Number(
    existsSync(join(state, 'daemon.pid')) ? readFileSync(join(state, 'daemon.pid'), 'utf8') : 0,
  );
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

interface Status {
  service: { kind: string; running: boolean; pid?: number; detail: string };
  daemon: { pid: number; relay: { state: string }; keystore: { kind: string }; version: string } | null;
}

async function status(): Promise<{ code: number | null; s: Status }> {
  const r = await pocketshell(['daemon', 'status', '--json'], env);
  return { code: r.code, s: JSON.parse(r.stdout) as Status };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (not reaped by this container's init) has an empty command line.
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
}

test('start, status, single instance, stop, stale pid file, logs', async () => {
  const start = await pocketshell(['daemon', 'start', '--relay', relay.url], env, 60_000);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /running \(pid \d+\) — detached process/);

  const first = await status();
  assert.equal(first.code, 0);
  assert.equal(first.s.service.kind, 'detached');
  assert.equal(first.s.service.running, true);
  const pid = first.s.service.pid!;
  assert.equal(first.s.daemon?.pid, pid, 'the pid file names the daemon that answers');
  assert.equal(first.s.daemon?.keystore.kind, 'file');
  assert.equal(Number(readFileSync(join(state, 'daemon.pid'), 'utf8')), pid);
  const human = await pocketshell(['daemon', 'status'], env);
  assert.match(human.stdout, /service: +running \(pid \d+\)/);
  assert.match(human.stdout, /relay: +ws:\/\/127\.0\.0\.1:\d+\/ws — (ready|connecting|authenticating)/);
  assert.match(human.stdout, /sessions: +0 live/);

  // A second start is a no-op naming the same process; a daemon by hand is refused.
  const again = await pocketshell(['daemon', 'start'], env, 60_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`pid ${pid}\\)`));
  const byHand = await pocketshell(['daemon', 'run'], env, 60_000);
  assert.notEqual(byHand.code, 0);
  assert.match(
    byHand.stderr,
    /already runs on .* stop it first: pocketshell daemon stop \[already_running\]/,
  );
  assert.equal((await status()).s.service.pid, pid);

  const stop = await pocketshell(['daemon', 'stop'], env, 60_000);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /not running/);
  assert.equal(pidAlive(pid), false, 'stop really stops the process');
  assert.equal(existsSync(join(state, 'daemon.pid')), false);
  const stopped = await status();
  assert.equal(stopped.code, 3, 'status exits 3 when not running');
  assert.equal(stopped.s.service.running, false);
  assert.equal(stopped.s.daemon, null);
  assert.equal((await pocketshell(['daemon', 'stop'], env)).code, 0, 'stop is idempotent');

  // A pid file left by a crash (a pid that is not a pocketshell daemon) is stale.
  const dead = spawn('/bin/true');
  await new Promise((r) => dead.on('exit', r));
  writeFileSync(join(state, 'daemon.pid'), `${dead.pid}\n`);
  assert.match((await pocketshell(['daemon', 'status'], env)).stdout, /stale pid file/);
  const restart = await pocketshell(['daemon', 'start'], env, 60_000);
  assert.equal(restart.code, 0, restart.stderr);
  const second = await status();
  assert.equal(second.s.service.running, true);
  assert.notEqual(second.s.service.pid, dead.pid);

  const logs = await pocketshell(['daemon', 'logs', '-n', '20'], env);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /relay ws:\/\/127\.0\.0\.1:\d+\/ws: ready$/m);

  // `logs -f` follows until interrupted.
  const follow = spawn(process.execPath, [POCKETSHELL, 'daemon', 'logs', '-f', '-n', '0'], {
    env: { ...process.env, ...env },
  });
  let followed = '';
  follow.stdout.on('data', (d: Buffer) => (followed += d));
  await new Promise((r) => setTimeout(r, 500));
  const marker = `marker ${Date.now()}`;
  writeFileSync(join(state, 'daemon.log'), `${marker}\n`, { flag: 'a' });
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (followed.includes(marker)) {
        clearInterval(t);
        resolve();
      }
    }, 50);
  });
  follow.kill('SIGINT');
  assert.equal(await new Promise((r) => follow.on('exit', (code) => r(code))), 0);

  const last = await pocketshell(['daemon', 'stop'], env, 60_000);
  assert.equal(last.code, 0, last.stderr);
  assert.equal(pidAlive(second.s.service.pid!), false);
});
