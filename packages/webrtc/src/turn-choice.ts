/**
 * werift takes only the first TURN URL it is given (and falls back from UDP
 * to TCP on that same host and port, after its UDP allocation times out —
 * tens of seconds). The relay hands out UDP, TCP and TLS URLs so a device on
 * a network that blocks UDP, or everything but 443, still gets through; so
 * before a werift peer is made, the URLs are probed in parallel — a STUN
 * binding request over UDP, a TCP connect, a TCP connect to the TLS port —
 * and werift is given the first that answers, in the order UDP, TCP, TLS
 * (the order of preference: each later one costs more per byte). A probe
 * takes one round trip where the way is open and at most `timeoutMs` where
 * it is blocked. The answer is kept for a minute per set of URLs.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { IceServer } from './engine.ts';

/** How a device reaches its TURN server. */
export type TurnTransport = 'udp' | 'tcp' | 'tls';
type Transport = TurnTransport;

interface TurnUrl {
  server: IceServer;
  url: string;
  host: string;
  port: number;
  transport: Transport;
}

function parse(server: IceServer, url: string): TurnUrl | null {
  const m = /^(turns?):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?transport=(udp|tcp))?$/i.exec(url.trim());
  if (!m) return null;
  const tls = m[1]!.toLowerCase() === 'turns';
  const transport: Transport = tls ? 'tls' : m[4]?.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
  const port = m[3] ? Number(m[3]) : tls ? 5349 : 3478;
  return { server, url, host: m[2]!.replace(/^\[|\]$/g, ''), port, transport };
}

/** A STUN binding request (RFC 5389) over UDP; resolves whether a response came. */
function stunAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const id = randomBytes(12);
    const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), id]);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('message', (msg) => {
      if (msg.length >= 20 && msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(id)) done(true);
    });
    socket.send(request, port, host);
  });
}

function tcpConnects(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const ORDER: readonly Transport[] = ['udp', 'tcp', 'tls'];
const KEEP_MS = 60_000;
const kept = new Map<string, { best: TurnUrl | null; until: number }>();

interface ProbeOptions {
  timeoutMs?: number;
  now?: () => number;
}

function turnUrls(servers: readonly IceServer[]): TurnUrl[] {
  return servers.flatMap((server) =>
    (Array.isArray(server.urls) ? server.urls : [server.urls]).flatMap((url) => parse(server, url) ?? []),
  );
}

/** The best TURN URL that answers (UDP, then TCP, then TLS), or `null`; kept a minute per set of URLs. */
async function probe(turn: TurnUrl[], options: ProbeOptions): Promise<TurnUrl | null> {
  const now = options.now ?? Date.now;
  const key = JSON.stringify(turn.map((t) => [t.url, t.server.username]));
  const hit = kept.get(key);
  if (hit && hit.until > now()) return hit.best;
  const timeoutMs = options.timeoutMs ?? 1500;
  const sorted = [...turn].sort((a, b) => ORDER.indexOf(a.transport) - ORDER.indexOf(b.transport));
  const answers = await Promise.all(
    sorted.map((t) => (t.transport === 'udp' ? stunAnswers : tcpConnects)(t.host, t.port, timeoutMs)),
  );
  const best = sorted[answers.indexOf(true)] ?? null;
  kept.set(key, { best, until: now() + KEEP_MS });
  return best;
}

/**
 * The best TURN transport that answers among the servers' TURN URLs (UDP,
 * then TCP, then TLS), `null` when none answers or there is none. A device
 * whose engine cannot speak TURN over TCP or TLS (node-datachannel) uses it
 * to switch engine before it offers (docs/transport.md).
 */
export async function bestTurnTransport(
  servers: readonly IceServer[],
  options: ProbeOptions = {},
): Promise<TurnTransport | null> {
  const turn = turnUrls(servers);
  if (turn.length === 0) return null;
  return (await probe(turn, options))?.transport ?? null;
}

/**
 * The ICE servers with one TURN URL left — the best that answers — and
 * every STUN URL kept. With at most one TURN URL, the servers unchanged.
 */
export async function chooseTurnForWerift(
  servers: readonly IceServer[],
  options: ProbeOptions = {},
): Promise<IceServer[]> {
  const turn = turnUrls(servers);
  if (turn.length <= 1) return servers.map((s) => ({ ...s }));
  const stun = servers.flatMap((server) =>
    (Array.isArray(server.urls) ? server.urls : [server.urls]).filter((u) => /^stuns?:/i.test(u)),
  );
  // None answered: keep the first (werift still tries it, and its own UDP-to-TCP fallback).
  const best = (await probe(turn, options)) ?? turn[0]!;
  return [
    ...(stun.length > 0 ? [{ urls: stun }] : []),
    {
      urls: [best.url],
      ...(best.server.username !== undefined ? { username: best.server.username } : {}),
      ...(best.server.credential !== undefined ? { credential: best.server.credential } : {}),
    },
  ];
}
