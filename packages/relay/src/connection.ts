/**
 * One client WebSocket as the relay sees it, with an explicit lifecycle:
 * `challenged` (challenge sent, waiting for `auth`) → `authenticating`
 * (checking the signature and registering) → `ready` (routing) → `closed`.
 * `setState` refuses illegal moves. Messages are handled one at a time in
 * arrival order through a per-connection queue; `close()` is idempotent.
 */
import type { PartyId, Role, ServerMessage } from '@pocketshell/protocol';
import { type ErrorCode, encodeMessage, messageOf } from '@pocketshell/protocol';
import type { WebSocket } from 'ws';

/** Connection states, in lifecycle order. */
export const CONNECTION_STATES = ['challenged', 'authenticating', 'ready', 'closed'] as const;
/** One connection state. */
export type ConnectionState = (typeof CONNECTION_STATES)[number];

const MOVES: Record<ConnectionState, readonly ConnectionState[]> = {
  challenged: ['authenticating', 'closed'],
  authenticating: ['ready', 'closed'],
  ready: ['closed'],
  closed: [],
};

/** Queued messages at which a connection stops reading, and at which it reads again. */
const QUEUE_HIGH = 64;
const QUEUE_LOW = 8;

/** Close codes the relay uses. */
export const CLOSE = { normal: 1000, goingAway: 1001, policy: 1008, tooBig: 1009, idle: 4000 } as const;

/** A client connection. */
export class Connection {
  readonly ws: WebSocket;
  readonly ip: string;
  /** The challenge nonce (raw bytes). */
  readonly nonce: Uint8Array;
  /** The origin the challenge named. */
  readonly origin: string;
  #state: ConnectionState = 'challenged';
  #id: PartyId | undefined;
  #role: Role | undefined;
  #pub: string | undefined;
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;
  /** Last time (ms) a frame or pong arrived. */
  lastSeen: number;
  readonly #onRefuse: (code: ErrorCode) => void;

  constructor(input: {
    ws: WebSocket;
    ip: string;
    nonce: Uint8Array;
    origin: string;
    now: number;
    onRefuse: (code: ErrorCode) => void;
  }) {
    this.ws = input.ws;
    this.ip = input.ip;
    this.nonce = input.nonce;
    this.origin = input.origin;
    this.lastSeen = input.now;
    this.#onRefuse = input.onRefuse;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The authenticated id (only once `ready`). */
  get id(): PartyId {
    if (this.#id === undefined) throw new Error('connection is not authenticated');
    return this.#id;
  }

  /** The authenticated id, or undefined before `ready` (stays set once closed). */
  get authId(): PartyId | undefined {
    return this.#id;
  }

  get role(): Role {
    if (this.#role === undefined) throw new Error('connection is not authenticated');
    return this.#role;
  }

  /** The authenticated public key, base64url. */
  get pub(): string {
    if (this.#pub === undefined) throw new Error('connection is not authenticated');
    return this.#pub;
  }

  /** Moves to `next`, refusing a move the lifecycle does not allow. */
  setState(next: ConnectionState): void {
    if (!MOVES[this.#state].includes(next))
      throw new Error(`connection: illegal move ${this.#state} → ${next}`);
    this.#state = next;
  }

  /** Records who authenticated and moves to `ready`. */
  authenticated(id: PartyId, role: Role, pub: string): void {
    this.#id = id;
    this.#role = role;
    this.#pub = pub;
    this.setState('ready');
  }

  /** Messages queued and not yet handled. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Runs `task` after every earlier one; its errors go to `onError`. When
   * too many wait, the socket stops reading (TCP backpressure) until the
   * queue drains, so a flood costs the sender, not the relay's memory.
   */
  enqueue(task: () => Promise<void>, onError: (error: unknown) => void): void {
    this.#pending += 1;
    if (this.#pending >= QUEUE_HIGH && !this.ws.isPaused) this.ws.pause();
    this.#queue = this.#queue
      .then(task)
      .catch(onError)
      .finally(() => {
        this.#pending -= 1;
        if (this.#pending <= QUEUE_LOW && this.ws.isPaused && this.#state !== 'closed') this.ws.resume();
      });
  }

  /** Sends a message if the socket is open; false when it was not sent. */
  send(message: ServerMessage): boolean {
    if (this.#state === 'closed' || this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(encodeMessage(message));
    return true;
  }

  /** Sends `error {rid?, code}` and counts the refusal. */
  refuse(code: ErrorCode, rid?: string, message?: string): void {
    this.#onRefuse(code);
    this.send({
      t: 'error',
      code,
      message: message ?? messageOf(code),
      ...(rid === undefined ? {} : { rid }),
    });
  }

  /** Closes the socket (after flushing what was sent). Idempotent. */
  close(code: number = CLOSE.normal, reason = ''): void {
    if (this.#state === 'closed') return;
    this.setState('closed');
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }
}
