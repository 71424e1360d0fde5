/**
 * Long-term identities: Ed25519 key pairs (RFC 8032), self-certifying IDs
 * (`h_…` for hosts, `d_…` for devices), the fingerprint people compare, and
 * the Ed25519→X25519 map used for sealing (docs/protocol.md §2).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base32Lower, randomBytes } from './bytes.ts';
import { ProtocolError } from './errors.ts';

/** Which kind of party an identity is. */
export type Role = 'host' | 'device';

/** An Ed25519 key pair; `secretKey` is the 32-byte RFC 8032 seed. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** A host id: `h_` + 26 base32 characters. */
export type HostId = `h_${string}`;
/** A device id: `d_` + 26 base32 characters. */
export type DeviceId = `d_${string}`;
/** Any party id. */
export type PartyId = HostId | DeviceId;

export const HOST_ID_RE = /^h_[a-z2-7]{26}$/;
export const DEVICE_ID_RE = /^d_[a-z2-7]{26}$/;
export const PARTY_ID_RE = /^[hd]_[a-z2-7]{26}$/;

/** Makes a key pair from a 32-byte seed, or from fresh randomness. */
export function generateKeyPair(seed: Uint8Array = randomBytes(32)): KeyPair {
  if (seed.length !== 32) throw new ProtocolError('bad_key', 'seed must be 32 bytes');
  return { secretKey: seed.slice(), publicKey: ed25519.getPublicKey(seed) };
}

/** The public key for a 32-byte secret seed. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 32) throw new ProtocolError('bad_key', 'secret key must be 32 bytes');
  return ed25519.getPublicKey(secretKey);
}

/** Ed25519 signature of `message`. */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed25519.sign(message, secretKey);
}

/**
 * Strict Ed25519 verification (RFC 8032 §5.1.7, cofactorless, no ZIP-215
 * leniency, non-canonical encodings rejected). Never throws: malformed
 * inputs verify as false.
 */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Verifies and throws `bad_signature` when the signature does not hold. */
export function verifyOrThrow(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
  what = 'signature',
): void {
  if (!verify(signature, message, publicKey))
    throw new ProtocolError('bad_signature', `${what} did not verify`);
}

function idBody(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new ProtocolError('bad_key', 'public key must be 32 bytes');
  return base32Lower(sha256(publicKey)).slice(0, 26);
}

/** `h_` + base32lower(sha256(pub))[0..26]. */
export function hostIdOf(publicKey: Uint8Array): HostId {
  return `h_${idBody(publicKey)}`;
}

/** `d_` + base32lower(sha256(pub))[0..26]. */
export function deviceIdOf(publicKey: Uint8Array): DeviceId {
  return `d_${idBody(publicKey)}`;
}

/** The id a key has in a role. */
export function idOf(role: Role, publicKey: Uint8Array): PartyId {
  return role === 'host' ? hostIdOf(publicKey) : deviceIdOf(publicKey);
}

/** The role an id names, from its prefix. */
export function roleOfId(id: PartyId): Role {
  return id.startsWith('h_') ? 'host' : 'device';
}

/** True when `id` is exactly the self-certifying id of `publicKey` (either role, by prefix). */
export function idMatchesKey(id: string, publicKey: Uint8Array): boolean {
  if (!PARTY_ID_RE.test(id) || publicKey.length !== 32) return false;
  // IDs are public, so a plain comparison is fine here.
  return id === (id.startsWith('h_') ? hostIdOf(publicKey) : deviceIdOf(publicKey));
}

/** Fingerprint people compare: base32upper(sha256(pub)[0..16]), groups of four. */
export function fingerprint(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new ProtocolError('bad_key', 'public key must be 32 bytes');
  const s = base32Lower(sha256(publicKey).slice(0, 16)).toUpperCase();
  return s.match(/.{1,4}/g)!.join(' ');
}

/** The X25519 public key of an Ed25519 public key (libsodium's `ed25519_pk_to_curve25519`). */
export function toX25519Public(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new ProtocolError('bad_key', 'public key must be 32 bytes');
  try {
    return ed25519.utils.toMontgomery(publicKey);
  } catch (cause) {
    throw new ProtocolError('bad_key', 'not a valid Ed25519 public key', { cause });
  }
}

/** The X25519 secret of an Ed25519 seed (libsodium's `ed25519_sk_to_curve25519`). */
export function toX25519Secret(secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 32) throw new ProtocolError('bad_key', 'secret key must be 32 bytes');
  return ed25519.utils.toMontgomerySecret(secretKey);
}
