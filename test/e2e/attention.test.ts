/**
 * Terminal attention end to end (issue 16's acceptance, docs/host.md
 * "Terminal attention" and "Alerts"): a real relay process, a real host
 * agent with its alert center, a Node device paired with `shell` and `stats` (attention settings are set with the rules), real
 * shells in real PTYs. An OSC 9 written in a terminal session raises an
 * attention alert — seen on the device's `alerts` channel and, sealed, as
 * the relay's `deliver` the device opens with its own key; a long command
 * that finishes while nobody watches raises one, both with the shell's
 * OSC 133 marks and, in a session that never emits them, by the
 * quiet-after-output fallback; a muted session raises nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection, PairedHost } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import {
  type Alert,
  type AlertPushBody,
  type Envelope,
  generateKeyPair,
  openJson,
  parseInner,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, openLoopbackHost, until } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
let device: Device;
let paired: PairedHost;
const keyPair = generateKeyPair();
/** Sealed alerts the relay delivered to the device, opened with the device's key. */
const delivered: AlertPushBody[] = [];

function openAlert(env: Envelope): AlertPushBody {
  return parseInner(
    'alert',
    openJson({
      envelope: env,
      senderId: paired.id,
      senderPublic: paired.pub,
      recipientId: device.id,
      recipientSecret: keyPair.secretKey,
    }),
  );
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-attn-relay-'));
  relay = await startRelay({ dataDir });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-attn-'));
  host = await openLoopbackHost(relay.wsUrl, home, {
    alerts: {},
  });
  host.agent.start();
  device = loopbackDevice(relay.wsUrl, keyPair);
  paired = (
    await pairNodeDevice(host.agent, device, {
      webUrl: relay.url,
      grants: ['shell', 'stats'],
      name: 'attention',
    })
  ).host;
  device.relay.on('message', (m) => {
    if (m.t === 'deliver' && m.env.kind === 'alert' && m.from === paired.id) delivered.push(openAlert(m.env));
  });
});

after(async () => {
  await device?.close();
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

/** A connection with its alerts channel watched into `seen`. */
async function watched(): Promise<{ conn: HostConnection; seen: Alert[] }> {
  const conn = await device.connect(paired.id);
  const alerts = await conn.openAlerts();
  const seen: Alert[] = [];
  alerts.watch((a) => seen.push(a)).catch(() => {});
  return { conn, seen };
}

/** Starts a shell session, types `line`, and leaves it (detached) once `ready` shows; returns its id. */
async function runDetached(conn: HostConnection, line: string, ready: RegExp): Promise<string> {
  const term = await conn.openTerminal('new', { cols: 100, rows: 30 });
  let out = '';
  const shown = new Promise<void>((resolve) => {
    term.on('data', ({ bytes }) => {
      out += Buffer.from(bytes).toString('latin1');
      if (ready.test(out)) resolve();
    });
  });
  term.write(line);
  await Promise.race([
    shown,
    new Promise((_, reject) =>
      setTimeout(
        () => reject(new Error(`never showed ${ready}: ${JSON.stringify(out.slice(-300))}`)),
        30_000,
      ),
    ),
  ]);
  const session = { id: term.session };
  term.close();
  await until(async () => {
    const now = await conn.call('sessions.list');
    return now.sessions.find((s) => s.id === session.id)?.attached === 0;
  });
  return session.id;
}

test('an OSC 9 written in a terminal session raises an attention alert, sealed to the device', async () => {
  const { conn, seen } = await watched();
  try {
    const term = await conn.openTerminal('new', { cols: 100, rows: 30 });
    const marker = `attn-${Math.random().toString(36).slice(2, 10)}`;
    // printf builds the escape sequence, so the typed line itself (echoed) does not contain one.
    term.write(`printf '\\033]9;%s\\007' '${marker} build done'\r`);
    await until(() => seen.some((a) => a.kind === 'attention' && a.reason === 'notify'), 30_000);
    const alert = seen.find((a) => a.reason === 'notify')!;
    assert.equal(alert.state, 'notice');
    assert.ok(alert.body.includes(`${marker} build done`), `body: ${alert.body}`);
    assert.match(alert.session!, /^[A-Za-z0-9_-]{12}$/);
    // the same alert, sealed by the host, reached the device's relay connection
    await until(() => delivered.some((d) => d.id === alert.id), 30_000);
    const sealed = delivered.find((d) => d.id === alert.id)!;
    assert.equal(sealed.open, 'session');
    assert.equal(sealed.session, alert.session);
    assert.ok(sealed.body.includes(marker));
    term.close();
  } finally {
    await conn.close();
  }
});

test('a long command finishing while nobody watches raises one: with OSC 133 marks, and without them', async () => {
  const { conn, seen } = await watched();
  try {
    const alerts = await conn.openAlerts();
    const rules = await alerts.rpc.call('alerts.rules');
    await alerts.rpc.call('alerts.rules.set', {
      rules: rules.rules,
      attention: { ...rules.attention, longCommandSeconds: 2 },
    });

    // A shell that marks its commands (OSC 133 C … D;exit): 3 s, exit status 4, finished while detached.
    const marked = await runDetached(
      conn,
      `printf '\\033]133;C\\007'; echo started; sleep 3; printf '\\033]133;D;4\\007'\r`,
      /started\r\n/,
    );
    await until(() => seen.some((a) => a.session === marked && a.reason === 'finished'), 60_000);
    const finished = seen.find((a) => a.session === marked && a.reason === 'finished')!;
    assert.equal(finished.kind, 'attention');
    assert.match(
      finished.body,
      /ran \d+ s.*exit 4/,
      `the duration and exit status are told: ${finished.body}`,
    );
    assert.equal(finished.severity, 'warning', 'a command that failed is a warning');

    // A session that never marks: Enter, output, then quiet while nobody watches.
    const plain = await runDetached(conn, 'echo go; sleep 3; echo done\r', /go\r\n/);
    await until(() => seen.some((a) => a.session === plain && a.reason === 'finished'), 60_000);
    const quiet = seen.find((a) => a.session === plain && a.reason === 'finished')!;
    assert.match(quiet.body, /sleep 3/, `the command typed is told: ${quiet.body}`);

    // Muted: the same again raises nothing for that session.
    await alerts.rpc.call('alerts.mute', { session: plain, muted: true });
    const term = await conn.openTerminal(plain);
    term.write(`printf '\\033]9;%s\\007' muted\r`);
    const before = seen.length;
    const other = await runDetached(conn, `printf '\\033]9;%s\\007' unmuted\r`, /unmuted/);
    await until(() => seen.some((a) => a.session === other && a.reason === 'notify'), 30_000);
    assert.equal(
      seen.slice(before).filter((a) => a.session === plain).length,
      0,
      'the muted session raised nothing, while another one did',
    );
    term.close();
  } finally {
    await conn.close();
  }
});
