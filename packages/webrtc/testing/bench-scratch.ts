/**
 * Scratch benchmark (not a test): connect time and data-channel throughput
 * of two werift peers on 127.0.0.1 in one process, through `ChannelWriter`
 * (16 KiB messages, at most 256 KiB buffered). Also records the largest UDP
 * datagram sent, to check the SCTP MTU setting. Run:
 * `node packages/webrtc/testing/bench-scratch.ts [MiB] [rounds] [highWaterKiB]`.
 */
import dgram from 'node:dgram';
import { deviceIdOf, generateKeyPair, hostIdOf, ReplayCache, unixNow } from '@pocketshell/protocol';
import { ChannelWriter } from '../src/channel-writer.ts';
import { type DataChannel, isLoopbackIPv4 } from '../src/engine.ts';
import { answerOffer, startOffer } from '../src/negotiate.ts';
import { NodeDataChannelEngine } from '../src/node-datachannel-engine.ts';
import { connectDirect, loopbackEngine, loopbackPeerOptions, nextChannel, once } from './testing.ts';

let largestDatagram = 0;
const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function patched(this: dgram.Socket, ...args: unknown[]) {
  const msg = args[0];
  if (msg instanceof Uint8Array) largestDatagram = Math.max(largestDatagram, msg.byteLength);
  else if (Array.isArray(msg)) largestDatagram = Math.max(largestDatagram, Buffer.concat(msg).byteLength);
  return (send as (...a: unknown[]) => void).apply(this, args);
} as typeof send;

const mib = Number(process.argv[2] ?? 32);
const rounds = Number(process.argv[3] ?? 3);
const highKiB = Number(process.argv[4] ?? 256);
const engine =
  process.env.BENCH_ENGINE === 'node-datachannel'
    ? new NodeDataChannelEngine({ bindAddress: '127.0.0.1' })
    : loopbackEngine();

function received(channel: DataChannel, total: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    channel.on('message', (m) => {
      got += typeof m === 'string' ? m.length : m.byteLength;
      if (got >= total) resolve();
    });
  });
}

for (let round = 0; round < rounds; round++) {
  const t0 = performance.now();
  const a = await engine.createPeer(loopbackPeerOptions('offerer'));
  const b = await engine.createPeer(loopbackPeerOptions('answerer'));
  const peersMs = performance.now() - t0;
  const channel = a.createDataChannel('bulk');
  const remote = nextChannel(b);
  await connectDirect(a, b);
  const connectedMs = performance.now() - t0;
  const theirs = await remote;
  await once(channel, 'open');
  const connectMs = performance.now() - t0;

  const total = mib * 1024 * 1024;
  const payload = new Uint8Array(total).fill(0x5a);
  const done = received(theirs, total);
  const writer = new ChannelWriter(channel, {
    highWaterMark: highKiB * 1024,
    lowWaterMark: Math.floor((highKiB * 1024) / 4),
  });
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    maxBuffered = Math.max(maxBuffered, channel.bufferedAmount);
  }, 5);
  const t1 = performance.now();
  await writer.writeAll(payload, Number(process.env.BENCH_CHUNK ?? 16384));
  await done;
  const seconds = (performance.now() - t1) / 1000;
  clearInterval(sampler);
  console.log(
    `round ${round}: peers+certs ${peersMs.toFixed(0)} ms, connected ${connectedMs.toFixed(0)} ms, ` +
      `channel open ${connectMs.toFixed(0)} ms; ` +
      `${mib} MiB in ${seconds.toFixed(2)} s = ${(mib / seconds).toFixed(1)} MiB/s, ` +
      `max bufferedAmount seen ${(maxBuffered / 1024).toFixed(0)} KiB, largest UDP datagram ${largestDatagram} B`,
  );
  await a.close();
  await b.close();
}
console.log(`node ${process.version}`);

// The same connection through the signed handshake (sign, verify, DTLS binding both ways).
{
  const hostKey = generateKeyPair();
  const deviceKey = generateKeyPair();
  const replay = new ReplayCache();
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    const common = {
      engine,
      iceServers: [],
      localAddressFilter: isLoopbackIPv4,
      now: () => unixNow(),
    };
    const ids = { hostId: hostIdOf(hostKey.publicKey), deviceId: deviceIdOf(deviceKey.publicKey) };
    const offering = await startOffer({
      ...common,
      ...ids,
      onIceCandidate: () => {},
      deviceSecret: deviceKey.secretKey,
      hostPub: hostKey.publicKey,
      conn: `bench-conn-${round}`,
      channels: ['control'],
    });
    const answered = await answerOffer(JSON.parse(JSON.stringify(offering.offer)), {
      ...common,
      ...ids,
      onIceCandidate: () => {},
      hostSecret: hostKey.secretKey,
      devicePub: deviceKey.publicKey,
      replay,
    });
    const { verified } = await offering.acceptAnswer(JSON.parse(JSON.stringify(answered.answer)));
    await Promise.all([verified, answered.verified]);
    const verifiedMs = performance.now() - t0;
    await once(offering.channels[0]!, 'open');
    console.log(
      `signed round ${round}: both ends verified ${verifiedMs.toFixed(0)} ms, ` +
        `channel open ${(performance.now() - t0).toFixed(0)} ms`,
    );
    await offering.peer.close();
    await answered.peer.close();
  }
}
