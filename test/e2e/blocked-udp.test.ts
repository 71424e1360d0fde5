/**
 * Issue 20: a device on a network that blocks UDP (nftables in its own
 * network namespace, test/support/netns.ts) still gets a terminal, through
 * TURN over TCP; on one that lets TCP through only to the relay and the TURN
 * server's TLS port, through TURN over TLS — and `pocketshell connect` says
 * which (`connected to … · TURN/TCP`). Real parts throughout: the relay,
 * Debian's coturn (UDP/TCP on 3478, TLS on 5349 with a certificate from a
 * test CA the device trusts through NODE_EXTRA_CA_CERTS), the host daemon
 * and the CLI device, the relay and host in the server namespace, the
 * device in its own. Needs root (namespaces, nftables).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeTestCa, type StartedCoturn, startCoturn } from '@pocketshell/webrtc/testing';
import { endHolder, POCKETSHELL, until } from '../support/cli.ts';
import { makeTestNetwork, type TestNetwork } from '../support/netns.ts';

const RELAY_BIN = fileURLToPath(new URL('../../packages/relay/bin/pocketshell-relay.js', import.meta.url));
const SECRET = 'blocked-udp-test-secret-0123456789';
const RELAY_PORT = 8080;
const TURN_PORT = 3478;
const TURNS_PORT = 5349;

let net: TestNetwork;
let work: string;
let coturn: StartedCoturn;
const children: ChildProcess[] = [];
let hostId = '';
let cliEnv: Record<string, string>;
let hostEnv: Record<string, string>;

function start(argv: string[], env: Record<string, string>): { child: ChildProcess; out: () => string } {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'pipe',
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  return { child, out: () => out };
}

async function finished(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

before(async () => {
  net = makeTestNetwork(String(process.pid));
  work = mkdtempSync(join(tmpdir(), 'blocked-udp-'));
  const ca = makeTestCa(work, { ip: [net.server.ip] });
  coturn = await startCoturn({
    ip: net.server.ip,
    port: TURN_PORT,
    tlsPort: TURNS_PORT,
    secret: SECRET,
    ca,
    exec: net.exec('server'),
  });
  const base = { HOME: work, LANG: 'C.UTF-8', TERM: 'xterm-256color', SHELL: '/bin/bash' };
  const relay = start(
    [
      ...net.exec('server'),
      process.execPath,
      RELAY_BIN,
      '--listen',
      `${net.server.ip}:${RELAY_PORT}`,
      '--data',
      join(work, 'relay'),
      '--registration',
      'open',
      '--log-level',
      'warn',
      '--turn-url',
      coturn.urls.udp,
      '--turn-url',
      coturn.urls.tcp,
      '--turn-url',
      coturn.urls.tls,
    ],
    { ...base, POCKETSHELL_RELAY_TURN_SECRET: SECRET },
  );
  await until(() => /"msg":"listening"/.test(relay.out()), 20_000, 50);
  const relayUrl = `http://${net.server.ip}:${RELAY_PORT}`;
  hostEnv = {
    ...base,
    POCKETSHELL_HOME: join(work, 'host'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  start(
    [...net.exec('server'), process.execPath, POCKETSHELL, 'daemon', 'run', '--relay', relayUrl],
    hostEnv,
  );
  await until(
    async () => {
      const s = start([...net.exec('server'), process.execPath, POCKETSHELL, 'status', '--json'], hostEnv);
      const code = await finished(s.child);
      try {
        return code === 0 && JSON.parse(s.out()).daemon.relay?.state === 'ready';
      } catch {
        return false;
      }
    },
    30_000,
    200,
  );
  const pair = start(
    [...net.exec('server'), process.execPath, POCKETSHELL, 'pair', '--yes', '--grants', 'shell'],
    hostEnv,
  );
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(pair.out()), 20_000, 20);
  const pairUrl = /http:\/\/\S+#\/pair\/1\/\S+/.exec(pair.out())![0];
  cliEnv = {
    ...base,
    POCKETSHELL_HOME: join(work, 'cli'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ALLOW_ROOT: '1',
    // libdatachannel (libjuice) cannot use TURN over TCP or TLS (docs/transport.md).
    POCKETSHELL_ENGINE: 'werift',
    NODE_EXTRA_CA_CERTS: ca.caFile,
  };
  const devicePair = start(
    [...net.exec('device'), process.execPath, POCKETSHELL, 'device', 'pair', pairUrl],
    cliEnv,
  );
  await finished(devicePair.child);
  hostId = /Paired with "[^"]*" \(([^)]+)\)/.exec(devicePair.out())?.[1] ?? '';
  assert.ok(hostId, `device pair: ${devicePair.out()}`);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  endHolder(hostEnv?.POCKETSHELL_HOME);
  await coturn?.stop();
  net?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `pocketshell connect` on the device side: the status line, then a command typed and its output. */
async function terminalThrough(expected: RegExp, word: string): Promise<string> {
  const c = start(
    [...net.exec('device'), process.execPath, POCKETSHELL, 'connect', hostId, '--predict', 'never'],
    cliEnv,
  );
  try {
    await until(
      () => {
        if (c.child.exitCode !== null) throw new Error(`connect exited: ${c.out()}`);
        return /\[connected to /.test(c.out());
      },
      90_000,
      50,
    );
    const line = /\[connected to [^\]]*\]/.exec(c.out())![0];
    assert.match(line, expected, `${line}\ncoturn:\n${coturn.log().slice(-1500)}`);
    c.child.stdin!.write(`echo ${word}-$((6*7))\r`);
    await until(() => c.out().includes(`${word}-42`), 20_000, 50);
    c.child.stdin!.write('\x1d');
    assert.equal(await finished(c.child), 0);
    return line;
  } finally {
    if (c.child.exitCode === null) c.child.kill('SIGTERM');
  }
}

describe('a device whose network blocks UDP', { timeout: 240_000 }, () => {
  it('gets a terminal through TURN over TCP, and says so', async () => {
    net.blockUdp();
    await terminalThrough(/· TURN\/TCP,/, 'tcp');
  });

  it('with TCP only to the relay and TURN/TLS, gets a terminal through TURN over TLS', async () => {
    net.onlyTcpTo([RELAY_PORT, TURNS_PORT]);
    await terminalThrough(/· TURN\/TLS,/, 'tls');
  });

  it('with the network open again, goes direct', async () => {
    net.open();
    await terminalThrough(/· direct,/, 'open');
  });
});
