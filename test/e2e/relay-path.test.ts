/**
 * The relay path end to end (issue 20; docs/protocol.md §10): a real relay
 * process at debug log level, a real host agent with PTYs, stats and files,
 * and a Node device forced onto the relay path — no WebRTC peer at all.
 * The terminal echoes and carries a 1 MiB `cat` whole and in order; stats
 * and files (upload and download with their SHA-256) work unchanged above
 * it, under a relay `send` budget tight enough that the link must back off
 * and send refused frames again; a device whose WebRTC cannot connect falls back to it by itself. The
 * sentinel: text typed over the relay path appears in none of the relay's
 * database, WAL, logs or output.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Device, type PairedHost } from '@pocketshell/client';
import { isLoopbackIPv4, type OpenedHost, openHost, statePaths, WeriftEngine } from '@pocketshell/host-core';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { DATABASE_FILE } from '@pocketshell/relay';
import { limitsConfig, type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { RelayLink } from '@pocketshell/webrtc';
import { type IPty, spawn as ptySpawn } from 'node-pty';
import { WebSocket } from 'ws';
import { loopbackDevice, POCKETSHELL, pocketshell, until, waitForText } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

const TYPED = `SENTINEL-relaypath-${randomBytes(6).toString('hex')}`;

let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
let device: Device;
let paired: PairedHost;
const devices: Device[] = [];
/** While false the host offers and pairs no ICE candidate: WebRTC cannot connect. */
let directAllowed = true;
/** The CLI device's environment (its own state folder). */
let cliEnv: Record<string, string>;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-relaypath-relay-'));
  // A tight `send` budget (20 a second per identity, burst 20): the relay path must back off, not break.
  relay = await startRelay({
    dataDir,
    args: [
      '--log-level',
      'debug',
      '--config',
      limitsConfig({ rates: { send: { identity: { burst: 20, perSecond: 20 } } } }),
    ],
  });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-relaypath-host-'));
  mkdirSync(join(home, 'files'));
  host = await openHost({
    paths: statePaths({ root: join(home, 'state') }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    // Loopback only; and none at all while a test blocks WebRTC (the device then takes the relay path).
    localAddressFilter: (a) => directAllowed && isLoopbackIPv4(a),
    iceServers: [],
    minBackoffMs: 50,
    maxBackoffMs: 500,
    files: { root: join(home, 'files') },
  });
  host.agent.start();
  device = loopbackDevice(relay.wsUrl);
  devices.push(device);
  paired = (
    await pairNodeDevice(host.agent, device, {
      webUrl: relay.url,
      grants: ['shell', 'stats', 'files:read', 'files:write'],
      name: 'relay path',
    })
  ).host;
  // A second device: the CLI's, with its own state folder.
  cliEnv = {
    POCKETSHELL_HOME: join(home, 'cli-device'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
  };
  let cliPaired: Promise<unknown> = Promise.resolve();
  await host.agent.pair({
    webUrl: relay.url,
    grants: ['shell'],
    deviceTimeoutMs: 20_000,
    onUrl: (url) => {
      cliPaired = pocketshell(['device', 'pair', url], cliEnv);
    },
    confirm: async () => true,
  });
  await cliPaired;
});

after(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('the terminal works over the relay path: echo, and a 1 MiB cat whole and in order', async () => {
  const conn = await device.open(paired.id, { path: 'relay' });
  assert.ok(conn.peer instanceof RelayLink, 'a relay link, not a WebRTC peer');
  assert.equal(await conn.path(), 'relay');
  assert.deepEqual(
    host.agent.connections().map((c) => c.state),
    ['connected'],
  );
  const info = await conn.call('host.info');
  assert.equal(info.id, paired.id);

  const term = await conn.openTerminal('new', { cols: 120, rows: 40 });
  term.write(`echo ${TYPED}-$((6*7))\r`);
  const echoed = await waitForText(term, new RegExp(`${TYPED}-42`));
  assert.match(echoed, new RegExp(`${TYPED}-42`));

  // 16 384 numbered lines of 64 bytes: 1 MiB.
  const lines: string[] = [];
  for (let i = 0; i < 16_384; i++) lines.push(`L${String(i).padStart(5, '0')}-${'x'.repeat(56)}\n`);
  writeFileSync(join(home, 'big.txt'), lines.join(''));
  term.write(`cat ${join(home, 'big.txt')}; echo cat-done-$((3*4))\r`);
  const out = await waitForText(term, /cat-done-12\r\n/, 120_000);
  const seen = [...out.matchAll(/L(\d{5})-x{56}/g)].map((m) => Number(m[1]));
  assert.equal(seen.length, 16_384, 'every line arrived');
  assert.ok(
    seen.every((n, i) => n === i),
    'in order',
  );
  term.close();
  await conn.close();
});

test('stats and files work unchanged over the relay path', async () => {
  const conn = await device.connectRelay(paired.id);
  const stats = await conn.openStats();
  const snap = await stats.snapshot();
  assert.ok(snap.system.hostname.length > 0);
  assert.ok(snap.processes.length > 0);

  const files = await conn.openFiles();
  const big = randomBytes(3 * 1024 * 1024 + 777);
  writeFileSync(join(home, 'files', 'down.bin'), big);
  const parts: Buffer[] = [];
  const r = await files.download('down.bin', (chunk) => {
    parts.push(Buffer.from(chunk));
  });
  assert.equal(r.sha256, sha(big));
  assert.ok(Buffer.concat(parts).equals(big));

  const up = randomBytes(700_000);
  await files.upload(
    'up.bin',
    { size: up.length, read: async (offset: number, length: number) => up.subarray(offset, offset + length) },
    {},
  );
  assert.ok(readFileSync(join(home, 'files', 'up.bin')).equals(up));
  // The upload ran into the relay's send budget: frames were refused, sent again, none lost.
  const link = conn.peer as RelayLink;
  assert.ok(link.stats.throttled >= 1, `the relay throttled the upload (${JSON.stringify(link.stats)})`);
  assert.equal(link.connectionState, 'connected');
  const listing = await files.rpc.call('files.list', { path: '' });
  assert.deepEqual(listing.entries.map((e) => e.name).sort(), ['down.bin', 'up.bin']);
  await conn.close();
});

test('a device whose WebRTC cannot connect falls back to the relay path by itself', async () => {
  // No usable ICE candidate: WebRTC never connects.
  const stuck = new Device({
    keyPair: generateKeyPair(),
    relayUrl: relay.wsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: () => false,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  devices.push(stuck);
  stuck.start();
  const { host: h } = await pairNodeDevice(host.agent, stuck, {
    webUrl: relay.url,
    grants: ['shell'],
    name: 'stuck on udp',
  });
  const conn = await stuck.open(h.id, { fallbackMs: 2000 });
  assert.equal(await conn.path(), 'relay');
  const term = await conn.openTerminal('new');
  term.write('echo fell-back-$((2*21))\r');
  await waitForText(term, /fell-back-42/);
  term.close();
  await conn.close();
});

test('pocketshell connect --path relay works and says it goes through the relay', {
  timeout: 120_000,
}, async () => {
  const pty: IPty = ptySpawn(
    process.execPath,
    [POCKETSHELL, 'connect', host.identity.id, '--path', 'relay', '--predict', 'never'],
    { cols: 100, rows: 30, env: { ...(process.env as Record<string, string>), ...cliEnv } },
  );
  let out = '';
  pty.onData((d) => {
    out += d;
  });
  const exited = new Promise<number>((r) => pty.onExit(({ exitCode }) => r(exitCode)));
  try {
    await until(() => /via relay, session/.test(out), 30_000, 20);
    pty.write(`echo ${TYPED}-cli-$((4*5))\r`);
    await until(() => out.includes(`${TYPED}-cli-20`), 30_000, 20);
    pty.write('\x1d');
    assert.equal(await exited, 0);
    assert.match(out, /detached; session/);
  } finally {
    pty.kill();
  }
  const audit = readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8');
  assert.match(audit, /"path":"relay"/, 'the host recorded a relay-path connection');
});

test('pocketshell connect falls back to the relay path and switches up to WebRTC once it can', {
  timeout: 120_000,
}, async () => {
  directAllowed = false;
  const pty: IPty = ptySpawn(
    process.execPath,
    [POCKETSHELL, 'connect', host.identity.id, '--predict', 'never'],
    {
      cols: 100,
      rows: 30,
      env: { ...(process.env as Record<string, string>), ...cliEnv, POCKETSHELL_UPGRADE_MS: '500' },
    },
  );
  let out = '';
  pty.onData((d) => {
    out += d;
  });
  const exited = new Promise<number>((r) => pty.onExit(({ exitCode }) => r(exitCode)));
  try {
    await until(() => /via relay, session/.test(out), 60_000, 20);
    pty.write('KEPT=same-shell; echo on-relay-$((3*3))\r');
    await until(() => out.includes('on-relay-9'), 30_000, 20);
    directAllowed = true;
    await until(() => /now via direct/.test(out), 60_000, 20);
    // The same shell (the session re-attached, not a new one): its variable is still set.
    pty.write('echo on-direct-$((4*4))-$KEPT\r');
    await until(() => out.includes('on-direct-16-same-shell'), 30_000, 20);
    pty.write('\x1d');
    assert.equal(await exited, 0);
  } finally {
    directAllowed = true;
    pty.kill();
  }
});

test('the typed sentinel never reaches the relay’s database, WAL, logs or output', async () => {
  const files = () =>
    [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]
      .map((f) => join(dataDir, f))
      .filter((f) => existsSync(f));
  const check = (label: string, hay: Buffer) =>
    assert.equal(hay.indexOf(TYPED), -1, `typed sentinel found in ${label}`);
  assert.ok(files().length >= 1, 'the relay database is there to be searched');
  for (const f of files()) check(f, readFileSync(f));
  await relay.kill('SIGTERM');
  for (const f of files()) check(f, readFileSync(f));
  check('relay logs and output', Buffer.from(relay.logs()));
  assert.match(relay.logs(), /"msg":"paired"/, 'the logs are there to be searched');
});
