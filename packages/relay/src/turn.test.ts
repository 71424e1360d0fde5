/**
 * TURN credentials (docs/protocol.md §7) against Debian's coturn: the relay's
 * `turn` answer follows the REST-API scheme, an allocation with it succeeds
 * on a loopback `turnserver --use-auth-secret`, and forged or expired ones
 * fail. coturn must be installed (scripts/install-system-deps.sh); without
 * it this test fails rather than skips.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unixNow } from '@pocketshell/protocol';
import { pairClients, type StartedRelay, startRelay } from '../testing/index.ts';
import { turnCredentials } from './turn.ts';
import { turnAllocate } from './turn-probe.ts';

const SECRET = 'test-static-auth-secret-0123456789';
const REALM = 'pocketshell.test';

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  const { port } = s.address();
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

describe('turn credentials unit', () => {
  it('follows the coturn REST scheme', () => {
    const c = turnCredentials({
      secret: 'secret',
      id: 'd_x',
      now: 1000,
      ttl: 600,
      urls: ['turn:127.0.0.1:3478'],
    });
    assert.equal(c.username, '1600:d_x');
    assert.equal(c.credential, createHmac('sha1', 'secret').update('1600:d_x').digest('base64'));
    assert.equal(c.ttl, 600);
  });
});

describe('turn credentials with coturn', () => {
  let dir: string;
  let turnPort: number;
  let coturn: ChildProcess;
  let coturnLog = '';
  let relay: StartedRelay;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-turn-'));
    turnPort = await freeUdpPort();
    coturn = spawn(
      'turnserver',
      [
        '-n',
        '--listening-ip=127.0.0.1',
        `--listening-port=${turnPort}`,
        '--relay-ip=127.0.0.1',
        '--min-port=49152',
        '--max-port=65535',
        '--use-auth-secret',
        `--static-auth-secret=${SECRET}`,
        `--realm=${REALM}`,
        '--no-cli',
        '--no-tls',
        '--no-dtls',
        '--no-tcp-relay',
        // UDP only: the port was found free for UDP; a TCP listener on it could collide.
        '--no-tcp',
        '--log-file=stdout',
        '--simple-log',
        `--pidfile=${join(dir, 'turnserver.pid')}`,
        `--userdb=${join(dir, 'turndb')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    coturn.stdout!.on('data', (d: Buffer) => {
      coturnLog += d.toString();
    });
    coturn.stderr!.on('data', (d: Buffer) => {
      coturnLog += d.toString();
    });
    await new Promise<void>((res, rej) => {
      coturn.once('spawn', () => res());
      coturn.once('error', (e) => rej(new Error(`coturn (turnserver) is required: ${e.message}`)));
    });
    relay = await startRelay({
      args: ['--turn-url', `turn:127.0.0.1:${turnPort}?transport=udp`, '--turn-ttl', '600'],
      env: { POCKETSHELL_RELAY_TURN_SECRET: SECRET },
    });
  });

  after(async () => {
    await relay?.stop();
    if (coturn && coturn.exitCode === null) {
      const exited = new Promise((r) => coturn.once('exit', r));
      coturn.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** An Allocate against the test's coturn; a timeout carries coturn's log. */
  const allocate = (username: string, password: string) =>
    turnAllocate({ host: '127.0.0.1', port: turnPort, username, password, timeoutMs: 30_000 }).catch(
      (error: Error) => {
        throw new Error(
          `${error.message}; coturn ${coturn.exitCode === null ? 'running' : `exited ${coturn.exitCode}`}:\n${coturnLog.slice(-3000)}`,
        );
      },
    );

  it('allocates with the relay credentials and refuses forged or expired ones', async () => {
    // credentials are for paired parties only (docs/security.md, finding 3)
    const { host, device: c } = await pairClients(relay.wsUrl);
    const turn = await c.request({ t: 'turn.credentials' });
    assert.equal(turn.t, 'turn', JSON.stringify(turn));
    if (turn.t !== 'turn') return;
    assert.deepEqual(turn.urls, [`turn:127.0.0.1:${turnPort}?transport=udp`]);
    assert.equal(turn.ttl, 600);
    const [expiry, id] = turn.username.split(':');
    assert.equal(id, c.id);
    assert.ok(Math.abs(Number(expiry) - (Date.now() / 1000 + 600)) < 30);
    assert.equal(turn.credential, createHmac('sha1', SECRET).update(turn.username).digest('base64'));

    const good = await allocate(turn.username, turn.credential);
    assert.equal(good.ok, true, `${JSON.stringify(good)}\n${coturnLog}`);
    if (good.ok) assert.equal(good.relayed.address, '127.0.0.1');

    const forged = createHmac('sha1', 'not-the-secret-at-all').update(turn.username).digest('base64');
    const bad = await allocate(turn.username, forged);
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.equal(bad.code, 401);

    const stretched = `${Number(expiry) + 86_400}:${id}`;
    const bad2 = await allocate(stretched, turn.credential);
    assert.equal(bad2.ok, false);

    const old = turnCredentials({
      secret: SECRET,
      id: c.id!,
      now: unixNow() - 7200,
      ttl: 600,
      urls: [],
    });
    const expired = await allocate(old.username, old.credential);
    assert.equal(expired.ok, false);
    await Promise.all([c.close(), host.close()]);
  });
});
