/**
 * Keeps one agent session's event stream for as long as the chat screen
 * wants it: opens an `agent` channel (through the injected `open`, the
 * device's shared link in the app), calls `agent.watch` from the last event
 * number seen, and after a lost connection starts again from there (backoff
 * 1, 2, 4, 8, 15 s, or at once on `wake()`: the host back online, the page
 * shown again). Events are handed on once each and in order: one at or
 * below the last number seen (sent again after a reconnect) is dropped; a
 * jump past the next number (the host no longer keeps the events between)
 * is reported as a gap first.
 *
 * It ends in `ended` when the host says the session is gone (the watch's
 * result), and in `refused` — no retry, so no stream of refusals — when
 * the host serves no agents, the device lost the `agent` grant, or the
 * session is unknown there. Timers are injected so that the backoff is
 * tested on a fake clock (test/web/agent-watch.test.ts).
 */
import type { AgentEvent } from '@pocketshell/protocol';

/** What the watch needs of a channel (agent-channel.ts's `AgentChannel`). */
export interface WatchableChannel {
  watch(session: string, since: number, onEvent: (e: AgentEvent) => void): Promise<number>;
  close(): void;
}

/** Where a watch stands. */
export const AGENT_WATCH_STATES = ['connecting', 'live', 'retrying', 'ended', 'refused', 'stopped'] as const;
export type AgentWatchState = (typeof AGENT_WATCH_STATES)[number];

/** Errors after which asking again cannot help. */
const FINAL_CODES: ReadonlySet<unknown> = new Set([
  'unsupported',
  'grant_missing',
  'not_found',
  'bad_message',
]);

export const AGENT_WATCH_BACKOFF_MS = [1000, 2000, 4000, 8000, 15_000] as const;

export interface AgentWatchOptions<C extends WatchableChannel> {
  readonly session: string;
  /** Events up to this number are already shown (0: none). */
  readonly since?: number;
  /** Opens a channel (a fresh one each time; the watch closes it when done). */
  open(): Promise<C>;
  onEvent(e: AgentEvent): void;
  /** Events `from`…`to` (inclusive) are no longer kept by the host. */
  onGap?(from: number, to: number): void;
  /** The state changed; `error` for `refused` (and the last failure for `retrying`). */
  onState?(state: AgentWatchState, error?: unknown): void;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (timer: unknown) => void;
}

const codeOf = (error: unknown) => (error as { code?: unknown } | undefined)?.code;

export class AgentWatch<C extends WatchableChannel> {
  readonly #o: AgentWatchOptions<C>;
  readonly #setTimeout: (fn: () => void, ms: number) => unknown;
  readonly #clearTimeout: (timer: unknown) => void;
  #last: number;
  #state: AgentWatchState = 'connecting';
  #channel: C | undefined;
  #timer: unknown;
  #attempt = 0;
  #running = false;
  #again = false;

  constructor(o: AgentWatchOptions<C>) {
    this.#o = o;
    this.#last = o.since ?? 0;
    this.#setTimeout = o.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.#clearTimeout =
      o.clearTimeout ?? ((t) => globalThis.clearTimeout(t as ReturnType<typeof globalThis.setTimeout>));
  }

  /** Starts watching (once). */
  start(): this {
    void this.#run();
    return this;
  }

  get state(): AgentWatchState {
    return this.#state;
  }

  /** The last event number handed on. */
  get last(): number {
    return this.#last;
  }

  /** The open channel, for the screen's own calls (send, answer, stop), while there is one. */
  get channel(): C | undefined {
    return this.#channel;
  }

  /** Tries again now instead of at the end of the backoff (nothing happens when live or done). */
  wake(): void {
    if (this.#state !== 'retrying') return;
    this.#clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#attempt = 0;
    void this.#run();
  }

  /** Stops for good and closes the channel. Idempotent. */
  stop(): void {
    if (this.#done) return;
    this.#clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#set('stopped');
    this.#channel?.close();
    this.#channel = undefined;
  }

  get #done(): boolean {
    return this.#state === 'ended' || this.#state === 'refused' || this.#state === 'stopped';
  }

  #set(state: AgentWatchState, error?: unknown): void {
    if (this.#state === state && error === undefined) return;
    this.#state = state;
    this.#o.onState?.(state, error);
  }

  #take(e: AgentEvent): void {
    if (this.#done || e.seq <= this.#last) return;
    if (e.seq > this.#last + 1) this.#o.onGap?.(this.#last + 1, e.seq - 1);
    this.#last = e.seq;
    this.#attempt = 0;
    this.#o.onEvent(e);
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#done) return;
    this.#running = true;
    try {
      await this.#once();
    } finally {
      this.#running = false;
    }
    if (this.#again) {
      this.#again = false;
      void this.#run();
    }
  }

  /** One channel's watch, until it ends; then what comes next (ended, refused, a retry). */
  async #once(): Promise<void> {
    this.#set('connecting');
    let error: unknown;
    let ended = false;
    try {
      const channel = await this.#o.open();
      if (this.#done) {
        channel.close();
        return;
      }
      this.#channel = channel;
      const watching = channel.watch(this.#o.session, this.#last, (e) => this.#take(e));
      this.#set('live');
      await watching;
      ended = true;
    } catch (e) {
      error = e;
    }
    this.#channel?.close();
    this.#channel = undefined;
    if (this.#done) return;
    if (ended) {
      this.#set('ended');
      return;
    }
    if (FINAL_CODES.has(codeOf(error))) {
      this.#set('refused', error);
      return;
    }
    this.#set('retrying', error);
    const ms = AGENT_WATCH_BACKOFF_MS[Math.min(this.#attempt++, AGENT_WATCH_BACKOFF_MS.length - 1)] ?? 15_000;
    this.#timer = this.#setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, ms);
  }
}
