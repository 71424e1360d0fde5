/**
 * The far end of the files bench's raw data-channel figure (files.ts), in
 * a process of its own as the daemon is: a node-datachannel answerer on
 * 127.0.0.1, signalled over stdin/stdout (one JSON line each: `offer`,
 * `answer`, `ice`). On its channel, the text `expect:N` makes it count
 * the binary bytes that follow and answer `got` once N have come;
 * `send:N[:S]` makes it send N bytes as S-byte (default 16 KiB) binary
 * messages through `ChannelWriter` (paced by `bufferedAmount`); `echo:…`
 * comes back as it is (raw-channel.ts drives it).
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ChannelWriter, type DataChannel, NodeDataChannelEngine } from '@pocketshell/webrtc';
import { loopbackPeerOptions } from '@pocketshell/webrtc/testing';

const out = (m: unknown) => process.stdout.write(`${JSON.stringify(m)}\n`);
const engine = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
const peer = await engine.createPeer(loopbackPeerOptions('answerer'));
peer.on('icecandidate', (c) => out({ t: 'ice', c }));
const payload = randomBytes(16 * 1024);

function serve(channel: DataChannel): void {
  const writer = new ChannelWriter(channel);
  let expect = 0;
  let got = 0;
  channel.on('message', (m) => {
    if (typeof m !== 'string') {
      got += m.byteLength;
      if (expect > 0 && got >= expect) {
        expect = 0;
        channel.send('got');
      }
      return;
    }
    const [verb, n, size] = m.split(':') as [string, string, string | undefined];
    if (verb === 'expect') {
      expect = Number(n);
      got = 0;
    } else if (verb === 'send') {
      const message = size ? payload.subarray(0, Number(size)) : payload;
      void (async () => {
        for (let sent = 0; sent < Number(n); sent += message.byteLength) await writer.write(message);
      })();
    } else if (verb === 'echo') channel.send(m);
  });
}
peer.on('datachannel', serve);

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { t: string; sdp?: string; c?: unknown };
  void (async () => {
    if (m.t === 'offer') {
      await peer.setRemoteDescription(m.sdp!);
      out({ t: 'answer', sdp: await peer.setLocalDescription(await peer.createAnswer()) });
    } else if (m.t === 'ice') await peer.addIceCandidate(m.c as never).catch(() => {});
  })();
});
process.stdin.on('end', () => {
  void peer.close().then(() => process.exit(0));
});
