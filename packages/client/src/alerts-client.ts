/**
 * The `alerts` channel from a Node device (docs/protocol.md §6): an
 * `RpcClient` over `ALERTS_METHODS`, and `watch`, which hands each new
 * alert (event `alert`, checked with `parseAlert`) to a listener until the
 * channel closes.
 */
import type { Alert, AlertsMethods, RpcClient } from '@pocketshell/protocol';
import { ALERTS_METHODS, parseAlert } from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import { rpcOverChannel } from './rpc-channel.ts';

/** Largest reply accepted on the channel (a full page of alerts fits). */
export const MAX_ALERTS_REPLY = 1024 * 1024;

export class AlertsClient {
  readonly channel: DataChannel;
  /** The alerts methods of the host, typed: `rpc.call('alerts.list', {})`. */
  readonly rpc: RpcClient<AlertsMethods>;

  constructor(channel: DataChannel) {
    this.channel = channel;
    this.rpc = rpcOverChannel(channel, ALERTS_METHODS, MAX_ALERTS_REPLY, 'alerts');
  }

  /**
   * Hears new alerts this device may see until the channel closes (the
   * promise then rejects `unavailable`); a malformed event closes the channel.
   */
  watch(listener: (alert: Alert) => void): Promise<unknown> {
    return this.rpc.call('alerts.watch', undefined, {
      onEvent: (event, data) => {
        if (event !== 'alert') return;
        let alert: Alert;
        try {
          alert = parseAlert(data);
        } catch (error) {
          this.rpc.close(error as Error);
          this.channel.close();
          return;
        }
        listener(alert);
      },
    });
  }

  /** Closes the channel (a watch ends). */
  close(): void {
    this.channel.close();
  }
}
