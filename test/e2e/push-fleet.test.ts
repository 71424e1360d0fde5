/**
 * Web Push across a fleet: two relay nodes on one PostgreSQL database (and
 * Redis) share the VAPID key pair the store holds. Node A starts with the
 * `vapid.json` a single relay made before (SQLite, same data folder): it is
 * imported, so subscriptions made with it stay valid; node B, with no file,
 * gets the same pair from the store and writes none. Both answer `push.key`
 * with that key; a subscription made through A, pushed to by a host on B,
 * reaches the test push service (test/support/push-service.ts) with a
 * VAPID JWT that verifies under that key. No log holds the private key.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DeviceId, generateKeyPair } from '@pocketshell/protocol';
import {
  junkEnvelope,
  type PostgresCluster,
  pairClients,
  RawClient,
  replyCode,
  type StartedRedis,
  type StartedRelay,
  startPostgres,
  startRedis,
  startRelay,
} from '@pocketshell/relay/testing';
import { TestPushService } from '../support/push-service.ts';

describe('Web Push across a fleet: one VAPID key pair, held by the store', () => {
  let service: TestPushService;
  let redis: StartedRedis;
  let cluster: PostgresCluster;
  const nodes: StartedRelay[] = [];
  let dirA: string;
  before(async () => {
    service = await TestPushService.start();
    redis = await startRedis();
    cluster = await startPostgres();
    dirA = mkdtempSync(join(tmpdir(), 'pocketshell-push-fleet-'));
  });
  after(async () => {
    for (const n of nodes) await n.stop();
    await cluster?.stop();
    await redis?.stop();
    await service?.stop();
    rmSync(dirA, { recursive: true, force: true });
  });

  it('imports the first node’s vapid.json, serves one key from every node, and pushes via B verify with it', async () => {
    const pushArgs = ['--push-endpoint-host', service.hostPort];
    const env = { NODE_EXTRA_CA_CERTS: service.caFile };
    // a single relay made the data folder's key pair (its subscriptions were made with it)
    const single = await startRelay({ dataDir: dirA, args: pushArgs, env });
    const p0 = await pairClients(single.wsUrl);
    const before = ((await p0.device.request({ t: 'push.key' })) as { key: string }).key;
    await Promise.all([p0.host.close(), p0.device.close()]);
    await single.stop();
    const file = JSON.parse(readFileSync(join(dirA, 'vapid.json'), 'utf8')) as {
      publicKey: string;
      privateKey: string;
    };
    assert.equal(file.publicKey, before);

    const db = await cluster.createDatabase();
    const fleetArgs = (id: string) => [
      '--database',
      db.url,
      '--redis',
      redis.url,
      '--node-id',
      id,
      ...pushArgs,
    ];
    const fleetEnv = { ...env, PGPASSWORD: db.password };
    nodes.push(await startRelay({ dataDir: dirA, args: fleetArgs('a'), env: fleetEnv }));
    nodes.push(await startRelay({ args: fleetArgs('b'), env: fleetEnv }));
    const [a, b] = nodes as [StartedRelay, StartedRelay];
    assert.equal(existsSync(join(b.dataDir, 'vapid.json')), false, 'node B keeps no key file');

    const hostKey = generateKeyPair();
    const deviceKey = generateKeyPair();
    const host = await RawClient.connect(b.wsUrl, { role: 'host', keyPair: hostKey });
    const device = await RawClient.connect(a.wsUrl, { role: 'device', keyPair: deviceKey });
    await pairClients(a.wsUrl, { hostKey, deviceKey, host, device });
    const deviceOnB = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    const keyA = ((await device.request({ t: 'push.key' })) as { key: string }).key;
    const keyB = ((await deviceOnB.request({ t: 'push.key' })) as { key: string }).key;
    assert.equal(keyA, file.publicKey, 'imported from vapid.json');
    assert.equal(keyB, keyA, 'the same key on every node');

    // subscribed through node A, pushed by the host on node B
    const sub = service.subscribe();
    const r = await device.request({
      t: 'push.subscribe',
      endpoint: sub.endpoint,
      p256dh: sub.p256dh,
      auth: sub.auth,
    });
    assert.equal(replyCode(r), 'ok');
    assert.equal(
      replyCode(
        await host.request({ t: 'push.send', to: device.id as DeviceId, env: junkEnvelope('alert') }),
      ),
      'ok',
    );
    const [got] = await service.waitFor(sub.id);
    assert.equal(got!.status, 201, got!.error);
    assert.equal(got!.vapidKey, keyA, 'signed with the shared key');

    // a restart of node B (no file, the store has the pair) keeps the key
    await b.restart();
    const again = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    assert.equal(((await again.request({ t: 'push.key' })) as { key: string }).key, keyA);
    for (const n of nodes) assert.doesNotMatch(n.logs(), new RegExp(file.privateKey));
    assert.match(a.logs(), /"msg":"vapid keys from the store".*"from":"vapid.json"/);
    await Promise.all([host.close(), device.close(), deviceOnB.close(), again.close()]);
  });
});
