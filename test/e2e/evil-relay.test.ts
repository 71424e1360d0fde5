/**
 * A malicious relay against the real host (issue 12): `EvilRelay` is a
 * WebSocket man-in-the-middle owning the wire of a real relay process, in
 * front of a real host agent (real PTYs, real werift peers) and Node
 * devices. It swaps keys in pairing, forges the relay's answers to the
 * phone, replays, reorders, drops and forges envelopes. For each attack:
 * what the person is shown (the SAS on both sides), that nothing is pinned,
 * that nothing is spawned (no connection, no session, no PTY child), and
 * that the host audited the refusal with a stable code.
 * docs/security.md "A malicious relay: what the harness shows" lists them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import type { Device, PairedHost } from '@pocketshell/client';
import type { OpenedHost, PairingPrompt } from '@pocketshell/host-core';
import {
  b64u,
  deviceIdOf,
  type Envelope,
  fingerprint,
  fromB64u,
  generateKeyPair,
  hostIdOf,
  type KeyPair,
  makePairAccept,
  makePairConfirm,
  makePairRequest,
  sealJson,
} from '@pocketshell/protocol';
import type { RawClient } from '@pocketshell/relay/testing';
import { loopbackDevice, openLoopbackHost, until } from '../support/cli.ts';
import { EvilRelay, type Frame, forgedEnvelope, type Tap } from '../support/evil-relay.ts';
import { pairNodeDevice } from '../support/pair.ts';

let evil: EvilRelay;
let home: string;
let host: OpenedHost;
const devices: Device[] = [];

before(async () => {
  evil = await EvilRelay.start();
  home = mkdtempSync(join(tmpdir(), 'pocketshell-evil-relay-'));
  host = await openLoopbackHost(evil.wsUrl, home, {
    peerLimits: { halfOpenMs: 2000 },
  });
  host.agent.start();
  await host.agent.relay.waitReady();
});

beforeEach(() => {
  evil.script = () => undefined;
  // Each attack's first refusal is written at once: close the coalescing windows of the last test.
  host.agent.flushRefusals();
});

after(async () => {
  for (const d of devices) await d.close();
  await host?.close();
  await evil?.stop();
  rmSync(home, { recursive: true, force: true });
});

function audit(): { event: string; code?: string; what?: string; device?: string }[] {
  return readFileSync(join(home, 'state', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; code?: string; what?: string; device?: string });
}

function refusals(device: string): { code?: string; what?: string }[] {
  return audit().filter((e) => e.event === 'refusal' && e.device === device);
}

/** Processes whose parent is this test process, other than the relay process: PTY children. */
function ptyChildren(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid && Number(pid) !== evil.relay.pid) out.push(`${pid} ${comm}`);
  }
  return out;
}

/** Nothing spawned: no peer connection, no session, no PTY child. */
function assertNothingSpawned(): void {
  assert.deepEqual(host.agent.connections(), [], 'no WebRTC peer');
  assert.deepEqual(host.sessions.list(), [], 'no session');
  assert.deepEqual(ptyChildren(), [], 'no PTY child');
}

function pinned(id: string): boolean {
  return host.trust.list().some((d) => d.id === id);
}

function newDevice(key: KeyPair = generateKeyPair()): Device {
  const d = loopbackDevice(evil.wsUrl, key);
  devices.push(d);
  return d;
}

/** Pairs a device through the (honest for now) relay. */
async function pairHonestly(): Promise<{ device: Device; key: KeyPair; paired: PairedHost }> {
  const key = generateKeyPair();
  const device = newDevice(key);
  const { host: pairedHost } = await pairNodeDevice(host.agent, device, {
    webUrl: evil.url,
    grants: ['shell'],
    name: 'phone',
  });
  return { device, key, paired: pairedHost };
}

/**
 * The key swap: the phone's redeem never reaches the host. The relay tells
 * the phone it went through and redeems the same claim (it saw it in
 * `pair.created`) with a request of its own key, signed over that claim —
 * so the host shows the relay's key and the SAS digits of (host, relay key,
 * claim), while the phone shows those of (host, phone key, claim).
 */
async function swapKeys(device: Device): Promise<{ client: RawClient; keyPair: KeyPair }> {
  const attacker = await evil.identity('device');
  evil.script = (f, dir, tap) => {
    if (dir !== 'up' || f.t !== 'pair.redeem' || tap.id !== device.id) return undefined;
    const hostPub = fromB64u(evil.tap(f.host as string)!.pub!);
    const link = { webUrl: evil.url, claim: fromB64u(f.claim as string), hostPub };
    attacker.client.send({
      t: 'pair.redeem',
      rid: 'swap',
      ...makePairRequest({
        link,
        device: attacker.keyPair,
        name: 'phone',
        now: Math.floor(Date.now() / 1000),
      }),
    });
    tap.toClient({ t: 'ok', rid: f.rid as string });
    return 'drop';
  };
  return attacker;
}

test('key swap in pairing: the two screens show different digits, the person declines, nothing is pinned or spawned', async () => {
  const device = newDevice();
  const attacker = await swapKeys(device);
  // The relay passes the host's refusal (sent to its own key) on to the phone.
  void attacker.client
    .next((m) => m.t === 'pair.rejected', 30_000)
    .then((m) => {
      evil.tap(device.id)!.toClient(m as unknown as Frame);
    })
    .catch(() => {}); // nothing came: the assertions below say what is missing
  let phoneSas: (sas: string) => void = () => {};
  const phoneShows = new Promise<string>((resolve) => {
    phoneSas = resolve;
  });
  let prompt: PairingPrompt | undefined;
  let phone: Promise<PairedHost> | undefined;
  const pairing = host.agent.pair({
    webUrl: evil.url,
    onUrl: (url) => {
      phone = device.pair(url, { name: 'phone', onSas: phoneSas });
      phone.catch(() => {});
    },
    // The person compares the digits, as the prompt asks.
    confirm: async (p) => {
      prompt = p;
      return p.sas === (await phoneShows);
    },
  });
  await assert.rejects(pairing, { code: 'unauthorized' });
  const sasOnPhone = await phoneShows;
  assert.match(sasOnPhone, /^\d{6}$/);
  assert.notEqual(prompt!.sas, sasOnPhone, 'the SAS differs on the two screens');
  assert.equal(
    prompt!.deviceId,
    deviceIdOf(attacker.keyPair.publicKey),
    'the host was shown the relay’s key',
  );
  assert.equal(prompt!.fingerprint, fingerprint(attacker.keyPair.publicKey));
  await assert.rejects(phone!, { code: 'unauthorized' }, 'the phone is told the computer declined');
  assert.equal(device.hosts().length, 0, 'nothing pinned on the phone');
  assert.ok(!pinned(device.id) && !pinned(prompt!.deviceId), 'nothing pinned on the host');
  assert.ok(
    refusals(prompt!.deviceId).some((e) => e.code === 'unauthorized' && e.what === 'pair.request'),
    'the declined pairing is audited',
  );
  assertNothingSpawned();
});

test('key swap, the person confirms without comparing: the phone refuses the acceptance meant for the relay’s key (decrypt_failed) — and the host pins the relay’s key, which only comparing the digits prevents', async () => {
  const device = newDevice();
  const attacker = await swapKeys(device);
  // The relay hands the phone the acceptance the host made for the relay's key, and confirms as that key.
  void attacker.client
    .next((m) => m.t === 'pair.accepted', 30_000)
    .then((m) => {
      evil.tap(device.id)!.toClient(m as unknown as Frame);
    })
    .catch(() => {}); // nothing came: the assertions below say what is missing
  let phone: Promise<PairedHost> | undefined;
  let prompt: PairingPrompt | undefined;
  const pairing = host.agent.pair({
    webUrl: evil.url,
    deviceTimeoutMs: 5000,
    onUrl: (url) => {
      phone = device.pair(url, { name: 'phone' });
      phone.catch(() => {});
    },
    confirm: async (p) => {
      prompt = p;
      return true; // `--yes`, or a person who did not look at the phone
    },
  });
  await until(() => phone !== undefined);
  await assert.rejects(phone!, { code: 'decrypt_failed' });
  assert.equal(device.hosts().length, 0, 'the phone pins nothing');
  // The relay completes the pairing as its own key: the confirmation is its own signature.
  const hostId = hostIdOf(host.identity.publicKey);
  attacker.client.send({
    t: 'send',
    to: hostId,
    env: makePairConfirm({
      link: { webUrl: evil.url, claim: fromB64u(evil.claims.at(-1)!), hostPub: host.identity.publicKey },
      device: attacker.keyPair,
      now: Math.floor(Date.now() / 1000),
    }),
  });
  const pinnedDevice = await pairing;
  assert.equal(pinnedDevice.id, prompt!.deviceId, 'what the host pinned is what its prompt showed');
  assert.equal(pinnedDevice.id, deviceIdOf(attacker.keyPair.publicKey));
  assert.ok(!pinned(device.id), 'the phone itself is not pinned');
  await host.agent.revoke(pinnedDevice.id);
  assertNothingSpawned();
});

test('forged acceptance: the relay answers the phone with its own host key (bad_key) or with garbage (decrypt_failed); the host pins nothing and audits the timeout', async () => {
  const attackerHost = generateKeyPair();
  for (const forge of ['own key', 'garbage'] as const) {
    host.agent.flushRefusals();
    const device = newDevice();
    evil.script = (f, dir, tap) => {
      if (dir !== 'down' || f.t !== 'pair.accepted' || tap.id !== device.id) return undefined;
      if (forge === 'garbage') return [{ ...f, env: forgedEnvelope('pair.accept') }];
      const claim = fromB64u(evil.claims.at(-1)!);
      return [
        {
          t: 'pair.accepted',
          from: f.from,
          pub: b64u(attackerHost.publicKey),
          env: makePairAccept({
            host: attackerHost,
            devicePub: fromB64u(evil.tap(device.id)!.pub!),
            claim,
            hostName: 'your computer',
            grants: ['shell'],
            now: Math.floor(Date.now() / 1000),
          }),
        },
      ];
    };
    let phone: Promise<PairedHost> | undefined;
    let prompt: PairingPrompt | undefined;
    let phoneSas = '';
    const pairing = host.agent.pair({
      webUrl: evil.url,
      deviceTimeoutMs: 1500,
      onUrl: (url) => {
        phone = device.pair(url, {
          name: 'phone',
          onSas: (s) => {
            phoneSas = s;
          },
        });
        phone.catch(() => {});
      },
      confirm: async (p) => {
        prompt = p;
        await until(() => phoneSas !== '');
        return p.sas === phoneSas;
      },
    });
    await until(() => phone !== undefined);
    await assert.rejects(phone!, { code: forge === 'own key' ? 'bad_key' : 'decrypt_failed' });
    await assert.rejects(pairing, { code: 'timeout' });
    assert.equal(prompt!.sas, phoneSas, 'no key was swapped: the digits matched');
    assert.equal(device.hosts().length, 0, 'nothing pinned on the phone');
    assert.ok(!pinned(device.id), 'nothing pinned on the host');
    assert.ok(refusals(device.id).some((e) => e.code === 'timeout' && e.what === 'pair.confirm'));
    assertNothingSpawned();
  }
});

test('replay: an old pair.request in a new pairing (bad_signature), an old pair.confirm and an old offer (replay) are refused and audited; nothing spawned', async () => {
  const { device, paired } = await pairHonestly();
  const requestEnv = evil.envelopes.findLast(
    (e) => e.from === device.id && e.env.kind === 'pair.request',
  )!.env;
  const confirmEnv = evil.envelopes.findLast(
    (e) => e.from === device.id && e.env.kind === 'pair.confirm',
  )!.env;
  const connection = await device.connect(paired.id);
  await connection.close();
  await until(() => host.agent.connections().length === 0);
  const offerEnv = evil.envelopes.findLast((e) => e.from === device.id && e.env.kind === 'offer')!.env;
  const deviceTap = evil.tap(device.id)!;
  const hostTap = evil.tap(paired.id)!;

  // The device's old request, replayed into the next pairing: signed over another claim.
  const pairing = host.agent.pair({
    webUrl: evil.url,
    onUrl: () => {
      hostTap.toClient({ t: 'pair.request', from: device.id, pub: deviceTap.pub!, env: requestEnv });
    },
    confirm: async () => true,
  });
  await assert.rejects(pairing, { code: 'bad_signature' });
  // The old confirmation and the old offer, sent again on the device's own connection.
  deviceTap.toRelay({ t: 'send', to: paired.id, env: confirmEnv });
  deviceTap.toRelay({ t: 'send', to: paired.id, env: offerEnv });
  await until(() => refusals(device.id).filter((e) => e.code === 'replay').length >= 1);
  await new Promise((r) => setTimeout(r, 500));
  host.agent.flushRefusals();
  const codes = refusals(device.id).map((e) => `${e.code} ${e.what}`);
  assert.ok(codes.includes('bad_signature pair.request'), codes.join(', '));
  assert.ok(codes.includes('replay pair.confirm'), codes.join(', '));
  assert.ok(
    audit().some(
      (e) =>
        e.event === 'refusal' &&
        e.device === device.id &&
        e.code === 'replay' &&
        (e.what === 'offer' || (e as { refused?: string[] }).refused?.includes('offer')),
    ),
    'the replayed offer is refused too',
  );
  assert.equal(host.trust.status(device.id).status, 'paired', 'the paired device is untouched');
  assertNothingSpawned();
});

test('reorder: candidates before the offer and before the answer, a forged answer first — the one real connection still works', async () => {
  const { device, paired } = await pairHonestly();
  const held: { frame: Frame; tap: Tap; dir: 'up' | 'down' }[] = [];
  const release = () => {
    for (const h of held.splice(0)) {
      if (h.dir === 'up') h.tap.toRelay(h.frame);
      else h.tap.toClient(h.frame);
    }
  };
  evil.script = (f, dir, tap) => {
    const kind = (f.env as Envelope | undefined)?.kind;
    if ((dir === 'up' && kind === 'offer') || (dir === 'down' && kind === 'answer' && tap.id === device.id)) {
      held.push({ frame: f, tap, dir });
      // Released once a candidate sent after it went ahead (or soon, when none comes).
      setTimeout(release, 1000);
      if (kind === 'answer') return [{ ...f, env: forgedEnvelope('answer') }];
      return 'drop';
    }
    if (kind === 'ice' && held.length > 0) setTimeout(release, 100);
    return undefined;
  };
  const connection = await device.connect(paired.id, { timeoutMs: 20_000 });
  const order = evil.log.filter((r) => r.kind === 'offer' || r.kind === 'answer' || r.kind === 'ice');
  assert.ok(
    order.some((r) => r.verdict !== 'pass'),
    'the relay did hold messages back',
  );
  const term = await connection.openTerminal('new');
  let text = '';
  term.on('data', ({ bytes }) => {
    text += Buffer.from(bytes).toString();
  });
  term.write('echo $((6*7))\r');
  await until(() => /^42\r?$/m.test(text));
  assert.equal(host.agent.connections().filter((c) => c.device === device.id).length, 1, 'one peer');
  assert.equal(host.sessions.list().length, 1, 'one session');
  term.write('exit\r');
  await until(() => host.sessions.list().length === 0);
  await connection.close();
  await until(() => host.sessions.list().length === 0 && ptyChildren().length === 0);
  await until(() => host.agent.connections().length === 0);
});

test('drop: a dropped pair.confirm leaves nothing pinned (timeout audited); a dropped answer gives the phone a timeout and the host drops the half-open peer', async () => {
  const device = newDevice();
  evil.script = (f, dir) =>
    dir === 'up' && f.t === 'send' && (f.env as Envelope).kind === 'pair.confirm' ? 'drop' : undefined;
  let phone: Promise<PairedHost> | undefined;
  await assert.rejects(
    host.agent.pair({
      webUrl: evil.url,
      deviceTimeoutMs: 1500,
      onUrl: (url) => {
        phone = device.pair(url, { name: 'phone' });
        phone.catch(() => {});
      },
      confirm: async () => true,
    }),
    { code: 'timeout' },
  );
  assert.ok(!pinned(device.id), 'nothing pinned on the host');
  assert.ok(refusals(device.id).some((e) => e.code === 'timeout' && e.what === 'pair.confirm'));

  evil.script = () => undefined;
  const { device: second, paired } = await pairHonestly();
  evil.script = (f, dir) =>
    dir === 'down' && (f.env as Envelope | undefined)?.kind === 'answer' ? 'drop' : undefined;
  // The host drops the half-open peer and says so (hangup `timeout`); without that, the phone's own timeout.
  await assert.rejects(second.connect(paired.id, { timeoutMs: 4000 }), (e: Error & { code?: string }) =>
    /^(timeout|unavailable)$/.test(e.code ?? ''),
  );
  await until(() => refusals(second.id).some((e) => e.code === 'timeout' && e.what === 'dtls'));
  await until(() => host.agent.connections().length === 0);
  assertNothingSpawned();
});

test('drop: a dropped acceptance — the host pins nothing and revokes after its timeout, and the device stops pairing at once (revoked)', async () => {
  const device = newDevice();
  evil.script = (f, dir) => (dir === 'down' && f.t === 'pair.accepted' ? 'drop' : undefined);
  let phone: Promise<PairedHost> | undefined;
  await assert.rejects(
    host.agent.pair({
      webUrl: evil.url,
      deviceTimeoutMs: 1500,
      onUrl: (url) => {
        phone = device.pair(url, { name: 'phone', timeoutMs: 8000 });
        phone.catch(() => {});
      },
      confirm: async () => true,
    }),
    { code: 'timeout' },
  );
  await assert.rejects(phone!, { code: 'revoked' }, 'the device is told by the host’s pair.revoke');
  assert.equal(device.hosts().length, 0);
  assert.ok(!pinned(device.id));
  assert.ok(refusals(device.id).some((e) => e.code === 'timeout' && e.what === 'pair.confirm'));
  assertNothingSpawned();
});

test('forged envelopes: random ciphertext as a paired device (decrypt_failed), a sealed offer from an unpaired key (not_paired), one sealed by the relay under a paired device’s id (decrypt_failed) — nothing spawned', async () => {
  const { device, paired } = await pairHonestly();
  const hostTap = evil.tap(paired.id)!;
  const relayKey = generateKeyPair();
  const relayId = deviceIdOf(relayKey.publicKey);
  const offerBody = { conn: 'forged0001', sdp: 'v=0', nonce: 'AAAAAAAAAAAAAAAAAAAAAA', ts: 0, sig: 'AA' };
  const sealedBy = (sender: KeyPair, senderId: string) =>
    sealJson({
      kind: 'offer',
      body: offerBody,
      senderId: senderId as ReturnType<typeof deviceIdOf>,
      senderSecret: sender.secretKey,
      recipientId: paired.id,
      recipientPublic: host.identity.publicKey,
    });
  hostTap.toClient({ t: 'deliver', from: device.id, env: forgedEnvelope('offer') });
  hostTap.toClient({ t: 'deliver', from: relayId, env: sealedBy(relayKey, relayId) });
  await until(() => refusals(device.id).some((e) => e.code === 'decrypt_failed'));
  await until(() => refusals(relayId).some((e) => e.code === 'not_paired'));
  host.agent.flushRefusals();
  hostTap.toClient({ t: 'deliver', from: device.id, env: sealedBy(relayKey, device.id) });
  await until(() => refusals(device.id).filter((e) => e.code === 'decrypt_failed').length >= 2);
  assert.ok(!pinned(relayId));
  assertNothingSpawned();
});
