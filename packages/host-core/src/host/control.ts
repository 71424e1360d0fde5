/**
 * The `control` data channel (docs/protocol.md §6): JSON requests
 * `{id, method, params}` answered by `{id, result}` or
 * `{id, error: {code, message}}`. Each request is size-capped and
 * schema-checked; a handler's `ProtocolError` travels back with its code,
 * anything else as `internal` without its detail.
 */
import { fromUtf8, integer, object, ProtocolError, string, utf8Length } from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';

/** Largest control request, in bytes of UTF-8. */
export const MAX_CONTROL_REQUEST = 16 * 1024;

/** A control method: gets the request's `params` (unchecked), returns a JSON-able result. */
export type ControlMethod = (params: unknown) => unknown | Promise<unknown>;

/** A control request that failed its checks, with the `id` when one could be read (so it can be answered). */
export class BadControlRequest extends ProtocolError {
  readonly id: number | undefined;
  constructor(cause: ProtocolError, id: number | undefined) {
    super(cause.code, cause.message, { cause });
    this.id = id;
  }
}

/**
 * Parses one control request; `bad_message` when it is not one. The error
 * is a `BadControlRequest` carrying the request's `id` whenever that much
 * parsed, so even a request with a malformed method gets its `{id, error}`.
 */
export function parseControlRequest(data: Uint8Array | string): {
  id: number;
  method: string;
  params: unknown;
} {
  // Capped in bytes, before anything is decoded or parsed.
  const size = typeof data === 'string' ? utf8Length(data) : data.length;
  if (size > MAX_CONTROL_REQUEST) throw new ProtocolError('bad_message', 'control request too large');
  const text = typeof data === 'string' ? data : fromUtf8(data);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError('bad_message', 'control request is not JSON', { cause });
  }
  const o = object(value, 'request');
  const id = integer(o, 'id', 0, 2 ** 31);
  try {
    return { id, method: string(o, 'method', 64, /^[a-z][a-z.]*$/), params: o.params };
  } catch (error) {
    if (error instanceof ProtocolError) throw new BadControlRequest(error, id);
    throw error;
  }
}

/**
 * Serves `methods` on `channel` until it closes. `onRefusal` hears every
 * refused request (for the audit log).
 */
export function serveControl(
  channel: DataChannel,
  methods: Readonly<Record<string, ControlMethod>>,
  onRefusal: (code: string, method: string) => void = () => {},
): void {
  const reply = (message: unknown) => {
    if (channel.readyState === 'open') channel.send(JSON.stringify(message));
  };
  channel.on('message', (data) => {
    let id = -1;
    let method = '?';
    void (async () => {
      try {
        const request = parseControlRequest(data);
        id = request.id;
        method = request.method;
        const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
        if (!handler) throw new ProtocolError('unsupported', `no method ${method}`);
        reply({ id, result: (await handler(request.params)) ?? null });
      } catch (error) {
        if (error instanceof BadControlRequest && error.id !== undefined) id = error.id;
        const code = error instanceof ProtocolError ? error.code : 'internal';
        const message = error instanceof ProtocolError ? error.message : 'internal error';
        onRefusal(code, method);
        // Without a readable id the answer carries `id: null` (as JSON-RPC does).
        reply({ id: id >= 0 ? id : null, error: { code, message } });
      }
    })();
  });
}
