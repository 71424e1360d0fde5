/**
 * TURN credentials in coturn's REST-API scheme (`use-auth-secret`, docs/protocol.md
 * §7): `username = "<expiry>:<id>"`, `credential = base64(HMAC-SHA1(secret,
 * username))`. coturn recomputes the credential from its shared secret and
 * refuses it after `expiry`; the relay never talks to coturn.
 */
import { createHmac } from 'node:crypto';

/** Credentials as sent in a `turn` message. */
export interface TurnCredentials {
  urls: string[];
  username: string;
  credential: string;
  ttl: number;
}

/** Makes credentials for `id`, valid `ttl` seconds from `now` (Unix seconds). */
export function turnCredentials(input: {
  secret: string;
  id: string;
  now: number;
  ttl: number;
  urls: string[];
}): TurnCredentials {
  const username = `${input.now + input.ttl}:${input.id}`;
  const credential = createHmac('sha1', input.secret).update(username).digest('base64');
  return { urls: input.urls, username, credential, ttl: input.ttl };
}
