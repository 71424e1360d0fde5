/**
 * The host's channel table: one handler per kind of the protocol's channel
 * catalogue (`CHANNELS`), typed so that a kind without a handler does not
 * compile. `openChannel` parses the label, checks the device's grants
 * against the catalogue — before anything is created — and hands the
 * channel to its handler; every refusal is audited and closes the channel.
 * Adding a channel: an entry in `@pocketshell/protocol`'s `CHANNELS`, a
 * handler module here, a line in `HANDLERS`.
 */
import {
  type ChannelArg,
  type ChannelKind,
  channelGrant,
  type DeviceId,
  type Grant,
  ProtocolError,
  parseChannelLabel,
} from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import type { AgentManager } from '../agent/manager.ts';
import type { AlertCenter } from '../alerts/center.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SessionHost } from '../pty/session-host.ts';
import type { HostIdentity } from '../state/identity-store.ts';
import type { PinnedDevice, TrustStore } from '../state/trust-store.ts';
import { openAgent } from './agent.ts';
import { openAlerts } from './alerts.ts';
import { serveControl } from './control.ts';
import { type FilesService, openFiles } from './files.ts';
import { openStats, type StatsService } from './stats.ts';
import { openTerminal } from './terminal.ts';

/** What a channel handler may use: the host's parts, and the device it serves. */
export interface ChannelContext {
  /** The device that opened the channel (verified, paired). */
  readonly device: DeviceId;
  readonly identity: HostIdentity;
  readonly trust: TrustStore;
  readonly audit: AuditLog;
  readonly sessions: SessionHost;
  /** The live figures and history the `stats` channel serves (none: it answers `unsupported`). */
  readonly stats?: StatsService;
  /** The roots and caps the `files` channel serves (none: it answers `unsupported`). */
  readonly files?: FilesService;
  /** The alert center the `alerts` channel serves (none: it answers `unsupported`). */
  readonly alerts?: AlertCenter;
  /** The agent sessions the `agent` channel serves (none: it answers `unsupported`). */
  readonly agents?: AgentManager;
  /** The device's grants now (read at each use: a change applies at once). */
  grants(): ReadonlySet<Grant>;
  /** Audits a refusal (coalesced). */
  refuse(error: unknown, what: string): void;
  /** Unpins a device and closes its connections; `by` says who asked. */
  revoke(device: DeviceId, by: string): Promise<boolean>;
  /** Sets a device's grants (audited); closes its connections when it lost one. */
  setGrants(device: DeviceId, grants: readonly Grant[]): PinnedDevice;
  /** Open connections of a device. */
  connectionsOf(device: DeviceId): number;
}

/** A handler: serves one opened channel of its kind. */
export type ChannelHandler<K extends ChannelKind> = (
  ctx: ChannelContext,
  arg: ChannelArg<K>,
  channel: DataChannel,
) => void | Promise<void>;

/** One handler per catalogue entry. */
const HANDLERS: { readonly [K in ChannelKind]: ChannelHandler<K> } = {
  control: (ctx, _arg, channel) => serveControl(ctx, channel),
  term: (ctx, target, channel) => openTerminal(ctx, target, channel),
  stats: (ctx, _arg, channel) => openStats(ctx, channel),
  files: (ctx, _arg, channel) => openFiles(ctx, channel),
  alerts: (ctx, _arg, channel) => openAlerts(ctx, channel),
  agent: (ctx, _arg, channel) => openAgent(ctx, channel),
};

/** Routes a channel the device opened: label, grant, handler. */
export async function openChannel(ctx: ChannelContext, channel: DataChannel): Promise<void> {
  const label = channel.label;
  try {
    const parsed = parseChannelLabel(label);
    const grant = channelGrant(parsed.kind);
    if (grant !== null && !ctx.grants().has(grant)) throw new ProtocolError('grant_missing', grant);
    await (HANDLERS[parsed.kind] as ChannelHandler<ChannelKind>)(ctx, parsed.arg, channel);
  } catch (error) {
    ctx.refuse(error, `channel ${label.slice(0, 40)}`);
    channel.close();
  }
}
