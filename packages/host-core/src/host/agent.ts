/**
 * The `agent` data channel (issue 18, docs/protocol.md §6 `agent`): the
 * protocol's `AGENT_METHODS` served with the shared RPC codec (size caps,
 * the `agent` grant checked per request, every refusal audited), from the
 * host's agent manager (agent/manager.ts), which applies the device's tier
 * and workspace roots. `agent.watch` sends an `agent` event per session
 * event (those after `since` first) until the session has ended — then its
 * result (the last seq) comes — or the channel closes.
 */
import {
  AGENT_METHODS,
  type AgentMethods,
  encodeEvent,
  type Handlers,
  MAX_AGENT_PROMPT,
  ProtocolError,
} from '@pocketshell/protocol';
import type { DataChannel } from '@pocketshell/webrtc';
import type { AgentManager } from '../agent/manager.ts';
import type { ChannelContext } from './channels.ts';
import { serveRpcChannel } from './rpc-channel.ts';

/** Largest request on the channel (a full prompt, escaped, with room to spare). */
export const MAX_AGENT_REQUEST = 2 * MAX_AGENT_PROMPT + 16 * 1024;

/** Serves the agent methods on `channel` until it closes. */
export function openAgent(ctx: ChannelContext, channel: DataChannel): void {
  const manager = ctx.agents;
  if (!manager) throw new ProtocolError('unsupported', 'this host serves no agents');
  const stops = new Set<() => void>();
  serveRpcChannel(ctx, channel, {
    methods: AGENT_METHODS,
    handlers: (send) => agentHandlers(ctx, manager, send, stops),
    maxRequest: MAX_AGENT_REQUEST,
    context: (id) => id,
    what: 'agent',
  });
  channel.on('close', () => {
    for (const stop of [...stops]) stop();
  });
}

/** The handlers, for one device's channel (the context of a call is its request id). */
export function agentHandlers(
  ctx: ChannelContext,
  manager: AgentManager,
  send: (text: string) => void,
  stops: Set<() => void>,
): Handlers<AgentMethods, number> {
  const device = ctx.device;
  return {
    'agent.info': () => manager.info(device),
    'agent.start': async (p) => ({ session: await manager.start(device, p) }),
    'agent.send': ({ session, text }) => manager.send(device, session, text),
    'agent.stop': ({ session, interrupt }) => manager.stop(device, session, interrupt),
    'agent.sessions': () => ({ sessions: manager.sessions(device) }),
    'agent.history': async ({ kind, limit }) => ({ past: await manager.history(device, { kind, limit }) }),
    // Settles when the session has ended, or (with no result reaching the device) when the channel closes.
    'agent.watch': ({ session, since }, id) =>
      new Promise((resolve) => {
        let stop = () => {};
        const onClose = () => {
          stop();
          stops.delete(onClose);
          resolve({ seq: 0 });
        };
        stop = manager.watch(
          device,
          session,
          since,
          (event) => send(encodeEvent(id, 'agent', event)),
          (seq) => {
            stops.delete(onClose);
            resolve({ seq });
          },
        );
        stops.add(onClose);
      }),
    'agent.answer': ({ session, request, decision, message }) =>
      manager.answer(device, session, request, decision, message),
  };
}
