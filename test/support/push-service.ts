/**
 * A test push service: the receiving side of Web Push, written from the
 * RFCs with node:crypto only (no push library), so it checks what the relay
 * sends independently of the library the relay sends with. A real HTTPS
 * server on 127.0.0.1 with a self-signed certificate made at start with
 * `openssl` for 127.0.0.1 and `localhost` (its file is what the relay
 * trusts, through `NODE_EXTRA_CA_CERTS`).
 *
 * - RFC 8292 (VAPID): `Authorization: vapid t=<JWT>, k=<key>`; the JWT is
 *   ES256 (`alg`), signed by `k` (an uncompressed P-256 point), its `aud`
 *   is the endpoint's origin, its `exp` in the future and within 24 hours,
 *   its `sub` a `mailto:` or `https:` URL.
 * - RFC 8291 + RFC 8188 (aes128gcm): it plays the browser's push layer —
 *   `subscribe()` makes the P-256 key pair and the 16-byte auth secret of a
 *   subscription, and each message is decrypted with them (salt, record
 *   size, `keyid` = the sender's public key; HKDF with the auth secret, then
 *   the CEK and nonce; padding delimiter 2 on the last record).
 * - RFC 8030: the `TTL` header is required; `Urgency` and `Topic` are kept.
 *
 * A valid message is answered 201 and recorded; an invalid one 400 (VAPID:
 * 401/403), recorded with its reason. `gone(id)` makes a subscription
 * answer 410 from then on.
 */
import { execFileSync } from 'node:child_process';
import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  verify as verifySignature,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const fromB64u = (s: string): Buffer => Buffer.from(s, 'base64url');

/** A subscription as the browser would give it to the page. */
export interface TestSubscription {
  id: string;
  endpoint: string;
  /** Base64url uncompressed P-256 point. */
  p256dh: string;
  /** Base64url 16 bytes. */
  auth: string;
}

/** One request the service received. */
export interface ReceivedPush {
  subscription: string;
  status: number;
  /** Why it was refused (undefined when accepted). */
  error?: string;
  /** The decrypted payload (accepted messages). */
  plaintext?: string;
  ttl?: number;
  urgency?: string;
  topic?: string;
  /** The verified JWT claims. */
  claims?: { aud: string; exp: number; sub: string };
  /** The VAPID public key (`k`). */
  vapidKey?: string;
}

interface Held {
  ecdh: ReturnType<typeof createECDH>;
  publicKey: Buffer;
  auth: Buffer;
  gone: boolean;
}

class Refused extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** ES256 JWT check (RFC 8292 §2, §3). */
function checkVapid(header: string | undefined, origin: string, nowS: number) {
  const m = /^vapid\s+t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) throw new Refused(401, 'no vapid authorization');
  const [, token, k] = m as unknown as [string, string, string];
  const parts = token.split('.');
  if (parts.length !== 3) throw new Refused(401, 'jwt: three parts');
  const [h, c, s] = parts as [string, string, string];
  const head = JSON.parse(fromB64u(h).toString('utf8')) as { alg?: string; typ?: string };
  if (head.alg !== 'ES256') throw new Refused(401, 'jwt: alg must be ES256');
  const point = fromB64u(k);
  if (point.length !== 65 || point[0] !== 4) throw new Refused(401, 'k: an uncompressed P-256 point');
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)) },
    format: 'jwk',
  });
  const sig = fromB64u(s);
  if (sig.length !== 64) throw new Refused(401, 'jwt: a 64-byte ES256 signature');
  const ok = verifySignature('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) throw new Refused(401, 'jwt: bad signature');
  const claims = JSON.parse(fromB64u(c).toString('utf8')) as { aud?: unknown; exp?: unknown; sub?: unknown };
  if (claims.aud !== origin) throw new Refused(403, 'jwt: aud is not the endpoint origin');
  if (typeof claims.exp !== 'number' || claims.exp <= nowS || claims.exp > nowS + 24 * 3600) {
    throw new Refused(403, 'jwt: exp not within 24 h');
  }
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
    throw new Refused(403, 'jwt: sub must be mailto: or https:');
  }
  return { claims: { aud: claims.aud, exp: claims.exp, sub: claims.sub }, k };
}

/** aes128gcm decryption (RFC 8188 §2) with the Web Push key schedule (RFC 8291 §3.3–3.4). */
function decrypt(body: Buffer, held: Held): string {
  if (body.length < 21) throw new Refused(400, 'aes128gcm: short header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (rs < 18) throw new Refused(400, 'aes128gcm: record size');
  if (idlen !== 65) throw new Refused(400, 'aes128gcm: keyid must be the 65-byte sender key');
  const asPublic = body.subarray(21, 21 + idlen);
  const data = body.subarray(21 + idlen);
  const ecdhSecret = held.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), held.publicKey, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, held.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const out: Buffer[] = [];
  let seq = 0;
  for (let at = 0; at < data.length; at += rs, seq += 1) {
    const record = data.subarray(at, Math.min(at + rs, data.length));
    if (record.length < 17) throw new Refused(400, 'aes128gcm: short record');
    const iv = Buffer.from(nonce);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ seq) >>> 0, 8); // the sequence number is far below 2^32
    const d = createDecipheriv('aes-128-gcm', cek, iv);
    d.setAuthTag(record.subarray(record.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
    } catch {
      throw new Refused(400, 'aes128gcm: authentication failed');
    }
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end -= 1;
    const last = at + rs >= data.length;
    if (end < 0 || plain[end] !== (last ? 2 : 1)) throw new Refused(400, 'aes128gcm: bad padding delimiter');
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out).toString('utf8');
}

/** A running test push service. */
export class TestPushService {
  /** The certificate (PEM file) to trust. */
  readonly caFile: string;
  /** `https://127.0.0.1:PORT` */
  readonly origin: string;
  /** `127.0.0.1:PORT`, the relay's allowlist entry. */
  readonly hostPort: string;
  readonly received: ReceivedPush[] = [];
  readonly #server: Server;
  readonly #dir: string;
  readonly #subs = new Map<string, Held>();
  readonly #waiters = new Set<() => void>();

  private constructor(server: Server, dir: string, port: number) {
    this.#server = server;
    this.#dir = dir;
    this.caFile = join(dir, 'cert.pem');
    this.origin = `https://127.0.0.1:${port}`;
    this.hostPort = `127.0.0.1:${port}`;
  }

  /** Makes a certificate for 127.0.0.1 and listens on a free port. */
  static async start(): Promise<TestPushService> {
    const dir = mkdtempSync(join(tmpdir(), 'pocketshell-push-service-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    let service: TestPushService | undefined;
    const server = createServer(
      { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const r = service!.#handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks));
          res.writeHead(
            r.status,
            r.status === 201 ? { Location: `/message/${randomBytes(8).toString('hex')}` } : {},
          );
          res.end();
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    service = new TestPushService(server, dir, (server.address() as AddressInfo).port);
    return service;
  }

  /**
   * A new subscription (a fresh P-256 key pair and auth secret), as
   * `PushManager.subscribe()` gives one; its endpoint names `origin`
   * (default `https://127.0.0.1:PORT`; `https://localhost:PORT` works too).
   */
  subscribe(origin = this.origin): TestSubscription {
    const id = randomBytes(12).toString('hex');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const held: Held = { ecdh, publicKey: ecdh.getPublicKey(), auth: randomBytes(16), gone: false };
    this.#subs.set(id, held);
    return { id, endpoint: `${origin}/push/${id}`, p256dh: b64u(held.publicKey), auth: b64u(held.auth) };
  }

  /** From now on the subscription answers 410 Gone. */
  gone(id: string): void {
    const held = this.#subs.get(id);
    if (held) held.gone = true;
  }

  /** Resolves once `n` messages for `subscription` were received (accepted or not). */
  async waitFor(subscription: string, n = 1, timeoutMs = 20_000): Promise<ReceivedPush[]> {
    const mine = () => this.received.filter((r) => r.subscription === subscription);
    if (mine().length >= n) return mine();
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`push service: ${mine().length} of ${n} messages for ${subscription}`));
      }, timeoutMs);
      const check = () => {
        if (mine().length < n) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(mine());
      };
      this.#waiters.add(check);
    });
  }

  #handle(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ): { status: number } {
    const id = /^\/push\/([0-9a-f]+)$/.exec(url)?.[1];
    const held = id === undefined ? undefined : this.#subs.get(id);
    const record: ReceivedPush = { subscription: id ?? url, status: 0 };
    try {
      if (method !== 'POST') throw new Refused(405, 'POST only');
      if (held === undefined) throw new Refused(404, 'no such subscription');
      if (held.gone) throw new Refused(410, 'gone');
      const ttl = Number(headers.ttl);
      if (headers.ttl === undefined || !Number.isInteger(ttl) || ttl < 0)
        throw new Refused(400, 'TTL required');
      record.ttl = ttl;
      if (typeof headers.urgency === 'string') record.urgency = headers.urgency;
      if (typeof headers.topic === 'string') record.topic = headers.topic;
      const vapid = checkVapid(
        headers.authorization as string | undefined,
        this.origin,
        Math.floor(Date.now() / 1000),
      );
      record.claims = vapid.claims;
      record.vapidKey = vapid.k;
      if (headers['content-encoding'] !== 'aes128gcm') throw new Refused(415, 'Content-Encoding: aes128gcm');
      record.plaintext = decrypt(body, held);
      record.status = 201;
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      record.status = error.status;
      record.error = error.message;
    }
    this.received.push(record);
    for (const w of [...this.#waiters]) w();
    return { status: record.status };
  }

  /** Stops the server and removes the certificate. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
