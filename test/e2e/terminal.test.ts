/**
 * End to end in one process tree: a real relay process, a host agent on its
 * own state folder with real PTYs, and a Node device, all on loopback.
 * Pair (SAS compared), connect over signed WebRTC, run a command in a
 * terminal, resize, exit code, detach and reattach with the same screen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection, PairedHost, TerminalClient } from '@pocketshell/client';
import { isLoopbackIPv4, type OpenedHost, openHost, statePaths, WeriftEngine } from '@pocketshell/host-core';
import { generateKeyPair } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import xterm from '@xterm/headless';
import { loopbackDevice, waitForText } from '../support/cli.ts';

let relay: StartedRelay;
let host: OpenedHost;
let home: string;
let paired: PairedHost;
const devices: Device[] = [];

function newDevice(keyPair = generateKeyPair()): Device {
  const d = loopbackDevice(relay.wsUrl, keyPair);
  devices.push(d);
  return d;
}

const waitFor = waitForText;

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-host-'));
  host = await openHost({
    paths: statePaths({ root: join(home, '.pocketshell') }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/bash', HOME: home, PS1: 'ps1> ' },
    passEnv: ['PS1'],
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  host.agent.start();
  const device = newDevice();
  let deviceSas = '';
  let hostSas = '';
  const hostSide = host.agent.pair({
    webUrl: relay.url,
    grants: ['shell'],
    onUrl: (url) => {
      void device.pair(url, { name: 'e2e phone', onSas: (s) => (deviceSas = s) }).then((h) => (paired = h));
    },
    confirm: async (prompt) => {
      hostSas = prompt.sas;
      assert.equal(prompt.name, 'e2e phone');
      return true;
    },
  });
  await hostSide;
  while (!paired) await new Promise((r) => setTimeout(r, 20));
  assert.match(hostSas, /^\d{6}$/);
  assert.equal(deviceSas, hostSas, 'both sides show the same SAS');
});

after(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('pair, connect, run echo $((6*7)), read 42; resize changes tput cols', async () => {
  const device = devices[0]!;
  const conn: HostConnection = await device.connect(paired.id);
  const info = await conn.call('host.info');
  assert.equal(info.id, host.identity.id);
  const term = await conn.openTerminal('new', { cols: 100, rows: 30 });
  term.write('echo $((6*7))\r');
  await waitFor(term, /[\r\n]42\r\n/);
  const cols = waitFor(term, /[\r\n]77\r\n/);
  term.resize(77, 20);
  term.write('tput cols\r');
  await cols;
  const exit = term.exited;
  term.write('exit 3\r');
  assert.equal(await exit, 3);
  await conn.close();
});

/** Renders terminal bytes into rows of text, as a person would see them. */
async function render(chunks: Uint8Array[], cols: number, rows: number): Promise<string[]> {
  const t = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 0 });
  for (const c of chunks) await new Promise<void>((r) => t.write(c, r));
  const out: string[] = [];
  const buf = t.buffer.active;
  for (let y = 0; y < rows; y++) out.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
  out.push(`cursor ${buf.cursorX},${buf.cursorY}`);
  t.dispose();
  return out;
}

/** Everything a terminal client receives from its attach on, snapshot included. */
function record(term: TerminalClient): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  term.on('data', ({ bytes }) => chunks.push(bytes.slice()));
  return chunks;
}

test('detach (client killed), reattach from a second device: same screen, nothing lost while detached', async () => {
  const first = devices[0]!;
  const conn1 = await first.connect(paired.id);
  const term1 = await conn1.openTerminal('new', { cols: 60, rows: 12 });
  const seen1 = record(term1);
  term1.write("clear; printf 'alpha %s\\n' 1 2 3; echo end-$((1+1))\r");
  await waitFor(term1, /end-2\r\n/);
  await new Promise((r) => setTimeout(r, 300));
  const session = term1.session;
  const screen1 = await render(seen1, 60, 12);
  // The client dies: its peer goes away without a word.
  await conn1.peer.close();

  // A second paired device attaches to the same session.
  const second = newDevice();
  let pairedAgain: Promise<PairedHost> | undefined;
  await host.agent.pair({
    webUrl: relay.url,
    grants: ['shell'],
    onUrl: (url) => {
      pairedAgain = second.pair(url, { name: 'second phone' });
    },
    confirm: async () => true,
  });
  await pairedAgain;
  const conn2 = await second.connect(paired.id);
  const term2 = await conn2.openTerminal(session);
  const seen2 = record(term2);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(term2.session, session);
  assert.deepEqual(await render(seen2, 60, 12), screen1);

  // Output produced while nobody is attached is kept.
  term2.write('sleep 1; echo while-$((6+6))\r');
  await new Promise((r) => setTimeout(r, 200));
  await conn2.close();
  await new Promise((r) => setTimeout(r, 1500));
  const conn3 = await first.connect(paired.id);
  const term3 = await conn3.openTerminal(session);
  const seen3 = record(term3);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok((await render(seen3, 60, 12)).some((row) => row.includes('while-12')));
  await conn3.close();
});

test('a snapshot larger than one data-channel message (long scrollback) arrives whole', async () => {
  const device = devices[0]!;
  const conn = await device.connect(paired.id);
  const term = await conn.openTerminal('new', { cols: 100, rows: 30 });
  term.write(
    "seq -f 'line %05g ================================================' 1 1500; echo seq-$((2*3))\r",
  );
  await waitFor(term, /seq-6\r\n/);
  await new Promise((r) => setTimeout(r, 300));
  const session = term.session;
  term.close();
  const again = await conn.openTerminal(session, { cols: 100, rows: 30 });
  const chunks = record(again);
  await new Promise((r) => setTimeout(r, 500));
  const snapshot = new TextDecoder().decode(Buffer.concat(chunks));
  assert.ok(snapshot.length > 16 * 1024, `snapshot of ${snapshot.length} bytes`);
  assert.ok(snapshot.includes('line 01500') && snapshot.includes('seq-6'));
  again.write('echo alive-$((4+4))\r');
  await waitFor(again, /alive-8/);
  await conn.close();
});

test('sessions.rename names a session (trimmed, audited); a long or unprintable name or an unknown id is refused', async () => {
  const conn: HostConnection = await devices[0]!.connect(paired.id);
  const term = await conn.openTerminal('new');
  const id = term.session;
  assert.deepEqual(await conn.call('sessions.rename', { id, name: '  build box  ' }), {
    id,
    name: 'build box',
  });
  const listed = await conn.call('sessions.list');
  assert.equal(listed.sessions.find((s) => s.id === id)?.name, 'build box');
  const refused = async (params: unknown) =>
    conn.rpc.callUntyped('sessions.rename', params).then(
      () => 'ok',
      (e: { code?: string }) => e.code,
    );
  assert.equal(await refused({ id, name: 'n'.repeat(65) }), 'bad_message');
  assert.equal(await refused({ id, name: 'a\x1b[31mb' }), 'bad_message');
  assert.equal(await refused({ id, name: 'a\u202eb' }), 'bad_message');
  assert.equal(await refused({ id: 'nope', name: 'x' }), 'not_found');
  assert.equal(await refused({ id }), 'bad_message');
  assert.equal(host.sessions.get(id)?.info().name, 'build box');
  const audit = readFileSync(join(home, '.pocketshell', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(audit.some((e) => e.event === 'session.renamed' && e.session === id && e.name === 'build box'));
  assert.ok(
    audit.some(
      (e) => e.event === 'refusal' && e.code === 'bad_message' && e.what === 'control sessions.rename',
    ),
  );
  term.close();
  await conn.close();
});
