/**
 * Builds and checks PocketShell's own protocol vectors
 * (`test/vectors/protocol-v1.json`). `buildVectors()` computes them from
 * fixed seeds (used by `npm run vectors`); `checkVectors()` recomputes every
 * value from the file's inputs and returns the mismatches. No Node APIs: the
 * browser test runs `checkVectors` on the same file.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import {
  acceptLinkOpen,
  b64u,
  deviceIdOf,
  encodeLinkRecords,
  fingerprint,
  fromB64u,
  fromHex,
  fromUtf8,
  generateKeyPair,
  hostIdOf,
  LINK_RECORD,
  LinkCipher,
  linkAck,
  makeLinkOpen,
  openEnvelope,
  pairAcceptTranscript,
  pairConfirmTranscript,
  pairRequestTranscript,
  ReplayCache,
  relayAuthTranscript,
  sasDigits,
  sdpTranscript,
  sealEnvelope,
  sign,
  type TranscriptField,
  toHex,
  toX25519Public,
  toX25519Secret,
  tr,
  utf8,
  verify,
} from '@pocketshell/protocol';

/** A transcript field as written in the file. */
export type FieldSpec = { hex: string } | { str: string } | { int: number };

export interface Vectors {
  version: 1;
  description: string;
  base64url: { hex: string; b64u: string }[];
  base64urlInvalid: string[];
  transcripts: { label: string; fields: FieldSpec[]; hex: string }[];
  identities: {
    seed: string;
    publicKey: string;
    hostId: string;
    deviceId: string;
    fingerprint: string;
    x25519Public: string;
    x25519Secret: string;
  }[];
  sas: { hostPub: string; devicePub: string; claim: string; digits: string }[];
  signatures: { name: string; seed: string; transcript: string; signature: string }[];
  envelopes: {
    senderSeed: string;
    recipientSeed: string;
    senderId: string;
    recipientId: string;
    kind: string;
    mid: string;
    ts: number;
    ephemeralSecret: string;
    plaintext: string;
    envelope: { kind: string; mid: string; ts: number; enc: string; ct: string };
  }[];
  /** Relay-path sessions (docs/protocol.md §10): set-up, keys and frames. */
  links: LinkVector[];
}

type WireEnvelope = { kind: string; mid: string; ts: number; enc: string; ct: string };

/** One relay-path session from fixed inputs. */
export interface LinkVector {
  hostSeed: string;
  deviceSeed: string;
  ts: number;
  sid: string;
  openMid: string;
  deviceEphemeral: string;
  hostEphemeral: string;
  open: WireEnvelope;
  accept: { conn: string; epk: string; ts: number; sig: string };
  keys: { d2h: string; h2d: string };
  frames: { from: 'device' | 'host'; seq: number; ts: number; plaintext: string; envelope: WireEnvelope }[];
}

/** Computes a link vector (also used to check one: same inputs, same outputs). */
function linkVector(inputs: {
  hostSeed: Uint8Array;
  deviceSeed: Uint8Array;
  ts: number;
  sid: Uint8Array;
  openMid: Uint8Array;
  deviceEphemeral: Uint8Array;
  hostEphemeral: Uint8Array;
  frames: { from: 'device' | 'host'; seq: number; ts: number; plaintext: Uint8Array }[];
}): LinkVector {
  const host = generateKeyPair(inputs.hostSeed);
  const device = generateKeyPair(inputs.deviceSeed);
  const hostId = hostIdOf(host.publicKey);
  const deviceId = deviceIdOf(device.publicKey);
  const opening = makeLinkOpen({
    hostId,
    hostPub: host.publicKey,
    deviceId,
    deviceSecret: device.secretKey,
    now: inputs.ts,
    sid: inputs.sid,
    ephemeralSecret: inputs.deviceEphemeral,
    mid: inputs.openMid,
  });
  const accepted = acceptLinkOpen({
    envelope: opening.envelope,
    hostId,
    hostSecret: host.secretKey,
    deviceId,
    devicePub: device.publicKey,
    envelopes: new ReplayCache({ now: () => inputs.ts }),
    sessions: new ReplayCache({ now: () => inputs.ts }),
    now: inputs.ts,
    ephemeralSecret: inputs.hostEphemeral,
  });
  const keys = opening.accept(accepted.accept, inputs.ts);
  if (toHex(keys.d2h) !== toHex(accepted.keys.d2h) || toHex(keys.h2d) !== toHex(accepted.keys.h2d))
    throw new Error('link vector: the two ends derived different keys');
  const ends = {
    device: new LinkCipher(keys, 'device', inputs.sid),
    host: new LinkCipher(accepted.keys, 'host', inputs.sid),
  };
  return {
    hostSeed: toHex(inputs.hostSeed),
    deviceSeed: toHex(inputs.deviceSeed),
    ts: inputs.ts,
    sid: toHex(inputs.sid),
    openMid: toHex(inputs.openMid),
    deviceEphemeral: toHex(inputs.deviceEphemeral),
    hostEphemeral: toHex(inputs.hostEphemeral),
    open: opening.envelope,
    accept: accepted.accept,
    keys: { d2h: toHex(keys.d2h), h2d: toHex(keys.h2d) },
    frames: inputs.frames.map((f) => {
      const envelope = ends[f.from].seal(f.seq, f.ts, f.plaintext);
      const other = f.from === 'device' ? ends.host : ends.device;
      if (toHex(other.open(envelope, f.seq)) !== toHex(f.plaintext))
        throw new Error('link vector: frame does not open');
      return { from: f.from, seq: f.seq, ts: f.ts, plaintext: toHex(f.plaintext), envelope };
    }),
  };
}

/** A deterministic 32-byte seed for a name. */
export function seedFor(name: string): Uint8Array {
  return sha256(utf8(`pocketshell test vector: ${name}`));
}

function field(f: FieldSpec): TranscriptField {
  if ('hex' in f) return fromHex(f.hex);
  if ('str' in f) return f.str;
  return f.int;
}

/** Computes the full vector file from fixed seeds. */
export function buildVectors(): Vectors {
  const host = generateKeyPair(seedFor('host'));
  const device = generateKeyPair(seedFor('device'));
  const claim = seedFor('claim').slice(0, 16);
  const nonce32 = seedFor('relay nonce');
  const offerNonce = seedFor('offer nonce').slice(0, 16);
  const hostId = hostIdOf(host.publicKey);
  const deviceId = deviceIdOf(device.publicKey);
  const sdp = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB:CD\r\n';

  const transcriptSpecs: { label: string; fields: FieldSpec[] }[] = [
    { label: 'pocketshell/test/v1', fields: [] },
    { label: 'pocketshell/test/v1', fields: [{ str: '' }, { hex: '' }, { int: 0 }] },
    { label: 'pocketshell/test/v1', fields: [{ str: 'héllo ✓' }, { int: 1700000000 }, { hex: '00ff10' }] },
    {
      label: 'pocketshell/relay-auth/v1',
      fields: [
        { str: 'ws://127.0.0.1:8080' },
        { hex: toHex(nonce32) },
        { str: 'host' },
        { hex: toHex(host.publicKey) },
        { int: 1700000000 },
      ],
    },
  ];

  const sigs: { name: string; seed: Uint8Array; transcript: Uint8Array }[] = [
    {
      name: 'relay-auth (host)',
      seed: seedFor('host'),
      transcript: relayAuthTranscript('ws://127.0.0.1:8080', nonce32, 'host', host.publicKey, 1700000000),
    },
    {
      name: 'pair (device)',
      seed: seedFor('device'),
      transcript: pairRequestTranscript(host.publicKey, device.publicKey, claim, 1700000001),
    },
    {
      name: 'pair-accept (host)',
      seed: seedFor('host'),
      transcript: pairAcceptTranscript(host.publicKey, device.publicKey, claim),
    },
    {
      name: 'pair-confirm (device)',
      seed: seedFor('device'),
      transcript: pairConfirmTranscript(host.publicKey, device.publicKey, claim),
    },
    {
      name: 'sdp offer (device)',
      seed: seedFor('device'),
      transcript: sdpTranscript('offer', hostId, deviceId, 'conn0001', offerNonce, 1700000002, sdp),
    },
    {
      name: 'sdp answer (host)',
      seed: seedFor('host'),
      transcript: sdpTranscript('answer', hostId, deviceId, 'conn0001', offerNonce, 1700000003, sdp),
    },
  ];

  const envelopeSpecs = [
    { from: 'device', to: 'host', kind: 'pair.request', plaintext: '{"name":"Test phone","ts":1700000001}' },
    { from: 'host', to: 'device', kind: 'offer', plaintext: '' },
    { from: 'device', to: 'host', kind: 'relay-data', plaintext: 'x'.repeat(300) },
  ] as const;
  const keys = { host, device };
  const ids = { host: hostId, device: deviceId };

  return {
    version: 1,
    description:
      'PocketShell protocol v1 vectors (docs/protocol.md). Generated by `npm run vectors` from fixed seeds; ' +
      'verified in Node and in the browser by test/vectors/build.ts checkVectors().',
    base64url: [
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(0xfb, 0xff),
      Uint8Array.of(1, 2, 3),
      claim,
    ].map((b) => ({ hex: toHex(b), b64u: b64u(b) })),
    base64urlInvalid: ['A', 'AB=', 'AB+/', 'AB==', 'AF', 'AAB', 'A A='],
    transcripts: transcriptSpecs.map((s) => ({ ...s, hex: toHex(tr(s.label, ...s.fields.map(field))) })),
    identities: ['host', 'device', 'other'].map((name) => {
      const seed = seedFor(name);
      const kp = generateKeyPair(seed);
      return {
        seed: toHex(seed),
        publicKey: toHex(kp.publicKey),
        hostId: hostIdOf(kp.publicKey),
        deviceId: deviceIdOf(kp.publicKey),
        fingerprint: fingerprint(kp.publicKey),
        x25519Public: toHex(toX25519Public(kp.publicKey)),
        x25519Secret: toHex(toX25519Secret(seed)),
      };
    }),
    sas: [claim, seedFor('claim 2').slice(0, 16)].map((c) => ({
      hostPub: toHex(host.publicKey),
      devicePub: toHex(device.publicKey),
      claim: toHex(c),
      digits: sasDigits(host.publicKey, device.publicKey, c),
    })),
    signatures: sigs.map((s) => ({
      name: s.name,
      seed: toHex(s.seed),
      transcript: toHex(s.transcript),
      signature: toHex(sign(s.transcript, s.seed)),
    })),
    links: [
      linkVector({
        hostSeed: seedFor('host'),
        deviceSeed: seedFor('device'),
        ts: 1700000200,
        sid: seedFor('link sid').slice(0, 16),
        openMid: seedFor('link open mid').slice(0, 16),
        deviceEphemeral: seedFor('link device ephemeral'),
        hostEphemeral: seedFor('link host ephemeral'),
        frames: [
          {
            from: 'device',
            seq: 0,
            ts: 1700000201,
            plaintext: encodeLinkRecords([
              { type: LINK_RECORD.open, chan: 1, payload: utf8('control') },
              { type: LINK_RECORD.text, chan: 1, payload: utf8('{"id":1,"method":"host.info"}') },
            ]),
          },
          {
            from: 'host',
            seq: 0,
            ts: 1700000201,
            plaintext: encodeLinkRecords([
              linkAck(1),
              { type: LINK_RECORD.binary, chan: 1, payload: Uint8Array.of(0, 1, 2) },
            ]),
          },
          {
            from: 'device',
            seq: 1,
            ts: 1700000202,
            plaintext: encodeLinkRecords([
              linkAck(1),
              { type: LINK_RECORD.close, chan: 1, payload: new Uint8Array(0) },
            ]),
          },
        ],
      }),
    ],
    envelopes: envelopeSpecs.map((s, i) => {
      const mid = seedFor(`mid ${i}`).slice(0, 16);
      const ephemeralSecret = seedFor(`ephemeral ${i}`);
      const ts = 1700000100 + i;
      const envelope = sealEnvelope({
        kind: s.kind,
        plaintext: utf8(s.plaintext),
        senderId: ids[s.from],
        senderSecret: keys[s.from].secretKey,
        recipientId: ids[s.to],
        recipientPublic: keys[s.to].publicKey,
        ts,
        mid,
        ephemeralSecret,
      });
      return {
        senderSeed: toHex(keys[s.from].secretKey),
        recipientSeed: toHex(keys[s.to].secretKey),
        senderId: ids[s.from],
        recipientId: ids[s.to],
        kind: s.kind,
        mid: toHex(mid),
        ts,
        ephemeralSecret: toHex(ephemeralSecret),
        plaintext: s.plaintext,
        envelope,
      };
    }),
  };
}

/** Recomputes every value of `v` from its inputs; returns the mismatches (empty when all hold). */
export function checkVectors(v: Vectors): string[] {
  const bad: string[] = [];
  const expect = (name: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`${name}: got ${JSON.stringify(got)}`);
  };
  const attempt = (name: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      bad.push(`${name}: threw ${(e as Error).message}`);
    }
  };
  if (v.version !== 1) bad.push('version');
  for (const c of v.base64url) {
    attempt(`b64u ${c.hex}`, () => {
      expect(`b64u(${c.hex})`, b64u(fromHex(c.hex)), c.b64u);
      expect(`fromB64u(${c.b64u})`, toHex(fromB64u(c.b64u)), c.hex);
    });
  }
  for (const s of v.base64urlInvalid) {
    let threw = false;
    try {
      fromB64u(s);
    } catch {
      threw = true;
    }
    if (!threw) bad.push(`fromB64u accepted invalid ${JSON.stringify(s)}`);
  }
  v.transcripts.forEach((t, i) => {
    attempt(`transcript ${i}`, () =>
      expect(`transcript ${i}`, toHex(tr(t.label, ...t.fields.map(field))), t.hex),
    );
  });
  for (const id of v.identities) {
    attempt(`identity ${id.seed}`, () => {
      const kp = generateKeyPair(fromHex(id.seed));
      expect('publicKey', toHex(kp.publicKey), id.publicKey);
      expect('hostId', hostIdOf(kp.publicKey), id.hostId);
      expect('deviceId', deviceIdOf(kp.publicKey), id.deviceId);
      expect('fingerprint', fingerprint(kp.publicKey), id.fingerprint);
      expect('x25519Public', toHex(toX25519Public(kp.publicKey)), id.x25519Public);
      expect('x25519Secret', toHex(toX25519Secret(kp.secretKey)), id.x25519Secret);
    });
  }
  for (const s of v.sas) {
    attempt(`sas ${s.claim}`, () =>
      expect(
        `sas ${s.claim}`,
        sasDigits(fromHex(s.hostPub), fromHex(s.devicePub), fromHex(s.claim)),
        s.digits,
      ),
    );
  }
  for (const s of v.signatures) {
    attempt(s.name, () => {
      const seed = fromHex(s.seed);
      expect(s.name, toHex(sign(fromHex(s.transcript), seed)), s.signature);
      if (!verify(fromHex(s.signature), fromHex(s.transcript), generateKeyPair(seed).publicKey)) {
        bad.push(`${s.name}: does not verify`);
      }
    });
  }
  v.envelopes.forEach((e, i) => {
    attempt(`envelope ${i}`, () => {
      const sender = generateKeyPair(fromHex(e.senderSeed));
      const recipient = generateKeyPair(fromHex(e.recipientSeed));
      const sealed = sealEnvelope({
        kind: e.kind,
        plaintext: utf8(e.plaintext),
        senderId: e.senderId as `h_${string}`,
        senderSecret: sender.secretKey,
        recipientId: e.recipientId as `d_${string}`,
        recipientPublic: recipient.publicKey,
        ts: e.ts,
        mid: fromHex(e.mid),
        ephemeralSecret: fromHex(e.ephemeralSecret),
      });
      expect(`envelope ${i} seal`, sealed, e.envelope);
      const opened = openEnvelope({
        envelope: e.envelope,
        senderId: e.senderId as `h_${string}`,
        senderPublic: sender.publicKey,
        recipientId: e.recipientId as `d_${string}`,
        recipientSecret: recipient.secretKey,
      });
      expect(`envelope ${i} open`, fromUtf8(opened), e.plaintext);
    });
  });
  (v.links ?? []).forEach((l, i) => {
    attempt(`link ${i}`, () => {
      const again = linkVector({
        hostSeed: fromHex(l.hostSeed),
        deviceSeed: fromHex(l.deviceSeed),
        ts: l.ts,
        sid: fromHex(l.sid),
        openMid: fromHex(l.openMid),
        deviceEphemeral: fromHex(l.deviceEphemeral),
        hostEphemeral: fromHex(l.hostEphemeral),
        frames: l.frames.map((f) => ({
          from: f.from,
          seq: f.seq,
          ts: f.ts,
          plaintext: fromHex(f.plaintext),
        })),
      });
      expect(`link ${i}`, again, l);
    });
  });
  if (!v.links || v.links.length === 0) bad.push('links: none');
  return bad;
}
