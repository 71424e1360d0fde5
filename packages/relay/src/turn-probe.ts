/**
 * A minimal TURN client (RFC 5389 STUN + RFC 5766 Allocate over UDP) that
 * asks a TURN server for a relayed address with long-term credentials: the
 * unauthenticated Allocate draws a 401 with REALM and NONCE, the second
 * carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed with
 * MD5(username:realm:password). Used by tests and operators to check that
 * the relay's TURN credentials work against coturn. Only talks to the
 * address it is given.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const REFRESH = 0x0004;
const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedTransport: 0x0019,
} as const;

/** A decoded STUN message. */
export interface StunMessage {
  type: number;
  txid: Buffer;
  attrs: Map<number, Buffer>;
}

/** The outcome of an allocation attempt. */
export type AllocateResult =
  | { ok: true; relayed: { address: string; port: number }; lifetime: number }
  | { ok: false; code: number; reason: string };

function attribute(type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc(pad)]);
}

/** Encodes a request; with `key`, appends MESSAGE-INTEGRITY over everything before it. */
export function encodeStun(type: number, txid: Buffer, attrs: Buffer[], key?: Buffer): Buffer {
  const body = Buffer.concat(attrs);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  txid.copy(header, 8);
  if (key === undefined) {
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  }
  header.writeUInt16BE(body.length + 24, 2);
  const mac = createHmac('sha1', key)
    .update(Buffer.concat([header, body]))
    .digest();
  return Buffer.concat([header, body, attribute(ATTR.messageIntegrity, mac)]);
}

/** Decodes a STUN message, or undefined when it is not one. */
export function decodeStun(buf: Buffer): StunMessage | undefined {
  if (buf.length < 20 || buf.readUInt32BE(4) !== MAGIC) return undefined;
  const length = buf.readUInt16BE(2);
  if (20 + length > buf.length) return undefined;
  const attrs = new Map<number, Buffer>();
  let off = 20;
  while (off + 4 <= 20 + length) {
    const t = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    if (off + 4 + len > buf.length) return undefined;
    if (!attrs.has(t)) attrs.set(t, buf.subarray(off + 4, off + 4 + len));
    off += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { type: buf.readUInt16BE(0), txid: buf.subarray(8, 20), attrs };
}

function errorOf(m: StunMessage): { code: number; reason: string } {
  const e = m.attrs.get(ATTR.errorCode);
  if (e === undefined || e.length < 4) return { code: 0, reason: 'no ERROR-CODE' };
  return { code: (e[2]! & 0x7) * 100 + e[3]!, reason: e.subarray(4).toString('utf8') };
}

function xorAddress(v: Buffer): { address: string; port: number } {
  const port = v.readUInt16BE(2) ^ (MAGIC >>> 16);
  const a = v.readUInt32BE(4) ^ MAGIC;
  return { address: [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.'), port };
}

/**
 * Tries to allocate a UDP relay on the TURN server at `host:port` with
 * `username`/`password`, then releases it. Retransmits per RFC 5389 until
 * `timeoutMs`.
 */
export async function turnAllocate(input: {
  host: string;
  port: number;
  username: string;
  password: string;
  timeoutMs?: number;
}): Promise<AllocateResult> {
  const socket = createSocket('udp4');
  const deadline = Date.now() + (input.timeoutMs ?? 10_000);
  await new Promise<void>((res, rej) => {
    socket.once('error', rej);
    socket.bind(0, '127.0.0.1', () => res());
  });
  const exchange = (packet: Buffer, txid: Buffer, until = deadline): Promise<StunMessage> =>
    new Promise((res, rej) => {
      let wait = 100;
      let timer: NodeJS.Timeout;
      const onMessage = (msg: Buffer) => {
        const m = decodeStun(msg);
        if (m === undefined || !m.txid.equals(txid)) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        res(m);
      };
      const attempt = () => {
        if (Date.now() > until) {
          socket.off('message', onMessage);
          rej(new Error(`no answer from TURN server ${input.host}:${input.port}`));
          return;
        }
        socket.send(packet, input.port, input.host);
        timer = setTimeout(attempt, wait);
        wait = Math.min(wait * 2, 1600);
      };
      socket.on('message', onMessage);
      attempt();
    });
  try {
    const transport = attribute(ATTR.requestedTransport, Buffer.from([17, 0, 0, 0]));
    const tx1 = randomBytes(12);
    const first = await exchange(encodeStun(ALLOCATE, tx1, [transport]), tx1);
    if (first.type === ALLOCATE + 0x100)
      return { ok: false, code: 0, reason: 'allocated without credentials' };
    const challenge = errorOf(first);
    const realm = first.attrs.get(ATTR.realm);
    const nonce = first.attrs.get(ATTR.nonce);
    if (challenge.code !== 401 || realm === undefined || nonce === undefined)
      return { ok: false, ...challenge };
    const key = createHash('md5')
      .update(`${input.username}:${realm.toString('utf8')}:${input.password}`)
      .digest();
    const auth = [
      transport,
      attribute(ATTR.username, Buffer.from(input.username, 'utf8')),
      attribute(ATTR.realm, realm),
      attribute(ATTR.nonce, nonce),
    ];
    const tx2 = randomBytes(12);
    const second = await exchange(encodeStun(ALLOCATE, tx2, auth, key), tx2);
    if (second.type !== ALLOCATE + 0x100) return { ok: false, ...errorOf(second) };
    const relayed = second.attrs.get(ATTR.xorRelayedAddress);
    const lifetime = second.attrs.get(ATTR.lifetime);
    if (relayed === undefined) return { ok: false, code: 0, reason: 'no XOR-RELAYED-ADDRESS' };
    // release the allocation (Refresh with LIFETIME 0)
    const tx3 = randomBytes(12);
    const zero = attribute(ATTR.lifetime, Buffer.alloc(4));
    await exchange(encodeStun(REFRESH, tx3, [zero, ...auth.slice(1)], key), tx3, Date.now() + 2000).catch(
      () => undefined,
    );
    return { ok: true, relayed: xorAddress(relayed), lifetime: lifetime?.readUInt32BE(0) ?? 0 };
  } finally {
    socket.close();
  }
}
