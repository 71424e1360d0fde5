/**
 * A terminal screen's connection to its session, without the DOM: attach
 * (the host link, then the `term:` channel), reconnect with backoff, wake
 * (retry at once when the page becomes visible, the network comes back or
 * the relay says the host is online), and the connection's state as an
 * explicit table — connecting → p2p | turn → reconnecting | offline → p2p |
 * turn again on the same session; `ended` once the session exits;
 * `elsewhere` when the host hung up because a newer connection of this
 * device took this one's place (another tab past the device's peer cap):
 * no retries from there — a tap (`reattach`) or the page becoming visible
 * again (`wake`) takes the connection back, so two tabs never take turns
 * on their own.
 *
 * The screen (`views/terminal.ts`) drives it and listens to its events; the
 * device, the timers and the wake signals are injected, so the backoff and
 * the wake logic run in Node with a fake clock (test/web/terminal-connection.test.ts).
 * The screen reads the channel's output itself from `opening` on (snapshot
 * first), so nothing is drawn here.
 */
import { Emitter, type HostId, type Listener } from '@pocketshell/protocol';

/** The connection's states; `ended` is final. */
export const TERM_STATES = [
  'connecting',
  'p2p',
  'turn',
  'relay',
  'reconnecting',
  'offline',
  'elsewhere',
  'ended',
] as const;
/** One connection state. */
export type TermState = (typeof TERM_STATES)[number];

/** Which moves `setState` allows (staying in a state is always allowed and does nothing). */
const MOVES: Readonly<Record<TermState, readonly TermState[]>> = {
  connecting: ['p2p', 'turn', 'relay', 'reconnecting', 'offline', 'elsewhere', 'ended'],
  p2p: ['reconnecting', 'offline', 'elsewhere', 'ended'],
  turn: ['reconnecting', 'offline', 'elsewhere', 'ended'],
  // The end-to-end relay path (docs/protocol.md §10); a better path comes through a reconnection.
  relay: ['reconnecting', 'offline', 'elsewhere', 'ended'],
  reconnecting: ['p2p', 'turn', 'relay', 'offline', 'elsewhere', 'ended'],
  // An attempt already under way may still succeed after the relay said the host went away.
  offline: ['reconnecting', 'p2p', 'turn', 'relay', 'elsewhere', 'ended'],
  // Taken back by a tap or the page shown again (a reconnection).
  elsewhere: ['reconnecting', 'ended'],
  ended: [],
};

/** Waits before the next attempt, by attempt number; the last one repeats. */
export const BACKOFF_MS: readonly number[] = [300, 1000, 2000, 4000, 8000, 15_000];

/** Timers the connection arms (injected by tests with a fake clock). */
export interface ConnectionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const GLOBAL_TIMERS: ConnectionTimers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The channel events the connection listens to: the exit code, and the channel's close. */
export type ConnectionChannelEvents = {
  exit: number;
  close: undefined;
};

/** What the connection uses of a terminal channel (`TermChannel`). */
export interface ConnectionChannel {
  /** The session id the host attached. */
  readonly session: string;
  /** The host's reason when it ended the session. */
  readonly exitReason: string | undefined;
  on<K extends keyof ConnectionChannelEvents>(
    event: K,
    listener: Listener<ConnectionChannelEvents[K]>,
  ): () => void;
  close(): void;
}

/** What the connection uses of a host link (`HostLink`). */
export interface ConnectionLink<C extends ConnectionChannel> {
  readonly closed: boolean;
  openTerminal(target: string, cols: number, rows: number, setup: (channel: C) => void): Promise<C>;
  /** The path (`LinkPath`: `direct`, `turn-udp`, `turn-tcp`, `turn-tls`) or `unknown`. */
  route(): Promise<string>;
  once(event: 'close', listener: (reason: string) => void): () => void;
}

/** What the connection uses of the device (`WebDevice`). */
export interface ConnectionDevice<C extends ConnectionChannel> {
  link(host: HostId): Promise<ConnectionLink<C>>;
  /** The relay's last word on the host's presence (undefined: not known yet). */
  online(host: HostId): boolean | undefined;
  on(event: 'presence', listener: (p: { host: HostId; online: boolean }) => void): () => void;
  /** The person takes back a connection another tab took: the host may be dialled again. */
  reclaim?(host: HostId): void;
}

export interface TerminalConnectionOptions<C extends ConnectionChannel> {
  host: HostId;
  /** `new`, a session id, `tmux:<name>` or `screen:<name>`. */
  target: string;
  device: ConnectionDevice<C>;
  /** The screen's size in cells, asked at each attempt. */
  size: () => { cols: number; rows: number };
  timers?: ConnectionTimers;
  /** Whether the page is visible: a wake while hidden does nothing (default: always visible). */
  visible?: () => boolean;
  /** Subscribes `wake` to the platform's wake signals; returns the unsubscribe. */
  wakeOn?: (wake: () => void) => () => void;
}

export interface TerminalConnectionEvents<C extends ConnectionChannel> {
  state: TermState;
  /** A channel is being opened: its events (the snapshot first) are the screen's to read from now on. */
  opening: C;
  /** A channel is attached and live; `sameSession` is false when the host started a new session. */
  live: { channel: C; session: string; sameSession: boolean };
  /** The session asked for is gone (it ended, or the host restarted): a new one is being started. */
  gone: undefined;
  /** An attempt failed (the error carries a `code` when it has one); the next is scheduled. */
  failed: Error;
  /** The session ended (state `ended`). */
  exit: { code: number; reason: string | undefined };
}

export class TerminalConnection<C extends ConnectionChannel> extends Emitter<TerminalConnectionEvents<C>> {
  readonly #o: TerminalConnectionOptions<C>;
  readonly #timers: ConnectionTimers;
  #state: TermState = 'connecting';
  #path = 'unknown';
  #target: string;
  #channel: C | undefined;
  #attempt = 0;
  #retryTimer: unknown;
  #attaching = false;
  #started = false;
  #disposed = false;
  readonly #cleanups: (() => void)[] = [];

  constructor(options: TerminalConnectionOptions<C>) {
    super();
    this.#o = options;
    this.#timers = options.timers ?? GLOBAL_TIMERS;
    this.#target = options.target;
  }

  get state(): TermState {
    return this.#state;
  }

  /** The live attempt's path as its link reported it (`turn-tcp`, …), `unknown` before. */
  get path(): string {
    return this.#path;
  }

  /** The session asked for: the target until the host attached one, then its id. */
  get session(): string {
    return this.#target;
  }

  /** The live channel, if one is attached. */
  get channel(): C | undefined {
    return this.#channel;
  }

  /** Moves to `next` if the table allows it; refuses (returns false, nothing changes) otherwise. */
  setState(next: TermState): boolean {
    if (next === this.#state) return true;
    if (!MOVES[this.#state].includes(next)) return false;
    this.#state = next;
    this.emit('state', next);
    return true;
  }

  /** Subscribes to presence and the wake signals and makes the first attempt. */
  start(): void {
    if (this.#started || this.#disposed) return;
    this.#started = true;
    const wakeOn = this.#o.wakeOn;
    if (wakeOn) this.#cleanups.push(wakeOn(() => this.wake()));
    this.#cleanups.push(this.#o.device.on('presence', (p) => this.#onPresence(p)));
    void this.#attach();
  }

  /** Retries at once, with the backoff reset: the page is visible again or the network changed. */
  wake(): void {
    if (this.#disposed || this.#state === 'ended' || this.#channel) return;
    if (this.#o.visible && !this.#o.visible()) return;
    if (this.#state === 'elsewhere') this.#reclaim();
    this.#attempt = 0;
    this.#retry(0);
  }

  /** Drops the live channel without retrying (the session lives on at the host) until `reattach`. */
  detach(): void {
    const channel = this.#channel;
    this.#channel = undefined;
    this.#timers.clearTimeout(this.#retryTimer);
    this.setState('reconnecting');
    channel?.close();
  }

  /** Attaches again at once, with the backoff reset. */
  reattach(): void {
    if (this.#state === 'elsewhere') this.#reclaim();
    this.#attempt = 0;
    this.#retry(0);
  }

  /** Stops for good: no more attempts, the channel closed, the subscriptions removed. */
  dispose(): void {
    this.#disposed = true;
    this.#timers.clearTimeout(this.#retryTimer);
    for (const c of this.#cleanups.splice(0)) c();
    this.#channel?.close();
    this.#channel = undefined;
  }

  #reclaim(): void {
    this.#o.device.reclaim?.(this.#o.host);
    this.setState('reconnecting');
  }

  #onPresence(p: { host: HostId; online: boolean }): void {
    if (p.host !== this.#o.host || this.#disposed || this.#state === 'elsewhere') return;
    if (!p.online) {
      this.setState('offline');
      this.#timers.clearTimeout(this.#retryTimer);
    } else if (!this.#channel && this.#state !== 'ended') {
      this.setState('reconnecting');
      this.#attempt = 0;
      this.#retry(0);
    }
  }

  /** Schedules the next attempt: after `delayMs`, else after the backoff for this attempt. */
  #retry(delayMs?: number): void {
    this.#timers.clearTimeout(this.#retryTimer);
    if (this.#disposed || this.#state === 'ended' || this.#state === 'elsewhere') return;
    if (this.#o.device.online(this.#o.host) === false) {
      this.setState('offline');
      return;
    }
    if (this.#state !== 'connecting') this.setState('reconnecting');
    const wait = delayMs ?? BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)]!;
    this.#attempt++;
    this.#retryTimer = this.#timers.setTimeout(() => void this.#attach(), wait);
  }

  async #attach(): Promise<void> {
    if (this.#disposed || this.#attaching || this.#state === 'ended') return;
    this.#attaching = true;
    try {
      const link = await this.#o.device.link(this.#o.host);
      if (this.#disposed) return;
      let opened: C;
      try {
        const { cols, rows } = this.#o.size();
        opened = await link.openTerminal(this.#target, cols, rows, (c) => this.#setup(c));
      } catch (error) {
        if (!link.closed && this.#target !== 'new') {
          // The host is there but the session is not (it ended, or the host restarted).
          this.#target = 'new';
          this.emit('gone', undefined);
          this.#attaching = false;
          return this.#attach();
        }
        throw error;
      }
      if (this.#disposed) {
        opened.close();
        return;
      }
      const sameSession = this.#target === opened.session;
      this.#channel = opened;
      this.#attempt = 0;
      this.#target = opened.session;
      const route = await link.route();
      if (this.#disposed || this.#channel !== opened) return;
      this.#path = route;
      this.setState(route.startsWith('turn') ? 'turn' : route === 'relay' ? 'relay' : 'p2p');
      this.emit('live', { channel: opened, session: opened.session, sameSession });
      link.once('close', (reason) => {
        if (reason === 'replaced' && (this.#channel === opened || this.#channel === undefined)) {
          // A newer connection of this device took this one's place: no retry (it would take
          // that one's place in turn); the channel's own close may have come first and armed one.
          this.#channel = undefined;
          this.#timers.clearTimeout(this.#retryTimer);
          if (!this.#disposed) this.setState('elsewhere');
          return;
        }
        if (this.#channel !== opened) return;
        this.#channel = undefined;
        this.#retry();
      });
    } catch (error) {
      if (!this.#disposed) {
        this.emit('failed', error instanceof Error ? error : new Error(String(error)));
        this.#retry();
      }
    } finally {
      this.#attaching = false;
    }
  }

  #setup(c: C): void {
    this.emit('opening', c);
    c.on('exit', (code) => {
      this.setState('ended');
      this.emit('exit', { code, reason: c.exitReason });
    });
    c.on('close', () => {
      if (this.#channel !== c || this.#disposed) return;
      this.#channel = undefined;
      this.#retry();
    });
  }
}
