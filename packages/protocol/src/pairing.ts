/**
 * Pairing (docs/protocol.md §4) as pure functions shared by the host, the Node
 * client and the web client: the QR URL, the device's sealed request, the
 * host's checks and its sealed acceptance, the device's checks of that, and
 * the device's sealed confirmation that it completed — the host pins a
 * device only on that, so a device that walked away leaves nothing behind.
 * Every check throws a coded `ProtocolError`; the SAS digits come out of the
 * same values both sides verified.
 */
import { b64u, equalBytes, fromB64u, fromUtf8, utf8 } from './bytes.ts';
import { type Envelope, openJson, sealJson } from './envelope.ts';
import { ProtocolError } from './errors.ts';
import {
  type DeviceId,
  deviceIdOf,
  type HostId,
  hostIdOf,
  idMatchesKey,
  type KeyPair,
  type PartyId,
  sign,
  verifyOrThrow,
} from './identity.ts';
import {
  type Grant,
  type InnerBodies,
  pairAcceptTranscript,
  pairConfirmTranscript,
  pairRequestTranscript,
  parseInner,
} from './inner.ts';
import type { PairAcceptedMessage, PairRequestMessage } from './messages.ts';
import { checkClock, type ReplayCache } from './replay.ts';
import { sasDigits } from './sas.ts';

/** Pairing URL version in the fragment. */
export const PAIR_URL_VERSION = '1';
/** Claims live this long on the relay, in seconds. */
export const CLAIM_TTL_S = 300;

/** What a pairing QR code carries. */
export interface PairLink {
  /** The relay's web client URL (origin + path, no fragment). */
  webUrl: string;
  claim: Uint8Array;
  hostPub: Uint8Array;
  /**
   * The host's name, shown while pairing (optional). It comes with the QR
   * code, as the key does; the name the device keeps is the signed one in
   * the acceptance.
   */
  hostName?: string;
}

/**
 * Longest host name, in UTF-16 units: the host's own (its identity), in a
 * pairing link and in `pair.accept`.
 */
export const MAX_HOST_NAME = 64;

function linkName(name: string): string {
  if (name.length === 0 || name.length > MAX_HOST_NAME || /[\p{Cc}\p{Cf}]/u.test(name))
    throw new ProtocolError('bad_message', 'bad host name in pairing URL');
  return name;
}

/**
 * `<web-url>/#/pair/1/<claim>/<host_pub>[/<utf8(host_name)>]` (base64url
 * each): the fragment never reaches a server.
 */
export function buildPairUrl(link: PairLink): string {
  const base = link.webUrl.replace(/#.*$/, '').replace(/\/+$/, '');
  const name = link.hostName === undefined ? '' : `/${b64u(utf8(linkName(link.hostName)))}`;
  return `${base}/#/pair/${PAIR_URL_VERSION}/${b64u(link.claim)}/${b64u(link.hostPub)}${name}`;
}

/** Parses a pairing URL; `bad_message` when it is not one. */
export function parsePairUrl(url: string): PairLink {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new ProtocolError('bad_message', 'not a URL', { cause });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ProtocolError('bad_message', 'pairing URL must be http(s)');
  const m = /^#\/pair\/([0-9]+)\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)(?:\/([A-Za-z0-9_-]{1,344}))?$/.exec(
    u.hash,
  );
  if (!m) throw new ProtocolError('bad_message', 'not a pairing URL');
  if (m[1] !== PAIR_URL_VERSION) throw new ProtocolError('unsupported', `pairing URL version ${m[1]}`);
  const claim = fromB64u(m[2]!);
  const hostPub = fromB64u(m[3]!);
  if (claim.length !== 16 || hostPub.length !== 32)
    throw new ProtocolError('bad_message', 'bad claim or key length');
  let hostName: string | undefined;
  if (m[4] !== undefined) {
    try {
      hostName = fromUtf8(fromB64u(m[4]));
    } catch (cause) {
      throw new ProtocolError('bad_message', 'bad host name in pairing URL', { cause });
    }
    linkName(hostName);
  }
  u.hash = '';
  return {
    webUrl: u.toString().replace(/\/+$/, ''),
    claim,
    hostPub,
    ...(hostName !== undefined ? { hostName } : {}),
  };
}

/**
 * True when two party names are the same name to a person: compared after
 * Unicode NFKC, case folding and collapsing whitespace, so "Pixel" and
 * " pixel" are one name. The test for a key change (docs/protocol.md §4.8).
 */
export function sameName(a: string, b: string): boolean {
  const norm = (n: string) => n.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
  return norm(a) === norm(b);
}

/** The relay WebSocket URL for a web URL: same origin, path `/ws`. */
export function relayWsUrl(webUrl: string): string {
  const u = new URL(webUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  u.search = '';
  u.hash = '';
  return u.toString();
}

/** Device side: the `pair.redeem` fields for a scanned link. */
export function makePairRequest(input: { link: PairLink; device: KeyPair; name: string; now: number }): {
  claim: string;
  host: HostId;
  env: Envelope;
} {
  const { link, device, name, now } = input;
  const hostId = hostIdOf(link.hostPub);
  const sig = sign(pairRequestTranscript(link.hostPub, device.publicKey, link.claim, now), device.secretKey);
  const env = sealPairBody(
    'pair.request',
    { name, ts: now, sig: b64u(sig) },
    deviceEnd(device.publicKey),
    device.secretKey,
    hostEnd(link.hostPub),
    now,
  );
  return { claim: b64u(link.claim), host: hostId, env };
}

/** What the host learns from a verified pairing request. */
export interface VerifiedPairRequest {
  deviceId: DeviceId;
  devicePub: Uint8Array;
  name: string;
  /** The six digits the person compares. */
  sas: string;
}

/** One end of a pairing: its id (a host's or a device's) and its public key. */
interface End {
  id: PartyId;
  pub: Uint8Array;
}
const hostEnd = (pub: Uint8Array): End => ({ id: hostIdOf(pub), pub });
const deviceEnd = (pub: Uint8Array): End => ({ id: deviceIdOf(pub), pub });

/**
 * The sender of a relayed `pair.request` or `pair.accepted`: its key, which
 * must be 32 bytes with the id the message is `from` (and the `pinned` key,
 * when the receiver has one), or `bad_key` with `refusal`.
 */
function senderEnd(message: { from: PartyId; pub: string }, refusal: string, pinned?: Uint8Array): End {
  const pub = fromB64u(message.pub);
  if (!idMatchesKey(message.from, pub) || (pinned && !equalBytes(pub, pinned)))
    throw new ProtocolError('bad_key', refusal);
  return { id: message.from, pub };
}

type PairKind = 'pair.request' | 'pair.accept' | 'pair.confirm';

/** Seals a pairing body as JSON from `from` (with its secret) to `to`. */
function sealPairBody<K extends PairKind>(
  kind: K,
  body: InnerBodies[K],
  from: End,
  fromSecret: Uint8Array,
  to: End,
  ts: number,
): Envelope {
  return sealJson({
    kind,
    body,
    senderId: from.id,
    senderSecret: fromSecret,
    recipientId: to.id,
    recipientPublic: to.pub,
    ts,
  });
}

/**
 * Opens a pairing envelope of `kind` from `from` to `to` (with its secret):
 * the kind, the clock window (and the replay cache, when given), the seal,
 * then the body's schema.
 */
function openPairBody<K extends PairKind>(
  kind: K,
  envelope: Envelope,
  from: End,
  to: End,
  toSecret: Uint8Array,
  now: number,
  replay?: ReplayCache,
): InnerBodies[K] {
  if (envelope.kind !== kind) throw new ProtocolError('bad_message', `expected a ${kind} envelope`);
  checkClock(envelope.ts, now);
  const value = openJson({
    envelope,
    senderId: from.id,
    senderPublic: from.pub,
    recipientId: to.id,
    recipientSecret: toSecret,
    ...(replay ? { replay } : {}),
  });
  return parseInner(kind, value);
}

/**
 * Host side: checks a forwarded `pair.request` for the claim it created —
 * the id matches the key, the envelope opens from that key, the device's
 * signature over (host, device, claim, ts) holds, and ts is in the window.
 */
export function openPairRequest(input: {
  host: KeyPair;
  claim: Uint8Array;
  message: PairRequestMessage;
  now: number;
}): VerifiedPairRequest {
  const { host, claim, message, now } = input;
  const device = senderEnd(message, 'device id does not match its key');
  const body = openPairBody(
    'pair.request',
    message.env,
    device,
    hostEnd(host.publicKey),
    host.secretKey,
    now,
  );
  checkClock(body.ts, now);
  verifyOrThrow(
    fromB64u(body.sig),
    pairRequestTranscript(host.publicKey, device.pub, claim, body.ts),
    device.pub,
    'pairing request signature',
  );
  return {
    deviceId: message.from,
    devicePub: device.pub,
    name: body.name,
    sas: sasDigits(host.publicKey, device.pub, claim),
  };
}

/** Host side: the sealed `pair.accept` envelope for a confirmed device. */
export function makePairAccept(input: {
  host: KeyPair;
  devicePub: Uint8Array;
  claim: Uint8Array;
  hostName: string;
  grants: readonly Grant[];
  now: number;
}): Envelope {
  const { host, devicePub, claim } = input;
  const sig = sign(pairAcceptTranscript(host.publicKey, devicePub, claim), host.secretKey);
  return sealPairBody(
    'pair.accept',
    { host_name: input.hostName, grants: [...input.grants], sig: b64u(sig) },
    hostEnd(host.publicKey),
    host.secretKey,
    deviceEnd(devicePub),
    input.now,
  );
}

/** What the device learns from a verified acceptance. */
export interface VerifiedPairAccept {
  hostId: HostId;
  hostName: string;
  grants: Grant[];
}

/**
 * Device side: checks `pair.accepted` against the host key pinned from the
 * QR code (never the relay's word), the envelope, and the host's signature.
 */
export function openPairAccept(input: {
  device: KeyPair;
  link: PairLink;
  message: PairAcceptedMessage;
  now: number;
}): VerifiedPairAccept {
  const { device, link, message, now } = input;
  const host = senderEnd(message, 'the accepting host is not the one in the QR code', link.hostPub);
  const body = openPairBody(
    'pair.accept',
    message.env,
    host,
    deviceEnd(device.publicKey),
    device.secretKey,
    now,
  );
  verifyOrThrow(
    fromB64u(body.sig),
    pairAcceptTranscript(link.hostPub, device.publicKey, link.claim),
    link.hostPub,
    'pairing acceptance signature',
  );
  return { hostId: message.from, hostName: body.host_name, grants: body.grants };
}

/**
 * Device side, once it checked the acceptance and is still pairing: the
 * sealed `pair.confirm` envelope (sent with `send`), body `{sig}` with
 * `sig = Ed25519_device(tr(pair-confirm/v1, host_pub, device_pub, claim))`.
 */
export function makePairConfirm(input: { link: PairLink; device: KeyPair; now: number }): Envelope {
  const { link, device } = input;
  const sig = sign(pairConfirmTranscript(link.hostPub, device.publicKey, link.claim), device.secretKey);
  return sealPairBody(
    'pair.confirm',
    { sig: b64u(sig) },
    deviceEnd(device.publicKey),
    device.secretKey,
    hostEnd(link.hostPub),
    input.now,
  );
}

/**
 * Host side: checks the device's `pair.confirm` for this claim — it opens
 * from the device key of the verified request, its time is in the window,
 * and the device's signature over (host, device, claim) holds.
 */
export function openPairConfirm(input: {
  host: KeyPair;
  devicePub: Uint8Array;
  claim: Uint8Array;
  envelope: Envelope;
  now: number;
  replay?: ReplayCache;
}): void {
  const { host, devicePub, claim, envelope, now } = input;
  const body = openPairBody(
    'pair.confirm',
    envelope,
    deviceEnd(devicePub),
    hostEnd(host.publicKey),
    host.secretKey,
    now,
    input.replay,
  );
  verifyOrThrow(
    fromB64u(body.sig),
    pairConfirmTranscript(host.publicKey, devicePub, claim),
    devicePub,
    'pairing confirmation signature',
  );
}
