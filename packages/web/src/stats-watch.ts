/**
 * Keeps a live `stats.watch` on one host for as long as a screen wants it:
 * connects (the device's shared link), opens the `stats` channel, watches
 * at the screen's rate, and starts again after a lost connection (backoff
 * 1, 2, 4, 8, 15 s, or at once when the host comes back online). It stops
 * while the page is hidden (nothing is sampled for a phone in a pocket)
 * and resumes when it is shown. A host that refuses the channel (the
 * device lacks the `stats` grant) or answers `grant_missing` ends the
 * watch in state `refused`: no retry, so no stream of refusals.
 */
import type { HostId, StatsSnapshot } from '@pocketshell/protocol';
import type { HostLink } from './host-link.ts';
import type { StatsChannel } from './stats-channel.ts';
import type { WebDevice } from './web-device.ts';

/** Where a watch stands. */
export type WatchState = 'connecting' | 'live' | 'offline' | 'retrying' | 'refused';

export interface HostWatch {
  /** The open channel (for history and process actions), while there is one. */
  channel(): StatsChannel | undefined;
  state(): WatchState;
  /** Stops for good. Idempotent. */
  stop(): void;
}

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000];

const codeOf = (error: unknown) => (error as { code?: unknown } | undefined)?.code;

export function watchHost(
  device: WebDevice,
  hostId: HostId,
  o: {
    intervalMs: number;
    onSnapshot: (s: StatsSnapshot) => void;
    onState?: (state: WatchState, channel: StatsChannel | undefined) => void;
  },
): HostWatch {
  let stopped = false;
  let running = false;
  let again = false;
  let state: WatchState = 'connecting';
  let chan: StatsChannel | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  const setState = (s: WatchState) => {
    state = s;
    o.onState?.(s, chan);
  };
  const hidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

  const run = async () => {
    clearTimeout(timer);
    timer = undefined;
    if (running) {
      // Still unwinding the last watch: start again as soon as it is done.
      again = true;
      return;
    }
    if (stopped || hidden() || state === 'refused') return;
    if (device.online(hostId) === false) {
      setState('offline');
      return;
    }
    running = true;
    try {
      await watchOnce();
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      void run();
    }
  };

  /** One connection's watch, until it ends; then what comes next (refused, offline, a retry). */
  const watchOnce = async () => {
    setState('connecting');
    let link: HostLink | undefined;
    let error: unknown;
    /** The channel closed before any snapshot: while it opened, or right after. */
    let closedEarly = false;
    try {
      link = await device.link(hostId);
      if (!stopped && !hidden()) {
        const opening = link.openStats();
        opening.catch((e: unknown) => {
          closedEarly = codeOf(e) === 'unavailable';
        });
        chan = await opening;
        if (!stopped && !hidden())
          await chan.watch(o.intervalMs, (s) => {
            attempt = 0;
            if (state !== 'live') setState('live');
            if (!stopped) o.onSnapshot(s);
          });
      }
    } catch (e) {
      error = e;
    }
    if (chan?.refused) closedEarly = true;
    // Refused: the channel closed with no snapshot while the connection itself stayed up
    // (a lost connection closes every channel at once; its control channel's close comes with it).
    if (closedEarly) await new Promise((r) => setTimeout(r, 300));
    const linkClosed = link?.closed ?? true;
    chan?.close();
    chan = undefined;
    if (stopped || hidden()) return;
    if (codeOf(error) === 'grant_missing' || (closedEarly && !linkClosed)) {
      setState('refused');
      return;
    }
    if (device.online(hostId) === false) {
      setState('offline');
      return;
    }
    setState('retrying');
    timer = setTimeout(() => void run(), BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)]);
  };

  const onVisibility = () => {
    clearTimeout(timer);
    if (hidden()) chan?.close();
    else void run();
  };
  document.addEventListener('visibilitychange', onVisibility);
  const offPresence = device.on('presence', (p) => {
    if (p.host !== hostId) return;
    if (p.online) void run();
    else setState('offline');
  });
  void run();
  return {
    channel: () => chan,
    state: () => state,
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
      offPresence();
      chan?.close();
      chan = undefined;
    },
  };
}
