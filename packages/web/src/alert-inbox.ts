/**
 * The alerts this device received (docs/web.md "Alerts and notifications"):
 * sealed `alert` envelopes a paired host sent through the relay (`deliver`,
 * opened by `WebDevice`) and those the service worker opened from a push
 * and posted to the page. Kept in IndexedDB (`inbox.alerts`, newest first,
 * at most `MAX_INBOX`), one record per alert id; unseen ones make the
 * per-host badge on the hosts list and a toast on whatever screen is shown.
 */
import { type AlertPushBody, Emitter, type HostId, parseAlertPushBody } from '@pocketshell/protocol';
import type { DeviceStore } from './store.ts';

/** Most alerts kept on this device. */
export const MAX_INBOX = 200;

export interface InboxAlert {
  host: HostId;
  alert: AlertPushBody;
  /** Shown on the host's alerts screen. */
  seen: boolean;
}

export interface AlertInboxEvents {
  /** A new alert (not one already kept). */
  alert: InboxAlert;
  /** The unseen counts changed. */
  changed: undefined;
}

export class AlertInbox extends Emitter<AlertInboxEvents> {
  readonly #store: DeviceStore;
  #list: InboxAlert[] = [];
  readonly #loaded: Promise<void>;

  constructor(store: DeviceStore) {
    super();
    this.#store = store;
    this.#loaded = store
      .setting<InboxAlert[]>('inbox.alerts')
      .then((list) => {
        if (Array.isArray(list)) this.#list = [...list, ...this.#list].slice(0, MAX_INBOX);
        this.emit('changed', undefined);
      })
      .catch(() => {});
  }

  /** Keeps an alert (checked again: it may come from a message of the service worker). */
  async add(host: HostId, body: unknown): Promise<void> {
    let alert: AlertPushBody;
    try {
      alert = parseAlertPushBody(body);
    } catch {
      return;
    }
    await this.#loaded;
    if (this.#list.some((a) => a.alert.id === alert.id && a.host === host)) return;
    const item: InboxAlert = { host, alert, seen: false };
    this.#list = [item, ...this.#list].sort((a, b) => b.alert.at - a.alert.at).slice(0, MAX_INBOX);
    await this.#save();
    this.emit('alert', item);
    this.emit('changed', undefined);
  }

  /** Alerts of one host (or all), newest first. */
  list(host?: HostId): InboxAlert[] {
    return this.#list.filter((a) => host === undefined || a.host === host);
  }

  /** Unseen alerts of a host. */
  unseen(host: HostId): number {
    return this.#list.filter((a) => a.host === host && !a.seen).length;
  }

  /** Marks a host's alerts seen (its alerts screen was shown). */
  async markSeen(host: HostId): Promise<void> {
    await this.#loaded;
    if (!this.#list.some((a) => a.host === host && !a.seen)) return;
    this.#list = this.#list.map((a) => (a.host === host ? { ...a, seen: true } : a));
    await this.#save();
    this.emit('changed', undefined);
  }

  /** Forgets a host's alerts (the host was forgotten). */
  async forget(host: HostId): Promise<void> {
    await this.#loaded;
    this.#list = this.#list.filter((a) => a.host !== host);
    await this.#save();
    this.emit('changed', undefined);
  }

  async #save(): Promise<void> {
    await this.#store.setSetting('inbox.alerts', this.#list).catch(() => {});
  }
}
