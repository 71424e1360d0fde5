/**
 * Pairing: opening the QR code's URL lands here. The link is redeemed at
 * once, the six SAS digits are shown large beside the host's fingerprint,
 * and the person confirms them on the computer; once the host accepts, the
 * host (with its name) is pinned and the hosts screen opens. A computer
 * whose name is already pinned under another key is a key change: a warning
 * with both fingerprints, and the pairing completes only after a tap on
 * "Pair with new key" (docs/security.md, "Key change"). The fragment
 * holding the claim is dropped from history so a reload cannot replay it.
 */
import { fingerprint, hostIdOf, type PairLink, parsePairUrl } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import type { PinnedHost } from '../store.ts';
import { fill, h, toast } from '../ui.ts';
import { frame } from './chrome.ts';

/** A default device name from the browser, e.g. "Chrome on Android". */
function deviceName(): string {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS/.test(ua)
        ? 'macOS'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Linux/.test(ua)
            ? 'Linux'
            : 'a browser';
  const browser = /Firefox\//.test(ua)
    ? 'Firefox'
    : /Edg\//.test(ua)
      ? 'Edge'
      : /Chrome\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'Browser';
  return `${browser} on ${os}`;
}

/**
 * What the person reads when pairing ends without pairing, by error code.
 * A relay or network in between can drop, forge or swap what the two sides
 * say; the page says what that means and that nothing was paired.
 */
export function refusalText(code: string, message: string): string {
  switch (code) {
    case 'key_changed':
      return 'Not paired: the computer’s key changed and the change was not confirmed.';
    case 'unauthorized':
      return 'The computer declined the pairing. If the codes on the two screens differed, someone between them (the relay or the network) tried to pair in this phone’s place, and declining stopped it. Nothing was paired.';
    case 'bad_key':
    case 'bad_signature':
    case 'decrypt_failed':
    case 'replay':
    case 'bad_message':
      return 'The answer did not come from the computer in the QR code: someone between them (the relay or the network) sent it. Nothing was paired. Make a new code on the computer and compare the codes again.';
    case 'clock_skew':
      return 'The computer’s answer is dated too far from this phone’s clock. Check the date and time of both, then make a new code. Nothing was paired.';
    case 'revoked':
      return 'The computer stopped waiting for this phone: its answer or this phone’s reply was lost on the way. Nothing was paired. Make a new code on the computer: pocketshell pair';
    case 'timeout':
      return 'The computer did not answer in time. Nothing was paired. Make a new code on the computer: pocketshell pair';
    case 'claim_invalid':
    case 'not_found':
      return 'This code was already used or expired. Make a new one: pocketshell pair';
    default:
      return `Pairing failed (${code}): ${message}. Nothing was paired.`;
  }
}

export function pairView(app: App): () => void {
  const body = h('div', { class: 'stack pair' });
  const { dispose } = frame(app, 'Pair', body, { back: '#/hosts' });
  let link: PairLink;
  try {
    link = parsePairUrl(location.href);
  } catch {
    fill(
      body,
      h(
        'p',
        { class: 'error' },
        'This pairing link is not valid. Ask your computer for a new one: pocketshell pair',
      ),
    );
    return dispose;
  }
  // The claim is single-use: keep it out of history and reloads.
  app.rewrite('#/pair/…');
  const abort = new AbortController();
  const status = h('p', { class: 'muted', 'data-testid': 'pair-status' }, 'Contacting the relay…');
  const sas = h('div', { class: 'sas', 'data-testid': 'sas', 'aria-live': 'polite' }, '······');
  fill(
    body,
    h('p', { class: 'lead' }, 'Pair this phone with a computer'),
    h('div', { class: 'card' }, h('div', { class: 'label' }, 'Security code'), sas, status),
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'label' }, 'Computer'),
      link.hostName !== undefined
        ? h('div', { class: 'host-name', 'data-testid': 'pair-host-name' }, link.hostName)
        : null,
      h('code', { class: 'host-id', 'data-testid': 'pair-host' }, hostIdOf(link.hostPub)),
      h('div', { class: 'label' }, 'Fingerprint'),
      h('code', { class: 'fingerprint', 'data-testid': 'pair-fingerprint' }, fingerprint(link.hostPub)),
    ),
  );
  // A known computer name with another key: shown as soon as it is known (the link's name),
  // and again with the signed name once the computer accepted; completing needs a tap.
  const hostId = hostIdOf(link.hostPub);
  const warning = h('div', { class: 'card warn', 'data-testid': 'key-changed', role: 'alert' });
  warning.hidden = true;
  body.prepend(warning);
  let choice: boolean | undefined;
  let answer: ((ok: boolean) => void) | undefined;
  const decide = (ok: boolean) => {
    choice = ok;
    warning
      .querySelector('.actions')
      ?.replaceWith(
        h(
          'p',
          { class: ok ? 'muted' : 'error', 'data-testid': 'key-choice' },
          ok ? 'New key accepted.' : 'Cancelled.',
        ),
      );
    warning.dataset.choice = ok ? 'accepted' : 'cancelled';
    if (!ok) status.textContent = 'Cancelled: this phone will not pair. Decline on your computer too.';
    answer?.(ok);
  };
  const showWarning = (name: string, newFingerprint: string, old: PinnedHost[]) => {
    const previous = old.at(-1)!;
    fill(
      warning,
      h('div', { class: 'warn-title' }, 'Key changed'),
      h(
        'p',
        {},
        `You already paired a computer named “${name}” with a different key. It may be the same computer after a reset or reinstall, another computer with the same name — or someone posing as it.`,
      ),
      h('div', { class: 'label' }, `Paired key (${new Date(previous.pairedAt).toLocaleDateString()})`),
      h('code', { class: 'fingerprint', 'data-testid': 'key-old' }, previous.fingerprint),
      h('div', { class: 'label' }, 'New key'),
      h('code', { class: 'fingerprint', 'data-testid': 'key-new' }, newFingerprint),
      h(
        'p',
        { class: 'muted' },
        'Continue only if the security code below matches the one your computer shows. The old entry stays in your list, marked “old key”.',
      ),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          { type: 'button', class: 'button', 'data-testid': 'key-cancel', onclick: () => decide(false) },
          'Cancel',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'button danger',
            'data-testid': 'key-accept',
            onclick: () => decide(true),
          },
          'Pair with new key',
        ),
      ),
    );
    if (choice !== undefined) decide(choice);
    warning.hidden = false;
  };
  if (link.hostName !== undefined) {
    const old = app.device.sameName(link.hostName, hostId);
    if (old.length > 0) showWarning(link.hostName, fingerprint(link.hostPub), old);
  }
  app.device
    .pair(
      link,
      deviceName(),
      (digits) => {
        sas.textContent = `${digits.slice(0, 3)} ${digits.slice(3)}`;
        sas.dataset.digits = digits;
        if (choice !== false)
          status.textContent =
            'Check that your computer shows the same code, then confirm there. If it shows a different code, decline there: someone between them is trying to pair in this phone’s place.';
      },
      abort.signal,
      (host, old) => {
        if (warning.hidden || host.name !== link.hostName) showWarning(host.name, host.fingerprint, old);
        if (choice !== undefined) return Promise.resolve(choice);
        status.textContent = 'Your computer accepted. Confirm the key change above to finish pairing.';
        return new Promise<boolean>((resolve) => {
          answer = resolve;
          abort.signal.addEventListener('abort', () => resolve(false));
        });
      },
    )
    .then(
      (host) => {
        app.go('#/hosts', true);
        toast(`Paired with ${host.name}`);
      },
      (error: Error & { code?: string }) => {
        if (abort.signal.aborted) return;
        const code = error.code ?? 'internal';
        status.className = 'error';
        status.dataset.code = code;
        status.textContent = refusalText(code, error.message);
        sas.classList.add('void');
      },
    );
  return () => {
    abort.abort();
    dispose();
  };
}
