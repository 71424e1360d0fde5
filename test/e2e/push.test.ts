/**
 * Push end to end, with a sentinel: a real relay process (SQLite store,
 * debug logs) that may send to the test push service
 * (test/support/push-service.ts: it checks the VAPID JWT and decrypts as a
 * browser's push layer would), a real host (`openHost`) and a paired Node
 * device. The device subscribes with the push service's subscription; the
 * host calls `agent.pushAlert` with a random sentinel in the alert's title
 * and body. The push service receives the message, verifies it and
 * decrypts it; the device opens the sealed envelope inside with its key
 * (`openJson`, `parseInner('alert', …)`) and finds the sentinel; the same
 * alert reaches the online device as `deliver`. The relay never had the
 * plaintext: the sentinel is absent from its database, `-wal`, `-shm` and
 * its stdout/stderr.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import type { OpenedHost } from '@pocketshell/host-core';
import {
  type AlertPushBody,
  type DeliverMessage,
  type Envelope,
  generateKeyPair,
  type KeyPair,
  openJson,
  parseInner,
} from '@pocketshell/protocol';
import { DATABASE_FILE } from '@pocketshell/relay';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, openLoopbackHost } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';
import { TestPushService } from '../support/push-service.ts';

const SENTINEL = `SENTINEL-push-${randomBytes(8).toString('hex')}`;

let service: TestPushService;
let relay: StartedRelay;
let dataDir: string;
let home: string;
let host: OpenedHost;
let deviceKey: KeyPair;
let device: Device;
let paired: PairedHost;

before(async () => {
  service = await TestPushService.start();
  dataDir = mkdtempSync(join(tmpdir(), 'pocketshell-push-relay-'));
  relay = await startRelay({
    dataDir,
    args: ['--log-level', 'debug', '--push-endpoint-host', service.hostPort],
    env: { NODE_EXTRA_CA_CERTS: service.caFile },
  });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-push-host-'));
  host = await openLoopbackHost(relay.wsUrl, home);
  host.agent.start();
  deviceKey = generateKeyPair();
  device = loopbackDevice(relay.wsUrl, deviceKey);
  paired = (
    await pairNodeDevice(host.agent, device, {
      webUrl: relay.url,
      grants: ['shell'],
      name: 'push test phone',
    })
  ).host;
});

after(async () => {
  await device?.close();
  await host?.close();
  await relay?.stop();
  await service?.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

/** What the device reads from a sealed alert envelope. */
function openAlert(env: Envelope): AlertPushBody {
  assert.equal(env.kind, 'alert');
  return parseInner(
    'alert',
    openJson({
      envelope: env,
      senderId: paired.id,
      senderPublic: paired.pub,
      recipientId: device.id,
      recipientSecret: deviceKey.secretKey,
    }),
  );
}

test('a sealed alert reaches the push service and the online device; the relay never has the sentinel', async () => {
  const sub = service.subscribe();
  const ok = await device.relay.request({
    t: 'push.subscribe',
    endpoint: sub.endpoint,
    p256dh: sub.p256dh,
    auth: sub.auth,
  });
  assert.equal(ok.t, 'ok');
  const vapid = await device.relay.request({ t: 'push.key' });
  const delivered = new Promise<DeliverMessage>((resolve) => {
    const off = device.relay.on('message', (m) => {
      if (m.t === 'deliver' && m.env.kind === 'alert') {
        off();
        resolve(m);
      }
    });
  });

  const body: AlertPushBody = {
    id: `al_${randomBytes(6).toString('hex')}`,
    at: Math.floor(Date.now() / 1000),
    kind: 'rule',
    state: 'firing',
    severity: 'critical',
    title: `CPU above 90% ${SENTINEL}`,
    body: `load is high on this machine (${SENTINEL})`,
    open: 'monitor',
  };
  await host.agent.pushAlert(device.id, body);

  // Web Push: VAPID verified, payload decrypted by the push service, then opened by the device
  const [got] = await service.waitFor(sub.id);
  assert.equal(got!.status, 201, got!.error);
  assert.equal(got!.vapidKey, (vapid as { key: string }).key);
  assert.equal(got!.urgency, 'high', 'a critical alert asks for high urgency');
  const payload = JSON.parse(got!.plaintext!) as { from: string; env: Envelope };
  assert.deepEqual(Object.keys(payload).sort(), ['env', 'from']);
  assert.equal(payload.from, paired.id);
  assert.equal(got!.plaintext!.includes(SENTINEL), false, 'the push payload is sealed');
  assert.deepEqual(openAlert(payload.env), body, 'the device finds the alert, sentinel and all');

  // the online device got the same envelope as `deliver`
  const d = await delivered;
  assert.equal(d.from, paired.id);
  assert.deepEqual(d.env, payload.env);
  assert.ok(openAlert(d.env).title.includes(SENTINEL));

  // nowhere the relay writes has the sentinel
  const files = () =>
    [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]
      .map((f) => join(dataDir, f))
      .filter((f) => existsSync(f));
  const check = (label: string, hay: Buffer) =>
    assert.equal(hay.indexOf(SENTINEL), -1, `the sentinel was found in ${label}`);
  assert.ok(files().length >= 1, 'the relay database is there to be searched');
  const db = readFileSync(join(dataDir, DATABASE_FILE));
  for (const f of files()) check(f, readFileSync(f));
  await relay.kill('SIGTERM');
  for (const f of files()) check(f, readFileSync(f));
  check('relay logs', Buffer.from(relay.logs()));
  // the searches could have found it: the subscription is in the files, the push in the logs
  const all = Buffer.concat([db, ...files().map((f) => readFileSync(f))]);
  assert.notEqual(all.indexOf(sub.p256dh), -1, 'the stored subscription is in the searched files');
  assert.match(
    relay.logs(),
    /"msg":"push","host":"h_[^"]+","device":"d_[^"]+","subscription":"[^"]+","outcome":"sent"/,
  );
});
