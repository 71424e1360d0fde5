/**
 * The session holder (docs/host.md "Session holder"): one process per state
 * folder that owns the PTYs, their screen mirrors and attachments (pacing,
 * acks, snapshots), so a daemon restart — an upgrade, a crash — keeps every
 * shell and its screen. It serves a `SessionManager` on a unix socket in the
 * state folder (0600 in the 0700 folder: only this user reaches it) to the
 * daemon (holder/client.ts), over the frames of wire.ts. When a daemon's
 * connection closes, its attachments are detached and the sessions live on.
 * It exits by itself once it has had no session and no daemon for `idleMs`,
 * and when its socket file is removed (the state folder deleted).
 */
import { chmodSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { CodedError, type ExitReason } from '@pocketshell/protocol';
import type { Attachment } from '../pty/attachment.ts';
import type { AttentionEvent } from '../pty/attention.ts';
import type { Session } from '../pty/session.ts';
import type { SessionTimeouts } from '../pty/session-limits.ts';
import type { SessionManager } from '../pty/session-manager.ts';
import {
  encodeJson,
  encodeTerm,
  FRAME_FROM_HOLDER,
  FRAME_JSON,
  FRAME_TO_HOLDER,
  FrameReader,
  HOLDER_WIRE_VERSION,
  int,
  obj,
  optStr,
  str,
} from './wire.ts';

/** Default: an empty holder with no daemon exits after a minute. */
export const HOLDER_IDLE_MS = 60_000;

const EXIT_REASONS = new Set(['idle_timeout', 'max_lifetime', 'closed', 'shutdown']);

export interface HolderOptions {
  readonly socketPath: string;
  readonly manager: SessionManager;
  readonly idleMs?: number;
  /** Called once when the holder should end (idle, socket gone, `shutdown`); the sessions are closed by then. */
  readonly onEnd: (why: string) => void;
  readonly log?: (line: string) => void;
}

/** True when something answers on `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

class DaemonLink {
  readonly attachments = new Map<number, Attachment>();
  readonly reader = new FrameReader();
  readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
  }
  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }
}

/** Most events kept for a daemon that is not connected (a session's end, terminal attention). */
export const MAX_KEPT_EVENTS = 256;

export class SessionHolder {
  readonly #o: HolderOptions;
  readonly #server: Server;
  readonly #links = new Set<DaemonLink>();
  readonly #hooked = new WeakSet<Session>();
  /** Events no daemon was there to hear, for the next one (`#broadcast`). */
  #kept: Uint8Array[] = [];
  readonly #ino: number;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #watch: NodeJS.Timeout;
  #ended = false;

  private constructor(o: HolderOptions, server: Server) {
    this.#o = o;
    this.#server = server;
    this.#ino = statSync(o.socketPath).ino;
    server.on('connection', (socket) => this.#accept(socket));
    // The socket file gone or replaced (the state folder deleted): end, so no holder lingers unreachable.
    this.#watch = setInterval(() => {
      let ino: number | undefined;
      try {
        ino = statSync(o.socketPath).ino;
      } catch {}
      if (ino !== this.#ino) void this.end('socket removed');
    }, 2000);
    this.#watch.unref();
    this.#checkIdle();
  }

  /** Listens on `socketPath`; undefined when another holder already answers there. */
  static async listen(o: HolderOptions): Promise<SessionHolder | undefined> {
    if (await socketAnswers(o.socketPath)) return undefined;
    try {
      unlinkSync(o.socketPath);
    } catch {}
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(o.socketPath, 0o600);
    return new SessionHolder(o, server);
  }

  /** Daemons connected now. */
  get daemons(): number {
    return this.#links.size;
  }

  /** Forwards a session's attention event to every daemon (none connected: kept for the next one). */
  attention(event: AttentionEvent): void {
    this.#broadcast({ event: 'attention', attention: { ...event } }, true);
  }

  /** Closes every session and the socket; returns how many sessions were live. Idempotent. */
  async end(why: string): Promise<number> {
    if (this.#ended) return 0;
    this.#ended = true;
    const live = this.#o.manager.list().length;
    this.#o.log?.(`session holder ending (${why}); ${live} sessions`);
    clearInterval(this.#watch);
    clearTimeout(this.#idleTimer);
    this.#server.close();
    await this.#o.manager.close();
    for (const link of this.#links) link.socket.end();
    try {
      if (statSync(this.#o.socketPath).ino === this.#ino) unlinkSync(this.#o.socketPath);
    } catch {}
    this.#o.onEnd(why);
    return live;
  }

  #accept(socket: Socket): void {
    if (this.#ended) {
      socket.destroy();
      return;
    }
    const link = new DaemonLink(socket);
    this.#links.add(link);
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    socket.on('data', (chunk: Buffer) => {
      let frames: ReturnType<FrameReader['push']>;
      try {
        frames = link.reader.push(chunk);
      } catch (error) {
        this.#o.log?.(`daemon connection refused: ${(error as Error).message}`);
        link.send(encodeJson({ event: 'error', ...errorBody(error) }));
        socket.end();
        socket.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FRAME_JSON) void this.#call(link, f.message);
        else if (f.type === FRAME_TO_HOLDER) this.#input(link, f.attachment, f.payload);
        else
          link.send(
            encodeJson({ event: 'error', code: 'bad_message', message: 'frame type 3 is the holder’s' }),
          );
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#links.delete(link);
      // The daemon went away (restart, crash): its attachments end, the sessions live on (DETACHED).
      for (const a of [...link.attachments.values()]) a.detach();
      link.attachments.clear();
      this.#checkIdle();
    });
  }

  #input(link: DaemonLink, id: number, payload: Uint8Array): void {
    const a = link.attachments.get(id);
    if (!a) return; // detached meanwhile: late input is dropped, as on a closing channel
    try {
      a.receive(payload);
    } catch (error) {
      link.send(encodeJson({ event: 'refused', attachment: id, ...errorBody(error) }));
    }
  }

  async #call(link: DaemonLink, m: Record<string, unknown>): Promise<void> {
    const id = m.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
      link.send(encodeJson({ event: 'error', code: 'bad_message', message: 'holder call without an id' }));
      return;
    }
    try {
      const result = await this.#answer(link, m);
      link.send(encodeJson({ id, ok: result }));
    } catch (error) {
      link.send(encodeJson({ id, error: errorBody(error) }));
    }
  }

  /** Attaches `session` for the daemon as attachment `aid`: its frames go out on the link. */
  async #attach(link: DaemonLink, aid: number, session: Session): Promise<void> {
    if (link.attachments.has(aid)) throw new CodedError('bad_message', `attachment ${aid} exists`);
    const attachment = await session.attach({
      send: (frame) => link.send(encodeTerm(FRAME_FROM_HOLDER, aid, frame)),
      onClose: (reason) => {
        link.attachments.delete(aid);
        link.send(encodeJson({ event: 'detached', attachment: aid, reason }));
      },
    });
    if (link.socket.destroyed) attachment.detach();
    else link.attachments.set(aid, attachment);
  }

  async #answer(link: DaemonLink, m: Record<string, unknown>): Promise<Record<string, unknown>> {
    const manager = this.#o.manager;
    const call = str(m, 'call', 32);
    switch (call) {
      case 'hello':
        // What happened while no daemon was connected follows the answer (sent when this returns).
        if (this.#kept.length > 0) {
          const kept = this.#kept;
          this.#kept = [];
          setImmediate(() => {
            for (const bytes of kept) link.send(bytes);
          });
        }
        return {
          wire: HOLDER_WIRE_VERSION,
          pid: process.pid,
          sessions: manager.list().map((info) => ({ info, owner: manager.ownerOf(info.id) ?? null })),
          timeouts: manager.timeouts,
        };
      case 'open': {
        const owner = optStr(m, 'owner', 128);
        const session = manager.open(str(m, 'target', 300), {
          ...(owner !== undefined ? { owner } : {}),
          ...(m.cols !== undefined ? { cols: int(m, 'cols', 1, 1000) } : {}),
          ...(m.rows !== undefined ? { rows: int(m, 'rows', 1, 1000) } : {}),
        });
        this.#hook(session);
        // Attached in the same call when the daemon asks (its device attaches next): the new
        // session's first output then streams live instead of landing in a later snapshot.
        const attached = m.attachment !== undefined;
        if (attached) await this.#attach(link, int(m, 'attachment'), session);
        return { info: session.info(), owner: manager.ownerOf(session.id) ?? null, attached };
      }
      case 'attach':
        await this.#attach(link, int(m, 'attachment'), this.#session(m));
        return {};
      case 'detach':
        link.attachments.get(int(m, 'attachment'))?.detach();
        return {};
      case 'close': {
        const reason = optStr(m, 'reason', 32);
        if (reason !== undefined && !EXIT_REASONS.has(reason))
          throw new CodedError('bad_message', 'unknown exit reason');
        await this.#session(m).close(reason as ExitReason | undefined);
        return {};
      }
      case 'rename':
        this.#session(m).rename(str(m, 'name', 256, true));
        return {};
      case 'list':
        return { sessions: manager.list() };
      case 'links':
        return { links: manager.links() };
      case 'discover':
        return { ...(await manager.discover()) };
      case 'setTimeouts':
        manager.setTimeouts(obj(m, 'timeouts') as SessionTimeouts);
        return { timeouts: manager.timeouts };
      case 'shutdown': {
        const ended = manager.list().length;
        setImmediate(() => void this.end('shutdown asked'));
        return { ended };
      }
      default:
        throw new CodedError('bad_message', `unknown holder call ${call.slice(0, 32)}`);
    }
  }

  #session(m: Record<string, unknown>): Session {
    const id = str(m, 'session', 64);
    const s = this.#o.manager.get(id);
    if (!s) throw new CodedError('not_found', `no session ${id}`);
    return s;
  }

  #hook(session: Session): void {
    if (this.#hooked.has(session)) return;
    this.#hooked.add(session);
    session.onExit((code, reason) => {
      this.#broadcast({ event: 'exit', session: session.id, code, ...(reason ? { reason } : {}) }, true);
      this.#checkIdle();
    });
  }

  /**
   * Sends an event to every daemon. With `keep`, an event that finds no
   * daemon (between a daemon's end and the next one's start) waits for the
   * next daemon's hello — a session's end, for its audit; terminal
   * attention, for its alert — at most `MAX_KEPT_EVENTS`, the oldest
   * dropped first.
   */
  #broadcast(message: Record<string, unknown>, keep = false): void {
    const bytes = encodeJson(message);
    if (this.#links.size === 0) {
      if (keep) {
        this.#kept.push(bytes);
        if (this.#kept.length > MAX_KEPT_EVENTS) this.#kept.shift();
      }
      return;
    }
    for (const link of this.#links) link.send(bytes);
  }

  #checkIdle(): void {
    if (this.#ended || this.#idleTimer || this.#links.size > 0 || this.#o.manager.list().length > 0) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#links.size === 0 && this.#o.manager.list().length === 0) void this.end('idle');
    }, this.#o.idleMs ?? HOLDER_IDLE_MS);
  }
}

/** `{code, message}` of an error, for the wire (no stack, no cause). */
export function errorBody(error: unknown): { code: string; message: string } {
  if (error instanceof CodedError) return { code: String(error.code), message: error.message };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
