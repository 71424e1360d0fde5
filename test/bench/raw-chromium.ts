/**
 * The raw data-channel rate between headless Chromium and a node-datachannel
 * peer (the daemon's engine) on loopback, both ways, with no PocketShell
 * code on either end: 16 KiB binary messages, the sender paced by
 * `bufferedAmount` (at most 256 KiB queued; the page waits for
 * `bufferedamountlow`, Node through `ChannelWriter`). The ceiling for the
 * files channel from a browser (files-chromium.ts). Also the round trip of a
 * 13-byte message (the size of an ack) while idle, for the window's bound
 * (256 KiB per round trip). `iceServers: []`; candidates on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { ChannelWriter, type DataChannel, NodeDataChannelEngine } from '@pocketshell/webrtc';
import { loopbackPeerOptions, once } from '@pocketshell/webrtc/testing';
import { launchPhone } from '../browser/harness.ts';
import { binaryBytes } from './raw-channel.ts';

const MIB = 2 ** 20;
/** Most bytes the sending page keeps queued (`bufferedAmount`). */
const QUEUE = Number(process.env.BENCH_RAW_QUEUE ?? 256 * 1024);

export interface RawChromiumFigures {
  /** MiB/s, page → Node and Node → page, per run. */
  up: number[];
  down: number[];
  /** Round trip of a 13-byte message, ms (median of 50). */
  rttMs: number;
}

/** `runs` runs of `sizeMB` MiB each way. */
export async function rawChromiumBench(o: { sizeMB: number; runs: number }): Promise<RawChromiumFigures> {
  const size = o.sizeMB * MIB;
  const engine = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
  const peer = await engine.createPeer(loopbackPeerOptions('answerer'));
  const phone = await launchPhone();
  try {
    const { page } = phone;
    await page.goto('about:blank');
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const ch = pc.createDataChannel('bulk');
      ch.binaryType = 'arraybuffer';
      (globalThis as unknown as Record<string, unknown>).__raw = { pc, ch };
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((r) => {
        if (pc.iceGatheringState === 'complete') r();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
      });
      return pc.localDescription!.sdp;
    });
    let channel: DataChannel | undefined;
    const opened = new Promise<DataChannel>((resolve) =>
      peer.on('datachannel', (c) => {
        channel = c;
        resolve(c);
      }),
    );
    const candidates: unknown[] = [];
    peer.on('icecandidate', (c) => candidates.push(c));
    await peer.setRemoteDescription(offer);
    const answer = await peer.setLocalDescription(await peer.createAnswer());
    await new Promise((r) => setTimeout(r, 300));
    await page.evaluate(
      async ([sdp, cands]) => {
        const { pc } = (globalThis as unknown as { __raw: { pc: RTCPeerConnection } }).__raw;
        await pc.setRemoteDescription({ type: 'answer', sdp });
        for (const c of cands as ({ candidate: string; sdpMid?: string } | null)[])
          if (c?.candidate) await pc.addIceCandidate(c).catch(() => {});
      },
      [answer, candidates] as const,
    );
    channel = await opened;
    if (channel.readyState !== 'open') await once(channel, 'open');
    await page.evaluate(async () => {
      const { ch } = (globalThis as unknown as { __raw: { ch: RTCDataChannel } }).__raw;
      if (ch.readyState !== 'open') await new Promise((r) => ch.addEventListener('open', r, { once: true }));
    });
    const ch = channel;
    // Round trip: Node sends 13 bytes, the page echoes them.
    await page.evaluate(() => {
      const { ch: c } = (globalThis as unknown as { __raw: { ch: RTCDataChannel } }).__raw;
      c.addEventListener('message', (e) => {
        if (e.data instanceof ArrayBuffer && e.data.byteLength === 13) c.send(e.data);
      });
    });
    const rtts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const off = ch.on('message', (m) => {
          if (typeof m !== 'string' && m.byteLength === 13) {
            off();
            resolve();
          }
        });
        ch.send(new Uint8Array(13));
      });
      rtts.push(performance.now() - t0);
    }
    rtts.sort((a, b) => a - b);
    const up: number[] = [];
    const down: number[] = [];
    const payload = randomBytes(16 * 1024);
    const writer = new ChannelWriter(ch);
    for (let i = 0; i < o.runs; i++) {
      // Page → Node.
      const all = binaryBytes(ch, size);
      const t0 = performance.now();
      await page.evaluate(
        async ([n, q]) => {
          const { ch: c } = (globalThis as unknown as { __raw: { ch: RTCDataChannel } }).__raw;
          c.bufferedAmountLowThreshold = q / 2;
          const buf = new Uint8Array(16 * 1024);
          for (let sent = 0; sent < n; sent += buf.length) {
            if (c.bufferedAmount > q)
              await new Promise((r) => c.addEventListener('bufferedamountlow', r, { once: true }));
            c.send(buf);
          }
        },
        [size, QUEUE] as const,
      );
      await all;
      up.push(o.sizeMB / ((performance.now() - t0) / 1000));
      // Node → page: the page answers when it has them all.
      const counted = page.evaluate((n) => {
        const { ch: c } = (globalThis as unknown as { __raw: { ch: RTCDataChannel } }).__raw;
        return new Promise<void>((resolve) => {
          let g = 0;
          const on = (e: MessageEvent) => {
            if (!(e.data instanceof ArrayBuffer) || e.data.byteLength === 13) return;
            g += e.data.byteLength;
            if (g >= n) {
              c.removeEventListener('message', on);
              resolve();
            }
          };
          c.addEventListener('message', on);
        });
      }, size);
      await new Promise((r) => setTimeout(r, 50));
      const t1 = performance.now();
      for (let sent = 0; sent < size; sent += payload.length) await writer.write(payload);
      await counted;
      down.push(o.sizeMB / ((performance.now() - t1 - 50 * 0) / 1000));
    }
    return { up, down, rttMs: rtts[Math.floor(rtts.length / 2)]! };
  } finally {
    await phone.close();
    await peer.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await rawChromiumBench({
    sizeMB: Number(process.env.BENCH_FILES_MB ?? 64),
    runs: Number(process.env.BENCH_FILES_RUNS ?? 3),
  });
  console.log(JSON.stringify(f));
}
