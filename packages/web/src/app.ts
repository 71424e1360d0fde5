/**
 * What the entry (`main.ts`) hands every screen: the root element, the
 * device store, the device, and navigation. Its own module so that the
 * screens (`views/*`) and the entry depend on it, not on each other.
 */
import type { DeviceStore } from './store.ts';
import type { WebDevice } from './web-device.ts';

/** What every screen gets. */
export interface App {
  root: HTMLElement;
  store: DeviceStore;
  device: WebDevice;
  /** Navigates to a `#/…` route; `replace` keeps it out of history. */
  go(hash: string, replace?: boolean): void;
  /** Rewrites the current route's URL without leaving the screen (no history entry, no re-route). */
  rewrite(hash: string): void;
}

/** A screen: builds its DOM into `app.root` for the route's parameters; returns its teardown. */
export type View = (app: App, params: string[]) => (() => void) | undefined;
