/**
 * The alert center end to end (issue 16's acceptance, docs/host.md
 * "Alerts"): a real relay process, a real host agent with its alert center
 * (the light sampler reading this machine's /proc/stat every 500 ms) and
 * paired Node devices on the `alerts` channel. A device sets a CPU rule;
 * a real bounded busy loop spinning both cores crosses it: exactly one
 * `firing` alert (after the rule's `forSeconds`), one `resolved` once the
 * loop ends, and a second busy loop inside the cooldown raises nothing —
 * as seen by `alerts.watch` events and `alerts.list`. A device holding
 * only `shell` sees none of it; `alerts.test` reaches its asker only;
 * acknowledging and snoozing through the channel are audited; the alerts
 * were pushed sealed through the relay to the devices that may see them.
 * An OSC 9 written in a real terminal session raises an attention alert,
 * and so does a command of 2 s (OSC 133 C … D) finishing after the device
 * detached — for devices holding `shell` only.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import {
  type Alert,
  type AlertPushBody,
  type AlertRule,
  type Grant,
  generateKeyPair,
  type KeyPair,
  openJson,
  parseInner,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, openLoopbackHost, until } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

const SAMPLE_MS = 500;
const FOR_SECONDS = 2;
const THRESHOLD = 85;

let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
const devices: Device[] = [];
const children: ChildProcess[] = [];

async function pairDevice(
  grants: Grant[],
): Promise<{ device: Device; host: PairedHost; pushed: AlertPushBody[] }> {
  const keys: KeyPair = generateKeyPair();
  const device = loopbackDevice(relay.wsUrl, keys);
  devices.push(device);
  const { host: host_ } = await pairNodeDevice(host.agent, device, {
    webUrl: relay.url,
    grants,
    name: `alerts ${grants.join('+')}`,
  });
  // What the relay delivers live (`deliver` of a sealed `alert`), opened with the device's key.
  const pushed: AlertPushBody[] = [];
  device.relay.on('message', (m) => {
    if (m.t !== 'deliver' || m.env.kind !== 'alert') return;
    pushed.push(
      parseInner(
        'alert',
        openJson({
          envelope: m.env,
          senderId: host_.id,
          senderPublic: host_.pub,
          recipientId: device.id,
          recipientSecret: keys.secretKey,
        }),
      ),
    );
  });
  return { device, host: host_, pushed };
}

function audit(): Record<string, unknown>[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** This machine's CPU busy share over `ms`, from /proc/stat. */
async function cpuOver(ms: number): Promise<number> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return [total - f[3]! - f[4]!, total] as const;
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return (100 * (b[0] - a[0])) / Math.max(1, b[1] - a[1]);
}

/** Spins every core for `seconds` (bounded: each child ends by itself); settles when they exit. */
function busyLoop(seconds: number): Promise<void> {
  const loops = [0, 1].map(() => {
    const c = spawn(process.execPath, ['-e', `const e=Date.now()+${seconds * 1000};while(Date.now()<e){}`], {
      stdio: 'ignore',
    });
    children.push(c);
    return new Promise<void>((r) => c.once('exit', () => r()));
  });
  return Promise.all(loops).then(() => {});
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-alerts-relay-'));
  relay = await startRelay({ dataDir });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-alerts-'));
  host = await openLoopbackHost(relay.wsUrl, home, {
    alerts: { sampleMs: SAMPLE_MS },
  });
  host.agent.start();
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

test('a real busy loop crosses a CPU rule: one firing, none again within the cooldown, one resolved', async () => {
  const watcher = await pairDevice(['stats', 'shell']);
  const shellOnly = await pairDevice(['shell']);
  const conn = await watcher.device.connect(watcher.host.id);
  const conn2 = await shellOnly.device.connect(shellOnly.host.id);
  try {
    const alerts = await conn.openAlerts();
    const other = await conn2.openAlerts();
    const center = host.alerts!;

    // The defaults of a new host, and suggestions for this machine.
    const first = await alerts.rpc.call('alerts.rules');
    assert.ok(first.rules.some((r) => r.id === 'cpu-high' && r.threshold === 90 && r.forSeconds === 300));
    assert.ok(first.rules.some((r) => r.metric === 'disk' && r.target === '/'));

    const seen: Alert[] = [];
    const seenByOther: Alert[] = [];
    alerts.watch((a) => seen.push(a)).catch(() => {});
    other.watch((a) => seenByOther.push(a)).catch(() => {});

    // Start from a quiet moment (other work shares this machine): below the threshold for a second.
    await until(async () => (await cpuOver(1000)) < THRESHOLD - 25, 120_000, 0);
    const rule: AlertRule = {
      id: 'cpu-busy',
      name: 'Busy loop',
      enabled: true,
      metric: 'cpu',
      target: '',
      op: 'above',
      threshold: THRESHOLD,
      forSeconds: FOR_SECONDS,
      cooldownSeconds: 3600,
      severity: 'critical',
    };
    const set = await alerts.rpc.call('alerts.rules.set', { rules: [rule], attention: first.attention });
    assert.deepEqual(set.rules, [rule]);

    const started = Date.now();
    const loop = busyLoop(8);
    await until(() => seen.some((a) => a.rule === 'cpu-busy' && a.state === 'firing'), 60_000);
    const firing = seen.find((a) => a.state === 'firing')!;
    console.log(`# firing ${firing.at - started} ms after the busy loop started (value ${firing.value} %)`);
    assert.ok(firing.at - started >= FOR_SECONDS * 1000 - SAMPLE_MS, 'fired only after forSeconds');
    assert.ok(firing.value! > THRESHOLD);
    assert.equal(firing.title, 'Busy loop above 85 %');
    await loop;
    await until(() => seen.some((a) => a.rule === 'cpu-busy' && a.state === 'resolved'), 120_000);

    // A second loop within the cooldown: the rule breaches again, and stays silent.
    const samples = center.samples;
    await busyLoop(2 * FOR_SECONDS + 2);
    await until(() => center.samples >= samples + Math.ceil(((2 * FOR_SECONDS + 2) * 1000) / SAMPLE_MS));
    const listed = await alerts.rpc.call('alerts.list', { limit: 50 });
    const ours = listed.alerts.filter((a) => a.rule === 'cpu-busy');
    assert.deepEqual(
      ours.map((a) => a.state),
      ['resolved', 'firing'],
    );
    assert.deepEqual(
      seen.filter((a) => a.rule === 'cpu-busy').map((a) => a.state),
      ['firing', 'resolved'],
    );
    assert.deepEqual(ours[1], firing);
    assert.equal(listed.unacked, ours.length);

    // A device without `stats` saw and lists none of it.
    assert.deepEqual(seenByOther, []);
    assert.deepEqual((await other.rpc.call('alerts.list', {})).alerts, []);

    // A test alert reaches its asker only (watch and list).
    const t = await other.rpc.call('alerts.test');
    assert.equal(t.alert.kind, 'test');
    await until(() => seenByOther.length === 1);
    assert.deepEqual(seenByOther[0], t.alert);
    assert.ok(!(await alerts.rpc.call('alerts.list', {})).alerts.some((a) => a.id === t.alert.id));

    // Acknowledge and snooze through the channel.
    assert.deepEqual(await alerts.rpc.call('alerts.ack', { all: true }), { acked: ours.length });
    assert.equal((await alerts.rpc.call('alerts.list', {})).unacked, 0);
    const snoozed = await alerts.rpc.call('alerts.snooze', { target: { rule: 'cpu-busy' }, minutes: 30 });
    assert.equal(snoozed.snoozes.length, 1);
    const muted = await other.rpc.call('alerts.mute', { session: 'abc', muted: true });
    assert.deepEqual(muted, { muted: true });
    const events = audit().map((e) => e.event);
    for (const e of ['alerts.rules', 'alerts.snooze', 'alerts.mute']) assert.ok(events.includes(e), e);
    // Pushed sealed through the relay: the rule's two alerts to the device with `stats` (opening the
    // Monitor screen), the test alert to its asker only.
    console.log(`# pushes: ${JSON.stringify(center.pushes)}`);
    await until(() => watcher.pushed.length >= 2 && shellOnly.pushed.length >= 1);
    assert.deepEqual(
      watcher.pushed.map((b) => [b.id, b.state, b.open]),
      [
        [firing.id, 'firing', 'monitor'],
        [ours[0]!.id, 'resolved', 'monitor'],
      ],
    );
    assert.deepEqual(
      shellOnly.pushed.map((b) => [b.id, b.kind, b.open]),
      [[t.alert.id, 'test', 'alerts']],
    );
    assert.deepEqual(center.pushes, { sent: 3, failed: 0 });
  } finally {
    await conn.close();
    await conn2.close();
  }
});

test('an OSC 9 in a terminal session and a long command finishing raise attention alerts, for shell devices only', async () => {
  const both = await pairDevice(['shell', 'stats']);
  const statsOnly = await pairDevice(['stats']);
  const conn = await both.device.connect(both.host.id);
  const conn2 = await statsOnly.device.connect(statsOnly.host.id);
  try {
    const alerts = await conn.openAlerts();
    const other = await conn2.openAlerts();
    const seen: Alert[] = [];
    const seenByOther: Alert[] = [];
    alerts.watch((a) => seen.push(a)).catch(() => {});
    other.watch((a) => seenByOther.push(a)).catch(() => {});
    // Commands of a second or more count as long here.
    const now = await alerts.rpc.call('alerts.rules');
    await alerts.rpc.call('alerts.rules.set', {
      rules: now.rules,
      attention: { ...now.attention, longCommandSeconds: 1 },
    });

    const before = new Set(host.sessions.list().map((s) => s.id));
    const term = await conn.openTerminal('new', { cols: 80, rows: 24 });
    const session = host.sessions.list().find((s) => !before.has(s.id))!.id;
    let out = '';
    term.on('data', ({ bytes }) => {
      out += Buffer.from(bytes).toString('utf8');
    });

    // OSC 9 while watched: a notification is raised all the same, opening the session.
    term.write(`printf '\\033]9;%s\\007' 'build done'\r`);
    await until(() => seen.some((a) => a.kind === 'attention' && a.reason === 'notify'));
    const notify = seen.find((a) => a.reason === 'notify')!;
    assert.equal(notify.session, session);
    assert.equal(notify.body, 'build done');
    await until(() => both.pushed.some((b) => b.id === notify.id));
    assert.deepEqual(
      both.pushed.filter((b) => b.id === notify.id).map((b) => [b.open, b.session]),
      [['session', session]],
    );

    // A command of 2 s (OSC 133 C … D;3) finishing after the device detached.
    term.write(`echo STARTED; printf '\\033]133;C\\007'; sleep 2; printf '\\033]133;D;3\\007'\r`);
    await until(() => /[\r\n]STARTED\r\n/.test(out));
    term.close();
    await until(() => seen.some((a) => a.kind === 'attention' && a.reason === 'finished'), 30_000);
    const finished = seen.find((a) => a.reason === 'finished')!;
    assert.equal(finished.session, session);
    assert.match(finished.body, /ran 2 s, exit 3$/);
    assert.equal(finished.severity, 'warning');

    // The device holding only `stats` saw and lists none of it, and got no push of it.
    assert.deepEqual(seenByOther, []);
    assert.deepEqual(
      (await other.rpc.call('alerts.list', {})).alerts.filter((a) => a.kind === 'attention'),
      [],
    );
    assert.deepEqual(statsOnly.pushed, []);
  } finally {
    await conn.close();
    await conn2.close();
  }
});
