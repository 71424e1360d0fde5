/**
 * Issue 20: a device on a network that blocks UDP (nftables in its own
 * network namespace, test/support/netns.ts) still gets a terminal, through
 * TURN over TCP; on one that lets TCP through only to the relay and the TURN
 * server's TLS port, through TURN over TLS — and it says which:
 * `pocketshell connect` (on its default engine, switching to werift by
 * itself) in its status line (`connected to … · TURN/TCP`), the web client
 * in Chromium in its connection badge (`TURN/TCP relay`, screenshots in
 * .artifacts/screenshots/blocked-chromium-*.png); on one that lets TCP
 * through only to the relay's port, through the relay path (`via relay`,
 * the badge "Through the relay (end-to-end)"), and once the network opens
 * again both switch up to WebRTC on their own, in the same session
 * (`[now via direct]`, the badge Peer-to-peer). Real parts throughout:
 * the relay (serving the built web client), Debian's coturn (UDP/TCP on
 * 3478, TLS on 5349 with a certificate from a test CA that the CLI trusts
 * through NODE_EXTRA_CA_CERTS and Chromium through an NSS database in its
 * HOME), the host daemon on its default engine (node-datachannel: Chromium's
 * TURN/TCP and TLS offers reach it through the stream-TURN hint, answered on
 * werift, after one failed attempt and a spell on the relay path), the CLI
 * device and Chromium; relay and coturn,
 * host, and device each in their own namespace. Needs root (namespaces,
 * nftables). */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CHROMIUM,
  CHROMIUM_TEST_ARGS,
  makeTestCa,
  type StartedCoturn,
  startCoturn,
  type TestCa,
  trustInNssDb,
} from '@pocketshell/webrtc/testing';
import { chromium, type Page } from 'playwright-core';
import { buildWeb, PHONE, screenshot, typeInTerminal, WEB_DIST, waitForLine } from '../browser/harness.ts';
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
let ca: TestCa;
let relayUrl = '';

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

/** `pocketshell daemon run` on the host side (its engine: `engine`, or the default), once ready. */
async function startDaemon(engine?: string): Promise<void> {
  const env = { ...hostEnv, ...(engine ? { POCKETSHELL_ENGINE: engine } : {}) };
  start([...net.exec('host'), process.execPath, POCKETSHELL, 'daemon', 'run', '--relay', relayUrl], env);
  await until(
    async () => {
      const s = start([...net.exec('host'), process.execPath, POCKETSHELL, 'status', '--json'], env);
      const code = await finished(s.child);
      try {
        const status = JSON.parse(s.out());
        return (
          code === 0 &&
          status.daemon.relay?.state === 'ready' &&
          (!engine || status.daemon.engine?.name === engine || JSON.stringify(status).includes(engine))
        );
      } catch {
        return false;
      }
    },
    30_000,
    200,
  );
}

before(async () => {
  net = makeTestNetwork(String(process.pid));
  work = mkdtempSync(join(tmpdir(), 'blocked-udp-'));
  ca = makeTestCa(work, { ip: [net.turnIp] });
  await buildWeb();
  coturn = await startCoturn({
    ip: net.turnIp,
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
      '--web-root',
      WEB_DIST,
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
  relayUrl = `http://${net.server.ip}:${RELAY_PORT}`;
  hostEnv = {
    ...base,
    POCKETSHELL_HOME: join(work, 'host'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ALLOW_ROOT: '1',
  };
  await startDaemon();
  const pair = start(
    [...net.exec('host'), process.execPath, POCKETSHELL, 'pair', '--yes', '--grants', 'shell'],
    hostEnv,
  );
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(pair.out()), 20_000, 20);
  const pairUrl = /http:\/\/\S+#\/pair\/1\/\S+/.exec(pair.out())![0];
  cliEnv = {
    ...base,
    POCKETSHELL_HOME: join(work, 'cli'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ALLOW_ROOT: '1',
    // The default engine: node-datachannel, which cannot use TURN over TCP or TLS, so the
    // device switches to werift when only those answer (docs/transport.md).
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

describe('a device whose network blocks UDP', { timeout: 480_000 }, () => {
  it('gets a terminal through TURN over TCP, and says so', async () => {
    net.blockUdp();
    await terminalThrough(/· TURN\/TCP,/, 'tcp');
  });

  it('with TCP only to the relay and TURN/TLS, gets a terminal through TURN over TLS', async () => {
    net.onlyTcpTo([RELAY_PORT, TURNS_PORT]);
    await terminalThrough(/· TURN\/TLS,/, 'tls');
  });

  it('with TCP only to the relay, gets a terminal through the relay path, and switches up when the network opens', async () => {
    net.onlyTcpTo([RELAY_PORT]);
    // `--path auto` (the default): WebRTC first (no TURN answers, so its engine's own try fails
    // after 10 s), then the relay path; on it, WebRTC is tried again every 2 s here.
    const c = start(
      [...net.exec('device'), process.execPath, POCKETSHELL, 'connect', hostId, '--predict', 'never'],
      { ...cliEnv, POCKETSHELL_UPGRADE_MS: '2000' },
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
      assert.match(/\[connected to [^\]]*\]/.exec(c.out())![0], /· via relay,/);
      c.child.stdin!.write('echo relay-$((6*7))\r');
      await until(() => c.out().includes('relay-42'), 20_000, 50);
      assert.doesNotMatch(c.out(), /\[now via/, 'no better path while TCP reaches the relay only');
      net.open();
      await until(
        () => {
          if (c.child.exitCode !== null) throw new Error(`connect exited: ${c.out()}`);
          return /\[now via [^\]]+\]/.test(c.out());
        },
        60_000,
        50,
      );
      assert.match(/\[now via [^\]]+\]/.exec(c.out())![0], /\[now via (direct|TURN\/UDP)\]/);
      // The same session, now over WebRTC.
      c.child.stdin!.write('echo up-$((5*5))\r');
      await until(() => c.out().includes('up-25'), 20_000, 50);
      c.child.stdin!.write('\x1d');
      assert.equal(await finished(c.child), 0);
    } finally {
      if (c.child.exitCode === null) c.child.kill('SIGTERM');
    }
  });

  it('with the network open again, goes back to UDP', async () => {
    net.open();
    // werift nominates the first pair that succeeds, which may be through its TURN/UDP allocation.
    await terminalThrough(/· (direct|TURN\/UDP),/, 'open');
  });
});

/** A pairing URL from the host (`pocketshell pair --yes`). */
async function pairingUrl(): Promise<string> {
  const pair = start(
    [...net.exec('host'), process.execPath, POCKETSHELL, 'pair', '--yes', '--grants', 'shell'],
    hostEnv,
  );
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(pair.out()), 20_000, 20);
  return /http:\/\/\S+#\/pair\/1\/\S+/.exec(pair.out())![0];
}

describe('the web client in Chromium on such a network', { timeout: 480_000 }, () => {
  let page: Page;
  let close: (() => Promise<void>) | undefined;
  const pageLog: string[] = [];

  before(async () => {
    // Chromium runs in the device's namespace (a wrapper: playwright talks to it over a pipe),
    // with a HOME whose NSS database trusts the test CA, so coturn's TLS certificate verifies.
    const home = join(work, 'chromium-home');
    mkdirSync(home, { recursive: true });
    trustInNssDb(home, ca);
    const wrapper = join(work, 'chromium-in-device-ns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${net.exec('device').join(' ')} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: wrapper,
      headless: true,
      args: [...CHROMIUM_TEST_ARGS],
      env: { PATH: process.env.PATH ?? '', HOME: home },
      ...PHONE,
      colorScheme: 'dark',
    });
    context.setDefaultTimeout(90_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    close = () => context.close();
    // The host runs its default engine (node-datachannel). Chromium's checks over TURN/TCP or TLS
    // do not reach it (libjuice refuses them, docs/transport.md): the page's first WebRTC attempt
    // fails, it takes the relay path, and its next attempts carry the stream-TURN hint, which the
    // host answers on werift — so the badge goes relay → TURN/TCP (or TLS) in the same session.
    net.open();
    await page.goto(await pairingUrl());
    await page.locator('[data-host][data-state="online"]').first().waitFor();
  });

  after(async () => {
    await close?.();
  });

  /** Opens a new terminal from the hosts list, runs a command, and returns the badge. */
  async function badgeThrough(state: string, label: RegExp, shot: string): Promise<void> {
    await page.goto(relayUrl);
    await page.locator('[data-host][data-state="online"]').first().tap();
    await page.locator('[data-testid="new-session"]').tap();
    const badge = page.locator(`[data-testid="conn"][data-state="${state}"]`, { hasText: label });
    try {
      await badge.first().waitFor();
    } catch (error) {
      const now = page.locator('[data-testid="conn"]');
      await screenshot(page, `blocked-${shot}-failed`).catch(() => {});
      throw new Error(
        `badge ${await now.getAttribute('data-state')} "${await now.textContent()}" path ${await now.getAttribute('data-path')}; page said:\n${pageLog.slice(-20).join('\n')}\ncoturn:\n${coturn.log().slice(-1500)}`,
        { cause: error },
      );
    }
    assert.match((await badge.first().textContent()) ?? '', label);
    await typeInTerminal(page, `echo ${shot}-$((6*7))`);
    await waitForLine(page, new RegExp(`^${shot}-42$`), 30_000);
    await screenshot(page, `blocked-${shot}`);
  }

  it('UDP dropped: the terminal runs through TURN over TCP, and the badge says so', async () => {
    net.blockUdp();
    await badgeThrough('turn', /^TURN\/TCP relay$/, 'chromium-tcp');
    assert.equal(await page.locator('[data-testid="conn"]').first().getAttribute('data-path'), 'turn-tcp');
  });

  it('TCP only to the relay and TURN/TLS: through TURN over TLS (certificate verified)', async () => {
    net.onlyTcpTo([RELAY_PORT, TURNS_PORT]);
    await badgeThrough('turn', /^TURN\/TLS relay$/, 'chromium-tls');
  });

  it('TCP only to the relay: through the relay path, then switched up when the network opens', async () => {
    net.onlyTcpTo([RELAY_PORT]);
    await badgeThrough('relay', /^Through the relay \(end-to-end\)$/, 'chromium-relay');
    const conn = page.locator('[data-testid="conn"]').first();
    assert.equal(await conn.getAttribute('data-path'), 'relay');
    const url = page.url();
    // The page's path setting is `auto` (the default): it tries WebRTC again now and then.
    net.open();
    await page
      .locator('[data-testid="conn"][data-state="p2p"], [data-testid="conn"][data-state="turn"]')
      .first()
      .waitFor();
    assert.notEqual(await conn.getAttribute('data-path'), 'relay');
    assert.equal(page.url(), url, 'the same session');
    await waitForLine(page, /^chromium-relay-42$/, 10_000);
    await typeInTerminal(page, 'echo switched-$((5*5))');
    await waitForLine(page, /^switched-25$/, 30_000);
    await screenshot(page, 'blocked-chromium-switched-up');
  });

  it('open network: peer to peer', async () => {
    net.open();
    await badgeThrough('p2p', /^Peer-to-peer$/, 'chromium-direct');
  });
});
