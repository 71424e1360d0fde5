/**
 * Real relay processes on PostgreSQL (`--database postgres://…`) against a
 * private cluster (`testing/postgres.ts`): two relays started together on
 * one fresh database (both migrate it, one wins the lock), each saying
 * `"store":"postgres"` and neither printing the password, whether it came
 * from `PGPASSWORD` or `--database-password-file`; enrollment with a token
 * made by `pocketshell-relay token create --database`; pairing, send and
 * deliver; a push subscription stored through the other relay (it sees the
 * pairing in the shared database); revoke, which takes the device and its
 * subscription; and a kill -9 and restart, after which everything
 * acknowledged is still there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { b64u, generateKeyPair, randomBytes } from '@pocketshell/protocol';
import { junkEnvelope as env, replyCode } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';
import { type PostgresCluster, startPostgres, type TestDatabase } from '../testing/postgres.ts';
import { MIGRATIONS } from './migrations.ts';

const BIN = new URL('../bin/pocketshell-relay.js', import.meta.url).pathname;
const run = promisify(execFile);
const PUSH_HOST = '127.0.0.1:4433';

describe('relay processes on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let db: TestDatabase;
  let dir: string;
  let a: StartedRelay;
  let b: StartedRelay;
  before(async () => {
    cluster = await startPostgres();
    db = await cluster.createDatabase();
    dir = mkdtempSync(join(tmpdir(), 'relay-pg-'));
    const passwordFile = join(dir, 'pw');
    writeFileSync(passwordFile, `${db.password}\n`, { mode: 0o600 });
    const common = ['--database', db.url, '--registration', 'token', '--push-endpoint-host', PUSH_HOST];
    [a, b] = await Promise.all([
      startRelay({ args: common, env: { PGPASSWORD: db.password } }),
      startRelay({ args: [...common, '--database-password-file', passwordFile] }),
    ]);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sql = (text: string, values: unknown[] = []) => cluster.query(text, values, db.name);
  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [BIN, ...args, '--database', db.url], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, 'config'),
        PGPASSWORD: db.password,
      },
    });
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('says it runs on PostgreSQL, where, and never the password', async () => {
    for (const relay of [a, b]) {
      const listening = relay
        .logs()
        .split('\n')
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        })
        .find((l) => l.msg === 'listening');
      assert.equal(listening?.store, 'postgres');
      assert.equal(listening?.database, db.url);
      assert.ok(!relay.logs().includes(db.password));
    }
    assert.deepEqual(await sql('SELECT COUNT(*)::int AS n FROM schema_migrations'), [
      { n: MIGRATIONS.length },
    ]);
    const health = await fetch(`${a.url}/healthz`);
    assert.equal(health.status, 200);
  });

  it('enrolls, pairs, routes, subscribes through the other relay, and revokes — all in the shared database', async () => {
    const [token] = await cli('token', 'create', '--uses', '1', '--label', 'pg');
    const hostKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, {
      role: 'host',
      keyPair: hostKey,
      enroll: token!.token as string,
    });
    await assert.rejects(
      RawClient.connect(b.wsUrl, {
        role: 'host',
        keyPair: generateKeyPair(),
        enroll: token!.token as string,
      }),
      { code: 'registration_closed' },
      'the token was used up on the other relay',
    );
    const { device, deviceKey } = await pairClients(a.wsUrl, { hostKey, host });
    const e = env();
    device.send({ t: 'send', to: host.id!, env: e });
    assert.deepEqual(await host.next((m) => m.t === 'deliver'), { t: 'deliver', from: device.id, env: e });
    assert.deepEqual(await sql('SELECT host_id, device_id FROM pairings'), [
      { host_id: host.id, device_id: device.id },
    ]);

    // the same device on the other relay: paired there too, so it may subscribe
    const onB = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: deviceKey });
    const endpoint = `https://${PUSH_HOST}/push/${b64u(randomBytes(8))}`;
    const subscribed = await onB.request({
      t: 'push.subscribe',
      endpoint,
      p256dh: b64u(new Uint8Array([4, ...randomBytes(64)])),
      auth: b64u(randomBytes(16)),
    });
    assert.equal(replyCode(subscribed), 'ok');
    const stranger = await RawClient.connect(b.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    assert.equal(
      replyCode(
        await stranger.request({
          t: 'push.subscribe',
          endpoint,
          p256dh: b64u(new Uint8Array([4, ...randomBytes(64)])),
          auth: b64u(randomBytes(16)),
        }),
      ),
      'not_paired',
    );
    assert.deepEqual(await sql('SELECT device_id, endpoint FROM push_subscriptions'), [
      { device_id: device.id, endpoint },
    ]);

    assert.equal(replyCode(await device.request({ t: 'pair.revoke', peer: host.id! })), 'ok');
    await host.next((m) => m.t === 'pair.revoked');
    assert.deepEqual(await sql('SELECT * FROM pairings'), []);
    assert.deepEqual(await sql('SELECT id FROM devices'), [], 'the device went with its last pairing');
    assert.deepEqual(await sql('SELECT id FROM push_subscriptions'), [], 'and its subscription with it');
    const [listed] = await cli('token', 'list');
    assert.equal(listed!.usesLeft, 0);
    await Promise.all([host.close(), device.close(), onB.close(), stranger.close()]);
  });

  it('keeps pairings and tokens across kill -9 and a restart', async () => {
    const [token] = await cli('token', 'create', '--uses', '2');
    const hostKey = generateKeyPair();
    const host = await RawClient.connect(a.wsUrl, {
      role: 'host',
      keyPair: hostKey,
      enroll: token!.token as string,
    });
    const { device, deviceKey } = await pairClients(a.wsUrl, { hostKey, host });
    await a.kill('SIGKILL');
    await Promise.all([host.closed, device.closed]);
    await a.restart();

    const host2 = await RawClient.connect(a.wsUrl, { role: 'host', keyPair: hostKey });
    const device2 = await RawClient.connect(a.wsUrl, { role: 'device', keyPair: deviceKey });
    assert.deepEqual(await device2.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host2.id,
      online: true,
    });
    const e = env();
    device2.send({ t: 'send', to: host2.id!, env: e });
    assert.deepEqual(await host2.next((m) => m.t === 'deliver'), { t: 'deliver', from: device2.id, env: e });
    const listed = (await cli('token', 'list')).find((t) => t.id === token!.id);
    assert.equal(listed?.usesLeft, 1);
    await Promise.all([host2.close(), device2.close()]);
  });
});
