/**
 * The daemon's local API: a Unix socket (`agent.sock`, 0600, inside the
 * 0700 state folder) speaking JSON lines, so `pocketshell status`,
 * `sessions`, `pair` and `devices revoke` talk to the running daemon
 * instead of opening a second relay connection. The methods are the map in
 * `local-methods.ts`, served and called with the shared RPC codec of
 * `@pocketshell/protocol` (the control channel's): `{id, method, params}`
 * answered `{id, result}` or `{id, error:{code,message}}`, with events
 * `{id, event, data}` before the result (pairing: the URL, then the SAS
 * prompt, answered by a `confirm` request on the same connection). Every
 * request line is size-capped and schema-checked: a malformed one is
 * answered `bad_message` (with its `id` when one could be read, else
 * `id: null`); a line longer than `MAX_LOCAL_LINE` is answered and the
 * connection closed, never buffered further.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  type CallArgs,
  CodedError,
  codeOf,
  encodeError,
  encodeEvent,
  type Handlers,
  HeldBytes,
  ProtocolError,
  RemoteError,
  type ResultOf,
  RpcClient,
  rpcServer,
} from '@pocketshell/protocol';
import { LOCAL_METHODS, type LocalMethods } from './local-methods.ts';

/** Largest request line the daemon accepts, in bytes (without the newline). */
export const MAX_LOCAL_LINE = 64 * 1024;
/** Largest reply line the client accepts (the daemon is trusted more, its lists can be longer). */
const MAX_REPLY_LINE = 1024 * 1024;

/**
 * Splits a byte stream into lines, holding at most `max` bytes of an
 * unfinished line: `push` returns the complete lines in a chunk and throws
 * `ProtocolError('bad_message')` as soon as a line is longer than `max`
 * (after which the reader holds nothing and must not be used again).
 */
export class LineReader extends HeldBytes {
  push(chunk: Buffer): Buffer[] {
    const tooLong = `line longer than ${this.max} bytes`;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.add(chunk.subarray(start, nl), tooLong);
      const line = this.take();
      lines.push(Buffer.from(line.buffer, line.byteOffset, line.length));
      start = nl + 1;
    }
    if (start < chunk.length) this.add(chunk.subarray(start), tooLong);
    return lines;
  }
}

/** What a handler gets besides its params. */
export interface CallContext {
  /** Sends an event for this request. */
  event(name: string, data: unknown): void;
  /** Waits for the client's next `confirm` request on this connection. */
  nextConfirm(): Promise<boolean>;
}

/** The daemon's handlers: every local method but `confirm`, which the connection itself answers. */
export type LocalHandlers = Omit<Handlers<LocalMethods, CallContext>, 'confirm'>;

/** Feeds `socket`'s lines (blank ones skipped) to `onLine`; an over-long one goes to `onOverflow` and ends the reading. */
function lines(
  socket: Socket,
  max: number,
  onLine: (line: Buffer) => void,
  onOverflow: (error: ProtocolError) => void,
): void {
  const reader = new LineReader(max);
  let over = false;
  socket.on('data', (chunk: Buffer) => {
    if (over) return;
    let found: Buffer[];
    try {
      found = reader.push(chunk);
    } catch (error) {
      over = true;
      onOverflow(error as ProtocolError);
      return;
    }
    for (const line of found) if (line.toString('latin1').trim() !== '') onLine(line);
  });
}

/** Starts the local API on `path`; resolves once listening. */
export async function serveLocalApi(path: string, handlers: LocalHandlers): Promise<Server> {
  if (existsSync(path)) {
    // A socket left by a crashed daemon: refuse if something still answers, else remove it.
    if (await probe(path))
      throw new ProtocolError('limit_reached', 'a pocketshell daemon is already running');
    unlinkSync(path);
  }
  const server = createServer((socket) => {
    const confirms: ((ok: boolean) => void)[] = [];
    const send = (text: string) => {
      if (!socket.destroyed) socket.write(`${text}\n`);
    };
    const feed = rpcServer<LocalMethods, CallContext>({
      methods: LOCAL_METHODS,
      handlers: {
        ...handlers,
        confirm: ({ ok }) => {
          confirms.shift()?.(ok);
          return null;
        },
      },
      maxRequest: MAX_LOCAL_LINE,
      send,
      context: (id): CallContext => ({
        event: (name, data) => send(encodeEvent(id, name, data)),
        nextConfirm: () => new Promise((resolve) => confirms.push(resolve)),
      }),
      // The same user asks: every coded error shows its code and message.
      expose: (error) =>
        error instanceof CodedError
          ? error
          : new RemoteError(codeOf(error), String((error as Error)?.message ?? error)),
    });
    const onLine = (line: Buffer) => void feed(line);
    // An over-long line is answered, then the connection is closed: nothing more is read or held.
    lines(socket, MAX_LOCAL_LINE, onLine, (error) => {
      send(encodeError(null, error.code, error.message));
      socket.end(() => socket.destroy());
    });
    socket.on('close', () => {
      for (const c of confirms.splice(0)) c(false);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

/** True when a daemon answers on `path`. */
export function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A connection to the daemon's local API. */
export class LocalClient {
  readonly #socket: Socket;
  readonly #rpc: RpcClient<LocalMethods>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#rpc = new RpcClient(LOCAL_METHODS, (text) => socket.write(`${text}\n`), {
      maxReply: MAX_REPLY_LINE,
    });
    // Not the daemon we know: drop the connection (pending calls fail `unavailable`).
    const onLine = (line: Buffer) => {
      if (!this.#rpc.receive(line)) socket.destroy();
    };
    lines(socket, MAX_REPLY_LINE, onLine, () => socket.destroy());
    socket.on('close', () => this.#rpc.close(new ProtocolError('unavailable', 'the daemon went away')));
  }

  /** Connects, or resolves null when no daemon listens. */
  static connect(path: string): Promise<LocalClient | null> {
    return new Promise((resolve) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new LocalClient(socket)));
      socket.once('error', () => resolve(null));
    });
  }

  /** Calls a method (typed by `LOCAL_METHODS`); `options.onEvent` hears its events. */
  call<K extends keyof LocalMethods & string>(
    method: K,
    ...args: CallArgs<LocalMethods, K>
  ): Promise<ResultOf<LocalMethods, K>> {
    return this.#rpc.call(method, ...args);
  }

  /** Sends any method, unchecked (tests probe the daemon's refusals with it). */
  callUntyped(method: string, params?: unknown): Promise<unknown> {
    return this.#rpc.callUntyped(method, params);
  }

  /** Answers the daemon's pairing prompt. */
  confirm(ok: boolean): void {
    this.#rpc.call('confirm', { ok }).catch(() => {});
  }

  close(): void {
    this.#socket.end();
  }
}
