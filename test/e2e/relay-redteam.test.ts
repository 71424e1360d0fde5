/**
 * The relay findings of the 2026-12 red-team pass end to end, with real
 * processes on loopback (a `pocketshell-relay`, `pocketshell pair`,
 * `pocketshell daemon run`) and a Node device in this process:
 * - a pairing code burned by wrong redeems from many addresses: the waiting
 *   `pocketshell pair` says so (`claim_burned`, exit 4), with and without a
 *   daemon;
 * - the daemon runs with umask 077 while its shells get the umask it was
 *   started with;
 * - revoking a device closes every open channel of it within 2 s.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection, PairedHost, TerminalClient } from '@pocketshell/client';
import { b64u, type DeviceId, fromB64u, generateKeyPair, hostIdOf, randomBytes } from '@pocketshell/protocol';
import { replyCode as code, RawClient, type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import {
  loopbackDevice,
  POCKETSHELL,
  pocketshell,
  startReadyDaemon,
  until,
  waitForText,
} from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
let env: Record<string, string>;
let daemon: ChildProcess | undefined;
let device: Device | undefined;

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-redteam-'));
  env = {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
    SHELL: '/bin/bash',
  };
});

after(async () => {
  await device?.close();
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

/** Starts `pocketshell pair …` and resolves with the process and the pairing URL it prints. */
async function startPair(args: string[]): Promise<{ proc: ChildProcess; url: string; out: () => string }> {
  const proc = spawn(process.execPath, [POCKETSHELL, 'pair', ...args], {
    env: { ...process.env, ...env },
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  proc.stderr!.on('data', (d: Buffer) => (out += d));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 30_000, 50);
  return { proc, url: /http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], out: () => out };
}

/** Five wrong redeems against the host of `url`, each from a fresh identity on its own address. */
async function burn(url: string, subnet: number): Promise<void> {
  const hostPub = fromB64u(/#\/pair\/1\/[^/]+\/([^/\s]+)/.exec(url)![1]!);
  const host = hostIdOf(hostPub);
  for (let i = 1; i <= 5; i++) {
    const d = await RawClient.connect(relay.wsUrl, {
      role: 'device',
      keyPair: generateKeyPair(),
      localAddress: `127.0.${subnet}.${i}`,
    });
    const r = await d.request({
      t: 'pair.redeem',
      claim: b64u(randomBytes(16)),
      host,
      env: {
        kind: 'pair.request',
        mid: b64u(randomBytes(16)),
        ts: Math.floor(Date.now() / 1000),
        enc: b64u(randomBytes(32)),
        ct: b64u(randomBytes(48)),
      },
    });
    assert.equal(code(r), 'claim_invalid');
    await d.close();
  }
}

/** The exit code of `proc`; rejects (and kills it) if it is still running after 30 s. */
const exitOf = (proc: ChildProcess) =>
  new Promise<number | null>((resolve, reject) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('pocketshell pair still waiting 30 s later'));
    }, 30_000);
    proc.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });

test('`pocketshell pair` without a daemon says its code was burned (claim_burned, exit 4)', async () => {
  const pair = await startPair(['--relay', relay.url, '--yes']);
  await burn(pair.url, 10);
  assert.equal(await exitOf(pair.proc), 4, pair.out());
  assert.match(pair.out(), /pairing code was burned.*\[claim_burned\]/);
});

test('the daemon runs with umask 077; `pocketshell pair` through it also says its code was burned', async () => {
  const old = process.umask(0o022);
  try {
    daemon = await startReadyDaemon(env, relay.url);
  } finally {
    process.umask(old);
  }
  const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
  assert.equal(/^Umask:\s*(\d+)$/m.exec(status)?.[1], '0077');

  const pair = await startPair(['--yes']);
  await burn(pair.url, 11);
  assert.equal(await exitOf(pair.proc), 4, pair.out());
  assert.match(pair.out(), /pairing code was burned.*\[claim_burned\]/);
});

let host: PairedHost;

test('shells of the daemon get the umask it was started with, not 077', async () => {
  assert.ok(daemon, 'the daemon runs');
  device = loopbackDevice(relay.wsUrl);
  const pair = await startPair(['--yes', '--grants', 'shell']);
  host = await device.pair(pair.url, { name: 'redteam device' });
  assert.equal(await exitOf(pair.proc), 0, pair.out());
  const conn = await device.connect(host.id);
  const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
  term.write('echo "mask-$(umask)"\r');
  await waitForText(term, /mask-0022/);
  term.close();
  await conn.close();
});

/** `revoke {device}` on the daemon's local API (what `pocketshell devices revoke` sends). */
function revokeThroughDaemon(id: DeviceId): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(env.POCKETSHELL_HOME!, 'agent.sock'));
    let text = '';
    socket.on('error', reject);
    socket.on('data', (d) => {
      text += d.toString();
      if (text.includes('\n')) {
        socket.end();
        resolve(JSON.parse(text.split('\n')[0]!));
      }
    });
    socket.write(`${JSON.stringify({ id: 1, method: 'revoke', params: { device: id } })}\n`);
  });
}

test('revoking a device closes every open channel of it within 2 s', async () => {
  assert.ok(device && host, 'a paired device');
  const conns: HostConnection[] = [await device.connect(host.id), await device.connect(host.id)];
  const terms: TerminalClient[] = [];
  for (const c of conns) {
    for (let i = 0; i < 2; i++) {
      const t = await c.openTerminal('new', { cols: 80, rows: 24 });
      t.write(`echo open-$((${i}+40))\r`);
      await waitForText(t, new RegExp(`open-${i + 40}`));
      terms.push(t);
    }
  }
  const closedAt: number[] = [];
  const allClosed = Promise.all([
    ...terms.map((t) => t.closed.then(() => closedAt.push(Date.now()))),
    ...conns.map((c) =>
      new Promise<void>((resolve) => {
        if (c.control.readyState === 'closed') resolve();
        else c.control.on('close', () => resolve());
      }).then(() => closedAt.push(Date.now())),
    ),
  ]);
  const deviceId = device.id as DeviceId;
  const t0 = Date.now();
  const reply = (await revokeThroughDaemon(deviceId)) as { result?: { revoked: boolean } };
  assert.deepEqual(reply.result, { revoked: true });
  const bound = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('channels still open 10 s after the revocation')), 10_000).unref(),
  );
  await Promise.race([allClosed, bound]);
  const slowest = Math.max(...closedAt) - t0;
  assert.ok(slowest <= 2000, `the last channel closed ${slowest} ms after the revocation`);
  const list = await pocketshell(['devices', 'list'], env);
  assert.doesNotMatch(list.stdout, new RegExp(deviceId));
});
