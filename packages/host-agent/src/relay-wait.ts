/**
 * The relay connection as a person reads about it: why a dial failed, in
 * words (`connection refused`, not `closed (1006)`), and `waitForRelay`,
 * which shows each attempt while a one-off command (`pair`) waits for the
 * relay and gives up with the reason after a bounded time.
 */
import type { HostAgent } from '@pocketshell/host-core';
import { isErrorCode } from '@pocketshell/protocol';
import { CliError } from './exit-codes.ts';

/** How long a one-off command waits for the relay before giving up. */
export const RELAY_WAIT_MS = 10_000;

/** A relay client's drop reason in words (the raw reason in brackets when it adds something). */
export function relayFailure(reason: string): string {
  const known: [RegExp, string][] = [
    [/ECONNREFUSED/, 'connection refused'],
    [/ENOTFOUND|EAI_AGAIN/, 'host name not found'],
    [/ETIMEDOUT/, 'timed out'],
    [/ECONNRESET/, 'connection reset'],
    [/EHOSTUNREACH|ENETUNREACH/, 'host unreachable'],
    [/certificate|CERT_|SSL|TLS/i, `TLS failed (${reason})`],
  ];
  for (const [re, words] of known) if (re.test(reason)) return words;
  const http = /Unexpected server response: (\d+)/.exec(reason);
  if (http) return `the server answered HTTP ${http[1]}, not a relay WebSocket (is the URL the relay's?)`;
  return reason;
}

/**
 * Waits until `agent`'s relay connection is ready, printing each attempt
 * with `say`. Rejects with `unavailable` after `ms`, or at once with the
 * relay's code when it refuses this host.
 */
export function waitForRelay(
  agent: HostAgent,
  url: string,
  say: (line: string) => void,
  ms = RELAY_WAIT_MS,
): Promise<void> {
  if (agent.relay.state === 'ready') return Promise.resolve();
  say(`connecting to the relay at ${url} …`);
  return new Promise((resolve, reject) => {
    let attempts = 0;
    let last = 'no answer';
    const done = () => {
      clearTimeout(timer);
      offRelay();
      offRefused();
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new CliError(
          'unavailable',
          `cannot reach the relay at ${url}: ${last} (${attempts} attempt${attempts === 1 ? '' : 's'} in ${Math.round(ms / 1000)} s). Check the URL and that the relay runs (pocketshell doctor).`,
        ),
      );
    }, ms);
    const offRelay = agent.on('relay', ({ state, reason }) => {
      if (state === 'ready') {
        done();
        resolve();
      } else if (state === 'backoff' && reason) {
        attempts++;
        last = relayFailure(reason);
        say(`connecting to the relay at ${url}: attempt ${attempts}, ${last}; retrying`);
      }
    });
    const offRefused = agent.relay.on('refused', (m) => {
      done();
      reject(
        new CliError(
          isErrorCode(m.code) ? m.code : 'internal',
          `the relay at ${url} refused this host: ${m.code}`,
        ),
      );
    });
  });
}
