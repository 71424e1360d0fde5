/**
 * The daemon's end of the session holder (server.ts): `RemoteSessionManager`
 * implements `SessionHost` by calls over the holder's socket, and each
 * `RemoteSession.attach` only pipes frames — device frames in, the holder
 * attachment's frames out — so the per-byte work (mirror parse, framing,
 * pacing) stays in the holder. Nothing is queued here: output is bounded by
 * the attachment's ack window in the holder, input by what the device may
 * send on its channel. The live sessions (with their owners) are cached from
 * the holder's answers and events, so `get` and `ownerOf` stay synchronous.
 * If the holder goes away (it was killed), every attachment ends and the
 * next call starts a new one.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { CodedError, type ExitReason } from '@pocketshell/protocol';
import { HostError } from '../errors.ts';
import type { DetachReason, FrameSink, PacingInfo } from '../pty/attachment.ts';
import type { AttentionEvent, AttentionListener } from '../pty/attention.ts';
import type { SessionInfo, SessionKind } from '../pty/session.ts';
import type {
  HostedAttachOptions,
  HostedSession,
  SessionHost,
  TerminalAttachment,
} from '../pty/session-host.ts';
import { checkTimeouts, type SessionTimeouts } from '../pty/session-limits.ts';
import type { Discovered, OpenOptions } from '../pty/session-manager.ts';
import { withUserUmask } from '../state/umask.ts';
import {
  encodeJson,
  encodeTerm,
  FRAME_FROM_HOLDER,
  FRAME_JSON,
  FRAME_TO_HOLDER,
  FrameReader,
  HOLDER_WIRE_VERSION,
} from './wire.ts';

export interface RemoteOptions {
  readonly socketPath: string;
  /** Starts a holder when none answers (e.g. `startHolder`); without it, none is started. */
  readonly start?: () => void;
  readonly onAttention?: AttentionListener;
  /**
   * Every session's end the holder reports — attached here or not, and
   * those that ended while no daemon was connected (reported after hello).
   */
  readonly onSessionExit?: (session: string, code: number, reason: ExitReason | undefined) => void;
  /** Pushed to the holder on every connection (config `sessionLimits`). */
  readonly timeouts?: SessionTimeouts;
  /** How long a started holder may take to answer (default 10 s). */
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** Starts `command` as a detached holder (own session, stdio to `logFile`), not waiting for it. */
export function startHolder(command: readonly string[], logFile: string, env: NodeJS.ProcessEnv): void {
  const [file, ...args] = command;
  if (!file) throw new HostError('spawn_failed', 'empty holder command');
  const fd = openSync(logFile, 'a', 0o600);
  try {
    // Under the umask the daemon started with: the holder keeps it for the shells (and goes 077 itself).
    const child = withUserUmask(() => spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env }));
    child.on('error', () => {});
    child.unref();
  } finally {
    closeSync(fd);
  }
}

function connectOnce(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => resolve(undefined));
  });
}

/** How long an attachment made by `open` waits to be claimed by `attachTo`. */
const EARLY_CLAIM_MS = 10_000;

/** An attachment the holder made within `open`: its frames, errors and end, kept until claimed. */
interface EarlyAttachment {
  readonly aid: number;
  readonly frames: Uint8Array[];
  readonly errors: unknown[];
  closed: DetachReason | undefined;
  timer?: ReturnType<typeof setTimeout>;
}

interface Sink {
  readonly send: FrameSink;
  readonly onClose: ((reason: DetachReason) => void) | undefined;
  readonly onError: ((error: unknown) => void) | undefined;
}

function remoteError(body: unknown): Error {
  const b = (body ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof b.code === 'string' ? b.code.slice(0, 64) : 'internal';
  const message = typeof b.message === 'string' ? b.message.slice(0, 500) : code;
  return new CodedError(code, message);
}

class Link {
  readonly #socket: Socket;
  readonly #reader = new FrameReader();
  readonly #pending = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  closed = false;
  readonly onEvent: (m: Record<string, unknown>) => void;
  readonly onTerm: (attachment: number, payload: Uint8Array) => void;
  readonly onGone: () => void;

  constructor(
    socket: Socket,
    onEvent: (m: Record<string, unknown>) => void,
    onTerm: (attachment: number, payload: Uint8Array) => void,
    onGone: () => void,
  ) {
    this.#socket = socket;
    this.onEvent = onEvent;
    this.onTerm = onTerm;
    this.onGone = onGone;
    socket.on('data', (chunk: Buffer) => {
      let frames: ReturnType<FrameReader['push']>;
      try {
        frames = this.#reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FRAME_JSON) this.#message(f.message);
        else if (f.type === FRAME_FROM_HOLDER) this.onTerm(f.attachment, f.payload);
        else socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.#pending.values())
        p.reject(new HostError('closed', 'the session holder went away'));
      this.#pending.clear();
      this.onGone();
    });
  }

  #message(m: Record<string, unknown>): void {
    if (typeof m.id === 'number') {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(remoteError(m.error));
      else if (typeof m.ok === 'object' && m.ok !== null) p.resolve(m.ok as Record<string, unknown>);
      else p.reject(new CodedError('bad_message', 'holder reply without a result'));
      return;
    }
    this.onEvent(m);
  }

  call(call: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new HostError('closed', 'the session holder went away'));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.write(encodeJson({ ...args, id, call }));
    });
  }

  term(attachment: number, frame: Uint8Array): void {
    if (!this.closed) this.#socket.write(encodeTerm(FRAME_TO_HOLDER, attachment, frame));
  }

  /** Ends the connection; resolves once it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }
}

export class RemoteSession implements HostedSession {
  readonly id: string;
  readonly kind: SessionKind;
  #info: SessionInfo;
  readonly #manager: RemoteSessionManager;
  readonly exitListeners: Array<(code: number, reason: ExitReason | undefined) => void> = [];

  constructor(manager: RemoteSessionManager, info: SessionInfo) {
    this.#manager = manager;
    this.id = info.id;
    this.kind = info.kind;
    this.#info = info;
  }

  /** The holder's pid of the program. */
  get pid(): number {
    return this.#info.pid;
  }

  /** @internal */
  update(info: SessionInfo): void {
    this.#info = info;
  }

  /** The session as last reported by the holder (`list()` asks it afresh). */
  info(): SessionInfo {
    return this.#info;
  }

  rename(name: string): void {
    this.#info = { ...this.#info, name };
    void this.#manager.call('rename', { session: this.id, name }).catch(() => {});
  }

  async close(reason?: ExitReason): Promise<void> {
    await this.#manager.call('close', { session: this.id, ...(reason ? { reason } : {}) });
  }

  onExit(listener: (code: number, reason: ExitReason | undefined) => void): void {
    this.exitListeners.push(listener);
  }

  attach(opts: HostedAttachOptions): Promise<TerminalAttachment> {
    return this.#manager.attachTo(this.id, opts);
  }
}

export class RemoteSessionManager implements SessionHost {
  readonly #o: RemoteOptions;
  readonly #sessions = new Map<string, RemoteSession>();
  readonly #owners = new Map<string, string>();
  readonly #sinks = new Map<number, Sink>();
  /** Attachments the holder made in an `open` call, per session, until `attachTo` claims them. */
  readonly #attachedEarly = new Map<string, EarlyAttachment[]>();
  #link: Link | undefined;
  #connecting: Promise<Link> | undefined;
  #timeouts: SessionTimeouts;
  #nextAttachment = 1;
  #closed = false;
  /** The holder's pid, once connected. */
  holderPid = 0;

  private constructor(o: RemoteOptions) {
    this.#o = o;
    this.#timeouts = checkTimeouts(o.timeouts ?? {});
  }

  /** Connects to the holder (starting one when none answers) and learns its live sessions. */
  static async connect(o: RemoteOptions): Promise<RemoteSessionManager> {
    const m = new RemoteSessionManager(o);
    await m.#ready();
    return m;
  }

  get timeouts(): SessionTimeouts {
    return this.#timeouts;
  }

  setTimeouts(timeouts: SessionTimeouts): void {
    this.#timeouts = checkTimeouts(timeouts);
    void this.call('setTimeouts', { timeouts: this.#timeouts }).catch((e: Error) =>
      this.#o.log?.(`session holder refused the limits: ${e.message}`),
    );
  }

  get(id: string): RemoteSession | undefined {
    return this.#sessions.get(id);
  }

  ownerOf(id: string): string | undefined {
    return this.#sessions.has(id) ? this.#owners.get(id) : undefined;
  }

  async open(target: string, opts: OpenOptions = {}): Promise<RemoteSession> {
    // Attached by the holder in the same call when the caller attaches next; its frames wait
    // here (bounded by the attachment's window: nothing is acked before the device has them).
    const early = opts.attachNext ? this.#early() : undefined;
    let r: Record<string, unknown>;
    try {
      r = await this.call('open', {
        target,
        ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
        ...(opts.cols !== undefined ? { cols: opts.cols } : {}),
        ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
        ...(early ? { attachment: early.aid } : {}),
      });
    } catch (error) {
      if (early) this.#sinks.delete(early.aid);
      throw error;
    }
    const session = this.#learn(r.info as SessionInfo, r.owner);
    if (early) {
      // A holder from before this call could attach (it kept running across an upgrade) says nothing.
      if (r.attached !== true) this.#sinks.delete(early.aid);
      else {
        const queue = this.#attachedEarly.get(session.id) ?? [];
        queue.push(early);
        this.#attachedEarly.set(session.id, queue);
        // Never claimed (the device's channel went away first): let go of it.
        early.timer = setTimeout(() => this.#dropEarly(session.id, early), EARLY_CLAIM_MS);
        early.timer.unref?.();
      }
    }
    return session;
  }

  /** A sink that keeps an attachment's frames until `attachTo` claims it. */
  #early(): EarlyAttachment {
    const early: EarlyAttachment = { aid: this.#nextAttachment++, frames: [], errors: [], closed: undefined };
    this.#sinks.set(early.aid, {
      send: (frame) => early.frames.push(frame),
      onClose: (reason) => (early.closed = reason),
      onError: (error) => early.errors.push(error),
    });
    return early;
  }

  #dropEarly(session: string, early: EarlyAttachment): void {
    const queue = this.#attachedEarly.get(session);
    const i = queue?.indexOf(early) ?? -1;
    if (!queue || i < 0) return;
    queue.splice(i, 1);
    if (queue.length === 0) this.#attachedEarly.delete(session);
    if (this.#sinks.delete(early.aid))
      void this.#link?.call('detach', { attachment: early.aid }).catch(() => {});
  }

  async list(): Promise<SessionInfo[]> {
    const { sessions } = (await this.call('list')) as { sessions: SessionInfo[] };
    for (const info of sessions) this.#sessions.get(info.id)?.update(info);
    return sessions;
  }

  async links(): Promise<Record<string, PacingInfo[]>> {
    return ((await this.call('links')) as { links: Record<string, PacingInfo[]> }).links;
  }

  async discover(): Promise<Discovered> {
    const r = (await this.call('discover')) as { tmux?: string[]; screen?: string[] };
    return { tmux: r.tmux ?? [], screen: r.screen ?? [] };
  }

  /** Ends the holder and every session in it (`pocketshell daemon stop`); resolves with how many ended. */
  async shutdown(): Promise<number> {
    const { ended } = (await this.call('shutdown')) as { ended: number };
    return ended;
  }

  /** Lets go of the holder: attachments end, the sessions live on in it. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#link?.close();
  }

  /** @internal */
  async call(call: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return (await this.#ready()).call(call, args);
  }

  /** @internal */
  async attachTo(session: string, opts: HostedAttachOptions): Promise<TerminalAttachment> {
    const link = await this.#ready();
    const early = this.#attachedEarly.get(session)?.shift();
    if (early) {
      if (this.#attachedEarly.get(session)?.length === 0) this.#attachedEarly.delete(session);
      clearTimeout(early.timer);
      const aid = early.aid;
      // In one turn: what came before the claim first, in order, then the live frames.
      if (early.closed === undefined)
        this.#sinks.set(aid, { send: opts.send, onClose: opts.onClose, onError: opts.onError });
      for (const frame of early.frames) opts.send(frame);
      for (const error of early.errors) opts.onError?.(error);
      if (early.closed !== undefined) opts.onClose?.(early.closed);
      return {
        receive: (frame) => link.term(aid, frame),
        detach: () => {
          if (this.#sinks.has(aid)) void link.call('detach', { attachment: aid }).catch(() => {});
        },
      };
    }
    const aid = this.#nextAttachment++;
    this.#sinks.set(aid, { send: opts.send, onClose: opts.onClose, onError: opts.onError });
    try {
      await link.call('attach', { session, attachment: aid });
    } catch (error) {
      this.#sinks.delete(aid);
      throw error;
    }
    return {
      receive: (frame) => link.term(aid, frame),
      detach: () => {
        if (this.#sinks.has(aid)) void link.call('detach', { attachment: aid }).catch(() => {});
      },
    };
  }

  #learn(info: SessionInfo, owner: unknown): RemoteSession {
    let s = this.#sessions.get(info.id);
    if (s) s.update(info);
    else {
      s = new RemoteSession(this, info);
      this.#sessions.set(info.id, s);
    }
    if (typeof owner === 'string') this.#owners.set(info.id, owner);
    else this.#owners.delete(info.id);
    return s;
  }

  #ready(): Promise<Link> {
    if (this.#closed) return Promise.reject(new HostError('closed', 'the session holder link is closed'));
    if (this.#link && !this.#link.closed) return Promise.resolve(this.#link);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(): Promise<Link> {
    let socket = await connectOnce(this.#o.socketPath);
    if (!socket && this.#o.start) {
      this.#o.start();
      const deadline = Date.now() + (this.#o.startTimeoutMs ?? 10_000);
      while (!socket && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        socket = await connectOnce(this.#o.socketPath);
      }
    }
    if (!socket) throw new HostError('spawn_failed', 'the session holder does not answer');
    const link = new Link(
      socket,
      (m) => this.#event(m),
      (aid, payload) => this.#sinks.get(aid)?.send(payload),
      () => this.#gone(link),
    );
    const hello = await link.call('hello');
    if (hello.wire !== HOLDER_WIRE_VERSION) {
      await link.close();
      throw new CodedError(
        'unsupported',
        `the session holder (pid ${String(hello.pid)}) speaks another version; end it and its shells with pocketshell daemon stop`,
      );
    }
    this.holderPid = typeof hello.pid === 'number' ? hello.pid : 0;
    this.#sessions.clear();
    this.#owners.clear();
    for (const s of (hello.sessions as { info: SessionInfo; owner: unknown }[]) ?? [])
      this.#learn(s.info, s.owner);
    this.#link = link;
    await link.call('setTimeouts', { timeouts: this.#timeouts });
    return link;
  }

  #gone(link: Link): void {
    if (this.#link !== link) return;
    this.#link = undefined;
    if (!this.#closed) this.#o.log?.('the session holder connection closed');
    for (const [aid, sink] of [...this.#sinks]) {
      this.#sinks.delete(aid);
      sink.onClose?.(this.#closed ? 'detached' : 'closed');
    }
    this.#sessions.clear();
    this.#owners.clear();
  }

  #event(m: Record<string, unknown>): void {
    switch (m.event) {
      case 'detached': {
        const aid = Number(m.attachment);
        const sink = this.#sinks.get(aid);
        if (!sink) return;
        this.#sinks.delete(aid);
        const reason = m.reason === 'exited' || m.reason === 'closed' ? m.reason : 'detached';
        sink.onClose?.(reason);
        return;
      }
      case 'refused':
        this.#sinks.get(Number(m.attachment))?.onError?.(remoteError(m));
        return;
      case 'exit': {
        const id = String(m.session);
        const code = typeof m.code === 'number' ? m.code : 0;
        const reason = typeof m.reason === 'string' ? (m.reason as ExitReason) : undefined;
        this.#o.onSessionExit?.(id, code, reason);
        const s = this.#sessions.get(id);
        if (!s) return;
        this.#sessions.delete(id);
        this.#owners.delete(id);
        for (const l of s.exitListeners.splice(0)) l(code, reason);
        return;
      }
      case 'attention':
        if (typeof m.attention === 'object' && m.attention !== null)
          this.#o.onAttention?.(m.attention as AttentionEvent);
        return;
      case 'error':
        this.#o.log?.(`session holder: ${String(m.code)}: ${String(m.message).slice(0, 200)}`);
        return;
    }
  }
}

/** True when a holder answers on `path`. */
async function answers(path: string): Promise<boolean> {
  const s = await connectOnce(path);
  s?.destroy();
  return s !== undefined;
}

/**
 * Ends the holder answering on `socketPath` and every session in it
 * (`pocketshell daemon stop`); undefined when none answers. Never starts one.
 */
export async function shutdownHolder(
  socketPath: string,
): Promise<{ pid: number; ended: number } | undefined> {
  if (!(await answers(socketPath))) return undefined;
  const m = await RemoteSessionManager.connect({ socketPath });
  try {
    const pid = m.holderPid;
    const ended = await m.shutdown();
    // Wait until it is gone (its sessions get SIGHUP, then SIGKILL after the grace period).
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await answers(socketPath))) await new Promise((r) => setTimeout(r, 100));
    return { pid, ended };
  } finally {
    await m.close();
  }
}
