/**
 * What the entry (`main.ts`) hands every screen: the root element, the
 * device store, the device, navigation, and where a terminal screen shows
 * itself to the debug hook. Its own module so that the screens (`views/*`)
 * and the entry depend on it, not on each other.
 */
import type { Terminal } from '@xterm/xterm';
import type { PredictOverlay } from './predict-overlay.ts';
import type { DeviceStore } from './store.ts';
import type { TermChannel } from './term-channel.ts';
import type { TermSettings } from './term-settings.ts';
import type { TerminalConnection } from './terminal-connection.ts';
import type { WebDevice } from './web-device.ts';

/** An open terminal screen, as the debug hook (`debug.ts`) reads it. */
export interface TerminalProbe {
  term: Terminal;
  /** The element xterm.js draws into. */
  element: HTMLElement;
  connection: TerminalConnection<TermChannel>;
  /** The screen's settings (size, font, theme, predictive echo). */
  settings(): TermSettings;
  /** Predictive echo's layer. */
  predict: PredictOverlay;
}

/** What every screen gets. */
export interface App {
  root: HTMLElement;
  store: DeviceStore;
  device: WebDevice;
  /** Navigates to a `#/…` route; `replace` keeps it out of history. */
  go(hash: string, replace?: boolean): void;
  /** Rewrites the current route's URL without leaving the screen (no history entry, no re-route). */
  rewrite(hash: string): void;
  /**
   * A terminal screen reports itself when it opens and `undefined` when it
   * closes. Only for inspection (the debug hook); nothing behaves otherwise.
   */
  probe(terminal: TerminalProbe | undefined): void;
}

/** A screen: builds its DOM into `app.root` for the route's parameters; returns its teardown. */
export type View = (app: App, params: string[]) => (() => void) | undefined;
