/**
 * The browser end of a host's `agent` channel (docs/protocol.md §6
 * `agent`, protocol's agent.ts): `AGENT_METHODS` over the shared typed RPC
 * client, like the `alerts` channel. The device's tier, roots and sandbox
 * (`info`), starting or resuming a session, sending the next prompt,
 * interrupting or stopping it, the live sessions and the past ones on disk,
 * answering an approval, and `watch` — one session's events, each checked
 * with the protocol's `parseAgentEvent`, from the first after `since`, until
 * the session is gone or the channel closes. Reconnecting and resuming
 * from the last event seen is agent-watch.ts's job, above this.
 *
 * A host whose agent serves no agents (older, or built before issue 18)
 * closes the channel at once, having answered nothing, as one does for a
 * device without the `agent` grant: `unsupported` then tells the screen to
 * say so instead of showing an error.
 */
import {
  AGENT_METHODS,
  type AgentEvent,
  type AgentInfo,
  type AgentKind,
  type AgentMethods,
  type AgentSessionInfo,
  type AgentState,
  type AgentTier,
  type ApprovalState,
  type PastAgentSession,
  ProtocolError,
  parseAgentEvent,
  type RpcClient,
} from '@pocketshell/protocol';
import { channelOpened, rpcOverDataChannel } from './rpc-channel.ts';

/** Longest reply taken (docs/protocol.md §6 `agent`: a device accepts replies up to 1 MiB). */
export const MAX_AGENT_REPLY = 1024 * 1024;

/** What `start` takes: a new session with `prompt`, or the past one `resume` names. */
export interface AgentStartOptions {
  readonly kind: AgentKind;
  readonly cwd?: string;
  readonly tier?: AgentTier;
  readonly prompt?: string;
  readonly resume?: string;
}

export class AgentChannel {
  readonly channel: RTCDataChannel;
  readonly #rpc: RpcClient<AgentMethods>;
  #closed = false;
  #closedHere = false;
  #answered = false;
  readonly closed: Promise<void>;

  constructor(channel: RTCDataChannel) {
    this.channel = channel;
    // Out of order or too long: a host that sends garbage loses this channel (the screen opens another).
    this.#rpc = rpcOverDataChannel(channel, AGENT_METHODS, MAX_AGENT_REPLY, {
      notOpen: 'agent channel not open',
      onMalformed: () => this.close(),
    });
    this.closed = new Promise((resolve) => {
      channel.addEventListener('close', () => {
        this.#end();
        resolve();
      });
    });
  }

  /** Waits for the channel to open (rejects `unsupported` when the host closes it first, `timeout` after `ms`). */
  opened(ms = 20_000): Promise<void> {
    return channelOpened(this.channel, this.closed, this.#closed, 'agent', 'unsupported', ms);
  }

  /** True when the host closed the channel without ever answering (no agents there, or no `agent` grant). */
  get unsupported(): boolean {
    return this.#closed && !this.#answered && !this.#closedHere;
  }

  /** Whether the channel is closed (by either side). */
  get isClosed(): boolean {
    return this.#closed;
  }

  async #call<T>(p: Promise<T>): Promise<T> {
    try {
      const r = await p;
      this.#answered = true;
      return r;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'unavailable') this.#answered = true;
      else if (this.unsupported) throw new ProtocolError('unsupported', 'this host serves no agents');
      throw error;
    }
  }

  info(): Promise<AgentInfo> {
    return this.#call(this.#rpc.call('agent.info'));
  }

  async start(o: AgentStartOptions): Promise<AgentSessionInfo> {
    const params: {
      kind: AgentKind;
      cwd?: string;
      tier?: AgentTier;
      prompt?: string;
      resume?: string;
    } = { kind: o.kind };
    if (o.cwd !== undefined) params.cwd = o.cwd;
    if (o.tier !== undefined) params.tier = o.tier;
    if (o.prompt !== undefined) params.prompt = o.prompt;
    if (o.resume !== undefined) params.resume = o.resume;
    return (await this.#call(this.#rpc.call('agent.start', params))).session;
  }

  /** Sends the next prompt; resolves with its `user` event's number. */
  async send(session: string, text: string): Promise<number> {
    return (await this.#call(this.#rpc.call('agent.send', { session, text }))).seq;
  }

  /** Interrupts the running turn (`interrupt`), or ends the session. */
  async stop(session: string, interrupt = false): Promise<AgentState> {
    return (await this.#call(this.#rpc.call('agent.stop', { session, interrupt }))).state;
  }

  async sessions(): Promise<readonly AgentSessionInfo[]> {
    return (await this.#call(this.#rpc.call('agent.sessions'))).sessions;
  }

  async history(limit = 50, kind?: AgentKind): Promise<readonly PastAgentSession[]> {
    return (
      await this.#call(this.#rpc.call('agent.history', kind === undefined ? { limit } : { limit, kind }))
    ).past;
  }

  async answer(
    session: string,
    request: string,
    decision: 'approve' | 'deny',
    message?: string,
  ): Promise<ApprovalState> {
    const params =
      message === undefined || message === ''
        ? { session, request, decision }
        : { session, request, decision, message };
    return (await this.#call(this.#rpc.call('agent.answer', params))).state;
  }

  /**
   * Streams one session's events after `since` (checked, in order) to
   * `onEvent` until the session is gone from the host (resolves with its
   * last number) or the channel closes (rejects `unavailable`). A malformed
   * event costs the host this channel.
   */
  async watch(session: string, since: number, onEvent: (e: AgentEvent) => void): Promise<number> {
    const r = await this.#call(
      this.#rpc.call(
        'agent.watch',
        { session, since },
        {
          onEvent: (event, data) => {
            this.#answered = true;
            if (event !== 'agent') return;
            let parsed: AgentEvent;
            try {
              parsed = parseAgentEvent(data);
            } catch {
              this.close();
              return;
            }
            onEvent(parsed);
          },
        },
      ),
    );
    return r.seq;
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rpc.close(new ProtocolError('unavailable', 'agent channel closed'));
  }

  /** Closes the channel (ends its watches). Idempotent. */
  close(): void {
    if (!this.#closed) this.#closedHere = true;
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') this.channel.close();
    this.#end();
  }
}
