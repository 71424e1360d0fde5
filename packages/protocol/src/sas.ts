/**
 * The short authentication string both sides show during pairing
 * (docs/protocol.md §4.4): six decimal digits that a relay swapping in its own
 * key cannot make match.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { LABELS, tr } from './transcript.ts';

/** `u32be(sha256(tr(sas/v1, host_pub, device_pub, claim))[0..4]) mod 10^6`, zero-padded to 6 digits. */
export function sasDigits(hostPub: Uint8Array, devicePub: Uint8Array, claim: Uint8Array): string {
  const h = sha256(tr(LABELS.sas, hostPub, devicePub, claim));
  const n = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
  return String(n % 1_000_000).padStart(6, '0');
}
