/**
 * `pocketshell alerts` against a real `pocketshell daemon run` and a real
 * relay (docs/host.md "Alerts"): the daemon writes the default rules on
 * start (`alerts rules`), `alerts test <device>` sends a test alert to a
 * paired Node device — which receives it sealed through the relay and
 * opens it with its key — `alerts list` shows it in the history and
 * `status` the center's counts; an
 * unknown device is refused; a corrupt `alerts.json` stops the daemon
 * from starting with `state_corrupt`, naming the file.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device } from '@pocketshell/client';
import { type AlertPushBody, generateKeyPair, openJson, parseInner } from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, POCKETSHELL, pocketshell, startReadyDaemon, until } from '../support/cli.ts';

let relay: StartedRelay;
let work: string;
let daemon: ChildProcess | undefined;
let device: Device | undefined;
let env: Record<string, string>;

before(async () => {
  relay = await startRelay();
  work = mkdtempSync(join(tmpdir(), 'pocketshell-alerts-cli-'));
  env = {
    HOME: work,
    SHELL: '/bin/sh',
    POCKETSHELL_HOME: join(work, 'state'),
    POCKETSHELL_KEYSTORE: 'file',
    POCKETSHELL_ICE_ADDRESS: '127.0.0.1',
    POCKETSHELL_ALLOW_ROOT: '1',
    POCKETSHELL_ENGINE: 'werift',
  };
  daemon = await startReadyDaemon(env, relay.url);
});

after(async () => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  await device?.close();
  await relay?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('alerts rules, test and list through a real daemon; a corrupt alerts.json stops the next start', async () => {
  const rules = await pocketshell(['alerts', 'rules', '--json'], env);
  assert.equal(rules.code, 0, rules.stderr);
  const parsed = JSON.parse(rules.stdout) as { rules: { id: string }[]; attention: { bell: boolean } };
  assert.deepEqual(
    parsed.rules.slice(0, 4).map((r) => r.id),
    ['cpu-high', 'memory-high', 'load-high', 'swap-high'],
  );
  assert.match(
    (await pocketshell(['alerts', 'rules'], env)).stdout,
    /cpu-high +yes +cpu +- +above 90 +300s +1800s/,
  );

  // Pair a Node device with `stats` through the daemon.
  const keys = generateKeyPair();
  device = loopbackDevice(relay.wsUrl, keys);
  const pair = spawn(process.execPath, [POCKETSHELL, 'pair', '--yes', '--grants', 'stats'], {
    env: { ...process.env, ...env },
  });
  let out = '';
  pair.stdout.on('data', (d: Buffer) => (out += d));
  await until(() => /http:\/\/\S+#\/pair\/1\/\S+/.test(out), 20_000, 20);
  const host = await device.pair(/http:\/\/\S+#\/pair\/1\/\S+/.exec(out)![0], { name: 'alerts cli' });
  await new Promise((r) => pair.on('exit', r));
  const pushed: AlertPushBody[] = [];
  device.relay.on('message', (m) => {
    if (m.t === 'deliver' && m.env.kind === 'alert')
      pushed.push(
        parseInner(
          'alert',
          openJson({
            envelope: m.env,
            senderId: host.id,
            senderPublic: host.pub,
            recipientId: device!.id,
            recipientSecret: keys.secretKey,
          }),
        ),
      );
  });

  const sent = await pocketshell(['alerts', 'test', device.id, '--json'], env);
  assert.equal(sent.code, 0, sent.stderr);
  const { alerts } = JSON.parse(sent.stdout) as { alerts: { device: string; id: string }[] };
  assert.deepEqual(
    alerts.map((a) => a.device),
    [device.id],
  );
  await until(() => pushed.length === 1);
  assert.deepEqual([pushed[0]!.id, pushed[0]!.kind, pushed[0]!.open], [alerts[0]!.id, 'test', 'alerts']);

  // `status` reports the center: the default rules, sampling, the one push.
  const status = JSON.parse((await pocketshell(['status', '--json'], env)).stdout) as {
    daemon: { alerts: { rules: number; enabled: number; evaluating: boolean; pushes: object } };
  };
  assert.equal(status.daemon.alerts.rules, parsed.rules.length);
  assert.equal(status.daemon.alerts.enabled, parsed.rules.length);
  assert.equal(status.daemon.alerts.evaluating, true);
  assert.deepEqual(status.daemon.alerts.pushes, { sent: 1, failed: 0 });

  const listed = await pocketshell(['alerts', 'list', '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { id: string; kind: string }[]).map((a) => [a.id, a.kind]),
    [[alerts[0]!.id, 'test']],
  );
  assert.match((await pocketshell(['alerts', 'list'], env)).stdout, /test +notice +info +- +Test alert/);

  const unknown = await pocketshell(['alerts', 'test', `d_${'a'.repeat(26)}`], env);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /no such device/);

  // Stopped, the rules file broken: the next start refuses, naming it; the file is left as it was.
  const exited = new Promise((r) => daemon!.once('exit', r));
  daemon!.kill('SIGTERM');
  await exited;
  writeFileSync(join(work, 'state', 'alerts.json'), '{"version":1,"rules":[{"id":"x"}]}', { mode: 0o600 });
  const run = await pocketshell(['daemon', 'run', '--relay', relay.url], env);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /alerts\.json/);
  assert.match(run.stderr, /state_corrupt/);
  const rulesNow = await pocketshell(['alerts', 'rules'], env);
  assert.match(rulesNow.stderr, /state_corrupt/);
});
