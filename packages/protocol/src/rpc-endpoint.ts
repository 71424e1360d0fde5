/**
 * The calling end of a method map over a data channel, transport-neutral
 * (Node devices and the browser both use it): an `RpcClient` whose
 * requests go out as `encodeRpcFrames` (fragments when larger than one
 * channel message) and whose incoming messages are reassembled under the
 * reply cap (`RpcReassembler`) before the client reads them.
 */
import { type MethodMap, RpcClient } from './rpc.ts';
import { encodeRpcFrames, RpcReassembler } from './rpc-frames.ts';

export interface RpcEndpoint<M extends MethodMap> {
  readonly rpc: RpcClient<M>;
  /**
   * Feeds one channel message; throws `bad_message` on a fragment out of
   * order or past the cap (the caller drops it or closes the channel).
   */
  receive(data: string | Uint8Array): void;
}

/** An `RpcClient` over `send` (one channel message each call), with fragments both ways. */
export function rpcEndpoint<M extends MethodMap>(
  methods: M,
  send: (message: string | Uint8Array) => void,
  maxReply: number,
): RpcEndpoint<M> {
  const rpc = new RpcClient(
    methods,
    (text) => {
      for (const frame of encodeRpcFrames(text)) send(frame);
    },
    { maxReply },
  );
  const frames = new RpcReassembler(maxReply);
  return {
    rpc,
    receive(data) {
      const whole = frames.push(data);
      if (whole !== undefined) rpc.receive(whole);
    },
  };
}
