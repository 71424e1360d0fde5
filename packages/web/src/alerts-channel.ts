/**
 * The browser end of a host's `alerts` channel (docs/protocol.md §6,
 * protocol's alerts.ts): `ALERTS_METHODS` over the shared typed RPC client.
 * The history, acknowledging and snoozing, the rules and attention settings,
 * muting a session, a test alert, and `watch` — new alerts as events until
 * the channel closes.
 *
 * A host whose agent has no alert center (older, or built before issue 16)
 * closes the channel at once, having answered nothing: `unsupported` then
 * tells the screen to say so instead of showing an error.
 */
import {
  ALERTS_METHODS,
  type Alert,
  type AlertRule,
  type AlertsMethods,
  type AttentionSettings,
  ProtocolError,
  parseAlert,
  type ResultOf,
  type RpcClient,
  type SnoozeTarget,
} from '@pocketshell/protocol';
import { channelOpened, rpcOverDataChannel } from './rpc-channel.ts';

/** Longest reply taken (a page of 200 alerts, 64 rules twice). */
export const MAX_ALERTS_REPLY = 512 * 1024;

export type AlertsList = ResultOf<AlertsMethods, 'alerts.list'>;
export type AlertsRules = ResultOf<AlertsMethods, 'alerts.rules'>;

export class AlertsChannel {
  readonly channel: RTCDataChannel;
  readonly #rpc: RpcClient<AlertsMethods>;
  #closed = false;
  #closedHere = false;
  #answered = false;
  readonly closed: Promise<void>;

  constructor(channel: RTCDataChannel) {
    this.channel = channel;
    this.#rpc = rpcOverDataChannel(channel, ALERTS_METHODS, MAX_ALERTS_REPLY, {
      notOpen: 'alerts channel not open',
      onMalformed: () => this.close(),
    });
    this.closed = new Promise((resolve) => {
      channel.addEventListener('close', () => {
        this.#end();
        resolve();
      });
    });
  }

  /** Waits for the channel to open (rejects `unsupported` when the host closes it first, `timeout` after `ms`). */
  opened(ms = 20_000): Promise<void> {
    return channelOpened(this.channel, this.closed, this.#closed, 'alerts', 'unsupported', ms);
  }

  /** True when the host closed the channel without ever answering (its agent serves no alerts). */
  get unsupported(): boolean {
    return this.#closed && !this.#answered && !this.#closedHere;
  }

  async #call<T>(p: Promise<T>): Promise<T> {
    try {
      const r = await p;
      this.#answered = true;
      return r;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'unavailable') this.#answered = true;
      else if (this.unsupported) throw new ProtocolError('unsupported', 'this host serves no alerts');
      throw error;
    }
  }

  list(limit = 50, before?: number): Promise<AlertsList> {
    return this.#call(this.#rpc.call('alerts.list', before === undefined ? { limit } : { limit, before }));
  }

  ack(ids: readonly string[] | 'all'): Promise<{ acked: number }> {
    return this.#call(this.#rpc.call('alerts.ack', ids === 'all' ? { all: true } : { ids: [...ids] }));
  }

  snooze(target: SnoozeTarget, minutes: number) {
    return this.#call(this.#rpc.call('alerts.snooze', { target, minutes }));
  }

  rules(): Promise<AlertsRules> {
    return this.#call(this.#rpc.call('alerts.rules'));
  }

  setRules(rules: readonly AlertRule[], attention: AttentionSettings): Promise<AlertsRules> {
    return this.#call(this.#rpc.call('alerts.rules.set', { rules: [...rules], attention }));
  }

  mute(session: string, muted: boolean): Promise<{ muted: boolean }> {
    return this.#call(this.#rpc.call('alerts.mute', { session, muted }));
  }

  test(): Promise<{ alert: Alert }> {
    return this.#call(this.#rpc.call('alerts.test'));
  }

  /** New alerts as they come, until the channel closes. */
  async watch(onAlert: (a: Alert) => void): Promise<void> {
    await this.#call(
      this.#rpc.call('alerts.watch', undefined, {
        onEvent: (event, data) => {
          this.#answered = true;
          if (event !== 'alert') return;
          let alert: Alert;
          try {
            alert = parseAlert(data);
          } catch {
            this.close();
            return;
          }
          onAlert(alert);
        },
      }),
    );
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rpc.close(new ProtocolError('unavailable', 'alerts channel closed'));
  }

  /** Closes the channel (ends the watch). Idempotent. */
  close(): void {
    if (!this.#closed) this.#closedHere = true;
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') this.channel.close();
    this.#end();
  }
}
