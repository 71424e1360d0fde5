/**
 * The sentinel test, host side (the relay-only part is
 * packages/relay/src/privacy.test.ts): a real relay at debug log level, a
 * real host agent and a paired Node device. Three sentinels: one typed in a
 * terminal (and echoed back), one in an environment variable of the
 * daemon, one in an audit record (the device's name, which the host
 * audits at pairing). None appears in the relay's database, WAL or logs;
 * the daemon's one does not reach the PTY child's environment (read from
 * `env` in the terminal and from /proc/<pid>/environ).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import { isLoopbackIPv4, type OpenedHost, openHost, statePaths, WeriftEngine } from '@pocketshell/host-core';
import { DATABASE_FILE } from '@pocketshell/relay';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, waitForText } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

const TYPED = 'SENTINEL-typed-91c4e2';
const ENV = 'SENTINEL-daemon-env-3b7f10';
const AUDITED = 'SENTINEL-audit-d40a66';

let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
let device: Device;
let paired: PairedHost;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-sentinel-relay-'));
  relay = await startRelay({ dataDir, args: ['--log-level', 'debug'] });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-sentinel-host-'));
  host = await openHost({
    paths: statePaths({ root: join(home, 'state') }),
    relayUrl: relay.wsUrl,
    env: {
      ...process.env,
      POCKETSHELL_KEYSTORE: 'file',
      SHELL: '/bin/sh',
      HOME: home,
      AWS_SECRET_ACCESS_KEY: ENV,
      POCKETSHELL_TURN_SECRET: ENV,
    },
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  host.agent.start();
  device = loopbackDevice(relay.wsUrl);
  paired = (await pairNodeDevice(host.agent, device, { webUrl: relay.url, grants: ['shell'], name: AUDITED }))
    .host;
});

after(async () => {
  await device?.close();
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('typed, daemon-environment and audited sentinels never reach the relay, nor the shell’s environment', async () => {
  const conn = await device.connect(paired.id);
  const term = await conn.openTerminal('new', { cols: 200, rows: 50 });
  term.write(`echo ${TYPED}-$((6*7)); env; echo env-done-$((5*5))\r`);
  const output = await waitForText(term, /env-done-25\r\n/);
  assert.match(output, new RegExp(`${TYPED}-42`), 'the typed sentinel went through');
  assert.equal(output.includes(ENV), false, 'the daemon’s secret reached the shell');
  const session = host.sessions.get(term.session);
  assert.ok(session);
  const environ = readFileSync(`/proc/${session.pid}/environ`, 'utf8').split('\0');
  assert.equal(
    environ.some((v) => v.includes(ENV) || v.startsWith('POCKETSHELL_')),
    false,
  );
  assert.ok(environ.includes(`HOME=${home}`), 'a login environment');
  term.close();
  await conn.close();

  // The audited sentinel is there, in the host's audit log ...
  assert.ok(readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8').includes(AUDITED));

  // ... and none of them is anywhere the relay writes.
  const check = (label: string, hay: Buffer) => {
    const needles: [string, string][] = [
      ['typed', TYPED],
      ['daemon env', ENV],
      ['audited', AUDITED],
    ];
    for (const [what, needle] of needles)
      assert.equal(hay.indexOf(needle), -1, `${what} sentinel found in ${label}`);
  };
  const files = () =>
    [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]
      .map((f) => join(dataDir, f))
      .filter((f) => existsSync(f));
  assert.ok(files().length >= 1, 'the relay database is there to be searched');
  for (const f of files()) check(f, readFileSync(f));
  await relay.kill('SIGTERM');
  for (const f of files()) check(f, readFileSync(f));
  check('relay logs', Buffer.from(relay.logs()));
  assert.match(relay.logs(), /"msg":"paired"/, 'the logs are there to be searched');
});
