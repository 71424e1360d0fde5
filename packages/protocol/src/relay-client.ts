/**
 * The client side of the relay connection (docs/protocol.md §3), shared by the
 * host agent, the Node client and the web client: dial, check the
 * challenge's origin, sign the auth transcript, then exchange messages —
 * requests with `rid`s answered by promise, everything else as events.
 * Reconnects by itself with exponential backoff and full jitter (1 s → 30 s),
 * moving to the next relay URL of its list at each reconnect (a fleet of
 * relay nodes: when one dies, the next is tried),
 * drops a connection that has been silent too long, and notices the machine
 * waking from sleep (the timer jumps) to reconnect at once. The WebSocket
 * constructor, clock and randomness are injected, so it runs on `ws` in
 * Node and on the browser's own WebSocket.
 */
import { b64u, fromB64u, randomBytes } from './bytes.ts';
import { Emitter } from './emitter.ts';
import type { Envelope } from './envelope.ts';
import { ProtocolError } from './errors.ts';
import { idOf, type KeyPair, type PartyId, type Role, sign } from './identity.ts';
import { relayAuthTranscript } from './inner.ts';
import {
  type ClientMessage,
  type ErrorMessage,
  encodeMessage,
  type OkMessage,
  type PairCreatedMessage,
  type PushVapidMessage,
  readServerMessage,
  type ServerMessage,
  type TurnMessage,
} from './messages.ts';
import { unixNow } from './time.ts';

/** The part of the WebSocket API the client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: never) => void): void;
  /** `ws` only: fires on a protocol ping from the relay (proof of life). */
  on?(event: 'ping', listener: () => void): unknown;
}

/** A WebSocket constructor. */
export type WebSocketFactory = new (url: string) => WebSocketLike;

/** Connection states, in the order a healthy connection goes through them. */
export const RELAY_CLIENT_STATES = [
  'idle',
  'connecting',
  'authenticating',
  'ready',
  'backoff',
  'closed',
] as const;
export type RelayClientState = (typeof RELAY_CLIENT_STATES)[number];

const MOVES: Record<RelayClientState, readonly RelayClientState[]> = {
  idle: ['connecting', 'closed'],
  connecting: ['authenticating', 'backoff', 'closed'],
  authenticating: ['ready', 'backoff', 'closed'],
  ready: ['backoff', 'closed'],
  backoff: ['connecting', 'closed'],
  closed: [],
};

/** Messages a client sends as requests, without their `rid`. */
export type RequestMessage =
  Exclude<ClientMessage, { t: 'auth' } | { t: 'send' }> extends infer M
    ? M extends { rid: string }
      ? Omit<M, 'rid'>
      : never
    : never;

/** The reply type for each request type. */
export type ReplyTo<T extends RequestMessage['t']> = T extends 'pair.create'
  ? PairCreatedMessage
  : T extends 'turn.credentials'
    ? TurnMessage
    : T extends 'push.key'
      ? PushVapidMessage
      : OkMessage;

/** Events a relay client emits. */
export interface RelayClientEvents {
  state: RelayClientState;
  /** Authenticated; `skew` = relay clock − ours, in seconds. */
  ready: { id: PartyId; skew: number };
  /** Any non-reply message: deliver, presence, pair.*, unsolicited errors. */
  message: ServerMessage;
  /** The connection dropped; `reason` says why (a code or a close description). */
  disconnected: { reason: string; retryInMs: number };
  /** The relay refused our authentication (closed registration, bad clock…). */
  refused: ErrorMessage;
}

export interface RelayClientOptions {
  /** `ws[s]://host[:port]/ws`. */
  url: string;
  /** Other nodes of the same relay fleet, tried in turn after `url` on each reconnect. */
  fallbackUrls?: readonly string[];
  role: Role;
  keyPair: KeyPair;
  WebSocket: WebSocketFactory;
  /** Enrollment token for a relay with closed registration (hosts, first time). */
  enroll?: string;
  /** Milliseconds clock (default `Date.now`). */
  now?: () => number;
  /** Uniform [0, 1) (default `Math.random`; jitter needs no crypto). */
  random?: () => number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Drop the connection after this long without any frame or ping (default 60 s). */
  silenceMs?: number;
  /** How long a request waits for its reply (default 15 s). */
  requestTimeoutMs?: number;
  /** How often the watchdog looks at the clock (default 5 s). */
  tickMs?: number;
}

/** How a party (the host agent or a device) reaches its relay. */
export interface RelayLinkOptions {
  /** `ws[s]://…/ws` of the relay. */
  relayUrl: string;
  /** Other nodes of the same relay fleet (`ws[s]://…/ws`), tried in turn when the current one drops. */
  relayFallbackUrls?: readonly string[];
  WebSocket: WebSocketFactory;
  /** Unix seconds. */
  now?: () => number;
  /** Relay reconnect tuning (tests shorten it). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** The relay client of a party from its link options. */
export function relayClientOf(
  role: Role,
  keyPair: KeyPair,
  o: RelayLinkOptions & { enroll?: string | undefined },
): RelayClient {
  return new RelayClient({
    url: o.relayUrl,
    ...(o.relayFallbackUrls !== undefined ? { fallbackUrls: o.relayFallbackUrls } : {}),
    role,
    keyPair,
    WebSocket: o.WebSocket,
    ...(o.enroll !== undefined ? { enroll: o.enroll } : {}),
    ...(o.minBackoffMs !== undefined ? { minBackoffMs: o.minBackoffMs } : {}),
    ...(o.maxBackoffMs !== undefined ? { maxBackoffMs: o.maxBackoffMs } : {}),
  });
}

interface Pending {
  resolve: (m: ServerMessage) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The origin a URL dials, as the relay's challenge states it: `ws[s]://host[:port]`. */
export function wsOrigin(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new ProtocolError('bad_message', 'relay URL must be ws: or wss:');
  }
  return `${u.protocol}//${u.host}`;
}

export class RelayClient extends Emitter<RelayClientEvents> {
  readonly id: PartyId;
  readonly #o: Required<Omit<RelayClientOptions, 'enroll' | 'fallbackUrls'>> & { enroll?: string };
  /** The relay URLs, the current one at `#at`. */
  readonly #urls: readonly string[];
  #at = 0;
  #state: RelayClientState = 'idle';
  #ws: WebSocketLike | undefined;
  #attempt = 0;
  #lastHeard = 0;
  #lastTick = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #rid = 0;
  readonly #pending = new Map<string, Pending>();
  #readyWaiters: (() => void)[] = [];

  constructor(options: RelayClientOptions) {
    super();
    this.#o = {
      now: Date.now,
      random: Math.random,
      minBackoffMs: 1000,
      maxBackoffMs: 30_000,
      silenceMs: 60_000,
      requestTimeoutMs: 15_000,
      tickMs: 5000,
      ...options,
    };
    this.#urls = [options.url, ...(options.fallbackUrls ?? []).filter((u) => u !== options.url)];
    for (const u of this.#urls) wsOrigin(u);
    this.id = idOf(options.role, options.keyPair.publicKey);
  }

  /** The relay URL in use (or tried next). */
  get url(): string {
    return this.#urls[this.#at]!;
  }

  /** The current state. */
  get state(): RelayClientState {
    return this.#state;
  }

  #setState(next: RelayClientState): void {
    if (next === this.#state) return;
    if (!MOVES[this.#state].includes(next)) {
      throw new ProtocolError('internal', `relay client: illegal move ${this.#state} → ${next}`);
    }
    this.#state = next;
    this.emit('state', next);
    if (next === 'ready') {
      const waiters = this.#readyWaiters;
      this.#readyWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Starts connecting (and keeps reconnecting until `close()`). */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#lastTick = this.#o.now();
    this.#watchdog = setInterval(() => this.#tick(), this.#o.tickMs);
    (this.#watchdog as { unref?: () => void }).unref?.();
    this.#connect();
  }

  /** Resolves when the client is `ready` (rejects with `timeout` after `timeoutMs`, or if closed). */
  waitReady(timeoutMs = 30_000): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    if (this.#state === 'closed')
      return Promise.reject(new ProtocolError('unavailable', 'relay client is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== done);
        reject(new ProtocolError('timeout', 'relay not ready in time'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        if (this.#state === 'ready') resolve();
        else reject(new ProtocolError('unavailable', 'relay client is closed'));
      };
      this.#readyWaiters.push(done);
    });
  }

  /** Drops the current connection now and reconnects at once (network change, wake-up). */
  reconnectNow(reason = 'reconnect requested'): void {
    if (this.#state === 'closed' || this.#state === 'idle') return;
    this.#attempt = 0;
    if (this.#state === 'backoff') {
      clearTimeout(this.#retryTimer);
      this.#connect();
      return;
    }
    this.#drop(reason, 0);
  }

  /** Closes for good. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#watchdog);
    const ws = this.#ws;
    this.#ws = undefined;
    this.#failPending(new ProtocolError('unavailable', 'relay client closed'));
    this.#setState('closed');
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w();
    try {
      ws?.close(1000, 'bye');
    } catch {
      // The socket may already be gone; nothing is lost.
    }
  }

  /** Sends a request and resolves with its reply; an `error` reply rejects with its code. */
  request<M extends RequestMessage>(message: M): Promise<ReplyTo<M['t']>> {
    const rid = `r${++this.#rid}`;
    return new Promise<ReplyTo<M['t']>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(new ProtocolError('timeout', `no reply to ${message.t}`));
      }, this.#o.requestTimeoutMs);
      this.#pending.set(rid, { resolve: resolve as (m: ServerMessage) => void, reject, timer });
      try {
        this.#send({ ...message, rid } as ClientMessage);
      } catch (error) {
        clearTimeout(timer);
        this.#pending.delete(rid);
        reject(error);
      }
    });
  }

  /**
   * Sends a sealed envelope, fire-and-forget: a refusal (`not_paired`,
   * `rate_limited`…) arrives as an `error` message event, carrying `rid`
   * when one is given (the relay path names its frames so). Throws
   * `unavailable` when not connected.
   */
  send(to: PartyId, env: Envelope, rid?: string): void {
    this.#send(rid === undefined ? { t: 'send', to, env } : { t: 'send', rid, to, env });
  }

  #send(message: ClientMessage): void {
    const ws = this.#ws;
    if (!ws || this.#state !== 'ready' || ws.readyState !== 1) {
      throw new ProtocolError('unavailable', 'not connected to the relay');
    }
    ws.send(encodeMessage(message));
  }

  #connect(): void {
    this.#setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.#o.WebSocket(this.url);
    } catch (error) {
      this.#drop(`dial failed: ${(error as Error).message}`);
      return;
    }
    this.#ws = ws;
    this.#lastHeard = this.#o.now();
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => {
      if (this.#ws !== ws) return;
      this.#lastHeard = this.#o.now();
      this.#setState('authenticating');
    });
    ws.addEventListener('message', (event: { data: unknown }) => {
      if (this.#ws !== ws) return;
      this.#lastHeard = this.#o.now();
      this.#onFrame(event.data);
    });
    // `ws` says why a dial failed (`connect ECONNREFUSED 127.0.0.1:1`); browsers say nothing.
    let failure: string | undefined;
    ws.addEventListener('close', (event: { code?: number; reason?: string }) => {
      if (this.#ws !== ws) return;
      this.#drop(failure ?? `closed (${event.code ?? 0}${event.reason ? `: ${event.reason}` : ''})`);
    });
    ws.addEventListener('error', (event: { message?: unknown }) => {
      // 'close' always follows; the drop happens there.
      if (typeof event.message === 'string' && event.message !== '') failure = event.message.slice(0, 200);
    });
    ws.on?.('ping', () => {
      this.#lastHeard = this.#o.now();
    });
  }

  #onFrame(frame: unknown): void {
    let message: ServerMessage;
    try {
      message = readServerMessage(frame);
    } catch (error) {
      // A relay that speaks garbage gets dropped; we reconnect with backoff.
      this.#drop(`bad frame from relay: ${(error as ProtocolError).code ?? 'bad_message'}`);
      return;
    }
    if (this.#state === 'authenticating') {
      this.#onHandshake(message);
      return;
    }
    if ('rid' in message && message.rid !== undefined) {
      const pending = this.#pending.get(message.rid);
      if (pending) {
        this.#pending.delete(message.rid);
        clearTimeout(pending.timer);
        if (message.t === 'error') pending.reject(remoteError(message));
        else pending.resolve(message);
        return;
      }
    }
    this.emit('message', message);
  }

  #onHandshake(message: ServerMessage): void {
    if (message.t === 'challenge') {
      const origin = wsOrigin(this.url);
      if (message.relay !== origin) {
        this.#drop(`challenge names ${message.relay}, not ${origin}`);
        return;
      }
      const ts = unixNow(this.#o.now());
      const { publicKey, secretKey } = this.#o.keyPair;
      const sig = sign(
        relayAuthTranscript(message.relay, fromB64u(message.nonce), this.#o.role, publicKey, ts),
        secretKey,
      );
      const auth: ClientMessage = { t: 'auth', role: this.#o.role, pub: b64u(publicKey), ts, sig: b64u(sig) };
      if (this.#o.enroll !== undefined) auth.enroll = this.#o.enroll;
      this.#ws?.send(encodeMessage(auth));
      return;
    }
    if (message.t === 'ready') {
      if (message.id !== this.id) {
        this.#drop(`relay says we are ${message.id}`);
        return;
      }
      this.#attempt = 0;
      this.#setState('ready');
      this.emit('ready', { id: message.id, skew: message.time - unixNow(this.#o.now()) });
      return;
    }
    if (message.t === 'error') {
      this.emit('refused', message);
      this.#drop(message.code);
      return;
    }
    this.#drop(`unexpected ${message.t} before ready`);
  }

  /** Closes the socket and schedules the next attempt. */
  #drop(reason: string, delayMs?: number): void {
    if (this.#state === 'closed') return;
    const ws = this.#ws;
    this.#ws = undefined;
    try {
      ws?.close(1000);
    } catch {
      // Already closed.
    }
    this.#failPending(new ProtocolError('unavailable', `relay connection lost: ${reason}`));
    // the next node of the fleet gets the next attempt (a list of one stays where it is)
    this.#at = (this.#at + 1) % this.#urls.length;
    const ceiling = Math.min(this.#o.maxBackoffMs, this.#o.minBackoffMs * 2 ** this.#attempt);
    const wait = delayMs ?? Math.floor(this.#o.random() * ceiling);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    this.#setState('backoff');
    this.emit('disconnected', { reason, retryInMs: wait });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), wait);
  }

  #failPending(error: Error): void {
    for (const [rid, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(rid);
      p.reject(error);
    }
  }

  /** Watchdog: silence → drop; a jump of the clock (sleep) → reconnect now. */
  #tick(): void {
    const now = this.#o.now();
    const slept = now - this.#lastTick > this.#o.tickMs * 3;
    this.#lastTick = now;
    if (slept && this.#state !== 'closed') {
      this.reconnectNow('woke from sleep');
      return;
    }
    const live = this.#state === 'ready' || this.#state === 'authenticating' || this.#state === 'connecting';
    if (live && now - this.#lastHeard > this.#o.silenceMs) this.#drop('relay silent');
  }
}

/** A `ProtocolError` for an `error` reply (codes newer than ours map to `internal`). */
function remoteError(message: ErrorMessage): ProtocolError {
  const err = new ProtocolError('internal', message.message ?? message.code);
  // Keep the relay's code even when this build does not know it.
  Object.defineProperty(err, 'code', { value: message.code });
  return err;
}

/** A fresh random request-independent id (for `conn` and the like). */
export function randomId(bytes = 12): string {
  return b64u(randomBytes(bytes));
}
