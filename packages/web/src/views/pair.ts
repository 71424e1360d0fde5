/**
 * Pairing: opening the QR code's URL lands here. The link is redeemed at
 * once, the six SAS digits are shown large beside the host's fingerprint,
 * and the person confirms them on the computer; once the host accepts, the
 * host (with its name) is pinned and the hosts screen opens. The fragment
 * holding the claim is dropped from history so a reload cannot replay it.
 */
import { fingerprint, hostIdOf, type PairLink, parsePairUrl } from '@pocketshell/protocol';
import type { App } from '../main.ts';
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
  app.device
    .pair(
      link,
      deviceName(),
      (digits) => {
        sas.textContent = `${digits.slice(0, 3)} ${digits.slice(3)}`;
        sas.dataset.digits = digits;
        status.textContent =
          'Check that your computer shows the same code, then confirm there. If it shows a different code, decline there: someone between them is trying to pair in this phone’s place.';
      },
      abort.signal,
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
