/**
 * A method map called over a Node device's data channel (docs/protocol.md
 * §6), as the `control` and `stats` channels are: the protocol's
 * `rpcEndpoint` (fragments both ways) fed by the channel's messages. A
 * malformed fragment is dropped, as a malformed reply is (its call fails
 * when the channel closes); when the channel closes every pending call
 * rejects `unavailable`.
 */
import { type MethodMap, ProtocolError, type RpcClient, rpcEndpoint } from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';

/** An `RpcClient` for `methods` over `channel` (`name` says which, in the closing error). */
export function rpcOverChannel<M extends MethodMap>(
  channel: DataChannel,
  methods: M,
  maxReply: number,
  name: string,
): RpcClient<M> {
  const end = rpcEndpoint(methods, (message) => channel.send(message), maxReply);
  channel.on('message', (data) => {
    try {
      end.receive(data);
    } catch {
      // Out of order or too long: dropped, as a malformed reply is.
    }
  });
  channel.on('close', () => end.rpc.close(new ProtocolError('unavailable', `${name} channel closed`)));
  return end.rpc;
}
