/**
 * The far-side helper of the shaped-link bench (test/bench/shaped-link.ts),
 * run as a child under `ip netns exec NS` because the bench itself stays in
 * the root namespace. Modes (the result is one JSON line on stdout):
 *
 *   link-server ADDR PORT      TCP server for the link check (in the server namespace)
 *   link-check ADDR PORT       connect time, small-message echo RTT, 1 MB each way
 *   pocketshell ENGINE RELAY_WS PAIR_URL ADDRS SAMPLES FLOOD_MS
 *                              pairs a Node Device, connects, opens a terminal
 *                              and measures Ctrl-C to prompt under `yes`
 */
import { createServer, connect as tcpConnect } from 'node:net';
import { Device, type TerminalClient } from '@pocketshell/client';
import type { EngineName } from '@pocketshell/host-core';
import { generateKeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { NodeDataChannelEngine, WeriftEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import { ctrlCSamples, type Stream } from './measure.ts';

const PROMPT = '__PR__';
const BULK = 1_000_000;

// ---------------------------------------------------------------- link check

/** First byte picks the mode: `p` echo each chunk, `u` sink then reply `k`, `d` send BULK bytes. */
function linkServer(addr: string, port: number): void {
  const server = createServer((s) => {
    let mode = '';
    s.on('data', (d: Buffer) => {
      if (mode === '') {
        mode = String.fromCharCode(d[0]!);
        d = d.subarray(1);
        if (mode === 'd') s.end(Buffer.alloc(BULK, 0x79));
      }
      if (mode === 'p' && d.length > 0) s.write(d);
    });
    s.on('end', () => {
      if (mode === 'u') s.end('k');
    });
    s.on('error', () => {});
  });
  server.listen(port, addr, () => console.log(JSON.stringify({ listening: port })));
  process.on('SIGTERM', () => process.exit(0));
}

function open(addr: string, port: number): Promise<{ socket: ReturnType<typeof tcpConnect>; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = tcpConnect({ host: addr, port, noDelay: true }, () =>
      resolve({ socket, ms: performance.now() - t0 }),
    );
    socket.once('error', reject);
  });
}

async function linkCheck(addr: string, port: number) {
  const connects: number[] = [];
  const rtts: number[] = [];
  {
    const { socket, ms } = await open(addr, port);
    connects.push(ms);
    socket.write('p');
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const got = new Promise((r) => socket.once('data', r));
      socket.write('x');
      await got;
      rtts.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.destroy();
  }
  // Upload: from writing the first byte to the server's reply after it saw all of them.
  let upMs: number;
  {
    const { socket, ms } = await open(addr, port);
    connects.push(ms);
    const t0 = performance.now();
    const done = new Promise((r) => socket.once('data', r));
    socket.end(Buffer.concat([Buffer.from('u'), Buffer.alloc(BULK, 0x78)]));
    await done;
    upMs = performance.now() - t0;
    socket.destroy();
  }
  // Download: from asking to the last byte.
  let downMs: number;
  {
    const { socket, ms } = await open(addr, port);
    connects.push(ms);
    let n = 0;
    const t0 = performance.now();
    const done = new Promise<void>((r) => {
      socket.on('data', (d: Buffer) => {
        n += d.length;
      });
      socket.on('end', () => r());
    });
    socket.write('d');
    await done;
    downMs = performance.now() - t0;
    if (n !== BULK) throw new Error(`download got ${n} bytes`);
    socket.destroy();
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    connectMs: med(connects),
    rttMs: med(rtts),
    rttSamples: rtts,
    // Goodput over a fresh connection, slow start and one RTT included.
    upMbps: (BULK * 8) / (upMs / 1000) / 1e6,
    downMbps: (BULK * 8) / (downMs / 1000) / 1e6,
    upMs,
    downMs,
  };
}

// ---------------------------------------------------------------- PocketShell

function termStream(term: TerminalClient): Stream {
  return {
    write: (s) => term.write(s),
    // Snapshots count too: on a slow link the host sends the screen instead of a backlog.
    onData: (l) => term.on('data', ({ bytes }) => l(bytes)),
  };
}

async function pocketshell(
  engine: EngineName,
  relayWs: string,
  pairUrl: string,
  linkAddresses: string[],
  samples: number,
  floodMs: number,
) {
  const device = new Device({
    keyPair: generateKeyPair(),
    relayUrl: relayWs,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    // No `bindAddress`: the engines apply it to remote candidates too (only
    // `address === bindAddress` passes), which suits loopback, where both ends
    // are 127.0.0.1, but rejects the host's 10.77.0.1. The namespace has only
    // `lo` and the link, and the filter keeps ICE on the link's two addresses.
    engine: engine === 'werift' ? new WeriftEngine() : new NodeDataChannelEngine(),
    localAddressFilter: (address) => linkAddresses.includes(address),
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  device.start();
  try {
    const host = await device.pair(pairUrl, { name: 'shaped-bench', timeoutMs: 60_000 });
    const t0 = performance.now();
    const conn = await device.connect(host.id, { timeoutMs: 60_000 });
    const term = await conn.openTerminal('new', { cols: 120, rows: 40 });
    const connectMs = performance.now() - t0;
    const ctrl = await ctrlCSamples(termStream(term), PROMPT, {
      samples,
      floodMs,
      label: `pocketshell (${engine})`,
    });
    await conn.close();
    return { connectMs, ctrl };
  } finally {
    await device.close();
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'link-server') linkServer(args[0]!, Number(args[1]));
else if (mode === 'link-check') {
  console.log(JSON.stringify(await linkCheck(args[0]!, Number(args[1]))));
  process.exit(0);
} else if (mode === 'pocketshell') {
  const [engine, relayWs, pairUrl, addrs, samples, floodMs] = args;
  const r = await pocketshell(
    engine as EngineName,
    relayWs!,
    pairUrl!,
    addrs!.split(','),
    Number(samples),
    Number(floodMs),
  );
  console.log(JSON.stringify(r));
  process.exit(0);
} else {
  console.error('usage: shaped-client.ts link-server|link-check|pocketshell …');
  process.exit(2);
}
