/**
 * The relay can read none of what it routes, and keeps none of the secrets
 * it handles: after a session of pairing and sealed traffic whose plaintext
 * holds a sentinel, neither the database files nor the logs (at debug
 * level) contain the sentinel, the claim, the enrollment token, or either
 * party's secret key, in any encoding.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { b64u, fromB64u, generateKeyPair, sealJson, toHex } from '@pocketshell/protocol';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';
import { DATABASE_FILE } from './sqlite-store.ts';

const BIN = new URL('../bin/pocketshell-relay.js', import.meta.url).pathname;
const run = promisify(execFile);
const SENTINEL = 'SENTINEL-7f3a9c-do-not-store';

/** Every encoding of `bytes` a careless implementation might have written. */
function encodings(bytes: Uint8Array): Buffer[] {
  const b = Buffer.from(bytes);
  return [b, Buffer.from(b64u(bytes)), Buffer.from(b.toString('base64')), Buffer.from(toHex(bytes))];
}

describe('privacy', () => {
  let dataDir: string;
  let relay: StartedRelay;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'relay-privacy-'));
    relay = await startRelay({ dataDir, args: ['--log-level', 'debug', '--registration', 'token'] });
  });
  after(async () => {
    await relay.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores and logs no plaintext, claim, token or secret key', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'token', 'create', '--data', dataDir], {
      env: { PATH: process.env.PATH ?? '', HOME: dataDir, XDG_CONFIG_HOME: join(dataDir, 'config') },
    });
    const token = (JSON.parse(stdout) as { token: string }).token;
    const hostKey = generateKeyPair();
    const host = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey, enroll: token });
    const { device, deviceKey, claim } = await pairClients(relay.wsUrl, { hostKey, host });
    for (let i = 0; i < 20; i++) {
      const envelope = sealJson({
        kind: 'relay-data',
        body: { text: `${SENTINEL} ${i}` },
        senderId: device.id!,
        senderSecret: deviceKey.secretKey,
        recipientId: host.id!,
        recipientPublic: hostKey.publicKey,
      });
      device.send({ t: 'send', to: host.id, env: envelope });
      await host.next((m) => m.t === 'deliver');
    }
    // a malformed frame carrying the sentinel too
    device.send({ t: 'send', rid: 'x', to: host.id, env: { kind: SENTINEL } });
    await device.next((m) => m.t === 'error');
    await Promise.all([host.close(), device.close()]);

    const needles: [string, Buffer[]][] = [
      ['sentinel', [Buffer.from(SENTINEL)]],
      ['claim', encodings(fromB64u(claim))],
      ['token', [Buffer.from(token)]],
      ['host secret key', encodings(hostKey.secretKey)],
      ['device secret key', encodings(deviceKey.secretKey)],
    ];
    const check = (label: string, hay: Buffer) => {
      for (const [what, forms] of needles) {
        for (const form of forms) assert.equal(hay.indexOf(form), -1, `${what} found in ${label}`);
      }
    };
    const files = () =>
      [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]
        .map((f) => join(dataDir, f))
        .filter((f) => existsSync(f));
    // while running (WAL not yet checkpointed) ...
    assert.ok(files().length >= 1);
    for (const f of files()) check(f, readFileSync(f));
    // ... and after a clean stop
    await relay.kill('SIGTERM');
    for (const f of files()) check(f, readFileSync(f));
    check('logs', Buffer.from(relay.logs()));
    assert.match(relay.logs(), /"msg":"paired"/, 'the logs are there to be searched');
  });
});
