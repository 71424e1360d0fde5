/**
 * The `alerts` data channel (issue 16, docs/protocol.md §6): the protocol's
 * `ALERTS_METHODS` served with the shared RPC codec, from the host's alert
 * center (alerts/center.ts). Stub until the center lands: `unsupported`.
 */
import { ProtocolError } from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import type { ChannelContext } from './channels.ts';

/** Serves the alerts methods on `channel` until it closes. */
export function openAlerts(ctx: ChannelContext, _channel: DataChannel): void {
  if (!ctx.alerts) throw new ProtocolError('unsupported', 'this host serves no alerts');
  throw new ProtocolError('unsupported', 'alerts: not built yet');
}
