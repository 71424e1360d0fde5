/**
 * Authentication against a real relay process (docs/protocol.md §3): a wrong
 * signature, a stale `ts`, a replayed challenge and an id that does not
 * match its key are each refused with `unauthorized` and a close, and
 * nothing is stored; closed registration needs a live enrollment token.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  b64u,
  deviceIdOf,
  generateKeyPair,
  hostIdOf,
  type ServerMessage,
  unixNow,
} from '@pocketshell/protocol';
import { RawClient, type StartedRelay, startRelay } from '../testing/index.ts';
import { DATABASE_FILE } from './sqlite-store.ts';

const BIN = new URL('../bin/pocketshell-relay.js', import.meta.url).pathname;
const run = promisify(execFile);

function rows(dataDir: string, sql: string): unknown[] {
  const db = new DatabaseSync(join(dataDir, DATABASE_FILE), { readOnly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

async function challenge(client: RawClient): Promise<Extract<ServerMessage, { t: 'challenge' }>> {
  const m = await client.next((x) => x.t === 'challenge');
  assert.equal(m.t, 'challenge');
  return m as Extract<ServerMessage, { t: 'challenge' }>;
}

/** Sends `auth`, expects `error unauthorized` then a close. */
async function expectRefused(client: RawClient, auth: object, code = 'unauthorized'): Promise<void> {
  client.send(auth);
  const m = await client.next();
  assert.equal(m.t, 'error');
  assert.equal((m as { code: string }).code, code);
  const closed = await client.closed;
  assert.equal(closed.code, 1008);
}

describe('relay auth', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay.stop();
  });

  it('accepts a good auth and answers ready with the id and the relay clock', async () => {
    const keyPair = generateKeyPair();
    const c = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair });
    assert.equal(c.id, deviceIdOf(keyPair.publicKey));
    await c.close();
  });

  it('names the origin as dialled in the challenge', async () => {
    const c = await RawClient.open(relay.wsUrl);
    const ch = await challenge(c);
    assert.equal(ch.relay, relay.url.replace('http', 'ws'));
    await c.close();
  });

  it('refuses a wrong signature, a stale ts, a replayed challenge and a mismatched id; stores nothing', async () => {
    const keyPair = generateKeyPair();
    const other = generateKeyPair();

    // wrong signature: signed by another key
    let c = await RawClient.open(relay.wsUrl);
    let ch = await challenge(c);
    const forged = RawClient.authFor(ch, { role: 'host', keyPair: other });
    await expectRefused(c, { ...forged, pub: b64u(keyPair.publicKey) });

    // stale ts: 61 s in the past, correctly signed
    c = await RawClient.open(relay.wsUrl);
    ch = await challenge(c);
    await expectRefused(c, RawClient.authFor(ch, { role: 'host', keyPair, ts: unixNow() - 61 }));

    // and in the future
    c = await RawClient.open(relay.wsUrl);
    ch = await challenge(c);
    await expectRefused(c, RawClient.authFor(ch, { role: 'host', keyPair, ts: unixNow() + 120 }));

    // replayed challenge: a valid auth for an earlier connection's nonce
    c = await RawClient.open(relay.wsUrl);
    const old = await challenge(c);
    await c.close();
    c = await RawClient.open(relay.wsUrl);
    await challenge(c);
    await expectRefused(c, RawClient.authFor(old, { role: 'host', keyPair }));

    // an id that does not match the key (and one of the wrong role)
    c = await RawClient.open(relay.wsUrl);
    ch = await challenge(c);
    await expectRefused(c, {
      ...RawClient.authFor(ch, { role: 'host', keyPair }),
      id: hostIdOf(other.publicKey),
    });
    c = await RawClient.open(relay.wsUrl);
    ch = await challenge(c);
    await expectRefused(c, {
      ...RawClient.authFor(ch, { role: 'host', keyPair }),
      id: deviceIdOf(keyPair.publicKey),
    });

    // a message other than auth first
    c = await RawClient.open(relay.wsUrl);
    await challenge(c);
    await expectRefused(c, { t: 'pair.create', rid: 'x' });

    const hosts = rows(relay.dataDir, 'SELECT id, pub FROM hosts');
    assert.deepEqual(hosts, [], 'no host was registered by a refused auth');
    const devices = rows(relay.dataDir, 'SELECT id, pub FROM devices') as { pub: string }[];
    assert.equal(
      devices.filter((d) => d.pub === b64u(keyPair.publicKey) || d.pub === b64u(other.publicKey)).length,
      0,
    );
  });

  it('accepts a matching id', async () => {
    const keyPair = generateKeyPair();
    const c = await RawClient.open(relay.wsUrl);
    const ch = await challenge(c);
    c.send({ ...RawClient.authFor(ch, { role: 'host', keyPair }), id: hostIdOf(keyPair.publicKey) });
    const ready = await c.next();
    assert.deepEqual(ready.t, 'ready');
    await c.close();
  });

  it('refuses a malformed auth with bad_message and closes', async () => {
    const c = await RawClient.open(relay.wsUrl);
    await challenge(c);
    await expectRefused(c, { t: 'auth', role: 'admin', pub: 'x', ts: 1, sig: 'y' }, 'bad_message');
  });
});

describe('closed registration', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay({ args: ['--registration', 'token'] });
  });
  after(async () => {
    await relay.stop();
  });

  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [BIN, ...args, '--data', relay.dataDir], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: relay.dataDir,
        XDG_CONFIG_HOME: join(relay.dataDir, 'config'),
      },
    });
    return stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('needs a live token for a new host; devices register freely; known hosts need none', async () => {
    const keyPair = generateKeyPair();
    await assert.rejects(RawClient.connect(relay.wsUrl, { role: 'host', keyPair }), {
      code: 'registration_closed',
    });
    await assert.rejects(RawClient.connect(relay.wsUrl, { role: 'host', keyPair, enroll: 'A'.repeat(32) }), {
      code: 'registration_closed',
    });
    assert.deepEqual(rows(relay.dataDir, 'SELECT id FROM hosts'), []);

    const [created] = await cli('token', 'create', '--label', 'ci', '--uses', '1');
    assert.ok(created);
    const token = created.token as string;
    const host = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair, enroll: token });
    assert.equal(host.id, hostIdOf(keyPair.publicKey));
    await host.close();
    // registered now: no token needed
    const again = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair });
    await again.close();
    // the single use is spent
    await assert.rejects(
      RawClient.connect(relay.wsUrl, { role: 'host', keyPair: generateKeyPair(), enroll: token }),
      {
        code: 'registration_closed',
      },
    );
    const device = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    await device.close();

    const listed = await cli('token', 'list');
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.usesLeft, 0);
    assert.equal(listed[0]!.label, 'ci');
    assert.equal(JSON.stringify(listed).includes(token), false);
  });

  it('refuses a revoked token', async () => {
    const [created] = await cli('token', 'create', '--uses', '5');
    const [revoked] = await cli('token', 'revoke', created!.id as string);
    assert.equal(revoked!.revoked, true);
    await assert.rejects(
      RawClient.connect(relay.wsUrl, {
        role: 'host',
        keyPair: generateKeyPair(),
        enroll: created!.token as string,
      }),
      { code: 'registration_closed' },
    );
    await assert.rejects(cli('token', 'revoke', 'nosuchid'), (e: { code: number }) => e.code === 2);
  });
});
