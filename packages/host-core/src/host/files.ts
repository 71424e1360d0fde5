/**
 * The `files` data channel (issue 15, docs/protocol.md §6): the protocol's
 * `FILES_METHODS` served with the shared RPC codec (size caps, grants
 * checked per request — `files:read` to look, `files:write` to change —
 * every refusal audited), plus the binary data and ack frames of
 * transfers (files-frames.ts). Every path is confined to the device's root
 * (files/confine.ts). The operations on entries live in files/ops.ts, the
 * transfers (read, download, tail, upload) in files/transfers.ts.
 */
import {
  type DeviceId,
  decodeFilesMessage,
  FILES_METHODS,
  type FilesMethods,
  type Handlers,
  MAX_FILES_REQUEST,
  ProtocolError,
} from '@pocketshell/protocol';
import { type DataChannel, sendIfOpen } from '@pocketshell/webrtc';
import type { FileRoot } from '../files/confine.ts';
import { fileOps } from '../files/ops.ts';
import { type TransferLimits, Transfers } from '../files/transfers.ts';
import type { ChannelContext } from './channels.ts';
import { serveRpcChannel } from './rpc-channel.ts';

/** What the `files` channel serves from. */
export interface FilesService {
  /** The device's root, resolved now (its own when one is set, else the host user's home). */
  root(device: DeviceId): Promise<FileRoot>;
  /** Caps on transfers, shared by all of a device's channels. */
  readonly limits: TransferLimits;
}

/** Serves the files methods on `channel` until it closes. */
export function openFiles(ctx: ChannelContext, channel: DataChannel): void {
  const service = ctx.files;
  if (!service) throw new ProtocolError('unsupported', 'this host serves no files');
  // The root resolves first (realpath of it and of the deny list); requests that come meanwhile wait.
  let root: FileRoot | undefined;
  let transfers: Transfers | undefined;
  const ready = service.root(ctx.device).then((r) => {
    root = r;
    transfers = new Transfers(ctx, r, service.limits, {
      send: (frame) => {
        sendIfOpen(channel, frame);
      },
      open: () => channel.readyState === 'open',
    });
    if (channel.readyState === 'closed') transfers.close();
  });
  serveRpcChannel(ctx, channel, {
    methods: FILES_METHODS,
    ready,
    handlers: (send): Handlers<FilesMethods, number> => ({
      ...fileOps(ctx, root as FileRoot),
      ...(transfers as Transfers).handlers(send),
    }),
    maxRequest: MAX_FILES_REQUEST,
    context: (id) => id,
    what: 'files',
    frames: (data) => {
      try {
        const m = decodeFilesMessage(data);
        if (!transfers) throw new ProtocolError('bad_message', 'a data frame before any transfer');
        if (m.kind === 'data') transfers.data(m.id, m.offset, m.bytes);
        else if (m.kind === 'ack') transfers.ack(m.id, m.offset);
      } catch (error) {
        // A frame that breaks the rules ends the channel: its transfers cannot go on.
        ctx.refuse(error, 'files frame');
        channel.close();
      }
    },
  });
  channel.on('close', () => transfers?.close());
}
