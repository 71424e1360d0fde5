/**
 * Web Push from the relay (docs/relay.md "Web Push"): the VAPID key pair
 * (RFC 8292) kept in the data folder, the allowlist of push services the
 * relay may POST to, and `PushSender`, which hands a payload to the npm
 * `web-push` library (VAPID + aes128gcm, RFC 8291). SSRF guard: only https
 * endpoints whose host (and port) is on the allowlist are stored or
 * contacted, and a host name on it that resolves to a loopback, private,
 * link-local or otherwise non-public address is refused at connect time
 * (the lookup the socket uses, so a rebinding answer cannot slip past);
 * only an address literal on the allowlist reaches such an address. An
 * endpoint URL is a capability: it is never logged, nor any payload.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { Agent } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { join } from 'node:path';
import { fromB64u } from '@pocketshell/protocol';
import webpush from 'web-push';
import { RelayError } from './errors.ts';
import type { Logger } from './log.ts';
import type { RelayStore } from './store.ts';

/** Push services of the browsers (web-push's README and the browsers' own docs), one entry per line. */
export const DEFAULT_PUSH_ENDPOINT_HOSTS: readonly string[] = [
  'fcm.googleapis.com', // Chrome, Edge on Android, Opera, Samsung Internet
  'updates.push.services.mozilla.com', // Firefox
  '*.push.apple.com', // Safari (web.push.apple.com)
  '*.notify.windows.com', // Edge on Windows (wns2-*.notify.windows.com)
];

/** File of the VAPID key pair inside the data folder. */
export const VAPID_FILE = 'vapid.json';
/** Largest payload (`{"from","env"}` JSON, bytes) sent as one aes128gcm record of 4096 bytes. */
export const MAX_PUSH_PAYLOAD = 3800;
/** Subscriptions one device may hold. */
export const MAX_SUBSCRIPTIONS_PER_DEVICE = 8;
/** Seconds a push service keeps an undelivered alert (RFC 8030 TTL). */
export const PUSH_TTL_SECONDS = 24 * 3600;
/** Milliseconds the relay waits for a push service. */
const PUSH_TIMEOUT_MS = 15_000;

/** How push is configured. */
export interface PushConfig {
  enabled: boolean;
  /** The JWT `sub` (a `mailto:` or `https:` URL). */
  contact: string;
  /** Allowed endpoint hosts: `host`, `*.domain` or either with `:port` (443 when none). */
  endpointHosts: string[];
}

/** The relay's VAPID key pair, base64url as web-push takes it. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** The default `sub`: the public URL when it is https, else a mailto that names no one. */
export function defaultPushContact(publicUrl: string | undefined): string {
  if (publicUrl !== undefined && new URL(publicUrl).protocol === 'https:') return new URL(publicUrl).origin;
  return 'mailto:relay@pocketshell.invalid';
}

const ENTRY_RE = /^(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;

/** Checks one allowlist entry; throws `config_invalid`. */
export function checkEndpointHost(entry: string): string {
  const e = entry.trim().toLowerCase();
  const m = ENTRY_RE.exec(e);
  if (!m || (m[3] !== undefined && Number(m[3]) > 65535) || (m[1] !== undefined && isIP(m[2]!) !== 0)) {
    throw new RelayError('config_invalid', `push endpoint host: bad entry ${JSON.stringify(entry)}`);
  }
  return e;
}

/**
 * True when `endpoint` is an https URL without credentials whose host and
 * port match an entry of `allow` (`*.domain` matches any name under
 * `domain`, not `domain` itself; no port means 443).
 */
export function endpointAllowed(endpoint: string, allow: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:' || u.username !== '' || u.password !== '') return false;
  const host = u.hostname.toLowerCase();
  const port = u.port === '' ? 443 : Number(u.port);
  return allow.some((entry) => {
    const m = ENTRY_RE.exec(entry);
    if (!m) return false;
    if ((m[3] === undefined ? 443 : Number(m[3])) !== port) return false;
    return m[1] === undefined ? host === m[2] : host.endsWith(`.${m[2]}`);
  });
}

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

/** True for an address that is not public unicast (loopback, private, link-local, reserved, multicast…). */
export function isPrivateAddress(address: string): boolean {
  const a = address.split('%')[0]!.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = isIP(a);
  if (family === 0) return true;
  return PRIVATE.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for sockets that fails a name resolving to any non-public address. */
export function publicOnlyLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: LookupCallback,
): void {
  dnsLookup(hostname, { ...options, all: true } as { all: true }, (err, addresses) => {
    if (err) {
      callback(err, []);
      return;
    }
    if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address))) {
      const refused = Object.assign(new Error('the push endpoint does not resolve to a public address'), {
        code: 'EPUSHPRIVATE',
      });
      callback(refused, []);
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

function validKeys(v: unknown): v is VapidKeys {
  if (typeof v !== 'object' || v === null) return false;
  const { publicKey, privateKey } = v as Record<string, unknown>;
  if (typeof publicKey !== 'string' || typeof privateKey !== 'string') return false;
  try {
    const pub = fromB64u(publicKey);
    return pub.length === 65 && pub[0] === 4 && fromB64u(privateKey).length === 32;
  } catch {
    return false;
  }
}

/**
 * The VAPID key pair in `dataDir` (which `prepareDataDir` made private):
 * read when there (tightened to 0600 if an operator loosened it), else generated and written 0600 atomically (temporary
 * file, fsync, rename, fsync of the folder), so it stays the same across restarts and the
 * browsers' subscriptions stay valid.
 */
export function loadVapidKeys(dataDir: string): VapidKeys {
  const path = join(dataDir, VAPID_FILE);
  const read = readVapidFile(dataDir);
  if (read !== undefined) return read;
  const keys = webpush.generateVAPIDKeys();
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ publicKey: keys.publicKey, privateKey: keys.privateKey })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is made durable too: a crash right after it must not bring back no key (and a new one).
  const dir = openSync(dataDir, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}

/**
 * The VAPID key pair of relays sharing one store (PostgreSQL), so a push
 * signed by any node verifies with the key every browser subscribed with:
 * the pair in the store. The first node to start with it puts its own
 * there — its data folder's `vapid.json` when it has one (imported, so the
 * subscriptions made with it stay valid), else a new pair — and every node
 * then uses the stored one; nothing is written to the data folder. The
 * private key is never logged.
 */
export async function sharedVapidKeys(
  store: RelayStore,
  dataDir: string,
  log: Logger,
  now: number,
): Promise<VapidKeys> {
  const file = readVapidFile(dataDir);
  const fresh = (): VapidKeys => {
    const k = webpush.generateVAPIDKeys();
    return { publicKey: k.publicKey, privateKey: k.privateKey };
  };
  const candidate = file ?? fresh();
  const kept = await store.keepVapidKeys(candidate, now);
  if (!validKeys(kept)) throw new RelayError('store_failed', 'the VAPID key pair in the store is not one');
  if (file !== undefined && file.publicKey !== kept.publicKey) {
    log.warn('vapid.json differs from the key pair the store holds: the stored one is used', {
      publicKey: kept.publicKey,
    });
  } else {
    const from = kept.publicKey !== candidate.publicKey ? 'store' : file !== undefined ? VAPID_FILE : 'new';
    log.info('vapid keys from the store', { publicKey: kept.publicKey, from });
  }
  return { publicKey: kept.publicKey, privateKey: kept.privateKey };
}

/** The data folder's `vapid.json` (tightened to 0600 if loosened); undefined when there is none. */
export function readVapidFile(dataDir: string): VapidKeys | undefined {
  const path = join(dataDir, VAPID_FILE);
  let text: string | undefined;
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!validKeys(parsed)) throw new RelayError('store_failed', `${path} is not a VAPID key pair`);
    return { publicKey: parsed.publicKey, privateKey: parsed.privateKey };
  }
  return undefined;
}

/** One subscription as the sender needs it. */
export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** What became of one push: accepted, gone (404/410: forget the subscription) or failed. */
export type PushOutcome = 'sent' | 'gone' | 'failed';

/** Sends Web Push messages with the relay's VAPID key to allowed endpoints. */
export class PushSender {
  readonly keys: VapidKeys;
  readonly #contact: string;
  readonly #allow: readonly string[];
  readonly #agent = new Agent({ keepAlive: false, lookup: publicOnlyLookup as never });

  constructor(keys: VapidKeys, config: PushConfig) {
    this.keys = keys;
    this.#contact = config.contact;
    this.#allow = config.endpointHosts;
  }

  /** True when the relay would send to `endpoint` (checked at subscribe and again at send). */
  allowed(endpoint: string): boolean {
    return endpointAllowed(endpoint, this.#allow);
  }

  /** Encrypts `payload` to the subscription and POSTs it; the HTTP status when there was one. */
  async send(
    target: PushTarget,
    payload: string,
    urgency: 'normal' | 'high',
  ): Promise<{ outcome: PushOutcome; status?: number; code?: string }> {
    if (!this.allowed(target.endpoint)) return { outcome: 'failed', code: 'not_allowed' };
    try {
      const r = await webpush.sendNotification(
        { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
        payload,
        {
          vapidDetails: {
            subject: this.#contact,
            publicKey: this.keys.publicKey,
            privateKey: this.keys.privateKey,
          },
          TTL: PUSH_TTL_SECONDS,
          urgency,
          contentEncoding: 'aes128gcm',
          agent: this.#agent,
          timeout: PUSH_TIMEOUT_MS,
        },
      );
      return { outcome: 'sent', status: r.statusCode };
    } catch (error) {
      // never the error's message or body: web-push puts the endpoint in them
      const status = (error as { statusCode?: unknown }).statusCode;
      if (typeof status === 'number') {
        return { outcome: status === 404 || status === 410 ? 'gone' : 'failed', status };
      }
      const code = (error as NodeJS.ErrnoException).code;
      return { outcome: 'failed', code: typeof code === 'string' ? code.slice(0, 40) : 'error' };
    }
  }

  /** Drops idle sockets. */
  close(): void {
    this.#agent.destroy();
  }
}
