/**
 * The person's prompts of the CLI, driven through a real PTY (node-pty) the
 * way a person at a terminal answers them, and without one (a script):
 * - `pocketshell pair` asks which grants to give (default `shell`),
 *   `--grants` skips the question, and without a terminal it gives `shell`
 *   and says so; the SAS prompt shows the grants;
 * - a key change is asked on a terminal even with `--yes`, and needs a
 *   typed "yes";
 * - `pocketshell devices revoke` asks for confirmation on a terminal,
 *   `--yes` skips it, and without a terminal and `--yes` it refuses (exit 2);
 * - `pocketshell up` pairs with `shell` only unless `--grants` says more.
 * A real relay process and Node devices on loopback.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device } from '@pocketshell/client';
import { generateKeyPair, type KeyPair } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { type IPty, spawn as ptySpawn } from 'node-pty';
import { loopbackDevice, POCKETSHELL, pocketshell, until, waitForOutput } from '../support/cli.ts';

let relay: StartedRelay;
let home: string;
let env: Record<string, string>;
const devices: Device[] = [];

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-prompts-'));
  env = {
    POCKETSHELL_HOME: join(home, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    HOME: home,
    SHELL: '/bin/sh',
  };
});

after(async () => {
  for (const d of devices) await d.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

/** `pocketshell args…` in a real PTY: its output so far, a wait for a pattern, typing, its exit code. */
function inPty(args: string[], extraEnv: Record<string, string> = env) {
  const pty: IPty = ptySpawn(process.execPath, [POCKETSHELL, ...args], {
    cols: 200,
    rows: 50,
    env: { ...(process.env as Record<string, string>), ...extraEnv },
  });
  let out = '';
  pty.onData((d) => {
    out += d;
  });
  const exited = new Promise<number>((r) => pty.onExit(({ exitCode }) => r(exitCode)));
  return {
    out: () => out,
    exited,
    async waitFor(re: RegExp): Promise<RegExpExecArray> {
      await until(() => re.test(out), 30_000, 50);
      return re.exec(out)!;
    },
    type(text: string) {
      pty.write(text);
    },
  };
}

const URL_RE = /http:\/\/\S+#\/pair\/1\/[A-Za-z0-9_\-/]+/;

/** A Node device that pairs through `url` under `name`; resolves with the outcome. */
function pairDevice(
  url: string,
  name: string,
  key: KeyPair = generateKeyPair(),
  onSas?: (sas: string) => void,
) {
  const device = loopbackDevice(relay.wsUrl, key);
  devices.push(device);
  return device.pair(url, { name, ...(onSas ? { onSas } : {}) }).then(
    (host) => ({ ok: true as const, grants: host.grants }),
    (e: { code?: string }) => ({ ok: false as const, code: e.code }),
  );
}

async function pinned() {
  const r = await pocketshell(['devices', 'list', '--json'], env);
  return JSON.parse(r.stdout).devices as { id: string; name: string; grants: string[] }[];
}

test('pair on a terminal asks for the grants, shows them, and has the code the phone shows typed in (its own is not shown)', async () => {
  const pair = inPty(['pair', '--relay', relay.url]);
  await pair.waitFor(/Grants, comma-separated \[shell\]: /);
  pair.type('shell,nonsense\r');
  await pair.waitFor(/unknown grant nonsense/);
  pair.type('shell,stats\r');
  const [url] = await pair.waitFor(URL_RE);
  let phoneSas = '';
  const paired = pairDevice(url, 'pty phone', generateKeyPair(), (sas) => {
    phoneSas = sas;
  });
  await pair.waitFor(/grants: shell, stats\r?\n/);
  await pair.waitFor(/Type the 6-digit code the phone shows \(Enter declines\): /);
  assert.doesNotMatch(pair.out(), /code: \d{3} \d{3}/, 'the computer does not print the code to copy');
  // The phone shows its code when its side of the exchange is done, which may come a moment after
  // the computer asks for it.
  await until(() => /^\d{6}$/.test(phoneSas), 20_000, 10);
  pair.type(`${phoneSas.slice(0, 3)} ${phoneSas.slice(3)}\r`);
  assert.equal(await pair.exited, 0, pair.out());
  assert.deepEqual(await paired, { ok: true, grants: ['shell', 'stats'] });
  assert.deepEqual((await pinned()).find((d) => d.name === 'pty phone')?.grants, ['shell', 'stats']);
});

test('a typed code that is not the phone’s declines the pairing: nothing pinned, the phone told', async () => {
  const pair = inPty(['pair', '--grants', 'shell', '--relay', relay.url]);
  const [url] = await pair.waitFor(URL_RE);
  let phoneSas = '';
  const refused = pairDevice(url, 'mistyped phone', generateKeyPair(), (sas) => {
    phoneSas = sas;
  });
  await pair.waitFor(/Type the 6-digit code the phone shows \(Enter declines\): /);
  await until(() => /^\d{6}$/.test(phoneSas), 20_000, 10);
  const wrong = String((Number(phoneSas) + 1) % 1_000_000).padStart(6, '0');
  pair.type(`${wrong}\r`);
  await pair.waitFor(/That is not the code of this pairing: declined\./);
  assert.equal(await pair.exited, 4, pair.out());
  assert.deepEqual(await refused, { ok: false, code: 'unauthorized' });
  assert.equal(
    (await pinned()).some((d) => d.name === 'mistyped phone'),
    false,
  );
});

test('pair without a terminal and without --grants gives shell only, and says so', async () => {
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--relay', relay.url], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => pair.once('exit', r));
  await waitForOutput(pair, /Grants: shell \(no terminal to ask on; pass --grants to choose\)\./);
  const [url] = await waitForOutput(pair, URL_RE);
  const paired = await pairDevice(url, 'script phone');
  assert.equal(await exited, 0);
  assert.deepEqual(paired, { ok: true, grants: ['shell'] });
});

test('a key change is asked on a terminal even with --yes, and needs the phone’s code typed in', async () => {
  const first = generateKeyPair();
  const a = inPty(['pair', '--yes', '--grants', 'shell', '--relay', relay.url]);
  const [urlA] = await a.waitFor(URL_RE);
  assert.equal((await pairDevice(urlA, 'Galaxy', first)).ok, true);
  assert.equal(await a.exited, 0);

  // "y" is not the code: declined.
  const b = inPty(['pair', '--yes', '--grants', 'shell', '--relay', relay.url]);
  const [urlB] = await b.waitFor(URL_RE);
  const refused = pairDevice(urlB, 'Galaxy');
  await b.waitFor(/WARNING: DEVICE KEY CHANGED for "Galaxy"/);
  await b.waitFor(/To pair it anyway, type the 6-digit code the phone shows \(Enter declines\): /);
  b.type('y\r');
  assert.equal(await b.exited, 4, b.out());
  assert.deepEqual(await refused, { ok: false, code: 'unauthorized' });

  const c = inPty(['pair', '--yes', '--grants', 'shell', '--relay', relay.url]);
  const [urlC] = await c.waitFor(URL_RE);
  let phoneSas = '';
  const accepted = pairDevice(urlC, 'Galaxy', generateKeyPair(), (sas) => {
    phoneSas = sas;
  });
  await c.waitFor(/To pair it anyway, type the 6-digit code the phone shows \(Enter declines\): /);
  c.type(`${phoneSas}\r`);
  assert.equal(await c.exited, 0, c.out());
  assert.equal((await accepted).ok, true);
  assert.equal((await pinned()).filter((d) => d.name === 'Galaxy').length, 2);
});

test('devices revoke asks on a terminal, refuses without one unless --yes', async () => {
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--relay', relay.url], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [url] = await waitForOutput(pair, URL_RE);
  assert.equal((await pairDevice(url, 'to revoke')).ok, true);
  const id = (await pinned()).find((d) => d.name === 'to revoke')!.id;

  const script = await pocketshell(['devices', 'revoke', id], env);
  assert.equal(script.code, 2);
  assert.match(script.stderr, /no terminal to confirm on: pass --yes to revoke/);
  assert.match(script.stderr, /\[confirmation_needed\]/);
  assert.ok(
    (await pinned()).some((d) => d.id === id),
    'still paired',
  );

  const no = inPty(['devices', 'revoke', id]);
  await no.waitFor(/Revoke "to revoke" \(d_\S+, grants shell\)\? .*\[y\/N\] /);
  no.type('n\r');
  assert.equal(await no.exited, 0);
  assert.match(no.out(), /Not revoked\./);
  assert.ok((await pinned()).some((d) => d.id === id));

  const yes = inPty(['devices', 'revoke', id]);
  await yes.waitFor(/\[y\/N\] /);
  yes.type('y\r');
  assert.equal(await yes.exited, 0);
  assert.match(yes.out(), new RegExp(`Revoked ${id}\\.`));
  assert.ok(!(await pinned()).some((d) => d.id === id));

  // --yes without a terminal.
  const again = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--relay', relay.url], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [url2] = await waitForOutput(again, URL_RE);
  assert.equal((await pairDevice(url2, 'to revoke 2')).ok, true);
  const id2 = (await pinned()).find((d) => d.name === 'to revoke 2')!.id;
  const forced = await pocketshell(['devices', 'revoke', id2, '--yes'], env);
  assert.equal(forced.code, 0, forced.stderr);
  assert.ok(!(await pinned()).some((d) => d.id === id2));
});

test('up pairs with shell only by default, and refuses an unknown --grants', async () => {
  const upEnv = { ...env, POCKETSHELL_HOME: join(home, 'up-state') };
  const bad = await pocketshell(['up', '--grants', 'shell,root', '--listen', '127.0.0.1:0'], upEnv);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown grant root/);
  const up: ChildProcess = spawn(
    process.execPath,
    [POCKETSHELL, 'up', '--yes', '--listen', '127.0.0.1:0', '--data', join(home, 'up-relay')],
    { env: { ...process.env, ...upEnv }, stdio: 'pipe' },
  );
  try {
    const webUrl = (await waitForOutput(up, /PocketShell relay on (http:\/\/127\.0\.0\.1:\d+) /))[1]!;
    const [url] = await waitForOutput(up, URL_RE);
    const device = loopbackDevice(`${webUrl.replace('http', 'ws')}/ws`);
    devices.push(device);
    const host = await device.pair(url, { name: 'up phone' });
    assert.deepEqual(host.grants, ['shell']);
    await waitForOutput(up, /Paired "up phone" .* with grants: shell\./);
  } finally {
    const exited = new Promise((r) => up.once('exit', r));
    up.kill('SIGTERM');
    await exited;
  }
});
