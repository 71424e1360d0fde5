/**
 * TURN over UDP, TCP and TLS end to end, engine by engine, against Debian's
 * coturn on loopback with a certificate from a test CA: the offerer is held
 * to relay candidates (`iceTransportPolicy: 'relay'`), the data channel
 * carries bytes both ways, and both ends report the path from their
 * selected candidate pair (`Peer.path()`): the relayed end TURN/<transport>,
 * the other end TURN/UDP (its leg to the remote's TURN allocation). A
 * direct connection reports `direct`. libdatachannel (libjuice) allocates
 * over UDP only: with only TCP or TLS TURN servers it gathers no relay
 * candidate, checked so that a future build that can is noticed
 * (docs/transport.md). coturn must be installed (scripts/install-system-deps.sh).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestCa, type StartedCoturn, startCoturn, type TestCa } from '../testing/coturn.ts';
import { connectDirect, messages, nextChannel, once } from '../testing/testing.ts';
import type { IceServer, Peer, WebRtcEngine } from './engine.ts';
import { isLoopbackIPv4 } from './engine.ts';
import { NodeDataChannelEngine } from './node-datachannel-engine.ts';
import { chooseTurnForWerift } from './turn-choice.ts';
import { WeriftEngine } from './werift-engine.ts';

const SECRET = 'turn-paths-test-secret-0123456789';

/** A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

let dir: string;
let ca: TestCa;
let coturn: StartedCoturn;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'turn-paths-'));
  ca = makeTestCa(dir, { ip: ['127.0.0.1'] });
  coturn = await startCoturn({
    ip: '127.0.0.1',
    port: await freePort(),
    tlsPort: await freePort(),
    secret: SECRET,
    ca,
  });
});

after(async () => {
  await coturn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const werift = () => new WeriftEngine({ bindAddress: '127.0.0.1', turnTlsCa: ca.caPem });
const ndc = () => new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });

/** Connects a relay-only offerer on `offererEngine` to a plain answerer, and checks the channel. */
async function relayed(
  offererEngine: WebRtcEngine,
  answererEngine: WebRtcEngine,
  iceServers: IceServer[],
): Promise<{ offerer: Peer; answerer: Peer }> {
  const offerer = await offererEngine.createPeer({
    role: 'offerer',
    iceServers,
    iceTransportPolicy: 'relay',
    localAddressFilter: isLoopbackIPv4,
  });
  const answerer = await answererEngine.createPeer({
    role: 'answerer',
    iceServers: [],
    localAddressFilter: isLoopbackIPv4,
  });
  const types: string[] = [];
  offerer.on('icecandidate', (c) => {
    if (c) types.push(/ typ (\S+)/.exec(c.candidate)?.[1] ?? '?');
  });
  const channel = offerer.createDataChannel('t');
  const remote = nextChannel(answerer);
  try {
    await connectDirect(offerer, answerer);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; offerer candidates ${types.join(',')}\n${coturn.log().slice(-2000)}`,
    );
  }
  assert.ok(types.length > 0 && types.every((t) => t === 'relay'), `only relay candidates: ${types}`);
  const far = await remote;
  if (channel.readyState !== 'open') await once(channel, 'open');
  if (far.readyState !== 'open') await once(far, 'open');
  const got = messages(far, 1);
  channel.send('through TURN');
  assert.deepEqual(await got, ['through TURN']);
  const back = messages(channel, 1);
  far.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...((await back)[0] as Uint8Array)], [1, 2, 3]);
  return { offerer, answerer };
}

describe('TURN paths', () => {
  for (const [name, make] of [
    ['werift', werift],
    ['node-datachannel', ndc],
  ] as const) {
    it(`${name}: a direct connection reports direct`, async () => {
      const a = await make().createPeer({
        role: 'offerer',
        iceServers: [],
        localAddressFilter: isLoopbackIPv4,
      });
      const b = await werift().createPeer({
        role: 'answerer',
        iceServers: [],
        localAddressFilter: isLoopbackIPv4,
      });
      a.createDataChannel('t');
      assert.equal(await a.path(), null, 'not connected yet');
      await connectDirect(a, b);
      assert.equal(await a.path(), 'direct');
      assert.equal(await b.path(), 'direct');
      await Promise.all([a.close(), b.close()]);
      assert.equal(await a.path(), null, 'closed');
    });

    it(`${name}: facing a peer on TURN over UDP`, async () => {
      // The relayed side is werift: libjuice's relay policy only filters the candidates it
      // signals, its own checks still go out from its host socket (and find a direct pair).
      const { offerer, answerer } = await relayed(werift(), make(), [coturn.iceServer([coturn.urls.udp])]);
      assert.equal(await offerer.path(), 'turn-udp');
      assert.equal(await answerer.path(), 'turn-udp', 'the answerer reaches the TURN allocation over UDP');
      await Promise.all([offerer.close(), answerer.close()]);
    });
  }

  it('werift: TURN over TCP', async () => {
    const { offerer, answerer } = await relayed(werift(), ndc(), [coturn.iceServer([coturn.urls.tcp])]);
    assert.equal(await offerer.path(), 'turn-tcp');
    assert.equal(await answerer.path(), 'turn-udp');
    await Promise.all([offerer.close(), answerer.close()]);
  });

  it('werift: TURN over TLS, the certificate verified against the test CA', async () => {
    const { offerer, answerer } = await relayed(werift(), ndc(), [coturn.iceServer([coturn.urls.tls])]);
    assert.equal(await offerer.path(), 'turn-tls');
    await Promise.all([offerer.close(), answerer.close()]);
  });

  it('werift: given UDP, TCP and TLS URLs, takes the best that answers', async () => {
    // All three answer on loopback: UDP.
    const all = [coturn.iceServer([coturn.urls.tls, coturn.urls.tcp, coturn.urls.udp])];
    assert.deepEqual((await chooseTurnForWerift(all))[0]!.urls, [coturn.urls.udp]);
    // Nothing listens for UDP or TCP on a closed port: TLS.
    const closed = await freePort();
    const blocked = [
      coturn.iceServer([
        `turn:127.0.0.1:${closed}?transport=udp`,
        `turn:127.0.0.1:${closed}?transport=tcp`,
        coturn.urls.tls,
      ]),
    ];
    const chosen = await chooseTurnForWerift(blocked, { timeoutMs: 500 });
    assert.deepEqual(chosen[0]!.urls, [coturn.urls.tls]);
    assert.equal(chosen[0]!.credential, blocked[0]!.credential);
  });

  it('werift: TURN over TLS refuses a certificate it cannot verify', async () => {
    // Node's own store does not hold the test CA: no relay candidate, no connection.
    const offerer = await new WeriftEngine({ bindAddress: '127.0.0.1' }).createPeer({
      role: 'offerer',
      iceServers: [coturn.iceServer([coturn.urls.tls])],
      iceTransportPolicy: 'relay',
      localAddressFilter: isLoopbackIPv4,
    });
    const candidates: string[] = [];
    const gathered = new Promise<void>((r) =>
      offerer.on('icecandidate', (c) => (c ? candidates.push(c.candidate) : r())),
    );
    offerer.createDataChannel('t');
    await offerer.setLocalDescription(await offerer.createOffer());
    await gathered;
    assert.deepEqual(
      candidates.filter((c) => / typ relay /.test(c)),
      [],
    );
    await offerer.close();
  });

  it('node-datachannel (libjuice): no relay candidate from TURN over TCP or TLS', async () => {
    const offerer = await ndc().createPeer({
      role: 'offerer',
      iceServers: [coturn.iceServer([coturn.urls.tcp, coturn.urls.tls])],
      iceTransportPolicy: 'relay',
      localAddressFilter: isLoopbackIPv4,
    });
    const candidates: string[] = [];
    offerer.on('icecandidate', (c) => {
      if (c) candidates.push(c.candidate);
    });
    offerer.createDataChannel('t');
    await offerer.setLocalDescription(await offerer.createOffer());
    // The offerer's candidates are held until the answer (module comment of the engine): give one.
    const answerer = await werift().createPeer({
      role: 'answerer',
      iceServers: [],
      localAddressFilter: isLoopbackIPv4,
    });
    await answerer.setRemoteDescription(await offerer.setLocalDescription(await offerer.createOffer()));
    await offerer.setRemoteDescription(await answerer.setLocalDescription(await answerer.createAnswer()));
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(candidates, [], 'libjuice drops TURN TCP/TLS servers');
    await Promise.all([offerer.close(), answerer.close()]);
  });
});
