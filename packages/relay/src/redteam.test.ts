/**
 * The relay findings of the 2026-12 red-team pass (docs/security.md), each
 * against a real relay process on loopback: TURN credentials only for
 * identities with a live pairing, and rate limited; wrong redeems limited per
 * source address so fresh identities cannot burn a host's claim, and a claim
 * burned from many addresses reported to its host; no database row for an
 * unpaired device; private database files and a refused loose data folder;
 * slow-header sockets cut at the headers timeout and a per-address cap on
 * HTTP connections.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { b64u, generateKeyPair, hostIdOf, type KeyPair, randomBytes } from '@pocketshell/protocol';
import { replyCode as code, limitsConfig as configWith, junkEnvelope as junk } from '../testing/fixtures.ts';
import { pairClients, RawClient, type StartedRelay, startRelay } from '../testing/index.ts';
import { addressKey } from './limits.ts';
import { DATABASE_FILE } from './sqlite-store.ts';

/** A `pair.request` envelope nobody can open. */
const junkEnvelope = () => junk('pair.request', 48);

const BIN = new URL('../bin/pocketshell-relay.js', import.meta.url).pathname;
const TURN_SECRET = 'redteam-turn-secret-0123456789';

const work = mkdtempSync(join(tmpdir(), 'relay-redteam-'));
after(() => rmSync(work, { recursive: true, force: true }));
/** Rows of a table, read from the relay's live database file. */
function rows(dataDir: string, table: string): number {
  const db = new DatabaseSync(join(dataDir, DATABASE_FILE), { readOnly: true });
  try {
    return Number((db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/** One wrong redeem against `host` from a fresh device identity, from `localAddress`. */
async function wrongRedeem(wsUrl: string, host: string, localAddress = '127.0.0.1'): Promise<string> {
  const device = await RawClient.connect(wsUrl, { role: 'device', keyPair: generateKeyPair(), localAddress });
  try {
    return code(
      await device.request({
        t: 'pair.redeem',
        claim: b64u(randomBytes(16)),
        host,
        env: junkEnvelope(),
      }),
    );
  } finally {
    await device.close();
  }
}

describe('finding 3: TURN credentials need a live pairing', () => {
  let relay: StartedRelay;
  let enroll: string;
  before(async () => {
    const dataDir = join(work, 'turn-data');
    mkdirSync(dataDir, { mode: 0o700 });
    const made = spawnSync(process.execPath, [BIN, 'token', 'create', '--uses', '5', '--data', dataDir], {
      env: { PATH: process.env.PATH ?? '', HOME: dataDir, XDG_CONFIG_HOME: join(dataDir, 'config') },
      encoding: 'utf8',
    });
    assert.equal(made.status, 0, made.stderr);
    enroll = (JSON.parse(made.stdout) as { token: string }).token;
    relay = await startRelay({
      dataDir,
      args: [
        '--registration',
        'token',
        '--turn-url',
        'turn:127.0.0.1:3478?transport=udp',
        '--config',
        configWith({ rates: { turn: { identity: { burst: 3, perSecond: 0.01 } } } }),
      ],
      env: { POCKETSHELL_RELAY_TURN_SECRET: TURN_SECRET },
    });
  });
  after(async () => {
    await relay.stop();
  });

  it('refuses an unpaired device and an unpaired host, serves both once paired, then rate limits', async () => {
    const stranger = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
    assert.equal(code(await stranger.request({ t: 'turn.credentials' })), 'not_paired');
    await stranger.close();

    const hostKey = generateKeyPair();
    const host = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: hostKey, enroll });
    assert.equal(code(await host.request({ t: 'turn.credentials' })), 'not_paired');

    const { device } = await pairClients(relay.wsUrl, { hostKey, host });
    const forHost = await host.request({ t: 'turn.credentials' });
    assert.equal(forHost.t, 'turn', JSON.stringify(forHost));
    for (let i = 0; i < 3; i++) {
      const m = await device.request({ t: 'turn.credentials' });
      assert.equal(m.t, 'turn', JSON.stringify(m));
      if (m.t === 'turn') assert.equal(m.username.split(':')[1], device.id);
    }
    assert.equal(code(await device.request({ t: 'turn.credentials' })), 'rate_limited');

    // a revoked pairing is no pairing
    assert.equal(code(await host.request({ t: 'pair.revoke', peer: device.id! })), 'ok');
    assert.equal(code(await host.request({ t: 'turn.credentials' })), 'not_paired');
    await Promise.all([host.close(), device.close()]);
  });
});

describe('finding 7: wrong redeems cannot burn a claim cheaply, and a burned claim is reported', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay.stop();
  });

  async function hostWithClaim(keyPair: KeyPair = generateKeyPair()) {
    const host = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair });
    const created = await host.request({ t: 'pair.create' });
    assert.equal(created.t, 'pair.created');
    return { host, id: hostIdOf(keyPair.publicKey), claim: (created as { claim: string }).claim };
  }

  it('limits wrong redeems per source address, so fresh identities from one address do not burn the claim', async () => {
    const { host, id, claim } = await hostWithClaim();
    const codes: string[] = [];
    // five fresh identities, one address: the identity limit alone would let all five count
    for (let i = 0; i < 5; i++) codes.push(await wrongRedeem(relay.wsUrl, id, '127.0.0.1'));
    assert.deepEqual(codes, [
      'claim_invalid',
      'claim_invalid',
      'claim_invalid',
      'rate_limited',
      'rate_limited',
    ]);
    // the claim is alive: the right device (from elsewhere) redeems it
    const device = await RawClient.connect(relay.wsUrl, {
      role: 'device',
      keyPair: generateKeyPair(),
      localAddress: '127.0.0.9',
    });
    assert.equal(
      code(await device.request({ t: 'pair.redeem', claim, host: id, env: junkEnvelope() })),
      'ok',
    );
    assert.equal(host.queued.filter((m) => m.t === 'pair.burned').length, 0);
    await Promise.all([host.close(), device.close()]);
  });

  it('tells the host with pair.burned when wrong redeems from many addresses kill its claim', async () => {
    const { host, id, claim } = await hostWithClaim();
    for (let i = 0; i < 5; i++) {
      assert.equal(await wrongRedeem(relay.wsUrl, id, `127.0.1.${i + 1}`), 'claim_invalid');
    }
    assert.deepEqual(await host.next((m) => m.t === 'pair.burned'), { t: 'pair.burned' });
    const device = await RawClient.connect(relay.wsUrl, {
      role: 'device',
      keyPair: generateKeyPair(),
      localAddress: '127.0.1.20',
    });
    assert.equal(
      code(await device.request({ t: 'pair.redeem', claim, host: id, env: junkEnvelope() })),
      'claim_invalid',
    );
    await Promise.all([host.close(), device.close()]);
  });
});

describe('finding 7: wrong-redeem budgets are kept per IPv4 address and per IPv6 /64', () => {
  it('keys addresses', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('2001:db8::1'), '2001:0db8:0000:0000::/64');
    assert.equal(addressKey('2001:db8:0:0:ffff:1:2:3'), '2001:0db8:0000:0000::/64');
    assert.equal(addressKey('2001:DB8:0:1::2%eth0'), '2001:0db8:0000:0001::/64');
    assert.equal(addressKey('::1'), '0000:0000:0000:0000::/64');
  });
});

describe('finding 8: no database row for a device until it pairs', () => {
  let relay: StartedRelay;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay.stop();
  });

  it('stores nothing for 30 fresh device identities, and one row once one pairs', async () => {
    const before = rows(relay.dataDir, 'devices');
    for (let i = 0; i < 30; i++) {
      const d = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: generateKeyPair() });
      await d.close();
    }
    assert.equal(rows(relay.dataDir, 'devices'), before, 'fresh device identities added rows');
    const { host, device, deviceKey } = await pairClients(relay.wsUrl);
    assert.equal(rows(relay.dataDir, 'devices'), before + 1);
    // the paired device comes back: still one row, and it routes
    await device.close();
    const again = await RawClient.connect(relay.wsUrl, { role: 'device', keyPair: deviceKey });
    await again.close();
    assert.equal(rows(relay.dataDir, 'devices'), before + 1);
    // revoked: the device is forgotten again
    assert.equal(code(await host.request({ t: 'pair.revoke', peer: device.id! })), 'ok');
    assert.equal(rows(relay.dataDir, 'devices'), before);
    await host.close();
  });
});

describe('finding 9: the database is private whatever the folder', () => {
  it('makes relay.sqlite, -wal and -shm 0600 in an existing 0755 folder, with umask 077', async () => {
    const old = process.umask(0o022);
    const dataDir = join(work, 'loose-but-not-writable');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const relay = await startRelay({ dataDir });
    process.umask(old);
    try {
      const host = await RawClient.connect(relay.wsUrl, { role: 'host', keyPair: generateKeyPair() });
      await host.close();
      for (const f of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]) {
        assert.equal((statSync(join(dataDir, f)).mode & 0o777).toString(8), '600', f);
      }
      const umask = /^Umask:\s*(\d+)$/m.exec(readFileSync(`/proc/${relay.pid}/status`, 'utf8'))?.[1];
      assert.equal(umask, '0077');
    } finally {
      await relay.stop();
    }
  });

  it('tightens database files an older relay left 0644', async () => {
    const dataDir = join(work, 'old-files');
    mkdirSync(dataDir, { mode: 0o700 });
    const first = await startRelay({ dataDir });
    await first.stop();
    for (const f of [DATABASE_FILE]) chmodSync(join(dataDir, f), 0o644);
    const relay = await startRelay({ dataDir });
    try {
      assert.equal((statSync(join(dataDir, DATABASE_FILE)).mode & 0o777).toString(8), '600');
    } finally {
      await relay.stop();
    }
  });

  for (const mode of [0o775, 0o757, 0o777]) {
    it(`refuses to start on a data folder with mode ${mode.toString(8)} (data_insecure, exit 2)`, async () => {
      const dataDir = join(work, `writable-${mode.toString(8)}`);
      mkdirSync(dataDir);
      chmodSync(dataDir, mode);
      const started = await startRelay({ dataDir }).then(
        (relay) => relay,
        (error: Error) => error,
      );
      if (!(started instanceof Error)) {
        await started.stop();
        assert.fail('the relay started on a writable data folder');
      }
      assert.match(started.message, /exited \(2\)/);
      assert.match(started.message, /"code":"data_insecure"/);
    });
  }
});

describe('finding 10: slow headers are cut and HTTP connections are capped per address', () => {
  let relay: StartedRelay;
  const sockets: Socket[] = [];
  before(async () => {
    relay = await startRelay({
      args: [
        '--config',
        configWith({ headersTimeoutSeconds: 1, requestTimeoutSeconds: 2, maxConnectionsPerAddress: 8 }),
      ],
    });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await relay.stop();
  });

  const port = () => Number(new URL(relay.url).port);

  function open(localAddress = '127.0.0.1'): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: port(), localAddress }, () => resolve(s));
      s.on('error', reject);
      sockets.push(s);
    });
  }

  const closed = (s: Socket) =>
    new Promise<void>((resolve) => {
      if (s.closed) resolve();
      else s.once('close', () => resolve());
    });

  /** A keep-alive request; resolves with the status line, or null if the server closed instead. */
  function healthz(s: Socket): Promise<string | null> {
    return new Promise((resolve) => {
      let text = '';
      const onData = (d: Buffer) => {
        text += d.toString();
        if (text.includes('\r\n\r\n')) {
          s.off('data', onData);
          resolve(text.split('\r\n')[0]!);
        }
      };
      s.on('data', onData);
      s.once('close', () => resolve(text ? text.split('\r\n')[0]! : null));
      s.on('error', () => {});
      s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    });
  }

  it('closes sockets that trickle headers and never finish them', async () => {
    const slow = await Promise.all(Array.from({ length: 6 }, () => open('127.0.2.1')));
    const drips: NodeJS.Timeout[] = [];
    for (const [i, s] of slow.entries()) {
      s.on('error', () => {});
      s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      drips.push(setInterval(() => s.writable && s.write(`X-Drip-${i}: a\r\n`), 200));
    }
    // a bound well under Node's 30 s check interval, which is what kept them open before
    const bound = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('slow-header sockets still open after 10 s')), 10_000).unref(),
    );
    try {
      await Promise.race([Promise.all(slow.map(closed)), bound]);
    } finally {
      for (const d of drips) clearInterval(d);
    }
  });

  it('refuses a ninth connection from one address while eight are open; another address is served', async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => open('127.0.3.1')));
    for (const s of held) assert.equal(await healthz(s), 'HTTP/1.1 200 OK');
    const ninth = await open('127.0.3.1').catch(() => null);
    if (ninth) assert.equal(await healthz(ninth), null, 'the ninth connection was served');
    const other = await open('127.0.3.2');
    assert.equal(await healthz(other), 'HTTP/1.1 200 OK');
    // one of the eight leaves: the address may connect again
    held[0]!.destroy();
    await closed(held[0]!);
    let served: string | null = null;
    for (let i = 0; i < 50 && served === null; i++) {
      served = await healthz(await open('127.0.3.1'));
      if (served === null) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(served, 'HTTP/1.1 200 OK');
  });
});
