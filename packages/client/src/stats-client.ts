/**
 * The `stats` channel from a Node device (docs/protocol.md §6): an
 * `RpcClient` over `STATS_METHODS` (rpc-channel.ts: replies larger than one
 * channel message arrive in fragments), and `watch`, which keeps the host's
 * snapshot current by applying each `delta` event to the last snapshot
 * (`applyStatsDelta`), so the listener always sees a whole, checked one.
 */
import type { RpcClient, StatsMethods, StatsSnapshot } from '@pocketshell/protocol';
import { MAX_STATS_REPLY, STATS_INTERVAL, STATS_METHODS, statsFollower } from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import { rpcOverChannel } from './rpc-channel.ts';

export class StatsClient {
  readonly channel: DataChannel;
  /** The stats methods of the host, typed: `rpc.call('stats.snapshot')`. */
  readonly rpc: RpcClient<StatsMethods>;

  constructor(channel: DataChannel) {
    this.channel = channel;
    this.rpc = rpcOverChannel(channel, STATS_METHODS, MAX_STATS_REPLY, 'stats');
  }

  /** A full snapshot now. */
  snapshot(): Promise<StatsSnapshot> {
    return this.rpc.call('stats.snapshot');
  }

  /**
   * Watches the host: `listener` hears the first snapshot, then the
   * snapshot each delta makes, until the channel closes (the promise then
   * rejects `unavailable`) or a malformed event arrives (rejects
   * `bad_message`; the channel is closed).
   */
  watch(listener: (s: StatsSnapshot) => void, intervalMs: number = STATS_INTERVAL.default): Promise<unknown> {
    const follow = statsFollower();
    return this.rpc.call(
      'stats.watch',
      { intervalMs },
      {
        onEvent: (event, data) => {
          let now: StatsSnapshot | undefined;
          try {
            now = follow(event, data);
          } catch (error) {
            this.rpc.close(error as Error);
            this.channel.close();
            return;
          }
          if (now) listener(now);
        },
      },
    );
  }

  /** Closes the channel (a watch ends). */
  close(): void {
    this.channel.close();
  }
}
