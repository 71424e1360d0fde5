/**
 * Tests of the relay link (relay-link.ts) between two ends joined by an
 * in-memory relay that can refuse (`rate_limited`), drop, repeat or reorder
 * frames: channels open, carry text and bytes both ways in order, close;
 * a replayed or reordered frame is never delivered; a refused frame is sent
 * again after a back-off; a tampered frame ends the session; bytes in
 * flight stay under the window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { b64u, fromB64u } from './bytes.ts';
import type { Envelope } from './envelope.ts';
import { deviceIdOf, generateKeyPair, hostIdOf } from './identity.ts';
import { acceptLinkOpen, LinkCipher, makeLinkOpen } from './link.ts';
import { type LinkChannel as DataChannel, type LinkLimits, RelayLink } from './relay-link.ts';
import { ReplayCache } from './replay.ts';

type Verdict = 'deliver' | 'refuse' | 'drop' | 'twice' | 'hold';

interface Wire {
  device: RelayLink;
  host: RelayLink;
  /** Frames each way, as sent (including repeats). */
  sent: { from: 'device' | 'host'; env: Envelope; rid: string }[];
  /** Frames held back by a `hold` verdict, to deliver later (reordering). */
  held: { to: RelayLink; env: Envelope }[];
  /** Bytes of frames sent and not yet delivered, device → host, at most seen. */
  maxInFlight: number;
}

function pair(
  verdict: (from: 'device' | 'host', env: Envelope, n: number) => Verdict = () => 'deliver',
  limits: Partial<LinkLimits> = {},
): Wire {
  const host = generateKeyPair();
  const device = generateKeyPair();
  const hostId = hostIdOf(host.publicKey);
  const deviceId = deviceIdOf(device.publicKey);
  const now = Math.floor(Date.now() / 1000);
  const o = makeLinkOpen({ hostId, hostPub: host.publicKey, deviceId, deviceSecret: device.secretKey, now });
  const a = acceptLinkOpen({
    envelope: o.envelope,
    hostId,
    hostSecret: host.secretKey,
    deviceId,
    devicePub: device.publicKey,
    envelopes: new ReplayCache(),
    sessions: new ReplayCache(),
    now,
  });
  const keys = o.accept(a.accept, now);
  const wire = { sent: [], held: [], maxInFlight: 0 } as unknown as Wire;
  let n = 0;
  const transport = (from: 'device' | 'host') => ({
    send(env: Envelope, rid: string) {
      wire.sent.push({ from, env, rid });
      const to = from === 'device' ? wire.host : wire.device;
      const self = from === 'device' ? wire.device : wire.host;
      const v = verdict(from, env, n++);
      if (v === 'refuse') {
        setImmediate(() => self.onRefused(rid, 'rate_limited'));
        return;
      }
      if (v === 'drop') return;
      if (v === 'hold') {
        wire.held.push({ to, env });
        return;
      }
      setImmediate(() => {
        to.receive(env);
        if (v === 'twice') to.receive(env);
      });
    },
  });
  const fast = { rtoMs: 300, backoffMs: 20, ...limits };
  wire.device = new RelayLink({
    role: 'offerer',
    cipher: new LinkCipher(keys, 'device', o.sid),
    transport: transport('device'),
    limits: fast,
  });
  wire.host = new RelayLink({
    role: 'answerer',
    cipher: new LinkCipher(a.keys, 'host', a.sid),
    transport: transport('host'),
    limits: fast,
  });
  return wire;
}

/** Opens `label` from the device; resolves with both ends of it. */
async function channel(w: Wire, label = 'term:new'): Promise<{ d: DataChannel; h: DataChannel }> {
  const h = new Promise<DataChannel>((resolve) => w.host.once('datachannel', resolve));
  const d = w.device.createDataChannel(label);
  await new Promise<void>((resolve) => d.once('open', () => resolve()));
  return { d, h: await h };
}

function collect(ch: DataChannel, count: number): Promise<(Uint8Array | string)[]> {
  const got: (Uint8Array | string)[] = [];
  return new Promise((resolve) => {
    ch.on('message', (m) => {
      got.push(m);
      if (got.length === count) resolve(got);
    });
  });
}

async function closeAll(w: Wire) {
  await w.device.close();
  await w.host.close();
}

describe('RelayLink', () => {
  it('opens channels and carries text and bytes both ways, in order', async () => {
    const w = pair();
    const { d, h } = await channel(w);
    assert.equal(h.label, 'term:new');
    assert.equal(await w.device.path(), 'relay');
    const toHost = collect(h, 300);
    for (let i = 0; i < 300; i++) d.send(i % 2 ? `t${i}` : Uint8Array.of(i & 0xff, 1, 2));
    const got = await toHost;
    for (let i = 0; i < 300; i++) {
      if (i % 2) assert.equal(got[i], `t${i}`);
      else assert.deepEqual(got[i], Uint8Array.of(i & 0xff, 1, 2));
    }
    const back = collect(d, 1);
    h.send('pong');
    assert.deepEqual(await back, ['pong']);
    // Many messages share a frame.
    assert.ok(w.sent.filter((s) => s.from === 'device').length < 50);
    await closeAll(w);
  });

  it('holds messages until the host listens (it checks grants first)', async () => {
    const w = pair();
    const h = new Promise<DataChannel>((resolve) => w.host.once('datachannel', resolve));
    const d = w.device.createDataChannel('control');
    d.once('open', () => d.send('early'));
    const ch = await h;
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await collect(ch, 1), ['early']);
    await closeAll(w);
  });

  it('closes a channel at the other end, and everything on close', async () => {
    const w = pair();
    const { d, h } = await channel(w);
    const closed = new Promise<void>((resolve) => h.once('close', () => resolve()));
    d.close();
    await closed;
    assert.equal(h.readyState, 'closed');
    const second = await channel(w, 'stats');
    const states = new Promise<string>((resolve) => w.host.once('connectionstatechange', resolve));
    await w.device.close();
    assert.equal(await states, 'closed');
    assert.equal(second.h.readyState, 'closed');
    assert.equal(w.host.connectionState, 'closed');
  });

  it('never delivers a repeated (replayed) frame twice', async () => {
    const w = pair((from) => (from === 'device' ? 'twice' : 'deliver'));
    const { d, h } = await channel(w);
    const got = collect(h, 20);
    for (let i = 0; i < 20; i++) {
      d.send(`m${i}`);
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(
      await got,
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(w.host.stats.dropped >= 20);
    assert.equal(w.host.connectionState, 'connected');
    await closeAll(w);
  });

  it('never delivers out of order: a frame past a missing one waits for the resend', async () => {
    // The device's second frame is held back (reordered behind the third).
    const w = pair((from, _env, n) => (from === 'device' && n === 1 ? 'hold' : 'deliver'));
    const { d, h } = await channel(w);
    const got = collect(h, 3);
    d.send('a');
    await new Promise((r) => setTimeout(r, 10));
    d.send('b');
    await new Promise((r) => setTimeout(r, 10));
    d.send('c');
    await new Promise((r) => setTimeout(r, 10));
    // The held frame arrives late: it is a duplicate by then, or the gap was repaired.
    for (const x of w.held.splice(0)) x.to.receive(x.env);
    assert.deepEqual(await got, ['a', 'b', 'c']);
    await closeAll(w);
  });

  it('backs off and sends again what the relay refused (rate_limited), losing nothing', async () => {
    let refusals = 0;
    const w = pair((from, _env, n) => {
      if (from === 'device' && n % 3 === 2 && refusals < 10) {
        refusals += 1;
        return 'refuse';
      }
      return 'deliver';
    });
    const { d, h } = await channel(w);
    const total = 200;
    const got = collect(h, total);
    const payload = new Uint8Array(8000);
    for (let i = 0; i < total; i++) {
      payload[0] = i;
      d.send(payload);
    }
    const all = await got;
    assert.deepEqual(
      all.map((m) => (m as Uint8Array)[0]),
      Array.from({ length: total }, (_, i) => i & 0xff),
    );
    assert.ok(w.device.stats.throttled >= 1);
    assert.ok(w.device.stats.framesResent >= 1);
    assert.equal(w.device.connectionState, 'connected');
    await closeAll(w);
  });

  it('repairs a silently dropped frame after the retransmission timeout', async () => {
    let armed = false;
    const w = pair((from) => {
      if (from === 'device' && armed) {
        armed = false;
        return 'drop';
      }
      return 'deliver';
    });
    const { d, h } = await channel(w);
    await new Promise((r) => setTimeout(r, 30));
    const got = collect(h, 2);
    armed = true;
    d.send('lost once');
    await new Promise((r) => setTimeout(r, 5));
    d.send('after');
    assert.deepEqual(await got, ['lost once', 'after']);
    assert.ok(w.device.stats.framesResent >= 1);
    await closeAll(w);
  });

  it('ends the session on a tampered frame', async () => {
    const w = pair();
    const { d } = await channel(w);
    await new Promise((r) => setTimeout(r, 30));
    const ended = new Promise<string>((resolve) => w.host.once('connectionstatechange', resolve));
    const f = w.sent.find((s) => s.from === 'device')!;
    const ct = fromB64u(f.env.ct);
    ct[ct.length - 1] = ct[ct.length - 1]! ^ 1;
    // The counter the host expects next, with a bad tag.
    const enc = new Uint8Array(32);
    new DataView(enc.buffer).setUint32(4, w.host.stats.framesReceived);
    w.host.receive({ ...f.env, enc: b64u(enc), ct: b64u(ct) });
    const told = new Promise<string>((resolve) => w.device.once('connectionstatechange', resolve));
    assert.equal(await ended, 'failed');
    assert.equal(w.host.closeReason, 'decrypt_failed');
    // The host tells the device why (an authenticated bye), so it does not wait for silence.
    assert.equal(await told, 'failed');
    assert.equal(w.device.closeReason, 'decrypt_failed');
    await w.device.close();
    assert.throws(() => d.send('x'));
  });

  it('keeps bytes in flight under the window and slows a channel through bufferedAmount', async () => {
    let holding = false;
    const w = pair((from) => (from === 'device' && holding ? 'hold' : 'deliver'), {
      windowBytes: 64 * 1024,
      rtoMs: 60_000,
    });
    const { d, h } = await channel(w);
    await new Promise((r) => setTimeout(r, 30));
    holding = true;
    const total = 100;
    const got = collect(h, total);
    for (let i = 0; i < total; i++) d.send(new Uint8Array(16 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    // Nothing acked: the device stopped after a window (plus the frame that crossed it).
    const held = w.held.reduce((n, x) => n + x.env.ct.length, 0);
    assert.ok(held >= 64 * 1024 && held <= 64 * 1024 + 48 * 1024, `in flight ${held}`);
    assert.ok(d.bufferedAmount > 1024 * 1024, 'queued bytes show in bufferedAmount');
    const low = new Promise<void>((resolve) => d.once('bufferedamountlow', () => resolve()));
    holding = false;
    for (const x of w.held.splice(0)) x.to.receive(x.env);
    assert.equal((await got).length, total);
    await low;
    assert.equal(d.bufferedAmount, 0);
    await closeAll(w);
  });
});
