/**
 * A method map served on a data channel (docs/protocol.md §6), as the
 * `control` and `stats` channels are: each request size-capped, its grant
 * checked against the device's grants at that moment, its params
 * schema-checked, then handled; messages larger than one channel message
 * travel as fragments both ways (rpc-frames.ts). A fragment out of order or
 * past the cap is refused and answered `{id: null, error}`; every refusal
 * is audited as `<what> <method>` (`<what> frame` for a fragment).
 */
import {
  encodeError,
  encodeRpcFrames,
  type Handlers,
  type MethodMap,
  type ProtocolError,
  RpcReassembler,
  rpcServer,
} from '@pocketshell/protocol';
import { type DataChannel, sendIfOpen } from '@pocketshell/webrtc';
import type { ChannelContext } from './channels.ts';

export interface RpcChannelOptions<M extends MethodMap, C> {
  readonly methods: M;
  /** The handlers, given the channel's `send` (for events before a result). */
  readonly handlers: (send: (text: string) => void) => Handlers<M, C>;
  /** Largest request, in bytes (also the cap on a fragmented one). */
  readonly maxRequest: number;
  /** The per-request context handed to a handler. */
  readonly context: (id: number) => C;
  /** The channel's name in the audit log (`control`, `stats`). */
  readonly what: string;
  /**
   * Binary messages that are not RPC fragments (first byte past `0x01`):
   * the `files` channel's data and ack frames. Without it they are refused
   * as fragments are.
   */
  readonly frames?: (data: Uint8Array) => void;
  /** Settles when the handlers can be built (the `files` channel resolves its root first). */
  readonly ready?: Promise<unknown>;
}

/** Most messages held while a channel's `ready` is pending (more closes the channel). */
const MAX_EARLY_MESSAGES = 64;

/**
 * Serves `o.methods` on `channel` until it closes. With `o.ready`, messages
 * that arrive before it settles are held (at most `MAX_EARLY_MESSAGES`) and
 * served in order once it resolves, and the handlers are built then; when
 * it rejects, the refusal is audited and the channel closed.
 */
export function serveRpcChannel<M extends MethodMap, C>(
  ctx: ChannelContext,
  channel: DataChannel,
  o: RpcChannelOptions<M, C>,
): void {
  const send = (text: string) => {
    for (const frame of encodeRpcFrames(text)) if (!sendIfOpen(channel, frame)) return;
  };
  const frames = new RpcReassembler(o.maxRequest);
  let feed: ((data: string | Uint8Array) => Promise<void>) | undefined;
  const start = () => {
    feed = rpcServer({
      methods: o.methods,
      handlers: o.handlers(send),
      maxRequest: o.maxRequest,
      grants: ctx.grants,
      context: o.context,
      send,
      onRefusal: (error, method) => ctx.refuse(error, `${o.what} ${method}`),
    });
  };
  const handle = (data: string | Uint8Array, serve: (data: string | Uint8Array) => Promise<void>) => {
    if (o.frames && typeof data !== 'string' && (data[0] ?? 0) > 0x01) {
      o.frames(data);
      return;
    }
    let whole: string | Uint8Array | undefined;
    try {
      whole = frames.push(data);
    } catch (error) {
      const refused = error as ProtocolError;
      ctx.refuse(refused, `${o.what} frame`);
      send(encodeError(null, refused.code, refused.message));
      return;
    }
    if (whole !== undefined) void serve(whole);
  };
  let early: (string | Uint8Array)[] | undefined;
  if (o.ready) {
    early = [];
    o.ready.then(
      () => {
        start();
        const held = early ?? [];
        early = undefined;
        for (const data of held) if (feed) handle(data, feed);
      },
      (error) => {
        early = undefined;
        ctx.refuse(error, `${o.what} open`);
        channel.close();
      },
    );
  } else start();
  channel.on('message', (data) => {
    if (feed) return handle(data, feed);
    if (!early || early.length >= MAX_EARLY_MESSAGES) {
      early = undefined;
      channel.close();
      return;
    }
    early.push(data);
  });
}
