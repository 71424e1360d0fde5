/**
 * The `alerts` data channel (issue 16, docs/protocol.md §6): the protocol's
 * `ALERTS_METHODS` served with the shared RPC codec (size caps, grants
 * checked per request, every refusal audited), from the host's alert
 * center (alerts/center.ts). Listings, acknowledgements and the watch
 * stream are filtered by the asking device's grants at that moment: rule
 * alerts need `stats`, terminal attention `shell`, a test alert is its
 * asker's only. `alerts.watch` sends an `alert` event per new alert until
 * the channel closes; its result never comes.
 */
import {
  ALERTS_METHODS,
  type AlertsMethods,
  encodeEvent,
  type Handlers,
  ProtocolError,
} from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import type { AlertCenter } from '../alerts/center.ts';
import type { ChannelContext } from './channels.ts';
import { serveRpcChannel } from './rpc-channel.ts';

/** Largest request on the channel (64 rules with long names fit). */
export const MAX_ALERTS_REQUEST = 64 * 1024;
/** Largest reply a device should accept (a full page of alerts). */
export const MAX_ALERTS_REPLY = 1024 * 1024;

/** Serves the alerts methods on `channel` until it closes. */
export function openAlerts(ctx: ChannelContext, channel: DataChannel): void {
  const center = ctx.alerts;
  if (!center) throw new ProtocolError('unsupported', 'this host serves no alerts');
  const stops = new Set<() => void>();
  serveRpcChannel(ctx, channel, {
    methods: ALERTS_METHODS,
    handlers: (send) => alertsHandlers(ctx, center, send, stops),
    maxRequest: MAX_ALERTS_REQUEST,
    context: (id) => id,
    what: 'alerts',
  });
  channel.on('close', () => {
    for (const stop of [...stops]) stop();
  });
}

/** The handlers, for one device's channel (the context of a call is its request id). */
export function alertsHandlers(
  ctx: ChannelContext,
  center: AlertCenter,
  send: (text: string) => void,
  stops: Set<() => void>,
): Handlers<AlertsMethods, number> {
  return {
    'alerts.rules': () => center.rules(),
    'alerts.rules.set': ({ rules, attention }) => center.setRules(rules, attention, ctx.device),
    'alerts.mute': ({ session, muted }) => ({ muted: center.mute(session, muted, ctx.device) }),
    'alerts.list': ({ limit, before }) => center.list(ctx.device, ctx.grants(), { limit, before }),
    'alerts.ack': ({ ids, all }) => ({ acked: center.ack(ctx.device, ctx.grants(), ids, all) }),
    'alerts.snooze': ({ target, minutes }) => ({ snoozes: center.snooze(target, minutes, ctx.device) }),
    // Settles only when the channel closes (no result reaches the device then).
    'alerts.watch': (_params, id) =>
      new Promise((resolve) => {
        const stop = center.watch(ctx.device, ctx.grants, (alert) => send(encodeEvent(id, 'alert', alert)));
        const onClose = () => {
          stop();
          stops.delete(onClose);
          resolve({});
        };
        stops.add(onClose);
      }),
    'alerts.test': async () => ({ alert: await center.test(ctx.device) }),
  };
}
