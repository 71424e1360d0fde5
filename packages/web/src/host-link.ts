/**
 * One open WebRTC connection to a host, in the browser: the
 * `RTCPeerConnection`, its `control` channel (JSON calls `{id, method,
 * params}` → `{id, result | error}`), terminal channels opened on demand,
 * and which path the bytes take (peer to peer, or through a TURN relay).
 * `WebDevice.connect` builds it once the signed answer is applied and the
 * control channel is open.
 */
import { Emitter, ProtocolError } from '@pocketshell/protocol';
import type { PinnedHost } from './store.ts';
import { TermChannel } from './term-channel.ts';

/** The path of a connection. */
export type Route = 'p2p' | 'turn' | 'unknown';

export interface HostLinkEvents {
  [key: string]: unknown;
  /** The peer connection ended (by us, the host, or the network). */
  close: string;
}

/** A control call that failed at the host, with the host's error code. */
export class ControlError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const OPEN_TIMEOUT_MS = 20_000;

export class HostLink extends Emitter<HostLinkEvents> {
  readonly host: PinnedHost;
  readonly conn: string;
  readonly pc: RTCPeerConnection;
  readonly control: RTCDataChannel;
  #nextId = 1;
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #closed = false;
  readonly #onClose: () => void;

  constructor(
    host: PinnedHost,
    conn: string,
    pc: RTCPeerConnection,
    control: RTCDataChannel,
    onClose: () => void,
  ) {
    super();
    this.host = host;
    this.conn = conn;
    this.pc = pc;
    this.control = control;
    this.#onClose = onClose;
    control.addEventListener('message', (e: MessageEvent) => this.#onReply(e.data));
    control.addEventListener('close', () => this.#end('control channel closed'));
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.#end(pc.connectionState);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onReply(data: unknown): void {
    let reply: { id?: unknown; result?: unknown; error?: { code: string; message: string } };
    try {
      reply = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer));
    } catch {
      return;
    }
    if (typeof reply.id !== 'number') return;
    const call = this.#calls.get(reply.id);
    if (!call) return;
    this.#calls.delete(reply.id);
    if (reply.error) call.reject(new ControlError(reply.error.code, reply.error.message));
    else call.resolve(reply.result);
  }

  /** Calls a control method of the host. */
  call<T = unknown>(method: string, params?: unknown): Promise<T> {
    if (this.#closed) return Promise.reject(new ProtocolError('unavailable', 'connection closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.control.send(JSON.stringify({ id, method, ...(params === undefined ? {} : { params }) }));
    });
  }

  /**
   * Opens `term:<target>` (`new`, a session id, `tmux:<name>`,
   * `screen:<name>`) and resolves once the host attached it; the snapshot
   * follows as `data` events. Refused targets reject with `unavailable`.
   */
  async openTerminal(
    target: string,
    cols: number,
    rows: number,
    setup?: (term: TermChannel) => void,
  ): Promise<TermChannel> {
    if (this.#closed) throw new ProtocolError('unavailable', 'connection closed');
    const channel = this.pc.createDataChannel(`term:${target}`);
    const term = new TermChannel(channel);
    setup?.(term);
    let off: (() => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new ProtocolError('timeout', 'terminal did not open')),
          OPEN_TIMEOUT_MS,
        );
        const offAttached = term.once('attached', () => resolve());
        const offClose = term.once('close', () =>
          reject(new ProtocolError('unavailable', 'terminal refused')),
        );
        off = () => {
          offAttached();
          offClose();
        };
        channel.addEventListener('open', () => term.resize(cols, rows), { once: true });
      });
    } catch (error) {
      term.close();
      throw error;
    } finally {
      clearTimeout(timer);
      off?.();
    }
    return term;
  }

  /** Where the bytes flow, from the selected ICE candidate pair. */
  async route(): Promise<Route> {
    try {
      const stats = await this.pc.getStats();
      let pairId: string | undefined;
      stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      const pair = pairId ? stats.get(pairId) : undefined;
      if (!pair) return 'unknown';
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      return local?.candidateType === 'relay' || remote?.candidateType === 'relay' ? 'turn' : 'p2p';
    } catch {
      return 'unknown';
    }
  }

  #end(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#calls.values()) c.reject(new ProtocolError('unavailable', 'connection closed'));
    this.#calls.clear();
    this.#onClose();
    this.pc.close();
    this.emit('close', reason);
  }

  /** Closes the connection (sessions live on at the host). Idempotent. */
  close(): void {
    this.#end('closed');
  }
}
