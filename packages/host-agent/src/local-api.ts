/**
 * The daemon's local API: a Unix socket (`agent.sock`, 0600, inside the
 * 0700 state folder) speaking JSON lines, so `pocketshell status`,
 * `sessions`, `pair` and `devices revoke` talk to the running daemon
 * instead of opening a second relay connection. Requests are
 * `{id, method, params}`; the daemon answers `{id, result}` or
 * `{id, error:{code,message}}`, and may send `{id, event, data}` before the
 * result (pairing: the URL, then the SAS prompt, answered by a `confirm`
 * request on the same connection).
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { ProtocolError } from '@pocketshell/protocol';

/** Largest line either side accepts. */
const MAX_LINE = 64 * 1024;

/** What a handler gets besides its params. */
export interface CallContext {
  /** Sends an event for this request. */
  event(name: string, data: unknown): void;
  /** Waits for the client's next `confirm` request on this connection. */
  nextConfirm(): Promise<boolean>;
}

export type LocalMethod = (params: unknown, ctx: CallContext) => unknown | Promise<unknown>;

function lines(socket: Socket, onLine: (line: string) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_LINE && !buffer.includes('\n')) {
      socket.destroy();
      return;
    }
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
      nl = buffer.indexOf('\n');
    }
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
    lines(socket, (line) => {
      let request: { id?: unknown; method?: unknown; params?: unknown };
      try {
        request = JSON.parse(line) as typeof request;
      } catch {
        socket.destroy();
        return;
      }
      const id = typeof request.id === 'number' ? request.id : 0;
      const method = typeof request.method === 'string' ? request.method : '';
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
    lines(socket, (line) => {
      const m = JSON.parse(line) as {
        id: number;
        event?: string;
        data?: unknown;
        result?: unknown;
        error?: { code: string; message: string };
      };
      const call = this.#calls.get(m.id);
      if (!call) return;
      if (m.event !== undefined) call.onEvent(m.event, m.data);
      else {
        this.#calls.delete(m.id);
        if (m.error) call.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else call.resolve(m.result);
      }
    });
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
