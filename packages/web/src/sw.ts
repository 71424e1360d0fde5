/**
 * PocketShell's service worker, built from this module into `dist/sw.js` as
 * a classic script (an IIFE with the protocol package bundled in; see
 * vite.config.ts), so it runs in every browser.
 *
 * Offline shell: same-origin GETs go to the network first (so a new build
 * is picked up at once) and fall back to the last copy cached; navigations
 * fall back to the cached index.html. The relay's WebSocket and its
 * /healthz and /metrics are never cached.
 *
 * Push (docs/web.md "Alerts and notifications"): the relay carries
 * `{from, env}` — a host's id and an envelope sealed by that host to this
 * device (inner kind `alert`). The worker reads the device's seed and
 * pinned hosts from IndexedDB (`store.ts`), refuses a host not pinned (or
 * replaced by a key change), opens the envelope with the device key and
 * checks the body with the protocol's `parseInner('alert')`; anything that
 * fails shows nothing. A good alert is always shown as a notification (the
 * browser requires it of a `userVisibleOnly` subscription) and also posted
 * to every open window of the app (`{type: 'pocketshell.alert', host,
 * alert}`) so a focused app shows it at once in-app. Tapping it focuses an
 * open window and sends it to the alert's screen (a session's terminal, the
 * host's Monitor or its alerts), or opens a new window there.
 */
import {
  type AlertPushBody,
  deviceIdOf,
  type Envelope,
  type HostId,
  hostIdOf,
  openJson,
  parseEnvelope,
  parseInner,
  publicKeyOf,
} from '@pocketshell/protocol';
import { alertRoute } from './alert-route.ts';

// The worker's globals, typed here (the package compiles against the DOM
// library; the WebWorker one would clash with it).
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface PushEvent extends ExtendableEvent {
  readonly data: { text(): string } | null;
}
interface NotificationEvent extends ExtendableEvent {
  readonly notification: Notification;
}
interface WindowClient {
  readonly focused: boolean;
  readonly url: string;
  focus(): Promise<WindowClient>;
  postMessage(message: unknown): void;
}
interface WorkerScope {
  readonly registration: ServiceWorkerRegistration;
  readonly location: Location;
  readonly clients: {
    matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
    claim(): Promise<void>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  addEventListener(type: 'push', fn: (e: PushEvent) => void): void;
  addEventListener(type: 'notificationclick', fn: (e: NotificationEvent) => void): void;
}
declare const self: WorkerScope;

const CACHE = 'pocketshell-shell-v1';
const SHELL = ['./', './index.html', './manifest.webmanifest', './icon.svg', './icon-192.png'];
/** A push payload larger than this is not ours (a Web Push payload is at most about 4 KiB). */
const MAX_PUSH = 8192;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === '/ws' || url.pathname === '/healthz' || url.pathname === '/metrics') return;
  event.respondWith(
    fetch(req)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          void caches.open(CACHE).then((cache) => cache.put(req, copy));
        }
        return res;
      })
      .catch(async () => {
        const hit = await caches.match(req);
        if (hit) return hit;
        if (req.mode === 'navigate') return (await caches.match('./index.html')) ?? Response.error();
        return Response.error();
      }),
  );
});

// ---------------------------------------------------------------- push

/** Reads one record of the app's store (`store.ts`) without creating anything. */
function readKv<T>(key: string): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('pocketshell', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('kv');
    req.onerror = () => reject(req.error ?? new Error('indexeddb open failed'));
    req.onsuccess = () => {
      const db = req.result;
      try {
        const get = db.transaction('kv').objectStore('kv').get(key);
        get.onsuccess = () => {
          db.close();
          resolve(get.result as T | undefined);
        };
        get.onerror = () => {
          db.close();
          reject(get.error ?? new Error('indexeddb read failed'));
        };
      } catch (error) {
        db.close();
        reject(error);
      }
    };
  });
}

interface StoredHost {
  id: string;
  pub: Uint8Array;
  name: string;
  replacedBy?: string;
}

/** Opens a push payload; undefined for anything not a good alert from a pinned host. */
async function openPush(data: string): Promise<{ host: StoredHost; alert: AlertPushBody } | undefined> {
  if (data.length > MAX_PUSH) return undefined;
  let from: string;
  let env: Envelope;
  try {
    const o = JSON.parse(data) as { from?: unknown; env?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.from !== 'string') return undefined;
    from = o.from;
    env = parseEnvelope(o.env);
  } catch {
    return undefined;
  }
  if (env.kind !== 'alert') return undefined;
  const seed = await readKv<Uint8Array>('device.seed');
  if (!(seed instanceof Uint8Array) || seed.length !== 32) return undefined;
  const hosts = (await readKv<StoredHost[]>('hosts')) ?? [];
  const host = hosts.find((h) => h.id === from && h.replacedBy === undefined);
  // A host must be pinned, and its id must be its key's (a record cannot lie about either).
  if (!host || hostIdOf(host.pub) !== from) return undefined;
  try {
    const body = openJson({
      envelope: env,
      senderId: from as HostId,
      senderPublic: host.pub,
      recipientId: deviceIdOf(publicKeyOf(seed)),
      recipientSecret: seed,
    });
    return { host, alert: parseInner('alert', body) };
  } catch {
    return undefined;
  }
}

async function onPush(data: string): Promise<void> {
  const opened = await openPush(data);
  if (!opened) return;
  const { host, alert } = opened;
  const url = new URL(`./${alertRoute(host.id, alert)}`, self.registration.scope).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const w of windows) w.postMessage({ type: 'pocketshell.alert', host: host.id, alert });
  const title = alert.state === 'resolved' ? `Resolved: ${alert.title}` : alert.title;
  await self.registration.showNotification(title, {
    body: `${host.name}${alert.body ? ` · ${alert.body}` : ''}`,
    tag: alert.id,
    icon: './icon-192.png',
    badge: './icon-192.png',
    data: { url, host: host.id, open: alert.open, session: alert.session ?? null, id: alert.id },
    requireInteraction: alert.severity === 'critical' && alert.state === 'firing',
    // `renotify` is part of the spec but not of every lib.dom.
    ...({ renotify: alert.severity === 'critical' } as object),
  });
}

self.addEventListener('push', (event) => {
  const data = event.data?.text();
  if (data === undefined) return;
  event.waitUntil(onPush(data).catch(() => {}));
});

/** Sends an open window to `url`'s route, or opens one. */
async function openAlert(url: string): Promise<void> {
  const target = new URL(url);
  if (target.origin !== self.location.origin) return;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const w = windows.find((c) => c.focused) ?? windows[0];
  if (w) {
    // The app routes on the fragment: it navigates itself (no reload, its connections stay).
    w.postMessage({ type: 'pocketshell.open', hash: target.hash });
    await w.focus().catch(() => w);
    return;
  }
  await self.clients.openWindow(target.href);
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data as { url?: unknown } | null;
  if (typeof data?.url !== 'string') return;
  event.waitUntil(openAlert(data.url).catch(() => {}));
});
