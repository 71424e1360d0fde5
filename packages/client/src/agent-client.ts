/**
 * The `agent` channel from a Node device (docs/protocol.md §6 `agent`): an
 * `RpcClient` over `AGENT_METHODS`, the calls as methods, and `watch`,
 * which hands each event of a session (event `agent`, checked with
 * `parseAgentEvent`) to a listener until the session leaves the host (the
 * promise resolves with its last seq) or the channel closes (it rejects
 * `unavailable`); a malformed event closes the channel.
 */
import type {
  AgentEvent,
  AgentInfo,
  AgentKind,
  AgentMethods,
  AgentSessionInfo,
  AgentState,
  AgentTier,
  ApprovalState,
  PastAgentSession,
  RpcClient,
} from '@pocketshell/protocol';
import { AGENT_METHODS, parseAgentEvent } from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import { rpcOverChannel } from './rpc-channel.ts';

/** Largest reply accepted on the channel (a full list of sessions or past sessions fits). */
export const MAX_AGENT_REPLY = 1024 * 1024;

export class AgentClient {
  readonly channel: DataChannel;
  /** The agent methods of the host, typed: `rpc.call('agent.sessions')`. */
  readonly rpc: RpcClient<AgentMethods>;

  constructor(channel: DataChannel) {
    this.channel = channel;
    this.rpc = rpcOverChannel(channel, AGENT_METHODS, MAX_AGENT_REPLY, 'agent');
  }

  /** This device's tier, roots, the sandbox and the agents the host has. */
  info(): Promise<AgentInfo> {
    return this.rpc.call('agent.info');
  }

  /** Starts (or resumes) a session. */
  async start(p: {
    kind: AgentKind;
    cwd?: string;
    tier?: AgentTier;
    prompt?: string;
    resume?: string;
  }): Promise<AgentSessionInfo> {
    return (await this.rpc.call('agent.start', p)).session;
  }

  /** Sends the next prompt; resolves with the session's last seq. */
  async send(session: string, text: string): Promise<number> {
    return (await this.rpc.call('agent.send', { session, text })).seq;
  }

  /** Ends a session (or, with `interrupt`, its running turn). */
  async stop(session: string, interrupt = false): Promise<AgentState> {
    return (await this.rpc.call('agent.stop', { session, interrupt })).state;
  }

  async sessions(): Promise<AgentSessionInfo[]> {
    return (await this.rpc.call('agent.sessions')).sessions;
  }

  async history(o: { kind?: AgentKind; limit?: number } = {}): Promise<PastAgentSession[]> {
    return (await this.rpc.call('agent.history', o)).past;
  }

  /** Answers an approval; resolves with its state. */
  async answer(
    session: string,
    request: string,
    decision: 'approve' | 'deny',
    message?: string,
  ): Promise<ApprovalState> {
    return (
      await this.rpc.call('agent.answer', {
        session,
        request,
        decision,
        ...(message !== undefined ? { message } : {}),
      })
    ).state;
  }

  /** Hears a session's events after `since`, then each new one (see the header). */
  async watch(session: string, listener: (event: AgentEvent) => void, since = 0): Promise<number> {
    const r = await this.rpc.call(
      'agent.watch',
      { session, since },
      {
        onEvent: (event, data) => {
          if (event !== 'agent') return;
          let e: AgentEvent;
          try {
            e = parseAgentEvent(data);
          } catch (error) {
            this.rpc.close(error as Error);
            this.channel.close();
            return;
          }
          listener(e);
        },
      },
    );
    return r.seq;
  }

  /** Closes the channel (watches end). */
  close(): void {
    this.channel.close();
  }
}
