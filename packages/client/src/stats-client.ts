/**
 * The `stats` channel from a Node device (docs/protocol.md §6): an
 * `RpcClient` over `STATS_METHODS` (rpc-channel.ts: replies larger than one
 * channel message arrive in fragments), and `watch`, which keeps the host's
 * snapshot current by applying each `delta` event to the last snapshot
 * (`applyStatsDelta`), so the listener always sees a whole, checked one.
 */
import {
  applyStatsDelta,
  MAX_STATS_REPLY,
  parseStatsSnapshot,
  type RpcClient,
  STATS_INTERVAL,
  STATS_METHODS,
  type StatsMethods,
  type StatsSnapshot,
} from '@pocketshell/protocol';
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
    let current: StatsSnapshot | undefined;
    return this.rpc.call(
      'stats.watch',
      { intervalMs },
      {
        onEvent: (event, data) => {
          try {
            if (event === 'snapshot') current = parseStatsSnapshot(data);
            else if (event === 'delta' && current) current = applyStatsDelta(current, data);
            else return;
          } catch (error) {
            this.rpc.close(error as Error);
            this.channel.close();
            return;
          }
          listener(current);
        },
      },
    );
  }

  /** Closes the channel (a watch ends). */
  close(): void {
    this.channel.close();
  }
}
