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
        status.textContent = 'Check that your computer shows the same code, then confirm there.';
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
        status.className = 'error';
        status.textContent =
          error.code === 'unauthorized'
            ? 'The computer declined the pairing.'
            : error.code === 'claim_invalid' || error.code === 'not_found'
              ? 'This code was already used or expired. Make a new one: pocketshell pair'
              : `Pairing failed: ${error.message}`;
      },
    );
  return () => {
    abort.abort();
    dispose();
  };
}
