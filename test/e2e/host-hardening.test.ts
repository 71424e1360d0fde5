/**
 * The host's side of the 2026-12 red-team pass (docs/security.md), each
 * against a real relay process, a real host agent (real PTYs, real werift
 * peers) and paired Node devices: a control request with a malformed method
 * is answered with its id (finding 13); session caps are per device and
 * closing another device's session needs `admin` (11); signed offers beyond
 * the per-device and total peer caps are answered with a sealed
 * `limit_reached` hangup, half-open peers are dropped, and the refusals are
 * audited coalesced (2); a flood of refused control requests leaves a
 * bounded audit trail (6).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Device, HostConnection, PairedHost } from '@pocketshell/client';
import {
  isLoopbackIPv4,
  makeOffer,
  type OpenedHost,
  openHost,
  type Peer,
  statePaths,
  WeriftEngine,
} from '@pocketshell/host-core';
import {
  type DeliverMessage,
  type Grant,
  generateKeyPair,
  type KeyPair,
  openJson,
  randomId,
  sealJson,
} from '@pocketshell/protocol';
import { limitsConfig, type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { loopbackDevice, until } from '../support/cli.ts';
import { pairNodeDevice } from '../support/pair.ts';

let relay: StartedRelay;
let home: string;
let host: OpenedHost;
const devices: Device[] = [];
const extraPeers: Peer[] = [];
const engine = new WeriftEngine({ bindAddress: '127.0.0.1' });

interface Paired {
  device: Device;
  key: KeyPair;
  host: PairedHost;
}

async function pairDevice(grants: Grant[]): Promise<Paired> {
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

function audit(): Record<string, unknown>[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Sends one raw text message on the control channel and resolves with the first reply (or null after `ms`). */
function rawControl(conn: HostConnection, text: string | Uint8Array, ms = 5000): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(null);
    }, ms);
    const off = conn.control.on('message', (data) => {
      clearTimeout(timer);
      off();
      resolve(JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)));
    });
    conn.control.send(text);
  });
}

/** A real signed offer from a real werift peer that never finishes (no answer is applied). */
async function halfOpenOffer(d: Paired) {
  const peer = await engine.createPeer({
    iceServers: [],
    role: 'offerer',
    localAddressFilter: isLoopbackIPv4,
  });
  extraPeers.push(peer);
  peer.createDataChannel('control');
  const sdp = await peer.setLocalDescription(await peer.createOffer());
  const conn = randomId(12);
  return makeOffer({
    sdp,
    conn,
    hostId: d.host.id,
    deviceId: d.device.id,
    deviceSecret: d.key.secretKey,
    now: Math.floor(Date.now() / 1000),
  });
}

/** Sends a sealed offer and resolves with `answer`, or the hangup's reason, for its conn. */
function sendOffer(d: Paired, offer: { conn: string }): Promise<string> {
  return new Promise((resolve) => {
    const off = d.device.relay.on('message', (m) => {
      if (m.t !== 'deliver') return;
      const inner = openJson({
        envelope: (m as DeliverMessage).env,
        senderId: d.host.id,
        senderPublic: d.host.pub,
        recipientId: d.device.id,
        recipientSecret: d.key.secretKey,
      }) as { conn?: string; reason?: string };
      if (inner.conn !== offer.conn) return;
      if (m.env.kind === 'answer' || m.env.kind === 'hangup') {
        off();
        resolve(m.env.kind === 'answer' ? 'answer' : `hangup:${inner.reason}`);
      }
    });
    d.device.relay.send(
      d.host.id,
      sealJson({
        kind: 'offer',
        body: offer,
        senderId: d.device.id,
        senderSecret: d.key.secretKey,
        recipientId: d.host.id,
        recipientPublic: d.host.pub,
      }),
    );
  });
}

before(async () => {
  // This file pairs more devices with one host than the relay's default pair.create burst (10) allows in
  // a minute; the limit itself is tested in packages/relay (limits.test.ts).
  relay = await startRelay({
    args: [
      '--config',
      limitsConfig({ rates: { 'pair.create': { identity: { burst: 100, perSecond: 1 } } } }),
    ],
  });
  home = mkdtempSync(join(tmpdir(), 'pocketshell-hardening-'));
  host = await openHost({
    paths: statePaths({ root: join(home, 'state') }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine,
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
    minBackoffMs: 50,
    maxBackoffMs: 500,
    sessionLimits: { total: 3, perDevice: 2 },
    peerLimits: { perDevice: 2, total: 5, halfOpenMs: 1500 },
  });
  host.agent.start();
});

after(async () => {
  for (const p of extraPeers) await p.close();
  await Promise.all(devices.map((d) => d.close()));
  await host?.close();
  await relay?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('finding 13: a control request with a malformed method is answered with its id, a bad fragment with id null', async () => {
  const d = await pairDevice(['shell']);
  const conn = await d.device.connect(d.host.id);
  try {
    // A binary message that is no RPC fragment: refused, answered with id null, audited (first: a device's
    // refusals with one code are coalesced after the first).
    const frame = (await rawControl(conn, Uint8Array.of(0x07, 1, 2))) as {
      id?: unknown;
      error?: { code: string };
    } | null;
    assert.deepEqual(frame && { id: frame.id, code: frame.error?.code }, { id: null, code: 'bad_message' });
    await until(() => audit().some((e) => e.event === 'refusal' && e.what === 'control frame'));
    // The channel still serves whole requests after it.
    assert.equal((await conn.call('host.info')).id, d.host.id);
    const reply = (await rawControl(conn, JSON.stringify({ id: 41, method: 'Bad-Method!' }))) as {
      id?: number;
      error?: { code: string };
    } | null;
    assert.ok(reply, 'the host answers');
    assert.equal(reply.id, 41);
    assert.equal(reply.error?.code, 'bad_message');
    // The client's own call API sees the error too.
    await assert.rejects(
      conn.rpc.callUntyped('No_Such'),
      (e: Error & { code?: string }) => e.code === 'bad_message',
    );
    // Nothing readable as an id: answered with id null.
    const noId = (await rawControl(conn, '{"method":"host.info"}')) as { id?: unknown } | null;
    assert.equal(noId?.id, null);
  } finally {
    await conn.close();
  }
});

test('finding 11: session caps are per device (plus a total), and closing another device’s session needs admin', async () => {
  const a = await pairDevice(['shell']);
  const b = await pairDevice(['shell']);
  const admin = await pairDevice(['shell', 'admin']);
  const ca = await a.device.connect(a.host.id);
  const cb = await b.device.connect(b.host.id);
  const cadmin = await admin.device.connect(admin.host.id);
  try {
    const a1 = await ca.openTerminal('new');
    const a2 = await ca.openTerminal('new');
    // A's third session is refused: its own cap is 2.
    await assert.rejects(ca.openTerminal('new'), /refused|closed/);
    await until(() =>
      audit().some((e) => e.event === 'refusal' && e.code === 'limit_reached' && e.device === a.device.id),
    );
    // B is not starved by A.
    const b1 = await cb.openTerminal('new');
    // The total (3) is reached now: B's second is refused too.
    await assert.rejects(cb.openTerminal('new'), /refused|closed/);

    const aSession = (await a1.attachedOnce).session;
    // A shell-only device cannot close another device's session ...
    await assert.rejects(
      cb.call('sessions.close', { id: aSession }),
      (e: Error & { code?: string }) => e.code === 'grant_missing',
    );
    assert.ok(host.sessions.get(aSession), 'the session lives on');
    // ... its own, yes; and an admin device may close anyone's.
    const bSession = (await b1.attachedOnce).session;
    assert.deepEqual(await cb.call('sessions.close', { id: bSession }), { closed: bSession });
    assert.deepEqual(await cadmin.call('sessions.close', { id: aSession }), { closed: aSession });
    await until(() => !host.sessions.get(aSession) && !host.sessions.get(bSession));
    const a2Session = (await a2.attachedOnce).session;
    assert.deepEqual(await ca.call('sessions.close', { id: a2Session }), { closed: a2Session });
    await until(() => host.sessions.list().length === 0);
  } finally {
    await Promise.all([ca.close(), cb.close(), cadmin.close()]);
  }
});

test('finding 2: peers are capped per device and in total, half-open ones are dropped, the excess gets a limit_reached hangup', async () => {
  const stats = await pairDevice(['stats']);
  const other = await pairDevice(['stats']);
  const third = await pairDevice(['stats']);
  await until(() => host.agent.connections().length === 0);
  const open: HostConnection[] = [];
  try {
    const audited = () =>
      audit().filter((e) => e.event === 'refusal' && e.code === 'limit_reached' && e.what === 'offer').length;
    const auditedBefore = audited();
    // Two connections are allowed for a device with only `stats` ...
    open.push(await stats.device.connect(stats.host.id), await stats.device.connect(stats.host.id));
    // ... one more may take the oldest one's place once it is verified (a client killed without
    // a goodbye must not lock its device out); half-open, it holds that one extra slot, and every
    // further signed offer is answered with a sealed limit_reached hangup.
    const mine = () => host.agent.connections().filter((c) => c.device === stats.device.id).length;
    assert.equal(await sendOffer(stats, await halfOpenOffer(stats)), 'answer');
    for (let i = 0; i < 20; i++)
      assert.equal(await sendOffer(stats, await halfOpenOffer(stats)), 'hangup:limit_reached');
    assert.equal(mine(), 3);
    // The half-open one is dropped after halfOpenMs; the two live ones stay.
    await until(() => mine() === 2);
    assert.ok(open.every((c) => c.hangupReason === undefined));
    // The refusals are audited, coalesced: the first one, not twenty.
    const refusals = audited() - auditedBefore;
    assert.ok(refusals >= 1 && refusals <= 2, `${refusals} refusal records for 20 refused offers`);

    // The total cap (5): other devices fill the rest, then are refused too.
    open.push(await other.device.connect(other.host.id), await other.device.connect(other.host.id));
    open.push(await third.device.connect(third.host.id));
    assert.equal(await sendOffer(third, await halfOpenOffer(third)), 'hangup:limit_reached');

    // A half-open peer (signed offer answered, DTLS never done) is dropped after halfOpenMs.
    await open.pop()?.close();
    await until(() => host.agent.connections().length === 4);
    const dropped = new Promise<string>((resolve) =>
      host.agent.on('disconnected', (e) => e.device === third.device.id && resolve(e.reason)),
    );
    assert.equal(await sendOffer(third, await halfOpenOffer(third)), 'answer');
    assert.equal(await dropped, 'timeout');
    await until(() => host.agent.connections().length === 4);
    // Two half-open peers fill a device's two slots: a half-open peer counts once, not twice.
    await open.pop()?.close();
    await until(() => host.agent.connections().length === 3);
    assert.equal(await sendOffer(third, await halfOpenOffer(third)), 'answer');
    assert.equal(await sendOffer(third, await halfOpenOffer(third)), 'answer');
    assert.equal(await sendOffer(third, await halfOpenOffer(third)), 'hangup:limit_reached');
    assert.ok(audit().some((e) => e.event === 'refusal' && e.code === 'timeout' && e.what === 'dtls'));
  } finally {
    await Promise.all(open.map((c) => c.close()));
  }
});

test('a device at its peer cap: a new verified connection takes its oldest one’s place, which is told `replaced`', async () => {
  const d = await pairDevice(['stats']);
  await until(() => host.agent.connections().length === 0);
  const mine = () => host.agent.connections().filter((c) => c.device === d.device.id);
  // The first two are as a killed client leaves them: open on the host, gone on the device.
  const first = await d.device.connect(d.host.id);
  const second = await d.device.connect(d.host.id);
  const third = await d.device.connect(d.host.id);
  try {
    await until(() => first.hangupReason === 'replaced');
    assert.deepEqual(
      mine()
        .map((c) => c.conn)
        .sort(),
      [second.conn, third.conn].sort(),
      'the oldest went, the others stay',
    );
    assert.equal(second.hangupReason, undefined);
    assert.ok(
      audit().some(
        (e) => e.event === 'connection.replaced' && e.device === d.device.id && e.conn === first.conn,
      ),
    );
    // The newest works.
    assert.equal((await third.call('host.info')).id, d.host.id);
  } finally {
    await Promise.all([first.close(), second.close(), third.close()]);
  }
});

test('finding 6: a flood of refused control requests leaves a bounded, coalesced audit trail', async () => {
  const d = await pairDevice(['stats']);
  const conn = await d.device.connect(d.host.id);
  try {
    const before = audit().length;
    for (let i = 0; i < 300; i++) {
      await assert.rejects(
        conn.call('sessions.list'),
        (e: Error & { code?: string }) => e.code === 'grant_missing',
      );
    }
    const added = audit()
      .slice(before)
      .filter((e) => e.device === d.device.id);
    // The first refusal is recorded as is; the rest are counted, not written one by one.
    assert.ok(added.length <= 3, `${added.length} audit records for 300 refusals`);
    assert.equal(added[0]?.code, 'grant_missing');
  } finally {
    await conn.close();
  }
  // Closing the connection (or the agent) writes the summary with the count.
  await host.agent.flushRefusals();
  const summary = audit().find((e) => e.event === 'refusal' && e.device === d.device.id && e.suppressed);
  assert.ok(summary, 'a summary record');
  assert.equal(summary.suppressed, 299);
});

test('devices from a device: devices.* need admin (a device can always unpair itself); a lost grant or a revocation closes the connection', async () => {
  const admin = await pairDevice(['shell', 'admin']);
  const other = await pairDevice(['shell']);
  const ca = await admin.device.connect(admin.host.id);
  const co = await other.device.connect(other.host.id);
  try {
    // Without admin: listing and changing are refused, with the wire code.
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    assert.equal(await code(co.call('devices.list')), 'grant_missing');
    assert.equal(
      await code(co.call('devices.grants', { device: admin.device.id, grants: [] })),
      'grant_missing',
    );
    assert.equal(await code(co.call('devices.revoke', { device: admin.device.id })), 'grant_missing');
    // With admin: the list marks the asker and counts connections.
    const { devices: listed } = await ca.call('devices.list');
    const me = listed.find((d) => d.id === admin.device.id);
    const them = listed.find((d) => d.id === other.device.id);
    assert.equal(me?.self, true);
    assert.deepEqual(them && { self: them.self, grants: them.grants }, { self: false, grants: ['shell'] });
    assert.ok((them?.connections ?? 0) >= 1);
    assert.equal(await code(ca.call('devices.revoke', { device: `d_${'a'.repeat(26)}` })), 'not_found');
    // A listing larger than one channel message (16 KiB) arrives whole, in fragments (rpc-frames.ts).
    const many = Array.from({ length: 120 }, (_, i) =>
      host.trust.pin({
        publicKey: generateKeyPair().publicKey,
        name: `spare ${i} ${'n'.repeat(50)}`,
        grants: ['stats'],
      }),
    );
    const big = await ca.call('devices.list');
    assert.ok(JSON.stringify(big).length > 16 * 1024, 'the reply is larger than one channel message');
    assert.deepEqual(
      many.map((d) => big.devices.some((x) => x.id === d.id && x.name === d.name)),
      many.map(() => true),
    );
    for (const d of many) host.trust.revoke(d.id);
    // Giving a grant keeps the connection; taking one away closes it, so every channel is checked anew.
    const term = await co.openTerminal('new');
    const added = await ca.call('devices.grants', { device: other.device.id, grants: ['shell', 'stats'] });
    assert.deepEqual(added.device.grants, ['shell', 'stats']);
    assert.equal(term.channel.readyState, 'open');
    await ca.call('devices.grants', { device: other.device.id, grants: ['stats'] });
    await until(() => term.channel.readyState !== 'open');
    assert.ok(
      audit().some(
        (e) => e.event === 'grants.changed' && e.device === other.device.id && e.by === admin.device.id,
      ),
    );
    // Revoking another device: unpinned, audited with who asked, its connections closed.
    const again = await other.device.connect(other.host.id);
    // host.info tells a device the grants it holds now (the web client keeps its own record in step).
    assert.deepEqual((await again.call('host.info')).grants, ['stats']);
    assert.deepEqual(await ca.call('devices.revoke', { device: other.device.id }), { revoked: true });
    await until(() => again.control.readyState !== 'open');
    assert.equal(host.trust.status(other.device.id).status, 'revoked');
    assert.ok(
      audit().some(
        (e) => e.event === 'revocation' && e.device === other.device.id && e.by === admin.device.id,
      ),
    );
    // A device without admin may still unpair itself; the answer arrives before its connection closes.
    const self = await pairDevice(['shell']);
    const cs = await self.device.connect(self.host.id);
    assert.deepEqual(await cs.call('devices.revoke', { device: self.device.id }), { revoked: true });
    await until(() => cs.control.readyState !== 'open');
    assert.equal(host.trust.status(self.device.id).status, 'revoked');
  } finally {
    await Promise.all([ca.close(), co.close()]);
  }
});
