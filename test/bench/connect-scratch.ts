/**
 * Scratch measurement (not part of `npm run bench`): where a first and a
 * warm connection's time goes, per engine pairing, in one process on
 * 127.0.0.1: createPeer (incl. certificate), offer, answer, ICE connected,
 * DTLS binding verified, channel open both ends. Run:
 * `npm exec -- node test/bench/connect-scratch.ts [rounds]`.
 */
import { performance } from 'node:perf_hooks';
import { type DataChannel, NodeDataChannelEngine, type Peer, type WebRtcEngine } from '@pocketshell/webrtc';
import {
  loopbackEngine,
  loopbackPeerOptions,
  nextChannel,
  once,
  waitForState,
} from '@pocketshell/webrtc/testing';

const rounds = Number(process.argv[2] ?? 3);
const engines: Record<string, () => WebRtcEngine> = {
  werift: () => loopbackEngine(),
  ndc: () => new NodeDataChannelEngine({ bindAddress: '127.0.0.1' }),
};
const only = process.env.PAIRS?.split(',');

async function one(off: WebRtcEngine, ans: WebRtcEngine): Promise<Record<string, number>> {
  const t0 = performance.now();
  const marks: Record<string, number> = {};
  const mark = (k: string) => {
    marks[k] ??= Math.round(performance.now() - t0);
  };
  const a: Peer = await off.createPeer(loopbackPeerOptions('offerer'));
  mark('offererPeer');
  const ch: DataChannel = a.createDataChannel('control');
  const offer = await a.setLocalDescription(await a.createOffer());
  mark('offer');
  const b: Peer = await ans.createPeer(loopbackPeerOptions('answerer'));
  mark('answererPeer');
  a.on('icecandidate', (c) => void b.addIceCandidate(c).catch(() => {}));
  b.on('icecandidate', (c) => void a.addIceCandidate(c).catch(() => {}));
  for (const [p, n] of [
    [a, 'a'],
    [b, 'b'],
  ] as const)
    p.on('connectionstatechange', (s) => mark(`${n}:${s}`));
  const remote = nextChannel(b, 'control');
  await b.setRemoteDescription(offer);
  const answer = await b.setLocalDescription(await b.createAnswer());
  mark('answer');
  await a.setRemoteDescription(answer);
  mark('applied');
  await Promise.all([waitForState(a, 'connected'), waitForState(b, 'connected')]);
  mark('connected');
  const theirs = await remote;
  mark('remoteChannel');
  if (ch.readyState !== 'open') await once(ch, 'open');
  mark('open');
  if (theirs.readyState !== 'open') await once(theirs, 'open');
  mark('theirsOpen');
  await a.close();
  await b.close();
  return marks;
}

for (const [on, oe] of Object.entries(engines)) {
  for (const [an, ae] of Object.entries(engines)) {
    const name = `${on}->${an}`;
    if (only && !only.includes(name)) continue;
    const o = oe();
    const a = ae();
    for (let i = 0; i < rounds; i++)
      console.log(name, i === 0 ? 'cold' : 'warm', JSON.stringify(await one(o, a)));
  }
}
