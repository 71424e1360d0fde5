/**
 * The person's side of pairing in a terminal: prints the QR code and URL,
 * then the device's name, fingerprint and the six SAS digits, and asks for
 * confirmation (or takes `--yes`). `pairingLoop` offers codes one after
 * another until stopped.
 */
import { createInterface } from 'node:readline/promises';
import type { HostAgent, PairingPrompt } from '@pocketshell/host-core';
import type { Grant } from '@pocketshell/protocol';
import { terminalQr } from './qr.ts';

/** Prints the QR code and the URL, then `note` (how a phone reaches it) when given. */
export async function showPairingUrl(
  url: string,
  expires: number,
  out: (line: string) => void,
  note?: string,
): Promise<void> {
  out(await terminalQr(url));
  const minutes = Math.max(1, Math.round((expires - Date.now() / 1000) / 60));
  out(
    `Scan the code with your phone, or open this URL on it (valid ${minutes} min, single use):\n\n  ${url}\n`,
  );
  if (note) out(`${note}\n`);
}

/** Shows the SAS prompt and returns the person's answer (`yes` answers by itself). */
export async function confirmPairing(
  prompt: PairingPrompt,
  yes: boolean,
  out: (line: string) => void,
): Promise<boolean> {
  const sas = `${prompt.sas.slice(0, 3)} ${prompt.sas.slice(3)}`;
  out(
    `Pairing request from "${prompt.name}" (${prompt.deviceId})\n  device fingerprint: ${prompt.fingerprint}\n  code: ${sas}`,
  );
  if (yes) {
    out('Accepted (--yes). Check that the phone shows the same code.');
    return true;
  }
  if (!process.stdin.isTTY) {
    out('Refused: no terminal to confirm on. Run with --yes to accept without asking.');
    return false;
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`Does the phone show ${sas}? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Offers pairing codes until `stop()`. */
export function pairingLoop(
  agent: HostAgent,
  options: {
    webUrl: string;
    yes: boolean;
    out: (line: string) => void;
    grants?: readonly Grant[];
    /** Printed under each QR code: how a phone reaches this relay. */
    note?: string;
  },
): { stop(): void } {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        const device = await agent.pair({
          webUrl: options.webUrl,
          ...(options.grants ? { grants: options.grants } : {}),
          onUrl: (url, expires) => void showPairingUrl(url, expires, options.out, options.note),
          confirm: (prompt) => confirmPairing(prompt, options.yes, options.out),
        });
        options.out(`Paired "${device.name}" (${device.id}) with grants: ${device.grants.join(', ')}.`);
        options.out('It can now open a terminal here. Another device? A new code follows.\n');
      } catch (error) {
        if (stopped) return;
        const code = (error as { code?: string }).code;
        // Nobody redeemed the code in time, or the phone went away before completing (nothing was pinned).
        if (code === 'timeout') options.out(`Not paired: ${(error as Error).message}. Here is a new code.`);
        else {
          options.out(`Pairing failed: ${(error as Error).message}${code ? ` (${code})` : ''}`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    }
  })();
  return {
    stop: () => {
      stopped = true;
    },
  };
}
