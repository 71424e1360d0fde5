/**
 * The bare data channel between two processes, as PocketShell's two ends
 * are: this process (node-datachannel, 127.0.0.1) and raw-peer.ts, with no
 * PTY, framing, pacing, encryption of our own or holder — what the engine
 * alone gives. The ceiling the terminal and files benches compare against,
 * measured in the same run as them:
 * - `receive(bytes, size)`: the other process sends `bytes` as `size`-byte
 *   binary messages (paced by `bufferedAmount`, as the daemon's writer is)
 *   and this one counts them (ms until the last);
 * - `send(bytes)`: the other way, 16 KiB messages (ms until it confirmed);
 * - `pingPong(n)`: one short text message there and back, `n` times, each
 *   after the one before (ms each): the engine's share of an echo.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ChannelWriter, type DataChannel, NodeDataChannelEngine } from '@pocketshell/webrtc';
import { loopbackPeerOptions, once } from '@pocketshell/webrtc/testing';

export interface RawChannel {
  receive(bytes: number, size: number): Promise<number>;
  send(bytes: number): Promise<number>;
  pingPong(n: number): Promise<number[]>;
  close(): Promise<void>;
}

/** The next text message `want` on `channel`. */
function text(channel: DataChannel, want: (m: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const off = channel.on('message', (m) => {
      if (typeof m === 'string' && want(m)) {
        off();
        resolve(m);
      }
    });
  });
}

/** Resolves once `bytes` bytes of binary messages have come on `channel` (text ones are not counted). */
export function binaryBytes(channel: DataChannel, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const off = channel.on('message', (m) => {
      if (typeof m === 'string') return;
      got += m.byteLength;
      if (got >= bytes) {
        off();
        resolve();
      }
    });
  });
}

/** Connects to a new raw-peer.ts process; `close` ends both. */
export async function openRawChannel(): Promise<RawChannel> {
  const engine = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
  const peer = await engine.createPeer(loopbackPeerOptions('offerer'));
  const child = spawn(process.execPath, [fileURLToPath(new URL('./raw-peer.ts', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const signal = (m: unknown) => child.stdin.write(`${JSON.stringify(m)}\n`);
  const close = async () => {
    child.stdin.end();
    await peer.close();
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
  };
  try {
    const channel = peer.createDataChannel('bulk');
    peer.on('icecandidate', (c) => signal({ t: 'ice', c }));
    const answered = new Promise<string>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = JSON.parse(line) as { t: string; sdp?: string; c?: unknown };
        if (m.t === 'answer') resolve(m.sdp!);
        else if (m.t === 'ice') void peer.addIceCandidate(m.c as never).catch(() => {});
      });
    });
    signal({ t: 'offer', sdp: await peer.setLocalDescription(await peer.createOffer()) });
    await peer.setRemoteDescription(await answered);
    await once(channel, 'open');
    const writer = new ChannelWriter(channel);
    const payload = randomBytes(16 * 1024);
    return {
      async receive(bytes, size) {
        const t0 = performance.now();
        const all = binaryBytes(channel, bytes);
        channel.send(`send:${bytes}:${size}`);
        await all;
        return performance.now() - t0;
      },
      async send(bytes) {
        const t0 = performance.now();
        const got = text(channel, (m) => m === 'got');
        channel.send(`expect:${bytes}`);
        for (let sent = 0; sent < bytes; sent += payload.byteLength) await writer.write(payload);
        await got;
        return performance.now() - t0;
      },
      async pingPong(n) {
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const back = text(channel, (m) => m === `echo:${i}`);
          const t0 = performance.now();
          channel.send(`echo:${i}`);
          await back;
          times.push(performance.now() - t0);
        }
        return times;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
