/**
 * The protocol's typed RPC client over one RTCDataChannel (docs/protocol.md
 * §5): requests go out through `encodeRpcFrames` (text, or binary fragments
 * when larger than one channel message) and replies come back through an
 * `RpcReassembler` capped at `maxReply`, so the channel reads binary as
 * `arraybuffer`. Used by the `control` channel (host-link.ts) and the
 * `stats` and `alerts` channels (stats-channel.ts, alerts-channel.ts).
 */
import {
  encodeRpcFrames,
  type MethodMap,
  ProtocolError,
  RpcClient,
  RpcReassembler,
} from '@pocketshell/protocol';

export interface RpcChannelOptions {
  /** When set, a call while the channel is not open rejects `unavailable` with this message. */
  readonly notOpen?: string;
  /** Called when a reply is out of order or too long, or handling it threw (the reply is dropped either way). */
  readonly onMalformed?: () => void;
}

/** Runs an `RpcClient` for `methods` over `channel`; replies are capped at `maxReply` bytes. */
export function rpcOverDataChannel<M extends MethodMap>(
  channel: RTCDataChannel,
  methods: M,
  maxReply: number,
  options: RpcChannelOptions = {},
): RpcClient<M> {
  const rpc = new RpcClient(
    methods,
    (text) => {
      if (options.notOpen !== undefined && channel.readyState !== 'open')
        throw new ProtocolError('unavailable', options.notOpen);
      for (const frame of encodeRpcFrames(text))
        if (typeof frame === 'string') channel.send(frame);
        else channel.send(frame as Uint8Array<ArrayBuffer>);
    },
    { maxReply },
  );
  channel.binaryType = 'arraybuffer';
  const frames = new RpcReassembler(maxReply);
  channel.addEventListener('message', (e: MessageEvent) => {
    try {
      const whole = frames.push(typeof e.data === 'string' ? e.data : new Uint8Array(e.data as ArrayBuffer));
      if (whole !== undefined) rpc.receive(whole);
    } catch {
      // Out of order or too long: the reply is dropped, as a malformed one is.
      options.onMalformed?.();
    }
  });
  return rpc;
}

/**
 * Waits for `channel` to open: resolves at once when it is open; rejects
 * with `refusedCode` when it is already closed (`isClosed`) or `closed`
 * settles first (the host refused the channel), with `timeout` after `ms`.
 * The `stats`, `files` and `alerts` channels' `opened()`.
 */
export function channelOpened(
  channel: RTCDataChannel,
  closed: Promise<void>,
  isClosed: boolean,
  what: string,
  refusedCode: 'unavailable' | 'unsupported',
  ms: number,
): Promise<void> {
  if (channel.readyState === 'open') return Promise.resolve();
  if (isClosed) return Promise.reject(new ProtocolError(refusedCode, `${what} channel closed`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ProtocolError('timeout', `${what} channel did not open`)), ms);
    channel.addEventListener('open', () => {
      clearTimeout(timer);
      resolve();
    });
    void closed.then(() => {
      clearTimeout(timer);
      reject(new ProtocolError(refusedCode, `${what} channel refused`));
    });
  });
}
