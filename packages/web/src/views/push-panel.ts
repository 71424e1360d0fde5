/**
 * "Notifications on this phone" (docs/web.md "Alerts and notifications"):
 * a card that subscribes this browser to Web Push through the relay, or
 * says why it cannot — no secure context (the app is not served over
 * HTTPS), no PushManager in this browser, notifications denied, or a relay
 * that sends no push (`push.key` answered `unsupported`). Whatever it says,
 * alerts still arrive in-app while the app is open (a toast, the hosts
 * list's badge, each host's alerts screen).
 *
 * Subscribing: permission, the relay's VAPID key (`push.key` →
 * `push.vapid`), `pushManager.subscribe({userVisibleOnly, applicationServerKey})`,
 * then `push.subscribe {endpoint, p256dh, auth}`. Turning it off sends
 * `push.unsubscribe` for this endpoint and unsubscribes the browser.
 */
import { b64u, fromB64u } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { fill, h } from '../ui.ts';

export type PushState =
  | 'insecure'
  | 'unsupported-browser'
  | 'denied'
  | 'no-relay-push'
  | 'off'
  | 'on'
  | 'working'
  | 'failed';

/** How long the browser's push service gets to make a subscription. */
const SUBSCRIBE_TIMEOUT_MS = 15_000;

const IN_APP =
  'Alerts still arrive in the app while it is open: a banner, a badge on the hosts list, and each host’s alerts screen.';

/** Why this browser cannot take push, or undefined when it can. */
function impossible(): PushState | undefined {
  if (!window.isSecureContext) return 'insecure';
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window))
    return 'unsupported-browser';
  if (Notification.permission === 'denied') return 'denied';
  return undefined;
}

async function registration(): Promise<ServiceWorkerRegistration> {
  return navigator.serviceWorker.ready;
}

export function pushPanel(app: App): { el: HTMLElement; dispose(): void } {
  const text = h('p', { class: 'muted', 'data-testid': 'push-text' });
  const note = h('p', { class: 'muted small-note' }, IN_APP);
  const button = h('button', { type: 'button', class: 'button', 'data-testid': 'push-toggle' });
  const el = h(
    'section',
    { class: 'card push-panel', 'data-testid': 'push-panel' },
    h('div', { class: 'section-head' }, h('h2', {}, 'Notifications on this phone')),
    text,
    button,
    note,
  );
  let disposed = false;
  let state: PushState = 'off';
  const show = (s: PushState, detail?: string) => {
    state = s;
    el.dataset.state = s;
    button.hidden = !(s === 'on' || s === 'off' || s === 'failed' || s === 'working');
    button.disabled = s === 'working';
    button.className = s === 'on' ? 'button' : 'button primary';
    fill(button, s === 'on' ? 'Turn off' : s === 'working' ? 'Working…' : 'Turn on');
    const words: Record<PushState, string> = {
      insecure:
        'Not possible here: notifications need the app served over HTTPS (or from this computer itself).',
      'unsupported-browser':
        'This browser cannot receive push notifications. On iPhone, add the app to the home screen first.',
      denied:
        'Notifications are blocked for this site. Allow them in the browser’s site settings to turn this on.',
      'no-relay-push': 'This relay sends no push notifications (its operator has not turned Web Push on).',
      off: 'Off. Turn on to be told when a host needs you, even with the app closed.',
      on: 'On: alerts from your hosts appear as notifications, sealed end to end.',
      working: 'Asking…',
      failed: `Could not turn on${detail ? `: ${detail}` : ''}.`,
    };
    text.textContent = words[s];
    note.hidden = s === 'on';
  };
  const refresh = async () => {
    const why = impossible();
    if (why) return show(why);
    const sub = await (await registration()).pushManager.getSubscription().catch(() => null);
    if (!disposed) show(sub ? 'on' : 'off');
  };
  const turnOn = async () => {
    show('working');
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') return show(permission === 'denied' ? 'denied' : 'off');
      let key: string;
      try {
        key = (await app.device.relay.request({ t: 'push.key' })).key;
      } catch (error) {
        if ((error as { code?: unknown }).code === 'unsupported') return show('no-relay-push');
        throw error;
      }
      const reg = await registration();
      // A browser whose push service cannot be reached may never answer (headless Chromium does not).
      const sub = await Promise.race([
        reg.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: fromB64u(key) as Uint8Array<ArrayBuffer>,
        }),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error('the browser’s push service did not answer')),
            SUBSCRIBE_TIMEOUT_MS,
          ),
        ),
      ]);
      const p256dh = sub.getKey('p256dh');
      const auth = sub.getKey('auth');
      if (!p256dh || !auth) throw new Error('the browser gave no keys');
      await app.device.relay.request({
        t: 'push.subscribe',
        endpoint: sub.endpoint,
        p256dh: b64u(new Uint8Array(p256dh)),
        auth: b64u(new Uint8Array(auth)),
      });
      show('on');
    } catch (error) {
      show('failed', (error as Error).message);
    }
  };
  const turnOff = async () => {
    show('working');
    try {
      const sub = await (await registration()).pushManager.getSubscription();
      if (sub) {
        await app.device.relay.request({ t: 'push.unsubscribe', endpoint: sub.endpoint }).catch(() => {});
        await sub.unsubscribe();
      }
      show('off');
    } catch (error) {
      show('failed', (error as Error).message);
    }
  };
  button.addEventListener('click', () => void (state === 'on' ? turnOff() : turnOn()));
  show(impossible() ?? 'off');
  void refresh();
  return {
    el,
    dispose() {
      disposed = true;
    },
  };
}
