/**
 * Relay authentication (docs/protocol.md §3): checks an `auth` message against
 * the challenge this connection was sent — the claimed id (if any) is the
 * key's id, `ts` is within ±60 s, the signature over
 * `tr(relay-auth/v1, relay, nonce, role, pub, ts)` verifies — and only then
 * registers the identity (a host needs open registration, an existing
 * record, or a live enrollment token). Nothing is stored before the
 * signature holds, and nothing at all for a device that has not paired.
 */
import {
  type AuthMessage,
  CLOCK_WINDOW_S,
  fromB64u,
  idMatchesKey,
  idOf,
  type PartyId,
  ProtocolError,
  relayAuthTranscript,
  verify,
} from '@pocketshell/protocol';
import type { Registration } from './config.ts';
import type { RelayStore } from './store.ts';
import { secretHash } from './tokens.ts';

/** The proven identity of an `auth` message. */
export interface Proven {
  id: PartyId;
  role: AuthMessage['role'];
  pub: string;
}

/**
 * Verifies `auth` against the challenge (`origin`, `nonce`) at `now` (Unix
 * seconds). Throws `ProtocolError('unauthorized')` for any failure.
 */
export function verifyAuth(auth: AuthMessage, origin: string, nonce: Uint8Array, now: number): Proven {
  const pub = fromB64u(auth.pub);
  const id = idOf(auth.role, pub);
  if (auth.id !== undefined && (auth.id !== id || !idMatchesKey(auth.id, pub))) {
    throw new ProtocolError('unauthorized', 'the id does not match the key and role');
  }
  if (Math.abs(auth.ts - now) > CLOCK_WINDOW_S) {
    throw new ProtocolError('unauthorized', 'ts is outside the clock window');
  }
  if (!verify(fromB64u(auth.sig), relayAuthTranscript(origin, nonce, auth.role, pub, auth.ts), pub)) {
    throw new ProtocolError('unauthorized', 'the signature does not verify');
  }
  return { id, role: auth.role, pub: auth.pub };
}

/**
 * Registers (or refreshes) a proven identity. Hosts: known, or open
 * registration, or a live enrollment token; else `registration_closed`.
 */
export async function register(
  store: RelayStore,
  proven: Proven,
  enroll: string | undefined,
  registration: Registration,
  now: number,
): Promise<void> {
  if (proven.role === 'device') {
    // a device is stored when it pairs (acceptPending), not here: strangers add no rows
    await store.seenDevice(proven.id as `d_${string}`, now);
    return;
  }
  const host = proven.id as `h_${string}`;
  if (registration === 'open' || (await store.hasHost(host))) {
    await store.touchHost(host, proven.pub, now);
    return;
  }
  if (enroll === undefined || !(await store.enrollHost(host, proven.pub, secretHash(enroll), now))) {
    throw new ProtocolError('registration_closed');
  }
}
