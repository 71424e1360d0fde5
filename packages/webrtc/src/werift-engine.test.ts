/**
 * Tests of the werift engine with two real peers in one process, on
 * 127.0.0.1 only, where werift's behaviour is pinned tighter than the engine
 * conformance suite asks: candidates in the offer and trickled, remote
 * candidates refused before any description, peer-reflexive connection,
 * exact buffered amounts, and a close that ends the remote peer as `closed`
 * and leaves no socket. Text and binary both ways with the remote
 * certificate read from DTLS, copies of sent bytes, size limits, closing
 * channels and peers idempotently, and roles are in the conformance suite,
 * which runs werift with itself.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { candidateAddress, sdpFingerprint } from '@pocketshell/protocol';
import {
  connectDirect,
  loopbackEngine,
  loopbackPeerOptions,
  messages,
  nextChannel,
  once,
  waitForEnd,
  waitForState,
} from '../testing/testing.ts';
import type { IceCandidateInit, Peer } from './engine.ts';
import { MAX_MESSAGE_BYTES } from './engine.ts';
import { BROWSER_SAFE_SCTP_MTU, WeriftEngine, weriftStunServerFor } from './werift-engine.ts';

const engine = loopbackEngine();

async function pair(): Promise<[Peer, Peer]> {
  return [
    await engine.createPeer(loopbackPeerOptions('offerer')),
    await engine.createPeer(loopbackPeerOptions('answerer')),
  ];
}

/** Connects `a` (offerer) and `b` directly and sends `text` on a new `control` channel; resolves with what `b` received. */
async function firstMessage(a: Peer, b: Peer, text: string): Promise<(Uint8Array | string)[]> {
  const channel = a.createDataChannel('control');
  const remote = nextChannel(b, 'control');
  await connectDirect(a, b);
  await once(channel, 'open');
  const theirs = await remote;
  if (theirs.readyState !== 'open') await once(theirs, 'open');
  const got = messages(theirs, 1);
  channel.send(text);
  return got;
}

function udpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
}

describe('WeriftEngine', () => {
  it('signals only 127.0.0.1 host candidates, in SDP and trickled', async () => {
    const [a, b] = await pair();
    const trickled: (IceCandidateInit | null)[] = [];
    a.on('icecandidate', (c) => trickled.push(c));
    try {
      a.createDataChannel('control');
      const offer = await a.setLocalDescription(await a.createOffer());
      const lines = offer.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
      assert.ok(lines.length >= 1, 'the offer carries a candidate');
      for (const line of lines) {
        assert.equal(candidateAddress(line), '127.0.0.1');
        assert.match(line, / typ host/);
      }
      assert.ok(trickled.length >= 2, 'candidates and end of candidates are trickled');
      assert.equal(trickled.at(-1), null);
      for (const c of trickled.slice(0, -1)) {
        assert.ok(c);
        assert.equal(candidateAddress(c.candidate), '127.0.0.1');
        assert.equal(typeof c.sdpMid, 'string');
      }
      // No srflx or relay candidates: no ICE server was contacted.
      assert.ok(!offer.includes('typ srflx') && !offer.includes('typ relay'));
      assert.equal(sdpFingerprint(offer), a.localFingerprint());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('drops refused and malformed remote candidates without error', async () => {
    const [a, b] = await pair();
    try {
      // 192.0.2.1 (TEST-NET-1) would be refused before werift ever sees it.
      await b.addIceCandidate({
        candidate: 'candidate:1 1 udp 2116026367 192.0.2.1 9 typ host',
        sdpMid: '0',
        sdpMLineIndex: 0,
      });
      await b.addIceCandidate({ candidate: 'garbage', sdpMid: '0', sdpMLineIndex: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('connects through peer-reflexive candidates when the remote announced none but its end of candidates', async () => {
    // A browser served from 127.0.0.1 may have no loopback candidate to offer (Chromium gathers
    // none here): the page sends only end-of-candidates, which can reach the host before it
    // answers. The host must still connect through the checks the browser sends it.
    const [a, b] = await pair();
    try {
      a.createDataChannel('control');
      const remote = nextChannel(b);
      const offer = await a.setLocalDescription(await a.createOffer());
      const bare = offer
        .split('\r\n')
        .filter((l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates')
        .join('\r\n');
      await b.setRemoteDescription(bare);
      const answer = await b.setLocalDescription(await b.createAnswer());
      await b.addIceCandidate(null);
      b.on('icecandidate', (c) => void a.addIceCandidate(c).catch(() => {}));
      // The answer travels through the relay before the browser's checks start: the host's ICE
      // has been running for a while with no remote candidate by then.
      await new Promise((r) => setTimeout(r, 500));
      await a.setRemoteDescription(answer);
      await Promise.all([waitForState(a, 'connected'), waitForState(b, 'connected')]);
      assert.equal((await remote).label, 'control');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('tracks bufferedAmount and fires bufferedamountlow', async () => {
    const [a, b] = await pair();
    try {
      const channel = a.createDataChannel('bulk');
      const remote = nextChannel(b);
      await connectDirect(a, b);
      const theirs = await remote;
      await once(channel, 'open');
      channel.bufferedAmountLowThreshold = 32 * 1024;
      assert.equal(channel.bufferedAmountLowThreshold, 32 * 1024);
      const count = 16;
      const received = messages(theirs, count);
      const low = once(channel, 'bufferedamountlow');
      for (let i = 0; i < count; i++) channel.send(new Uint8Array(MAX_MESSAGE_BYTES).fill(i));
      assert.equal(channel.bufferedAmount, count * MAX_MESSAGE_BYTES);
      await low;
      assert.ok(channel.bufferedAmount <= 32 * 1024);
      const got = await received;
      assert.deepEqual(
        got.map((m) => (m instanceof Uint8Array ? m[0] : -1)),
        Array.from({ length: count }, (_, i) => i),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('closes peers to a clean end, leaving no sockets', async () => {
    // Sockets of the previous test finish closing on the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    const before = udpSockets();
    const [a, b] = await pair();
    a.createDataChannel('c');
    assert.ok(udpSockets() === before, 'no socket before the description is set');
    await connectDirect(a, b);
    assert.ok(udpSockets() > before, 'the peers hold ICE sockets');
    const ended = waitForEnd(b);
    await a.close();
    assert.equal(a.connectionState, 'closed');
    await b.close();
    assert.equal(await ended, 'closed');
    // werift closes its sockets without awaiting them; their close callbacks run on the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(udpSockets(), before, 'every ICE socket is closed');
  });

  it('completes a first connection between two fresh engines, either one the DTLS client, with node-datachannel too', async () => {
    // Fresh engines: nothing loaded or generated before this connection. werift's DTLS endpoint used
    // to drop the records that came before its ICE said connected (the remote's ClientHello), and its
    // client to wait 100 ms before sending one; the records are now held and the client starts at once.
    const { NodeDataChannelEngine } = await import('./node-datachannel-engine.ts');
    const ndc = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
    for (const [offering, answering] of [
      [loopbackEngine(), loopbackEngine()],
      [loopbackEngine(), ndc],
      [ndc, loopbackEngine()],
    ] as const) {
      const a = await offering.createPeer(loopbackPeerOptions('offerer'));
      const b = await answering.createPeer(loopbackPeerOptions('answerer'));
      try {
        assert.deepEqual(
          await firstMessage(a, b, 'first'),
          ['first'],
          `${offering.name} offers, ${answering.name} answers`,
        );
        assert.equal(b.remoteCertificateFingerprint(), a.localFingerprint());
        assert.equal(a.remoteCertificateFingerprint(), b.localFingerprint());
      } finally {
        await a.close();
        await b.close();
      }
    }
  });

  it('defaults to the browser-safe SCTP MTU', () => {
    assert.equal(BROWSER_SAFE_SCTP_MTU, 1191);
    assert.equal(new WeriftEngine().name, 'werift');
  });
});

describe('werift: the warm-up connection a daemon runs ahead', () => {
  /** Runs `f`, recording where werift's UDP sockets send (address of each datagram) meanwhile. */
  async function sentTo(f: () => Promise<void>): Promise<string[]> {
    const to: string[] = [];
    const send = dgram.Socket.prototype.send;
    dgram.Socket.prototype.send = function recorded(this: dgram.Socket, ...args: unknown[]) {
      const address = args.find((a, i) => i > 0 && typeof a === 'string');
      to.push(typeof address === 'string' ? address : '?');
      return (send as (...a: unknown[]) => void).apply(this, args);
    } as typeof send;
    try {
      await f();
    } finally {
      dgram.Socket.prototype.send = send;
    }
    return to;
  }

  it('prepare with warmUp connects two throwaway peers on 127.0.0.1 alone and closes them', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    const before = udpSockets();
    // Bound to no address: the warm-up still stays on loopback.
    const warm = new WeriftEngine();
    const to = await sentTo(() => warm.prepare({ warmUp: true }));
    // ICE checks, DTLS and SCTP both ways: many datagrams, every one to 127.0.0.1.
    assert.ok(to.length >= 10, `the warm-up connected (${to.length} datagrams)`);
    assert.deepEqual([...new Set(to)], ['127.0.0.1']);
    // werift closes its sockets without awaiting them; their close callbacks run on the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(udpSockets(), before, 'every socket of the warm-up is closed');
    // Once: a second prepare sends nothing.
    assert.deepEqual(await sentTo(() => warm.prepare({ warmUp: true })), []);
  });

  it('a warmed engine makes working peers', async () => {
    const warm = new WeriftEngine({ bindAddress: '127.0.0.1' });
    await warm.prepare({ warmUp: true });
    const a = await warm.createPeer(loopbackPeerOptions('offerer'));
    const b = await engine.createPeer(loopbackPeerOptions('answerer'));
    try {
      assert.deepEqual(await firstMessage(a, b, 'after the warm-up'), ['after the warm-up']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('prepare without warmUp connects nothing', async () => {
    assert.deepEqual(await sentTo(() => new WeriftEngine({ bindAddress: '127.0.0.1' }).prepare()), []);
  });
});

describe('werift: no STUN server unless one is given', () => {
  it('no configured STUN server means none (werift alone would use stun.l.google.com); a given one is kept', async () => {
    assert.equal(await weriftStunServerFor({}), undefined);
    assert.deepEqual(await weriftStunServerFor({ stunServer: ['127.0.0.1', 3478] }), ['127.0.0.1', 3478]);
  });
});

describe('werift TURN over a stream transport', () => {
  /** A TURN client of werift's (patched as the engine loads it) on a transport of `type`, recording what it hands on. */
  async function turnClient(type: string) {
    await weriftStunServerFor({});
    const w = (await import('werift')) as unknown as { TurnProtocol: { prototype: object } };
    const got: { data: number[]; tick: number }[] = [];
    let tick = 0;
    const client = Object.assign(Object.create(w.TurnProtocol.prototype), {
      transport: { type },
      tcpBuffer: Buffer.alloc(0),
      addrByChannel: { 16384: ['10.0.0.1', 5000] },
      transactions: {},
      onData: { execute: (data: Buffer) => got.push({ data: [...data], tick }) },
    }) as { dataReceived(data: Buffer, addr: unknown): void };
    const frame = (bytes: number[]) => {
      const header = Buffer.alloc(4);
      header.writeUInt16BE(16384, 0);
      header.writeUInt16BE(bytes.length, 2);
      const pad = (4 - (bytes.length % 4)) % 4;
      return Buffer.concat([header, Buffer.from(bytes), Buffer.alloc(type === 'udp' ? 0 : pad)]);
    };
    const turns = () => {
      tick++;
    };
    return { client, got, frame, turns };
  }

  it('hands on the frames of one TCP read one per event-loop turn, in order', async () => {
    const { client, got, frame, turns } = await turnClient('tcp');
    // Three ChannelData frames in one read (padded to 4 bytes, as over TCP), the last split in two reads.
    const read = Buffer.concat([frame([1]), frame([2, 2]), frame([3, 3, 3])]);
    client.dataReceived(read.subarray(0, read.length - 2), ['127.0.0.1', 3478]);
    client.dataReceived(read.subarray(read.length - 2), ['127.0.0.1', 3478]);
    assert.equal(got.length, 0, 'nothing in the reading turn');
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      turns();
    }
    assert.deepEqual(
      got.map((g) => g.data),
      [[1], [2, 2], [3, 3, 3]],
    );
    assert.equal(new Set(got.map((g) => g.tick)).size, 3, 'each in its own turn');
  });

  it('over UDP, hands a datagram on at once', async () => {
    const { client, got, frame } = await turnClient('udp');
    client.dataReceived(frame([7, 7]), ['127.0.0.1', 3478]);
    assert.deepEqual(
      got.map((g) => g.data),
      [[7, 7]],
    );
  });
});
