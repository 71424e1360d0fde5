/**
 * The browser end of a host's `stats` channel (docs/protocol.md §6): the
 * protocol's `STATS_METHODS` over the shared typed RPC client, with
 * messages larger than one channel message as binary fragments
 * (`rpc-frames.ts`) both ways. `watch` keeps the host's current snapshot —
 * the full `snapshot` event, then each `delta` applied to it (the
 * protocol's `applyStatsDelta`: the sections that changed) — and hands it
 * to the screen; a watch lasts until the channel closes, so stopping one is
 * closing its channel. `history`, `signal` and `renice` may be called on
 * the same channel while a watch runs.
 *
 * A channel the host refuses (no `stats` grant) opens and is closed at
 * once: every pending call then rejects `unavailable`, and `refused` tells
 * the screen that no snapshot ever came, so it shows nothing rather than an
 * error.
 */
import {
  type HistoryRange,
  MAX_STATS_REPLY,
  type ProcessSignal,
  ProtocolError,
  type ResultOf,
  type RpcClient,
  STATS_INTERVAL,
  STATS_METHODS,
  type StatsMethods,
  type StatsSnapshot,
  statsFollower,
} from '@pocketshell/protocol';
import { channelOpened, rpcOverDataChannel } from './rpc-channel.ts';

/** A history reply. */
export type StatsHistory = ResultOf<StatsMethods, 'stats.history'>;

export class StatsChannel {
  readonly channel: RTCDataChannel;
  readonly #rpc: RpcClient<StatsMethods>;
  #closed = false;
  /** Closed from this side (a screen leaving, the page hidden), not by the host. */
  #closedHere = false;
  #snapshots = 0;
  #current: StatsSnapshot | undefined;
  readonly closed: Promise<void>;

  constructor(channel: RTCDataChannel) {
    this.channel = channel;
    // Out of order or too long: a host that sends garbage loses this channel.
    this.#rpc = rpcOverDataChannel(channel, STATS_METHODS, MAX_STATS_REPLY, {
      notOpen: 'stats channel not open',
      onMalformed: () => this.close(),
    });
    this.closed = new Promise((resolve) => {
      channel.addEventListener('close', () => {
        this.#end();
        resolve();
      });
    });
  }

  /** Waits for the channel to open (rejects `unavailable` when it closes first, `timeout` after `ms`). */
  opened(ms = 20_000): Promise<void> {
    return channelOpened(this.channel, this.closed, this.#closed, 'stats', 'unavailable', ms);
  }

  /** True when the host closed the channel before any snapshot came (it refused it). */
  get refused(): boolean {
    return this.#closed && this.#snapshots === 0 && !this.#closedHere;
  }

  /** The latest snapshot, if any. */
  get current(): StatsSnapshot | undefined {
    return this.#current;
  }

  /** A full snapshot now. */
  snapshot(): Promise<StatsSnapshot> {
    return this.#rpc.call('stats.snapshot');
  }

  /**
   * Streams snapshots about every `intervalMs` (bounded by the protocol's
   * `STATS_INTERVAL`) until the channel closes; `onSnapshot` gets the
   * current one after each event. Resolves when the stream ends.
   */
  async watch(intervalMs: number, onSnapshot: (s: StatsSnapshot) => void): Promise<void> {
    const ms = Math.min(STATS_INTERVAL.max, Math.max(STATS_INTERVAL.min, Math.round(intervalMs)));
    const follow = statsFollower();
    await this.#rpc.call(
      'stats.watch',
      { intervalMs: ms },
      {
        onEvent: (event, data) => {
          let next: StatsSnapshot | undefined;
          try {
            next = follow(event, data);
          } catch {
            // A malformed update: the host loses this channel (the screen reopens one).
            this.close();
            return;
          }
          if (!next) return;
          this.#current = next;
          this.#snapshots++;
          onSnapshot(next);
        },
      },
    );
  }

  /** History of `series` over `range` (`unsupported` from a host without a history store). */
  history(range: HistoryRange, series: string[]): Promise<StatsHistory> {
    return this.#rpc.call('stats.history', { range, series });
  }

  /** Sends a signal to a process (grant `admin`; `grant_missing` otherwise). */
  signal(pid: number, signal: ProcessSignal): Promise<{ sent: boolean }> {
    return this.#rpc.call('process.signal', { pid, signal });
  }

  /** Changes a process's niceness (grant `admin`). */
  renice(pid: number, nice: number): Promise<{ nice: number }> {
    return this.#rpc.call('process.renice', { pid, nice });
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rpc.close(new ProtocolError('unavailable', 'stats channel closed'));
  }

  /** Closes the channel (ends the watch). Idempotent. */
  close(): void {
    if (!this.#closed) this.#closedHere = true;
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') this.channel.close();
    this.#end();
  }
}
