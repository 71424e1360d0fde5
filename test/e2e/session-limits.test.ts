/**
 * Session limits end to end (docs/host.md "Session limits"; issue 12): a
 * real relay process, a real host agent (real PTYs, werift peers) and
 * paired Node devices. A device given an idle timeout or a maximum lifetime
 * sees its session end with `exit` carrying the reason, the shell is hung
 * up (SIGHUP: 129), `session.closed` is audited with the reason, and the
 * owner's device — no limits, the default — keeps its session. Then the
 * CLI: `pocketshell devices limits` writes config.json (checked, in
 * minutes) and a running daemon applies it at once. Limits are a second or
 * two here; the tests wait for what happens, they never time it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost, TerminalClient } from '@pocketshell/client';
import { type OpenedHost, openHost, statePaths } from '@pocketshell/host-core';
import { type Grant, generateKeyPair } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import {
  endHolder,
  loopbackDevice,
  openLoopbackHost,
  POCKETSHELL,
  pocketshell,
  until,
  waitForOutput,
} from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

let relay: StartedRelay;
let home: string;
let host: OpenedHost;
const devices: Device[] = [];

async function pairDevice(grants: Grant[] = ['shell']): Promise<{ device: Device; host: PairedHost }> {
  const device = loopbackDevice(relay.wsUrl, generateKeyPair());
  devices.push(device);
  const { host: pairedHost } = await pairNodeDevice(host.agent, device, {
    webUrl: relay.url,
    grants,
    name: 'limits test',
  });
  return { device, host: pairedHost };
}

function audit(): Record<string, unknown>[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Runs `echo <word>` in the terminal and waits for its output (input from the device). */
async function run(term: TerminalClient, word: string): Promise<void> {
  let text = '';
  const seen = new Promise<void>((resolve) => {
    const off = term.on('data', ({ bytes }) => {
      text += new TextDecoder().decode(bytes);
      if (text.includes(`${word}-ok`)) {
        off();
        resolve();
      }
    });
  });
  term.write(`echo ${word}-o""k\r`);
  await seen;
}

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-limits-'));
  host = await openLoopbackHost(relay.wsUrl, home);
  host.agent.start();
});

after(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('a device with an idle timeout loses its idle session (exit reason idle_timeout, SIGHUP, audited); the owner keeps theirs', async () => {
  const owner = await pairDevice();
  const tablet = await pairDevice();
  host.sessions.setTimeouts({ devices: { [tablet.device.id]: { idleMs: 1500 } } });
  const co = await owner.device.connect(owner.host.id);
  const ct = await tablet.device.connect(tablet.host.id);
  try {
    const mine = await co.openTerminal('new');
    const theirs = await ct.openTerminal('new');
    await run(mine, 'owner');
    await run(theirs, 'tablet');
    const mineId = (await mine.attachedOnce).session;
    const theirsId = (await theirs.attachedOnce).session;
    // Nobody types any more: the tablet's session ends by its idle timeout.
    const code = await theirs.exited;
    assert.equal(theirs.exitReason, 'idle_timeout');
    assert.equal(code, 129, 'hung up (SIGHUP)');
    await until(() =>
      audit().some(
        (e) =>
          e.event === 'session.closed' &&
          e.session === theirsId &&
          e.reason === 'idle_timeout' &&
          e.code === 129,
      ),
    );
    // The owner's session, started at the same time and as idle, has no limit.
    assert.equal(host.sessions.get(mineId)?.state, 'RUNNING');
    assert.equal(mine.exitCode, undefined);
    await run(mine, 'still');
  } finally {
    host.sessions.setTimeouts({});
    await Promise.all([co.close(), ct.close()]);
  }
});

test('a device with a maximum lifetime loses its session at the end of it (exit reason max_lifetime, audited)', async () => {
  const tablet = await pairDevice();
  host.sessions.setTimeouts({ devices: { [tablet.device.id]: { maxLifetimeMs: 2000 } } });
  const ct = await tablet.device.connect(tablet.host.id);
  try {
    const term = await ct.openTerminal('new');
    await run(term, 'busy');
    const id = (await term.attachedOnce).session;
    assert.equal(await term.exited, 129);
    assert.equal(term.exitReason, 'max_lifetime');
    await until(() =>
      audit().some((e) => e.event === 'session.closed' && e.session === id && e.reason === 'max_lifetime'),
    );
  } finally {
    host.sessions.setTimeouts({});
    await ct.close();
  }
});

test('closing a session by request tells its watchers reason closed', async () => {
  const d = await pairDevice();
  const c = await d.device.connect(d.host.id);
  try {
    const term = await c.openTerminal('new');
    const id = (await term.attachedOnce).session;
    await c.call('sessions.close', { id });
    await term.exited;
    assert.equal(term.exitReason, 'closed');
    await until(() =>
      audit().some((e) => e.event === 'session.closed' && e.session === id && e.reason === 'closed'),
    );
  } finally {
    await c.close();
  }
});

test('pocketshell devices limits writes checked minutes to config.json, and a running daemon applies them at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-limits-cli-'));
  const env = {
    POCKETSHELL_HOME: join(dir, 'state'),
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ENGINE: 'werift',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    HOME: dir,
    DBUS_SESSION_BUS_ADDRESS: '',
  };
  const paths = statePaths({ root: env.POCKETSHELL_HOME });
  // Made (and a device pinned) before the daemon runs, as `pocketshell pair` would have.
  const made = await openHost({ paths, relayUrl: relay.wsUrl, env: { ...process.env, ...env } });
  const device = made.trust.pin({
    publicKey: generateKeyPair().publicKey,
    name: 'tablet',
    grants: ['shell'],
  });
  await made.close();
  const daemon = spawn(process.execPath, [POCKETSHELL, 'daemon', 'run', '--relay', relay.url], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.once('exit', () => endHolder(env.POCKETSHELL_HOME));
  const live = async () => {
    const r = await pocketshell(['status', '--json'], env);
    return (JSON.parse(r.stdout) as { daemon: { sessionLimits?: unknown } }).daemon.sessionLimits;
  };
  try {
    await waitForOutput(daemon, /relay \S+: ready/);
    assert.deepEqual(await live(), {}, 'no limits by default');
    const set = await pocketshell(['devices', 'limits', device.id, '--idle', '30m', '--lifetime', '8h'], env);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /idle 30m, lifetime 8h/);
    const def = await pocketshell(['devices', 'limits', 'default', '--lifetime', '2d'], env);
    assert.equal(def.code, 0, def.stderr);
    const config = JSON.parse(readFileSync(paths.config, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config.sessionLimits, {
      default: { maxLifetimeMinutes: 2880 },
      devices: { [device.id]: { idleMinutes: 30, maxLifetimeMinutes: 480 } },
    });
    // The running daemon took them without a restart (milliseconds inside).
    assert.deepEqual(await live(), {
      default: { maxLifetimeMs: 2880 * 60_000 },
      devices: { [device.id]: { idleMs: 30 * 60_000, maxLifetimeMs: 480 * 60_000 } },
    });
    const show = await pocketshell(['devices', 'limits', device.id, '--json'], env);
    assert.deepEqual(JSON.parse(show.stdout).effective, { idleMinutes: 30, maxLifetimeMinutes: 480 });
    // `off` lifts a limit for one device even when the default sets it.
    const off = await pocketshell(['devices', 'limits', device.id, '--lifetime', 'off'], env);
    assert.match(off.stdout, /idle 30m, lifetime off/);
    // Refusals: a bad duration is a usage error, an unknown device not_found; nothing is written.
    const before = readFileSync(paths.config, 'utf8');
    const bad = await pocketshell(['devices', 'limits', device.id, '--idle', '30 minutes'], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--idle takes a duration/);
    const unknown = await pocketshell(['devices', 'limits', `d_${'a'.repeat(26)}`, '--idle', '5m'], env);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no paired device/);
    assert.equal(readFileSync(paths.config, 'utf8'), before);
  } finally {
    daemon.kill('SIGTERM');
    if (daemon.exitCode === null) await once(daemon, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
});
