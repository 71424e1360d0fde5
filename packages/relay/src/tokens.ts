/**
 * Enrollment tokens for closed registration: a token is 24 random bytes as
 * base64url (shown once, never stored), its SHA-256 is what the store keeps,
 * and a short random id names it in `token list` and `token revoke`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { NewToken } from './store.ts';

/** SHA-256 of a secret string or bytes, as lowercase hex (how claims and tokens are stored). */
export function secretHash(secret: string | Uint8Array): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A fresh token: its value (to show once) and the record to store. */
export function newToken(input: {
  label: string;
  uses: number;
  ttlSeconds: number | null;
  now: number;
  random?: (n: number) => Uint8Array;
}): { value: string; record: NewToken } {
  const random = input.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const value = Buffer.from(random(24)).toString('base64url');
  const id = Buffer.from(random(6)).toString('hex');
  return {
    value,
    record: {
      id,
      hash: secretHash(value),
      label: input.label,
      createdAt: input.now,
      expiresAt: input.ttlSeconds === null ? null : input.now + input.ttlSeconds,
      uses: input.uses,
    },
  };
}
