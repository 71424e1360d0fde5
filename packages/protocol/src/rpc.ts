/**
 * One typed request/reply codec for every JSON RPC in PocketShell: the
 * `control` data channel (docs/protocol.md §6), the daemon's local API, and
 * every device (Node and web). A method map (`{method: {params, result,
 * grant}}`) is the contract: the server parses params with it and checks
 * the grant before a handler runs; the client parses results with it; and
 * the types make a call with wrong params, or a handler returning a wrong
 * shape, fail to compile.
 *
 * Wire shapes (JSON, one message per data-channel message or line):
 * request `{id, method, params?}`, result `{id, result}`, error
 * `{id, error: {code, message}}` (`id: null` when none could be read), and
 * event `{id, event, data}` — a notification tied to a pending request
 * (pairing's URL and SAS prompt on the local API). Unknown method →
 * `unsupported`; malformed request with a readable id → `{id, error}`.
 */
import { fromUtf8, utf8Length } from './bytes.ts';
import { type CodedError, ProtocolError, RemoteError } from './errors.ts';
import { integer, object, string } from './schema.ts';

/** Checks a value that came off the wire and returns it typed; throws `ProtocolError('bad_message')`. */
export type Parser<T> = (value: unknown) => T;

/**
 * One method: how its params and its result are checked, the grant it
 * needs (null: none), and which params a caller may leave out (`optional`:
 * the parser fills in their defaults; it only shapes the caller's type).
 */
export interface MethodSpec<P, R, G extends string = string, O extends PropertyKey = never> {
  readonly params: Parser<P>;
  readonly result: Parser<R>;
  readonly grant: G | null;
  readonly optional?: readonly (O & keyof P)[];
}

/** A map of methods, by name (`^[a-z][a-z.]*$`). */
// biome-ignore lint/suspicious/noExplicitAny: the map's members are each typed; `any` only lets them differ.
export type MethodMap = Readonly<Record<string, MethodSpec<any, any, string, any>>>;

/** A method's params type, as its handler gets them (defaults filled in). */
export type ParamsOf<M extends MethodMap, K extends keyof M> =
  M[K] extends MethodSpec<infer P, infer _R, string, infer _O> ? P : never;
/** A method's params type, as a caller passes them (the `optional` ones may be left out). */
export type InputOf<M extends MethodMap, K extends keyof M> =
  M[K] extends MethodSpec<infer P, infer _R, string, infer O>
    ? [O] extends [never]
      ? P
      : { [F in keyof P as F extends O ? never : F]: P[F] } & {
          [F in keyof P as F extends O ? F : never]?: P[F];
        }
    : never;
/** A method's result type. */
export type ResultOf<M extends MethodMap, K extends keyof M> =
  M[K] extends MethodSpec<infer _P, infer R, string, infer _O> ? R : never;

/** The handlers serving a map: one per method, typed by it (none may be missing). */
export type Handlers<M extends MethodMap, C> = {
  readonly [K in keyof M]: (params: ParamsOf<M, K>, ctx: C) => ResultOf<M, K> | Promise<ResultOf<M, K>>;
};

/** Declares a method (keeps its types). */
export function method<P, R, G extends string = string, const O extends string = never>(
  spec: MethodSpec<P, R, G, O>,
): MethodSpec<P, R, G, O> {
  return spec;
}

/** Params for a method that takes none: absent, null or `{}`; anything else is refused. */
export const noParams: Parser<undefined> = (value) => {
  if (value === undefined || value === null) return undefined;
  if (Object.keys(object(value, 'params')).length > 0)
    throw new ProtocolError('bad_message', 'params: expected none');
  return undefined;
};

const METHOD_NAME = /^[a-z][a-z.]*$/;

/** A request as parsed. */
export interface RpcRequest {
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

/** A reply as parsed: a result, an error, or an event of a pending request. */
export type RpcReply =
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number | null; readonly code: string; readonly message: string }
  | { readonly kind: 'event'; readonly id: number; readonly event: string; readonly data: unknown };

/** A request that failed its checks, with the `id` when one could be read (so it can be answered). */
export class BadRequest extends ProtocolError {
  readonly id: number | undefined;
  constructor(cause: ProtocolError, id: number | undefined) {
    super(cause.code, cause.message, { cause });
    this.name = 'BadRequest';
    this.id = id;
  }
}

function json(data: Uint8Array | string, maxBytes: number, what: string): unknown {
  // Capped in bytes, before anything is decoded or parsed.
  const size = typeof data === 'string' ? utf8Length(data) : data.length;
  if (size > maxBytes) throw new ProtocolError('bad_message', `${what} longer than ${maxBytes} bytes`);
  try {
    return JSON.parse(typeof data === 'string' ? data : fromUtf8(data));
  } catch (cause) {
    throw new ProtocolError('bad_message', `${what} is not JSON`, { cause });
  }
}

/**
 * Parses one request of at most `maxBytes` bytes of UTF-8: `{id, method,
 * params?}`, `id` an integer in [0, 2^31], `method` `^[a-z][a-z.]*$` (≤ 64).
 * Throws `BadRequest` (`bad_message`), carrying the `id` whenever that much
 * parsed; nothing else ever escapes.
 */
export function parseRequest(data: Uint8Array | string, maxBytes: number): RpcRequest {
  let id: number | undefined;
  try {
    const o = object(json(data, maxBytes, 'request'), 'request');
    id = integer(o, 'id', 0, 2 ** 31);
    return { id, method: string(o, 'method', 64, METHOD_NAME), params: o.params };
  } catch (error) {
    throw new BadRequest(
      error instanceof ProtocolError ? error : new ProtocolError('bad_message', 'bad request'),
      id,
    );
  }
}

/** Parses one reply of at most `maxBytes` bytes; `ProtocolError('bad_message')` when it is none. */
export function parseReply(data: Uint8Array | string, maxBytes: number): RpcReply {
  const o = object(json(data, maxBytes, 'reply'), 'reply');
  if (o.error !== undefined) {
    const e = object(o.error, 'error');
    return {
      kind: 'error',
      id: o.id === null ? null : integer(o, 'id', 0, 2 ** 31),
      code: string(e, 'code', 48, /^[a-z][a-z_]*$/),
      message: string(e, 'message', 1024),
    };
  }
  const id = integer(o, 'id', 0, 2 ** 31);
  if (o.event !== undefined) return { kind: 'event', id, event: string(o, 'event', 32), data: o.data };
  if (!Object.hasOwn(o, 'result')) throw new ProtocolError('bad_message', 'reply: no result, error or event');
  return { kind: 'result', id, result: o.result };
}

/** Encodes a request. */
export function encodeRequest(id: number, method: string, params?: unknown): string {
  return JSON.stringify(params === undefined ? { id, method } : { id, method, params });
}

/** Encodes a result (`undefined` travels as `null`). */
export function encodeResult(id: number, result: unknown): string {
  return JSON.stringify({ id, result: result ?? null });
}

/** Encodes an error answer. */
export function encodeError(id: number | null, code: string, message: string): string {
  return JSON.stringify({ id, error: { code, message } });
}

/** Encodes an event of a pending request. */
export function encodeEvent(id: number, event: string, data: unknown): string {
  return JSON.stringify({ id, event, data });
}

/** What the server needs. */
export interface RpcServerOptions<M extends MethodMap, C> {
  readonly methods: M;
  readonly handlers: Handlers<M, C>;
  /** Sends one encoded answer (dropped by the caller when the transport is gone). */
  readonly send: (text: string) => void;
  /** Largest request, in bytes. */
  readonly maxRequest: number;
  /** The grants the peer holds now (read at each request, so a change applies at once). */
  readonly grants?: () => ReadonlySet<string>;
  /** The per-request context handed to a handler. */
  readonly context: (id: number) => C;
  /** Hears every refused request, with the method name ('?' when unreadable). */
  readonly onRefusal?: (error: CodedError, method: string) => void;
  /**
   * Which errors travel with their own code and message: by default only
   * `ProtocolError`s (a remote peer never reads a host's local detail);
   * anything else goes as `internal`. The daemon's local API, talking to
   * the same user, shows every coded error.
   */
  readonly expose?: (error: unknown) => CodedError | undefined;
}

const protocolErrorsOnly = (error: unknown) => (error instanceof ProtocolError ? error : undefined);

/**
 * Serves a method map: returns the function to feed each incoming message
 * to. Checks, in order: the request's shape (`bad_message`), the method
 * (`unsupported`), the grant (`grant_missing`), the params (`bad_message`);
 * then runs the handler and answers its result or its error.
 */
export function rpcServer<M extends MethodMap, C>(
  o: RpcServerOptions<M, C>,
): (data: Uint8Array | string) => Promise<void> {
  const expose = o.expose ?? protocolErrorsOnly;
  return async (data) => {
    let id: number | null = null;
    let name = '?';
    try {
      const request = parseRequest(data, o.maxRequest);
      id = request.id;
      name = request.method;
      const spec = Object.hasOwn(o.methods, name) ? o.methods[name] : undefined;
      if (!spec) throw new ProtocolError('unsupported', `no method ${name}`);
      if (spec.grant !== null && !o.grants?.().has(spec.grant))
        throw new ProtocolError('grant_missing', spec.grant);
      const params = spec.params(request.params);
      const handler = o.handlers[name as keyof M] as (p: unknown, c: C) => unknown;
      o.send(encodeResult(request.id, await handler(params, o.context(request.id))));
    } catch (error) {
      if (error instanceof BadRequest && error.id !== undefined) id = error.id;
      const shown = expose(error) ?? new ProtocolError('internal', 'internal error', { cause: error });
      o.onRefusal?.(shown, name);
      o.send(encodeError(id, shown.code, shown.message));
    }
  };
}

/** Options of one call. */
export interface CallOptions {
  /** Hears the request's events before its answer. */
  readonly onEvent?: (event: string, data: unknown) => void;
  /**
   * Hears the request's id just before it is sent: the `files` channel's
   * data frames of a read, download or tail carry it.
   */
  readonly onId?: (id: number) => void;
}

/** The arguments of `call` for method K: params may be left out when the method takes none. */
export type CallArgs<M extends MethodMap, K extends keyof M> =
  undefined extends InputOf<M, K>
    ? [params?: InputOf<M, K>, options?: CallOptions]
    : [params: InputOf<M, K>, options?: CallOptions];

interface Pending {
  readonly result: Parser<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly onEvent: ((event: string, data: unknown) => void) | undefined;
}

/**
 * The calling side of a method map over any transport: `call` sends, and
 * every incoming message is fed to `receive`. Results are checked with the
 * method's result parser (a wrong shape rejects `bad_message`); errors
 * reject with `RemoteError` carrying the peer's code; `close` rejects what
 * is pending.
 */
export class RpcClient<M extends MethodMap> {
  readonly #methods: M;
  readonly #send: (text: string) => void;
  readonly #maxReply: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: Error | undefined;

  constructor(methods: M, send: (text: string) => void, options: { maxReply?: number } = {}) {
    this.#methods = methods;
    this.#send = send;
    this.#maxReply = options.maxReply ?? 1024 * 1024;
  }

  /** Calls `method`; resolves with its checked result. */
  call<K extends keyof M & string>(method: K, ...[params, options]: CallArgs<M, K>): Promise<ResultOf<M, K>> {
    const spec = Object.hasOwn(this.#methods, method) ? this.#methods[method] : undefined;
    if (!spec) return Promise.reject(new ProtocolError('unsupported', `no method ${method}`));
    return this.#call(method, params, spec.result, options) as Promise<ResultOf<M, K>>;
  }

  /**
   * Sends any method name with any params, unchecked, and resolves with the
   * raw result: for tests and probes that must send what a typed call
   * cannot (the host's refusals are what they check).
   */
  callUntyped(method: string, params?: unknown, options?: CallOptions): Promise<unknown> {
    return this.#call(method, params, (v) => v, options);
  }

  #call(method: string, params: unknown, result: Parser<unknown>, options?: CallOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { result, resolve, reject, onEvent: options?.onEvent });
      try {
        options?.onId?.(id);
        this.#send(encodeRequest(id, method, params));
      } catch (error) {
        this.#pending.delete(id);
        reject(error as Error);
      }
    });
  }

  /** Feeds one incoming message; returns false when it was not a reply (it is then dropped). */
  receive(data: Uint8Array | string): boolean {
    let reply: RpcReply;
    try {
      reply = parseReply(data, this.#maxReply);
    } catch {
      return false;
    }
    const call = reply.id === null ? undefined : this.#pending.get(reply.id);
    if (!call) return true;
    if (reply.kind === 'event') {
      call.onEvent?.(reply.event, reply.data);
      return true;
    }
    this.#pending.delete(reply.id as number);
    if (reply.kind === 'error') {
      call.reject(new RemoteError(reply.code, reply.message));
      return true;
    }
    try {
      call.resolve(call.result(reply.result));
    } catch (error) {
      call.reject(error as Error);
    }
    return true;
  }

  /** Calls waiting for an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Rejects every pending call (and every later one) with `error`. Idempotent. */
  close(error: Error = new ProtocolError('unavailable', 'connection closed')): void {
    this.#closed ??= error;
    for (const c of this.#pending.values()) c.reject(this.#closed);
    this.#pending.clear();
  }
}
