/**
 * What the host refuses, and that a refusal creates nothing: each case runs
 * against a real relay process and a host agent whose PTY backend and
 * WebRTC engine are wrapped in spies, and checks the audit log for the
 * refusal's code. Cases: a flipped SDP byte, a replayed offer, an offer
 * signed by another key, a revoked device (relay still routing), a `term:`
 * channel without the `shell` grant, and a DTLS certificate other than the
 * one the signed offer names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import {
  isLoopbackIPv4,
  makeOffer,
  nodePtyBackend,
  type OpenedHost,
  openHost,
  type Peer,
  type PtyBackend,
  statePaths,
  type WebRtcEngine,
  WeriftEngine,
} from '@pocketshell/host-core';
import {
  type DeliverMessage,
  generateKeyPair,
  type KeyPair,
  openJson,
  randomId,
  sealJson,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, until } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

let relay: StartedRelay;
let home: string;
let host: OpenedHost;
let spawns = 0;
let peers = 0;
const devices: Device[] = [];
const extraPeers: Peer[] = [];
let shellDevice: { device: Device; key: KeyPair; host: PairedHost };
let statsDevice: { device: Device; key: KeyPair; host: PairedHost };

const engine = new WeriftEngine({ bindAddress: '127.0.0.1' });
const spyEngine: WebRtcEngine = {
  name: 'spy',
  createPeer: (o) => {
    peers++;
    return engine.createPeer(o);
  },
};
function spyBackend(real: PtyBackend): PtyBackend {
  return {
    ...real,
    spawn: (...args: Parameters<PtyBackend['spawn']>) => {
      spawns++;
      return real.spawn(...args);
    },
  };
}

async function pairDevice(grants: ('shell' | 'stats')[]) {
  const key = generateKeyPair();
  const device = loopbackDevice(relay.wsUrl, key);
  devices.push(device);
  const { host: pairedHost } = await pairNodeDevice(host.agent, device, {
    webUrl: relay.url,
    grants,
    name: `device ${grants.join('+')}`,
  });
  return { device, key, host: pairedHost };
}

function auditRefusals(): { code: string; what: string; device?: string }[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; code: string; what: string; device?: string })
    .filter((e) => e.event === 'refusal');
}

/** Sends a sealed body from `d` to the host and resolves with the host's hangup reason for `conn`, if any. */
function sendAndAwaitHangup(d: typeof shellDevice, kind: string, body: { conn: string }, ms = 10_000) {
  return new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(null);
    }, ms);
    const off = d.device.relay.on('message', (m) => {
      if (m.t !== 'deliver') return;
      const inner = openJson({
        envelope: (m as DeliverMessage).env,
        senderId: d.host.id,
        senderPublic: d.host.pub,
        recipientId: d.device.id,
        recipientSecret: d.key.secretKey,
      }) as { conn?: string; reason?: string };
      if (m.env.kind === 'hangup' && inner.conn === body.conn) {
        clearTimeout(timer);
        off();
        resolve(inner.reason ?? '');
      }
    });
    d.device.relay.send(
      d.host.id,
      sealJson({
        kind,
        body,
        senderId: d.device.id,
        senderSecret: d.key.secretKey,
        recipientId: d.host.id,
        recipientPublic: d.host.pub,
      }),
    );
  });
}

/** A real signed offer (from a real werift peer) for the shell device. */
async function realOffer(signer: KeyPair = shellDevice.key, swapFingerprintFrom?: Peer) {
  const peer = await engine.createPeer({
    iceServers: [],
    role: 'offerer',
    localAddressFilter: isLoopbackIPv4,
  });
  extraPeers.push(peer);
  peer.createDataChannel('control');
  let sdp = await peer.setLocalDescription(await peer.createOffer());
  if (swapFingerprintFrom) {
    sdp = sdp.replace(
      /a=fingerprint:sha-256 [0-9A-F:]+/,
      `a=fingerprint:sha-256 ${swapFingerprintFrom.localFingerprint()}`,
    );
  }
  const conn = randomId(12);
  const offer = makeOffer({
    sdp,
    conn,
    hostId: shellDevice.host.id,
    deviceId: shellDevice.device.id,
    deviceSecret: signer.secretKey,
    now: Math.floor(Date.now() / 1000),
  });
  return { peer, offer };
}

before(async () => {
  relay = await startRelay();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-refusals-'));
  host = await openHost({
    paths: statePaths({ root: join(home, 'state') }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine: spyEngine,
    backend: spyBackend(nodePtyBackend()),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  host.agent.start();
  shellDevice = await pairDevice(['shell']);
  statsDevice = await pairDevice(['stats']);
});

after(async () => {
  for (const p of extraPeers) await p.close();
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('an offer with one flipped SDP byte is refused with bad_signature; nothing is created', async () => {
  const before = { spawns, peers };
  const { offer } = await realOffer();
  const i = offer.sdp.indexOf('a=ice-ufrag:') + 12;
  const flipped = {
    ...offer,
    sdp: offer.sdp.slice(0, i) + String.fromCharCode(offer.sdp.charCodeAt(i) ^ 1) + offer.sdp.slice(i + 1),
  };
  assert.equal(await sendAndAwaitHangup(shellDevice, 'offer', flipped), 'bad_signature');
  assert.deepEqual({ spawns, peers }, before);
  assert.ok(
    auditRefusals().some(
      (r) => r.code === 'bad_signature' && r.what === 'offer' && r.device === shellDevice.device.id,
    ),
  );
});

test('a replayed offer is refused with replay', async () => {
  const { offer } = await realOffer();
  // First delivery is answered (no hangup comes); the same body again is a replay.
  assert.equal(await sendAndAwaitHangup(shellDevice, 'offer', offer, 1500), null);
  const before = { spawns, peers };
  assert.equal(await sendAndAwaitHangup(shellDevice, 'offer', offer), 'replay');
  assert.deepEqual({ spawns, peers }, before);
  assert.ok(auditRefusals().some((r) => r.code === 'replay'));
});

test('an offer signed by a key that is not the pinned one is refused', async () => {
  const before = { spawns, peers };
  const { offer } = await realOffer(generateKeyPair());
  assert.equal(await sendAndAwaitHangup(shellDevice, 'offer', offer), 'bad_signature');
  assert.deepEqual({ spawns, peers }, before);
});

test('an unpaired device cannot reach the host at all; a device revoked on the host is refused even if the relay routes it', async () => {
  const stranger = loopbackDevice(relay.wsUrl);
  devices.push(stranger);
  await stranger.relay.waitReady();
  const refused = new Promise((resolve) =>
    stranger.relay.on('message', (m) => m.t === 'error' && resolve(m.code)),
  );
  stranger.relay.send(
    host.identity.id,
    sealJson({
      kind: 'offer',
      body: {},
      senderId: stranger.id,
      senderSecret: generateKeyPair().secretKey,
      recipientId: host.identity.id,
      recipientPublic: host.identity.publicKey,
    }),
  );
  assert.equal(await refused, 'not_paired');

  // Revoke on the host only (as if the relay ignored the revocation): the host itself refuses.
  const before = { spawns, peers };
  host.trust.revoke(statsDevice.device.id);
  const { offer } = await realOffer();
  const reply = await sendAndAwaitHangup(statsDevice, 'offer', { ...offer }, 1500);
  assert.equal(reply, null, 'a revoked device gets nothing back');
  await until(() => auditRefusals().some((r) => r.code === 'revoked' && r.device === statsDevice.device.id));
  assert.deepEqual({ spawns, peers }, before);
});

test('a term: channel from a device without the shell grant is refused before anything is spawned', async () => {
  // A fresh device with only `stats`.
  const limited = await pairDevice(['stats']);
  const conn = await limited.device.connect(limited.host.id);
  const before = spawns;
  await assert.rejects(conn.openTerminal('new'), /refused|closed/);
  await until(() =>
    auditRefusals().some((r) => r.code === 'grant_missing' && r.device === limited.device.id),
  );
  assert.equal(spawns, before);
  // The control channel still answers, and sessions.list needs the grant too.
  await assert.rejects(
    conn.call('sessions.list'),
    (e: Error & { code?: string }) => e.code === 'grant_missing',
  );
  await conn.close();
});

test('a peer presenting a DTLS certificate other than the signed fingerprint is dropped', async () => {
  const other = await engine.createPeer({
    iceServers: [],
    role: 'offerer',
    localAddressFilter: isLoopbackIPv4,
  });
  extraPeers.push(other);
  const { peer, offer } = await realOffer(shellDevice.key, other);
  const before = spawns;
  // Drive the connection by hand: answer and candidates from the host go to our peer.
  const answered = new Promise<void>((resolve) => {
    shellDevice.device.relay.on('message', (m) => {
      if (m.t !== 'deliver') return;
      const inner = openJson({
        envelope: m.env,
        senderId: shellDevice.host.id,
        senderPublic: shellDevice.host.pub,
        recipientId: shellDevice.device.id,
        recipientSecret: shellDevice.key.secretKey,
      }) as { conn: string; sdp?: string; candidate?: null };
      if (inner.conn !== offer.conn) return;
      if (m.env.kind === 'answer') void peer.setRemoteDescription(inner.sdp!).then(() => resolve());
      if (m.env.kind === 'ice') void peer.addIceCandidate(inner.candidate ?? null).catch(() => {});
    });
  });
  const dropped = new Promise<string>((resolve) =>
    host.agent.on('disconnected', (e) => e.conn === offer.conn && resolve(e.reason)),
  );
  peer.on('icecandidate', (candidate) =>
    shellDevice.device.relay.send(
      shellDevice.host.id,
      sealJson({
        kind: 'ice',
        body: { conn: offer.conn, candidate },
        senderId: shellDevice.device.id,
        senderSecret: shellDevice.key.secretKey,
        recipientId: shellDevice.host.id,
        recipientPublic: shellDevice.host.pub,
      }),
    ),
  );
  shellDevice.device.relay.send(
    shellDevice.host.id,
    sealJson({
      kind: 'offer',
      body: offer,
      senderId: shellDevice.device.id,
      senderSecret: shellDevice.key.secretKey,
      recipientId: shellDevice.host.id,
      recipientPublic: shellDevice.host.pub,
    }),
  );
  await answered;
  peer.createDataChannel('term:new');
  // werift itself aborts a DTLS handshake whose certificate does not match the SDP; our binding
  // check is the second line of defence. Either way the host drops the connection and audits it.
  assert.ok(['certificate mismatch', 'failed'].includes(await dropped));
  await until(() => auditRefusals().some((r) => r.what === 'dtls'));
  assert.equal(spawns, before, 'no terminal was opened on the unverified connection');
});
