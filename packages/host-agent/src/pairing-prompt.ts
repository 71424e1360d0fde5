/**
 * The person's side of pairing in a terminal: prints the QR code and URL,
 * then the device's name, fingerprint and the six SAS digits, and asks for
 * confirmation (or takes `--yes`, which never accepts a key change).
 * `chooseGrants` asks which grants to give. `pairingLoop` offers codes one
 * after another until stopped.
 */
import { timingSafeEqual } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { DEFAULT_GRANTS, type HostAgent, type PairingPrompt } from '@pocketshell/host-core';
import { GRANTS, type Grant } from '@pocketshell/protocol';
import { DOCS } from './config.ts';
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

/** How the person answers pairing prompts. */
export interface ConfirmOptions {
  /** `--yes`: accept an ordinary request without asking (never a key change). */
  yes: boolean;
  /** `--accept-key-change`: accept a request whose name is pinned under another key. */
  acceptKeyChange?: boolean;
  out: (line: string) => void;
}

function day(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('T', ' ').slice(0, 16);
}

/** The warning shown when a known device name comes with a new key (like OpenSSH's). */
export function keyChangeWarning(prompt: PairingPrompt): string {
  const old = prompt.keyChanged;
  if (!old) return '';
  const was = `paired ${day(old.pairedAt)} UTC:`;
  return [
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    `@  WARNING: DEVICE KEY CHANGED for "${prompt.name}"`,
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    `A device named "${prompt.name}" is already paired, with another key:`,
    `  ${was}  ${old.fingerprint}  (${old.deviceId})`,
    `  ${'this request:'.padEnd(was.length)}  ${prompt.fingerprint}  (${prompt.deviceId})`,
    'It may be the same phone after a reinstall or cleared browser data, another',
    'device with the same name — or someone posing as it. Accept only if you hold',
    'the phone showing the code below. The old device stays paired; remove it with',
    `  pocketshell devices revoke ${old.deviceId}`,
  ].join('\n');
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** Asks a yes/no question on the terminal; true only for y or yes. */
export async function confirmAction(question: string): Promise<boolean> {
  return /^y(es)?$/i.test(await ask(question));
}

/**
 * Shows the SAS prompt (with the grants, and the key-change warning when the
 * name is pinned under another key) and returns the person's answer. `yes`
 * answers an ordinary request by itself; a key change needs
 * `acceptKeyChange` or a typed "yes" on a terminal.
 */
export async function confirmPairing(prompt: PairingPrompt, options: ConfirmOptions): Promise<boolean> {
  const { out } = options;
  const sas = `${prompt.sas.slice(0, 3)} ${prompt.sas.slice(3)}`;
  const details = `Pairing request from "${prompt.name}" (${prompt.deviceId})\n  device fingerprint: ${prompt.fingerprint}\n  grants: ${prompt.grants.join(', ') || 'none'}`;
  if (prompt.keyChanged) out(keyChangeWarning(prompt));
  // On a terminal the person types the code the phone shows, and this side
  // does not print its own: a comparison that cannot be skipped (Bluetooth's
  // passkey entry, not its "yes/no" numeric comparison). A relay that swapped
  // keys makes the phone show other digits than the ones expected here.
  const interactive =
    process.stdin.isTTY === true && (prompt.keyChanged ? !options.acceptKeyChange : !options.yes);
  if (interactive) {
    out(details);
    const typed = (
      await ask(
        prompt.keyChanged
          ? `The key of "${prompt.name}" changed. To pair it anyway, type the 6-digit code the phone shows (Enter declines): `
          : 'Type the 6-digit code the phone shows (Enter declines): ',
      )
    ).replace(/\s+/g, '');
    if (typed === '') {
      out('Declined.');
      return false;
    }
    if (!sasMatches(typed, prompt.sas)) {
      out(
        'That is not the code of this pairing: declined. If you typed what the phone shows, someone between the phone and this computer (the relay or the network) tried to pair in its place.',
      );
      return false;
    }
    return true;
  }
  out(`${details}\n  code: ${sas}`);
  if (prompt.keyChanged) {
    if (options.acceptKeyChange) {
      out('Accepted (--accept-key-change). Check that the phone shows the same code.');
      return true;
    }
    out(
      options.yes
        ? 'Refused: the key changed, and --yes does not accept a key change. Confirm on a terminal, or pass --accept-key-change.'
        : 'Refused: the key changed and there is no terminal to confirm on. Pass --accept-key-change to accept it.',
    );
    return false;
  }
  if (options.yes) {
    out('Accepted (--yes). Check that the phone shows the same code.');
    return true;
  }
  out('Refused: no terminal to confirm on. Run with --yes to accept without asking.');
  return false;
}

/** Whether the digits typed are the pairing's code (compared in constant time). */
function sasMatches(typed: string, sas: string): boolean {
  const a = Buffer.from(typed);
  const b = Buffer.from(sas);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The grants to give: `flag` (`--grants`) when given; else asked on a
 * terminal (empty answer: `shell`); else `shell`, said so.
 */
export async function chooseGrants(
  flag: string | undefined,
  parse: (text: string) => Grant[],
  out: (line: string) => void,
): Promise<Grant[]> {
  if (flag !== undefined) return parse(flag);
  if (!process.stdin.isTTY) {
    out(`Grants: ${DEFAULT_GRANTS.join(', ')} (no terminal to ask on; pass --grants to choose).`);
    return [...DEFAULT_GRANTS];
  }
  out(
    [
      `Which grants should the device get? Known: ${GRANTS.join(', ')}`,
      '  shell: open and attach terminals, close its own sessions',
      "  admin: close other devices' sessions",
      `  (${DOCS}/security.md#grants-and-destructive-actions)`,
    ].join('\n'),
  );
  for (let tries = 0; ; tries++) {
    const answer = await ask(`Grants, comma-separated [${DEFAULT_GRANTS.join(',')}]: `);
    if (answer === '') return [...DEFAULT_GRANTS];
    try {
      const grants = parse(answer);
      if (grants.length > 0) return grants;
    } catch (error) {
      if (tries >= 2) throw error;
      out((error as Error).message);
    }
  }
}

/** Offers pairing codes until `stop()`. */
export function pairingLoop(
  agent: HostAgent,
  options: {
    webUrl: string;
    yes: boolean;
    acceptKeyChange?: boolean;
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
          confirm: (prompt) =>
            confirmPairing(prompt, {
              yes: options.yes,
              out: options.out,
              ...(options.acceptKeyChange ? { acceptKeyChange: true } : {}),
            }),
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
