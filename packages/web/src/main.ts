/**
 * The web client's entry: opens the device store (key made on first use),
 * starts the relay connection of this origin, registers the service worker,
 * installs the debug hook (`debug.ts`), shows alerts as they come (a toast;
 * the service worker's messages: an alert it opened from a push, a tapped
 * notification's screen) and routes `#/…` fragments to
 * screens. Each screen is a function that builds its DOM into the root and
 * returns its own teardown.
 */
import '@xterm/xterm/css/xterm.css';
import './style.css';
import { isLoopbackHost, relayWsUrl } from '@pocketshell/protocol';
import { alertRoute } from './alert-route.ts';
import type { App, View } from './app.ts';
import { installDebugHook } from './debug.ts';
import { DeviceStore } from './store.ts';
import { alertToast, fill, h } from './ui.ts';
import { agentChatView } from './views/agent-chat.ts';
import { agentsView } from './views/agents.ts';
import { alertRulesView, alertsView } from './views/alerts.ts';
import { devicesView } from './views/devices.ts';
import { filesView } from './views/files.ts';
import { hostView } from './views/host.ts';
import { hostDevicesView } from './views/host-devices.ts';
import { hostsView } from './views/hosts.ts';
import { monitorView } from './views/monitor.ts';
import { pairView } from './views/pair.ts';
import { scanView } from './views/scan.ts';
import { terminalView } from './views/terminal.ts';
import { WebDevice } from './web-device.ts';

const ROUTES: [RegExp, View][] = [
  [/^#\/pair\//, pairView],
  [/^#\/host\/([^/]+)$/, hostView],
  [/^#\/host\/([^/]+)\/devices$/, hostDevicesView],
  [/^#\/host\/([^/]+)\/monitor$/, monitorView],
  [/^#\/host\/([^/]+)\/alerts$/, alertsView],
  [/^#\/host\/([^/]+)\/alerts\/rules$/, alertRulesView],
  [/^#\/host\/([^/]+)\/agents$/, agentsView],
  [/^#\/a\/([^/]+)\/([^/]+)$/, agentChatView],
  [/^#\/host\/([^/]+)\/files$/, filesView],
  [/^#\/host\/([^/]+)\/files\/(.+)$/, filesView],
  [/^#\/t\/([^/]+)\/(.+)$/, terminalView],
  [/^#\/devices$/, devicesView],
  [/^#\/scan$/, scanView],
  [/^(?:#\/?|#\/hosts)?$/, hostsView],
];

async function boot(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  let store: DeviceStore;
  try {
    store = await DeviceStore.open();
  } catch {
    fill(root, h('p', { class: 'fatal' }, 'This browser does not allow local storage here (private mode?).'));
    return;
  }
  const keyPair = await store.keyPair();
  // Served from this machine: the host is here too, so only loopback candidates are offered.
  const loopbackOnly = isLoopbackHost(location.hostname);
  const device = new WebDevice({
    keyPair,
    store,
    relayUrl: relayWsUrl(location.href),
    hosts: await store.hosts(),
    ...(loopbackOnly ? { allowCandidate: (a: string) => /^127\./.test(a) || a === '::1' } : {}),
  });
  device.start();
  // A new alert from a paired host (sealed delivery or a push the worker posted): a toast on any screen.
  device.alerts.on('alert', ({ host, alert }) => {
    const name = device.hosts().find((x) => x.id === host)?.name ?? host;
    const route = alertRoute(host, alert);
    // Already on the session the alert opens (its terminal, its agent chat): it is in view.
    if ((alert.open === 'agent' || alert.open === 'session') && location.hash === route) return;
    alertToast(`${name}: ${alert.title}`, alert.severity, () => app.go(route));
  });
  let teardown: (() => void) | undefined;
  /** The fragment the shown screen is for: a second event for the same navigation does nothing. */
  let routed: string | undefined;
  const app: App = {
    root,
    store,
    device,
    go(hash, replace = false) {
      if (replace) history.replaceState(null, '', hash);
      else history.pushState(null, '', hash);
      routed = undefined;
      route();
    },
    rewrite(hash) {
      history.replaceState(null, '', hash);
      routed = location.hash;
    },
    probe: installDebugHook(),
  };
  // A link opened in a tab where the app is already loaded changes only the
  // fragment: Chromium then fires both `popstate` and `hashchange`. The
  // screen is built once per fragment, so a pairing screen is not torn down
  // (and its redeemed claim abandoned) by the second event.
  const route = () => {
    const hash = location.hash;
    if (hash === routed) return;
    routed = hash;
    teardown?.();
    teardown = undefined;
    for (const t of document.querySelectorAll('.toast')) t.remove();
    for (const [re, view] of ROUTES) {
      const m = re.exec(hash);
      if (m) {
        teardown = view(
          app,
          m.slice(1).map((s) => decodeURIComponent(s)),
        );
        return;
      }
    }
    app.go('#/hosts', true);
  };
  window.addEventListener('hashchange', route);
  window.addEventListener('popstate', route);
  route();
  if ('serviceWorker' in navigator && window.isSecureContext) {
    navigator.serviceWorker.register('./sw.js').catch(() => {});
    // The service worker's word (sw.ts): a tapped notification's screen, an alert that came by push.
    navigator.serviceWorker.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as { type?: unknown; hash?: unknown } | null;
      if (m?.type === 'pocketshell.open' && typeof m.hash === 'string' && /^#\/[^\s]*$/.test(m.hash))
        app.go(m.hash);
      else if (m?.type === 'pocketshell.alert') device.takePushedAlert(e.data);
    });
  }
}

void boot();
