/**
 * Debug timing of one connection's way up, off by default: with
 * `NODE_DEBUG=pocketshell-connect` each end writes to stderr when a step of
 * a connection is reached, in milliseconds since that end's first step for
 * it (device: offer made, answer, ICE, DTLS verified, control open,
 * `term:new` attached, first byte; host: offer received, verified and
 * answered, ICE, DTLS verified, channels opened). Lines name the connection
 * by the first four characters of its random id and the step only: no key,
 * signature, SDP or address.
 */
import { performance } from 'node:perf_hooks';
import { debuglog } from 'node:util';

const log = debuglog('pocketshell-connect');

/** Records `step` for a connection; a no-op unless the debug section is on. */
export type ConnectMark = (step: string) => void;

/** A step recorder for connection `conn` at one end (`device` or `host`). */
export function connectTiming(end: 'device' | 'host', conn: string): ConnectMark {
  if (!log.enabled) return () => {};
  const t0 = performance.now();
  const id = conn.slice(0, 4);
  return (step) => log('%s %s +%d ms %s', end, id, Math.round(performance.now() - t0), step);
}
