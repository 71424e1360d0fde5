/**
 * Sealed envelopes (docs/protocol.md §5): everything a host and a device say to
 * each other through the relay. HPKE mode_auth from the sender's static key
 * to the recipient's, both derived from their Ed25519 identities, with
 * `info = tr(seal/v1, sender_id, recipient_id)` and
 * `aad = tr(seal-aad/v1, kind, mid, ts)`. The relay sees only
 * `{kind, mid, ts, enc, ct}` and can neither read nor forge it.
 */
import { b64u, fromB64u, fromUtf8, randomBytes, utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { type HpkeContext, setupRecipient, setupSender } from './hpke.ts';
import { type PartyId, toX25519Public, toX25519Secret } from './identity.ts';
import type { ReplayCache } from './replay.ts';
import { unixNow } from './time.ts';
import { LABELS, tr } from './transcript.ts';

/** The wire form of a sealed envelope. */
export interface Envelope {
  readonly kind: string;
  readonly mid: string;
  readonly ts: number;
  readonly enc: string;
  readonly ct: string;
}

/** What `sealEnvelope` needs. */
export interface SealInput {
  kind: string;
  plaintext: Uint8Array;
  senderId: PartyId;
  senderSecret: Uint8Array;
  recipientId: PartyId;
  recipientPublic: Uint8Array;
  /** Unix seconds; defaults to now. */
  ts?: number;
  /** 16 bytes; defaults to random (fixed only in vectors). */
  mid?: Uint8Array;
  /** Ephemeral X25519 secret; only for vectors. */
  ephemeralSecret?: Uint8Array;
}

/** What `openEnvelope` needs. */
export interface OpenInput {
  envelope: Envelope;
  senderId: PartyId;
  senderPublic: Uint8Array;
  recipientId: PartyId;
  recipientSecret: Uint8Array;
  /** Clock window and replay cache; when absent the caller checks them itself. */
  replay?: ReplayCache;
}

export const MID_BYTES = 16;

function info(senderId: PartyId, recipientId: PartyId): Uint8Array {
  return tr(LABELS.seal, senderId, recipientId);
}

function aad(kind: string, mid: string, ts: number): Uint8Array {
  return tr(LABELS.sealAad, kind, fromB64u(mid), ts);
}

/** Seals `plaintext` from sender to recipient. */
export function sealEnvelope(input: SealInput): Envelope {
  return sealEnvelopeContext(input).envelope;
}

/**
 * Seals like `sealEnvelope` and also returns the sender's HPKE context, whose
 * exporter (RFC 9180 §5.3) a relay-path session derives its keys from (link.ts).
 */
export function sealEnvelopeContext(input: SealInput): { envelope: Envelope; context: HpkeContext } {
  const ts = input.ts ?? unixNow();
  const mid = b64u(input.mid ?? randomBytes(MID_BYTES));
  const { enc, context } = setupSender(
    toX25519Public(input.recipientPublic),
    info(input.senderId, input.recipientId),
    {
      senderSecret: toX25519Secret(input.senderSecret),
      ...(input.ephemeralSecret ? { ephemeralSecret: input.ephemeralSecret } : {}),
    },
  );
  const ct = context.seal(input.plaintext, aad(input.kind, mid, ts));
  return { envelope: { kind: input.kind, mid, ts, enc: b64u(enc), ct: b64u(ct) }, context };
}

/**
 * Opens an envelope. With a replay cache: `clock_skew` and `replay` are
 * checked first, and the `mid` is recorded only once the envelope has
 * authenticated (a forgery cannot poison the cache). Throws
 * `decrypt_failed` for any tampering, `bad_message` for a malformed field.
 */
export function openEnvelope(input: OpenInput): Uint8Array {
  return openEnvelopeContext(input).plaintext;
}

/** Opens like `openEnvelope` and also returns the recipient's HPKE context (for its exporter). */
export function openEnvelopeContext(input: OpenInput): { plaintext: Uint8Array; context: HpkeContext } {
  const { envelope: e } = input;
  const midBytes = fromB64u(e.mid);
  if (midBytes.length !== MID_BYTES) throw new ProtocolError('bad_message', 'mid must be 16 bytes');
  input.replay?.check(e.mid, e.ts);
  const context = setupRecipient(
    fromB64u(e.enc),
    toX25519Secret(input.recipientSecret),
    info(input.senderId, input.recipientId),
    { senderPublic: toX25519Public(input.senderPublic) },
  );
  const pt = context.open(fromB64u(e.ct), aad(e.kind, e.mid, e.ts));
  input.replay?.record(e.mid);
  return { plaintext: pt, context };
}

/** Seals a JSON body (UTF-8). */
export function sealJson(input: Omit<SealInput, 'plaintext'> & { body: unknown }): Envelope {
  const { body, ...rest } = input;
  return sealEnvelope({ ...rest, plaintext: utf8(JSON.stringify(body)) });
}

/** Opens an envelope holding JSON; `bad_message` when it is not JSON. */
export function openJson(input: OpenInput): unknown {
  const text = fromUtf8(openEnvelope(input));
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ProtocolError('bad_message', 'envelope body is not JSON', { cause });
  }
}
