/**
 * `pocketshell doctor` against real things: a relay process (with TURN
 * configured to point at a STUN responder on a loopback UDP socket), real
 * state files with good and bad modes, an unreachable relay, a skewed clock.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IdentityStore, openSecretStore, type StatePaths, statePaths } from '@pocketshell/host-core';
import { pairClients, type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { relayUrls, writeConfig } from './config.ts';
import {
  checkEngine,
  checkNode,
  checkState,
  type DoctorReport,
  doctor,
  formatDoctor,
  stunBinding,
} from './doctor.ts';
import { DetachedService } from './service/detached.ts';

let dir: string;
let stun: Socket;
let stunPort: number;
let relay: StartedRelay;
let paths: StatePaths;
const env = { POCKETSHELL_KEYSTORE: 'file' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pocketshell-doctor-'));
  // A STUN server that answers Binding requests (the part of TURN doctor probes).
  stun = createSocket('udp4');
  stun.on('message', (m, rinfo) => {
    if (m.length < 20 || m.readUInt16BE(0) !== 0x0001) return;
    const res = Buffer.alloc(20);
    res.writeUInt16BE(0x0101, 0);
    res.writeUInt32BE(0x2112a442, 4);
    m.copy(res, 8, 8, 20);
    stun.send(res, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => stun.bind(0, '127.0.0.1', r));
  stunPort = stun.address().port;
  relay = await startRelay({
    args: ['--turn-secret', 'doctor-test-secret', '--turn-url', `turn:127.0.0.1:${stunPort}`],
  });
  paths = statePaths({ root: join(dir, 'state') });
  const secrets = await openSecretStore({ paths, env });
  const identity = await new IdentityStore({ paths, secrets }).loadOrCreate();
  writeConfig(paths, relayUrls(relay.url));
  // the relay hands TURN credentials only to a host with a pairing (docs/security.md, finding 3)
  const paired = await pairClients(relay.wsUrl, {
    hostKey: { publicKey: identity.publicKey, secretKey: identity.secretKey },
  });
  await Promise.all([paired.host.close(), paired.device.close()]);
});

after(async () => {
  stun?.close();
  await relay?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function options(p: StatePaths, extra: Partial<Parameters<typeof doctor>[0]> = {}) {
  return {
    paths: p,
    env,
    version: '9.9.9',
    service: async () =>
      new DetachedService({
        pidFile: join(p.root, 'daemon.pid'),
        logFile: join(p.root, 'daemon.log'),
        ready: async () => false,
      }),
    timeoutMs: 3_000,
    ...extra,
  };
}

function byId(r: DoctorReport, id: string) {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id}`);
  return c;
}

test('Node versions: 22.18 is the floor', () => {
  assert.equal(checkNode('22.17.1').status, 'fail');
  assert.match(checkNode('22.17.1').fix ?? '', /22\.18/);
  assert.equal(checkNode('22.18.0').status, 'ok');
  assert.equal(checkNode('v24.1.0').status, 'ok');
});

test('engine: says which WebRTC engine runs and why; a forced engine that cannot run fails', () => {
  assert.match(checkEngine({}, () => true).summary, /^node-datachannel \(default/);
  assert.match(checkEngine({}, () => false).summary, /^werift \(default: node-datachannel does not load/);
  assert.match(checkEngine({ POCKETSHELL_ENGINE: 'werift' }, () => true).summary, /^werift \(forced/);
  const missing = checkEngine({ POCKETSHELL_ENGINE: 'node-datachannel' }, () => false);
  assert.equal(missing.status, 'fail');
  assert.match(missing.fix ?? '', /unset POCKETSHELL_ENGINE/);
  assert.equal(checkEngine({ POCKETSHELL_ENGINE: 'quic' }).status, 'fail');
});

test('state permissions: private is ok, group/world bits and foreign owners fail', () => {
  const root = join(dir, 'perm');
  const p = statePaths({ root });
  assert.equal(checkState(p).status, 'ok', 'missing folder is fine');
  mkdirSync(root, { mode: 0o700 });
  writeFileSync(join(root, 'devices.json'), '{}', { mode: 0o600 });
  assert.equal(checkState(p).status, 'ok');
  chmodSync(join(root, 'devices.json'), 0o644);
  const bad = checkState(p);
  assert.equal(bad.status, 'fail');
  assert.match(bad.summary, /devices\.json is mode 644/);
  assert.match(bad.fix ?? '', /chmod -R go-rwx/);
  chmodSync(join(root, 'devices.json'), 0o600);
  assert.match(checkState(p, 12345).summary, /belongs to uid/);
});

test('a healthy machine: relay answers, clock agrees, the TURN server answers a binding request', async () => {
  const r = await doctor(options(paths));
  assert.equal(r.ok, true, formatDoctor(r));
  assert.equal(byId(r, 'node').status, 'ok');
  assert.equal(byId(r, 'state').status, 'ok');
  assert.equal(byId(r, 'relay').status, 'ok');
  assert.match(byId(r, 'relay').summary, /http:\/\/127\.0\.0\.1:\d+ answers/);
  assert.equal(byId(r, 'clock').status, 'ok');
  assert.equal(byId(r, 'ice').status, 'ok', byId(r, 'ice').summary);
  assert.equal(byId(r, 'engine').status, 'ok');
  assert.match(byId(r, 'ice').summary, new RegExp(`turn:127\\.0\\.0\\.1:${stunPort}: \\d+ ms`));
  assert.equal(byId(r, 'keystore').status, 'warn');
  assert.equal(byId(r, 'service').status, 'warn');
  assert.match(formatDoctor(r), /\[warn\] service .*\n +→ pocketshell daemon start/);
});

test('a host with no paired device: ICE is not checked, and doctor says to pair first', async () => {
  const fresh = statePaths({ root: join(dir, 'unpaired') });
  const secrets = await openSecretStore({ paths: fresh, env });
  await new IdentityStore({ paths: fresh, secrets }).loadOrCreate();
  writeConfig(fresh, relayUrls(relay.url));
  const ice = byId(await doctor(options(fresh)), 'ice');
  assert.equal(ice.status, 'warn');
  assert.match(ice.summary, /only once this host has a paired device/);
  assert.match(ice.fix ?? '', /pocketshell pair/);
});

test('a clock two minutes slow is reported with what to do', async () => {
  const r = await doctor(options(paths, { now: () => Date.now() - 120_000 }));
  const clock = byId(r, 'clock');
  assert.equal(clock.status, 'warn');
  assert.match(clock.summary, /clock 1[12]\d s behind the relay/);
  assert.match(clock.fix ?? '', /time sync/);
});

test('an unreachable relay fails the report; a silent STUN port gets no answer', async () => {
  const p = statePaths({ root: join(dir, 'state-unreachable') });
  mkdirSync(p.root, { mode: 0o700 });
  writeConfig(p, relayUrls('http://127.0.0.1:9'));
  const r = await doctor(options(p));
  assert.equal(r.ok, false);
  assert.equal(byId(r, 'relay').status, 'fail');
  assert.match(byId(r, 'relay').summary, /unreachable/);
  assert.equal(await stunBinding('127.0.0.1', 9, 300), null);
});
