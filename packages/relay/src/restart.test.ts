/**
 * Durability against a real relay process: pairings, hosts and enrollment
 * tokens survive a kill -9 and a restart; a kill in the middle of a stream
 * of pairings leaves a consistent database in which every acknowledged
 * pairing exists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { generateKeyPair } from '@pocketshell/protocol';
import { junkEnvelope as env } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';
import { DATABASE_FILE } from './sqlite-store.ts';

const BIN = new URL('../bin/pocketshell-relay.js', import.meta.url).pathname;
const run = promisify(execFile);

function query(dataDir: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(join(dataDir, DATABASE_FILE));
  try {
    return db
      .prepare(sql)
      .all()
      .map((r) => ({ ...r }));
  } finally {
    db.close();
  }
}

describe('restart', () => {
  let dataDir: string;
  let relay: StartedRelay;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'relay-restart-'));
    relay = await startRelay({ dataDir, args: ['--registration', 'token'] });
  });
  after(async () => {
    await relay.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [BIN, ...args, '--data', dataDir], {
      env: { PATH: process.env.PATH ?? '', HOME: dataDir, XDG_CONFIG_HOME: join(dataDir, 'config') },
    });
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('keeps pairings and tokens across kill -9', async () => {
    const [token] = await cli('token', 'create', '--uses', '2', '--label', 'fleet');
    const hostKey = generateKeyPair();
    const host = await RawClient.connect(relay.wsUrl, {
      role: 'host',
      keyPair: hostKey,
      enroll: token!.token as string,
    });
    const { device, deviceKey } = await pairClients(relay.wsUrl, { hostKey, host });

    await relay.kill('SIGKILL');
    await Promise.all([host.closed, device.closed]);
    await relay.restart();

    const host2 = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey });
    const device2 = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: deviceKey });
    assert.deepEqual(await device2.next((m) => m.t === 'presence'), {
      t: 'presence',
      host: host2.id,
      online: true,
    });
    const e = env();
    device2.send({ t: 'send', to: host2.id, env: e });
    assert.deepEqual(await host2.next((m) => m.t === 'deliver'), { t: 'deliver', from: device2.id, env: e });

    const [listed] = await cli('token', 'list');
    assert.equal(listed!.id, token!.id);
    assert.equal(listed!.usesLeft, 1);
    const other = await RawClient.connect(relay.wsUrl, {
      role: 'host',
      keyPair: generateKeyPair(),
      enroll: token!.token as string,
    });
    await Promise.all([host2.close(), device2.close(), other.close()]);
  });

  it('leaves no half-written state when killed mid-stream', async () => {
    const hostKey = generateKeyPair();
    const [token] = await cli('token', 'create', '--uses', '1');
    const host = await RawClient.connect(relay.wsUrl, {
      role: 'host',
      keyPair: hostKey,
      enroll: token!.token as string,
    });
    const acknowledged: string[] = [];
    let killed = false;
    const stream = (async () => {
      for (let i = 0; i < 200 && !killed; i++) {
        try {
          const { device } = await pairClients(relay.wsUrl, { hostKey, host });
          acknowledged.push(device.id!);
          void device.close();
        } catch {
          return; // the relay died under us
        }
      }
    })();
    while (acknowledged.length < 5) await new Promise((r) => setTimeout(r, 20));
    killed = true;
    await relay.kill('SIGKILL');
    await stream;

    assert.deepEqual(query(dataDir, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    assert.deepEqual(query(dataDir, 'PRAGMA foreign_key_check'), []);
    const paired = new Set(
      query(dataDir, `SELECT device_id FROM pairings WHERE host_id = '${host.id}'`).map(
        (r) => r.device_id as string,
      ),
    );
    for (const id of acknowledged) assert.ok(paired.has(id), `acknowledged pairing ${id} survived`);
    await relay.restart();
    const again = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey });
    await again.close();
  });
});
