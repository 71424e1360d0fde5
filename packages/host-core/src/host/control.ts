/**
 * The `control` data channel (docs/protocol.md §6): the protocol's
 * `CONTROL_METHODS` served with the shared RPC codec — each request
 * size-capped, its grant checked against the device's grants at that
 * moment, its params schema-checked, then handled (rpc-channel.ts). A handler's
 * `ProtocolError` travels back with its code, anything else as `internal`
 * without its detail; every refusal is audited.
 */
import {
  CONTROL_METHODS,
  type ControlMethods,
  type DeviceId,
  fingerprint,
  type Handlers,
  MAX_CONTROL_REQUEST,
  ProtocolError,
} from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import type { PinnedDevice } from '../state/trust-store.ts';
import type { ChannelContext } from './channels.ts';
import { serveRpcChannel } from './rpc-channel.ts';

/** Serves the control methods on `channel` until it closes. */
export function serveControl(ctx: ChannelContext, channel: DataChannel): void {
  serveRpcChannel(ctx, channel, {
    methods: CONTROL_METHODS,
    handlers: () => controlHandlers(ctx),
    maxRequest: MAX_CONTROL_REQUEST,
    context: () => undefined,
    what: 'control',
  });
}

/** The device row a listing shows. */
function row(ctx: ChannelContext, d: PinnedDevice) {
  return {
    id: d.id,
    name: d.name,
    grants: [...d.grants],
    pairedAt: d.pairedAt,
    ...(d.lastSeen === undefined ? {} : { lastSeen: d.lastSeen }),
    self: d.id === ctx.device,
    connections: ctx.connectionsOf(d.id),
  };
}

function needAdmin(ctx: ChannelContext): void {
  if (!ctx.grants().has('admin')) throw new ProtocolError('grant_missing', 'admin');
}

/** The handlers, for one device's channel. */
export function controlHandlers(ctx: ChannelContext): Handlers<ControlMethods, undefined> {
  const { identity, sessions, trust, audit } = ctx;
  return {
    'host.info': () => ({
      id: identity.id,
      name: identity.name,
      fingerprint: fingerprint(identity.publicKey),
      platform: process.platform,
      arch: process.arch,
      node: process.version,
      // The asker's grants now: a device keeps what it shows in step after a change.
      grants: [...ctx.grants()],
    }),
    'sessions.list': async () => {
      const found = await sessions.discover();
      return { sessions: await sessions.list(), tmux: found.tmux, screen: found.screen };
    },
    'sessions.close': async ({ id }) => {
      const session = sessions.get(id);
      if (!session) throw new ProtocolError('not_found', 'no such session');
      // Only the device that started a session closes it with `shell`; any other needs `admin`.
      if (sessions.ownerOf(id) !== ctx.device) needAdmin(ctx);
      await session.close('closed');
      return { closed: id };
    },
    'sessions.rename': ({ id, name }) => {
      const session = sessions.get(id);
      if (!session) throw new ProtocolError('not_found', 'no such session');
      session.rename(name);
      audit.append('session.renamed', { session: id, name, device: ctx.device });
      return { id, name };
    },
    'devices.list': () => ({ devices: trust.list().map((d) => row(ctx, d)) }),
    'devices.revoke': async ({ device }) => {
      // A device can always unpair itself; unpairing another needs `admin`.
      if (device !== ctx.device) needAdmin(ctx);
      if (trust.status(device).status !== 'paired') throw new ProtocolError('not_found', 'no such device');
      return { revoked: await ctx.revoke(device as DeviceId, ctx.device) };
    },
    'devices.grants': ({ device, grants }) => {
      if (trust.status(device).status !== 'paired') throw new ProtocolError('not_found', 'no such device');
      return { device: row(ctx, ctx.setGrants(device, grants)) };
    },
  };
}
