/**
 * HPKE (RFC 9180) for exactly one suite: DHKEM(X25519, HKDF-SHA256) = 0x0020,
 * HKDF-SHA256 = 0x0001, ChaCha20-Poly1305 = 0x0003, in mode_base and
 * mode_auth (PSK modes are not used by PocketShell). Built on @noble
 * primitives; checked against the RFC 9180 A.2 vectors.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, i2osp, randomBytes, utf8 } from './bytes.ts';
import { ProtocolError } from './errors.ts';

export const KEM_ID = 0x0020;
export const KDF_ID = 0x0001;
export const AEAD_ID = 0x0003;
export const MODE_BASE = 0x00;
export const MODE_AUTH = 0x02;

const N_SECRET = 32;
const N_K = 32;
const N_N = 12;
const N_H = 32;

const HPKE_V1 = utf8('HPKE-v1');
const KEM_SUITE = concat(utf8('KEM'), i2osp(KEM_ID, 2));
const HPKE_SUITE = concat(utf8('HPKE'), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));
const EMPTY = new Uint8Array(0);

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(sha256, concat(HPKE_V1, suite, utf8(label), ikm), salt);
}

function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, L: number) {
  return expand(sha256, prk, concat(i2osp(L, 2), HPKE_V1, suite, utf8(label), info), L);
}

/**
 * X25519 with the checks RFC 9180 §7.1.4 asks for: a low-order public key
 * (which yields the all-zero shared secret) is refused with `bad_key`.
 */
export function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 32 || publicKey.length !== 32) {
    throw new ProtocolError('bad_key', 'X25519 keys must be 32 bytes');
  }
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch (cause) {
    throw new ProtocolError('bad_key', 'X25519 public key is of low order', { cause });
  }
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new ProtocolError('bad_key', 'X25519 shared secret is all zero');
  return shared;
}

/** The X25519 public key of a secret. */
export function x25519Public(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

/** DeriveKeyPair(ikm) for DHKEM(X25519) (RFC 9180 §7.1.3). */
export function deriveKeyPair(ikm: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const prk = labeledExtract(KEM_SUITE, EMPTY, 'dkp_prk', ikm);
  const secretKey = labeledExpand(KEM_SUITE, prk, 'sk', EMPTY, 32);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

function extractAndExpand(dhOut: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const prk = labeledExtract(KEM_SUITE, EMPTY, 'eae_prk', dhOut);
  return labeledExpand(KEM_SUITE, prk, 'shared_secret', kemContext, N_SECRET);
}

/** Sender-side options; `ephemeralSecret` is only for known-answer tests. */
export interface SetupSenderOptions {
  /** Sender's static X25519 secret: present → mode_auth, absent → mode_base. */
  senderSecret?: Uint8Array;
  /** Fixed ephemeral secret (tests and vectors only). */
  ephemeralSecret?: Uint8Array;
}

/** Recipient-side options. */
export interface SetupRecipientOptions {
  /** Sender's static X25519 public key: present → mode_auth, absent → mode_base. */
  senderPublic?: Uint8Array;
}

/** The key-schedule outputs, exposed for vectors. */
export interface KeySchedule {
  readonly sharedSecret: Uint8Array;
  readonly keyScheduleContext: Uint8Array;
  readonly secret: Uint8Array;
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
  readonly exporterSecret: Uint8Array;
}

function keySchedule(mode: number, sharedSecret: Uint8Array, info: Uint8Array): KeySchedule {
  const pskIdHash = labeledExtract(HPKE_SUITE, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(HPKE_SUITE, EMPTY, 'info_hash', info);
  const keyScheduleContext = concat(Uint8Array.of(mode), pskIdHash, infoHash);
  const secret = labeledExtract(HPKE_SUITE, sharedSecret, 'secret', EMPTY);
  return {
    sharedSecret,
    keyScheduleContext,
    secret,
    key: labeledExpand(HPKE_SUITE, secret, 'key', keyScheduleContext, N_K),
    baseNonce: labeledExpand(HPKE_SUITE, secret, 'base_nonce', keyScheduleContext, N_N),
    exporterSecret: labeledExpand(HPKE_SUITE, secret, 'exp', keyScheduleContext, N_H),
  };
}

/** An HPKE encryption context (RFC 9180 §5.2): one direction, sequenced nonces. */
export class HpkeContext {
  readonly schedule: KeySchedule;
  #seq = 0;

  constructor(schedule: KeySchedule) {
    this.schedule = schedule;
  }

  /** The next sequence number. */
  get seq(): number {
    return this.#seq;
  }

  #nonce(): Uint8Array {
    if (this.#seq >= Number.MAX_SAFE_INTEGER)
      throw new ProtocolError('limit_reached', 'HPKE sequence overflow');
    const n = this.schedule.baseNonce.slice();
    const s = i2osp(this.#seq, N_N);
    for (let i = 0; i < N_N; i++) n[i] = n[i]! ^ s[i]!;
    return n;
  }

  /** Seal one message (sender side). */
  seal(plaintext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    const ct = chacha20poly1305(this.schedule.key, this.#nonce(), aad).encrypt(plaintext);
    this.#seq++;
    return ct;
  }

  /** Open one message (recipient side); throws `decrypt_failed`. */
  open(ciphertext: Uint8Array, aad: Uint8Array = EMPTY): Uint8Array {
    let pt: Uint8Array;
    try {
      pt = chacha20poly1305(this.schedule.key, this.#nonce(), aad).decrypt(ciphertext);
    } catch (cause) {
      throw new ProtocolError('decrypt_failed', undefined, { cause });
    }
    this.#seq++;
    return pt;
  }

  /** Secret export (RFC 9180 §5.3). */
  export(exporterContext: Uint8Array, length: number): Uint8Array {
    return labeledExpand(HPKE_SUITE, this.schedule.exporterSecret, 'sec', exporterContext, length);
  }
}

/** SetupBaseS / SetupAuthS: returns `enc` and the sender context. */
export function setupSender(
  recipientPublic: Uint8Array,
  info: Uint8Array,
  options: SetupSenderOptions = {},
): { enc: Uint8Array; context: HpkeContext } {
  const skE = options.ephemeralSecret ?? randomBytes(32);
  const enc = x25519.getPublicKey(skE);
  let dhOut = dh(skE, recipientPublic);
  let kemContext = concat(enc, recipientPublic);
  let mode = MODE_BASE;
  if (options.senderSecret) {
    dhOut = concat(dhOut, dh(options.senderSecret, recipientPublic));
    kemContext = concat(kemContext, x25519.getPublicKey(options.senderSecret));
    mode = MODE_AUTH;
  }
  const shared = extractAndExpand(dhOut, kemContext);
  return { enc, context: new HpkeContext(keySchedule(mode, shared, info)) };
}

/** SetupBaseR / SetupAuthR: the recipient context for `enc`. */
export function setupRecipient(
  enc: Uint8Array,
  recipientSecret: Uint8Array,
  info: Uint8Array,
  options: SetupRecipientOptions = {},
): HpkeContext {
  if (enc.length !== 32) throw new ProtocolError('bad_key', 'enc must be 32 bytes');
  const pkR = x25519.getPublicKey(recipientSecret);
  let dhOut = dh(recipientSecret, enc);
  let kemContext = concat(enc, pkR);
  let mode = MODE_BASE;
  if (options.senderPublic) {
    dhOut = concat(dhOut, dh(recipientSecret, options.senderPublic));
    kemContext = concat(kemContext, options.senderPublic);
    mode = MODE_AUTH;
  }
  const shared = extractAndExpand(dhOut, kemContext);
  return new HpkeContext(keySchedule(mode, shared, info));
}
