/**
 * The daemon's local API: a Unix socket (`agent.sock`, 0600, inside the
 * 0700 state folder) speaking JSON lines, so `pocketshell status`,
 * `sessions`, `pair` and `devices revoke` talk to the running daemon
 * instead of opening a second relay connection. Requests are
 * `{id, method, params}`; the daemon answers `{id, result}` or
 * `{id, error:{code,message}}`, and may send `{id, event, data}` before the
 * result (pairing: the URL, then the SAS prompt, answered by a `confirm`
 * request on the same connection). Every request line is size-capped and
 * schema-checked (`parseLocalRequest`): a malformed one is answered
 * `bad_message` (with its `id` when one could be read, else `id: null`);
 * a line longer than `MAX_LOCAL_LINE` is answered and the connection
 * closed, never buffered further.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { fromUtf8, integer, object, ProtocolError, string } from '@pocketshell/protocol';

/** Largest request line the daemon accepts, in bytes (without the newline). */
export const MAX_LOCAL_LINE = 64 * 1024;
/** Largest reply line the client accepts (the daemon is trusted more, its lists can be longer). */
const MAX_REPLY_LINE = 1024 * 1024;

/** A local API request. */
export interface LocalRequest {
  id: number;
  method: string;
  params: unknown;
}

/** A request line that failed its checks, with the `id` when one could be read (so it can be answered). */
export class BadLocalRequest extends ProtocolError {
  readonly id: number | undefined;
  constructor(cause: ProtocolError, id: number | undefined) {
    super(cause.code, cause.message, { cause });
    this.id = id;
  }
}

/**
 * Parses one request line (without its newline): at most `MAX_LOCAL_LINE`
 * bytes of UTF-8 JSON `{id, method, params?}`, `id` an integer in
 * [0, 2^31], `method` `^[a-z][a-z.]*$` (≤ 64). Throws `BadLocalRequest`
 * (`bad_message`), carrying the `id` whenever that much parsed; nothing
 * else ever escapes.
 */
export function parseLocalRequest(line: Uint8Array | string): LocalRequest {
  let id: number | undefined;
  try {
    const bytes = typeof line === 'string' ? Buffer.byteLength(line) : line.length;
    if (bytes > MAX_LOCAL_LINE)
      throw new ProtocolError('bad_message', `request line longer than ${MAX_LOCAL_LINE} bytes`);
    const text = typeof line === 'string' ? line : fromUtf8(line);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new ProtocolError('bad_message', 'request is not JSON', { cause });
    }
    const o = object(value, 'request');
    id = integer(o, 'id', 0, 2 ** 31);
    return { id, method: string(o, 'method', 64, /^[a-z][a-z.]*$/), params: o.params };
  } catch (error) {
    // Only ProtocolErrors are thrown above (JSON.parse's SyntaxError is wrapped).
    throw new BadLocalRequest(error as ProtocolError, id);
  }
}

/**
 * Splits a byte stream into lines, holding at most `max` bytes of an
 * unfinished line: `push` returns the complete lines in a chunk and throws
 * `ProtocolError('bad_message')` as soon as a line is longer than `max`
 * (after which the reader holds nothing and must not be used again).
 */
export class LineReader {
  readonly max: number;
  #parts: Buffer[] = [];
  #held = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Bytes of the unfinished line held now (never more than `max`). */
  get held(): number {
    return this.#held;
  }

  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      if (this.#held + nl - start > this.max) this.#overflow();
      lines.push(
        this.#parts.length > 0
          ? Buffer.concat([...this.#parts, chunk.subarray(start, nl)])
          : chunk.subarray(start, nl),
      );
      this.#parts = [];
      this.#held = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      if (this.#held + chunk.length - start > this.max) this.#overflow();
      this.#parts.push(chunk.subarray(start));
      this.#held += chunk.length - start;
    }
    return lines;
  }

  #overflow(): never {
    this.#parts = [];
    this.#held = 0;
    throw new ProtocolError('bad_message', `line longer than ${this.max} bytes`);
  }
}

/** What a handler gets besides its params. */
export interface CallContext {
  /** Sends an event for this request. */
  event(name: string, data: unknown): void;
  /** Waits for the client's next `confirm` request on this connection. */
  nextConfirm(): Promise<boolean>;
}

export type LocalMethod = (params: unknown, ctx: CallContext) => unknown | Promise<unknown>;

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
export async function serveLocalApi(
  path: string,
  methods: Readonly<Record<string, LocalMethod>>,
): Promise<Server> {
  if (existsSync(path)) {
    // A socket left by a crashed daemon: refuse if something still answers, else remove it.
    if (await probe(path))
      throw new ProtocolError('limit_reached', 'a pocketshell daemon is already running');
    unlinkSync(path);
  }
  const server = createServer((socket) => {
    const confirms: ((ok: boolean) => void)[] = [];
    const send = (message: unknown) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    };
    const refuse = (error: ProtocolError, id: number | undefined) =>
      send({ id: id ?? null, error: { code: error.code, message: error.message } });
    const onLine = (line: Buffer) => {
      let request: LocalRequest;
      try {
        request = parseLocalRequest(line);
      } catch (error) {
        const bad = error as BadLocalRequest;
        refuse(bad, bad.id);
        return;
      }
      const { id, method } = request;
      if (method === 'confirm') {
        confirms.shift()?.((request.params as { ok?: unknown })?.ok === true);
        return;
      }
      const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
      const ctx: CallContext = {
        event: (name, data) => send({ id, event: name, data }),
        nextConfirm: () => new Promise((resolve) => confirms.push(resolve)),
      };
      void (async () => {
        try {
          if (!handler) throw new ProtocolError('unsupported', `no method ${method}`);
          send({ id, result: (await handler(request.params, ctx)) ?? null });
        } catch (error) {
          const code = (error as { code?: unknown })?.code;
          send({
            id,
            error: { code: typeof code === 'string' ? code : 'internal', message: (error as Error).message },
          });
        }
      })();
    };
    // An over-long line is answered, then the connection is closed: nothing more is read or held.
    lines(socket, MAX_LOCAL_LINE, onLine, (error) => {
      refuse(error, undefined);
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
  #nextId = 1;
  readonly #calls = new Map<
    number,
    {
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
      onEvent: (name: string, data: unknown) => void;
    }
  >();

  private constructor(socket: Socket) {
    this.#socket = socket;
    const onLine = (line: Buffer) => {
      let m: {
        id: number;
        event?: string;
        data?: unknown;
        result?: unknown;
        error?: { code: string; message: string };
      };
      try {
        m = object(JSON.parse(line.toString('utf8')), 'reply') as typeof m;
      } catch {
        // Not the daemon we know: drop the connection (pending calls fail `unavailable`).
        socket.destroy();
        return;
      }
      const call = this.#calls.get(m.id);
      if (!call) return;
      if (m.event !== undefined) call.onEvent(m.event, m.data);
      else {
        this.#calls.delete(m.id);
        if (m.error) call.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else call.resolve(m.result);
      }
    };
    lines(socket, MAX_REPLY_LINE, onLine, () => socket.destroy());
    socket.on('close', () => {
      for (const c of this.#calls.values())
        c.reject(Object.assign(new Error('the daemon went away'), { code: 'unavailable' }));
      this.#calls.clear();
    });
  }

  /** Connects, or resolves null when no daemon listens. */
  static connect(path: string): Promise<LocalClient | null> {
    return new Promise((resolve) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new LocalClient(socket)));
      socket.once('error', () => resolve(null));
    });
  }

  /** Calls a method; `onEvent` hears its events. */
  call<T = unknown>(
    method: string,
    params?: unknown,
    onEvent: (name: string, data: unknown) => void = () => {},
  ): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent });
      this.#socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  /** Answers the daemon's pairing prompt. */
  confirm(ok: boolean): void {
    this.#socket.write(`${JSON.stringify({ id: 0, method: 'confirm', params: { ok } })}\n`);
  }

  close(): void {
    this.#socket.end();
  }
}
