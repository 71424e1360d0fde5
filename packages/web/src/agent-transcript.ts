/**
 * A session's events folded into what the chat view shows, in order: the
 * prompts, the agent's messages (text deltas appended to the message their
 * `id` names; a whole message replaces what the deltas built), tool calls
 * (one item per call id, later events updating its state, output and diff),
 * approvals (one item per request id: the answer updates the request, and
 * what will run stays as first asked), turn results, errors, notable state
 * changes, and gaps (events the host no longer kept). It also follows the
 * session's state and the approvals waiting for an answer. No DOM: the
 * view renders what `apply` says changed (test/web/agent-transcript.test.ts).
 */
import type { AgentEvent, AgentState } from '@pocketshell/protocol';

type Ev<T extends AgentEvent['type']> = Extract<AgentEvent, { type: T }>;

/** One thing the chat shows. `key` is stable across updates (the view's element per item). */
export type ChatItem =
  | { readonly kind: 'user'; readonly key: string; readonly event: Ev<'user'> }
  | { readonly kind: 'text'; readonly key: string; readonly id: string; text: string; at: number }
  | { readonly kind: 'tool'; readonly key: string; event: Ev<'tool'> }
  | { readonly kind: 'approval'; readonly key: string; event: Ev<'approval'> }
  | { readonly kind: 'result'; readonly key: string; readonly event: Ev<'result'> }
  | { readonly kind: 'error'; readonly key: string; readonly event: Ev<'error'> }
  | { readonly kind: 'state'; readonly key: string; readonly event: Ev<'state'> }
  | { readonly kind: 'gap'; readonly key: string; readonly from: number; readonly to: number };

/** What one event changed: an item added at the end, or one updated (`appended`: only text added at its end). */
export type Change =
  | { readonly op: 'add'; readonly item: ChatItem }
  | { readonly op: 'update'; readonly item: ChatItem; readonly appended?: string }
  | { readonly op: 'none' };

/** States worth a line of their own in the chat (the header shows every state). */
function notable(e: Ev<'state'>): boolean {
  return e.state === 'ended' || e.state === 'failed' || (e.detail !== undefined && e.state !== 'working');
}

export class AgentTranscript {
  readonly items: ChatItem[] = [];
  readonly #byKey = new Map<string, ChatItem>();
  #state: AgentState | undefined;
  #last = 0;

  constructor(state?: AgentState) {
    this.#state = state;
  }

  /** The session's state as the last state event (or the listing) said. */
  get state(): AgentState | undefined {
    return this.#state;
  }

  /** The last event number applied. */
  get last(): number {
    return this.#last;
  }

  /** Approvals still waiting for an answer, oldest first. */
  get pending(): Ev<'approval'>[] {
    const out: Ev<'approval'>[] = [];
    for (const i of this.items) if (i.kind === 'approval' && i.event.state === 'pending') out.push(i.event);
    return out;
  }

  #add(item: ChatItem): Change {
    this.items.push(item);
    this.#byKey.set(item.key, item);
    return { op: 'add', item };
  }

  /** Events the host no longer keeps. */
  gap(from: number, to: number): Change {
    return this.#add({ kind: 'gap', key: `g${from}`, from, to });
  }

  /** Folds one event in (events come in order, each once: agent-watch.ts sees to it). */
  apply(e: AgentEvent): Change {
    if (e.seq > this.#last) this.#last = e.seq;
    switch (e.type) {
      case 'user':
        return this.#add({ kind: 'user', key: `u${e.seq}`, event: e });
      case 'text': {
        const key = `t:${e.id}`;
        const item = this.#byKey.get(key);
        if (item?.kind !== 'text') return this.#add({ kind: 'text', key, id: e.id, text: e.text, at: e.at });
        if (e.delta) {
          item.text += e.text;
          return { op: 'update', item, appended: e.text };
        }
        item.text = e.text;
        return { op: 'update', item };
      }
      case 'tool': {
        const key = `k:${e.id}`;
        const item = this.#byKey.get(key);
        if (item?.kind !== 'tool') return this.#add({ kind: 'tool', key, event: e });
        const was = item.event;
        item.event = {
          ...e,
          input: e.input || was.input,
          ...(e.output === undefined && was.output !== undefined ? { output: was.output } : {}),
          ...(e.diff === undefined && was.diff !== undefined ? { diff: was.diff } : {}),
        };
        return { op: 'update', item };
      }
      case 'approval': {
        const key = `a:${e.id}`;
        const item = this.#byKey.get(key);
        if (item?.kind !== 'approval') return this.#add({ kind: 'approval', key, event: e });
        // The answer: its state, who, why; what was asked stays as first shown.
        const was = item.event;
        item.event = {
          ...was,
          seq: e.seq,
          state: e.state,
          ...(e.by !== undefined ? { by: e.by } : {}),
          ...(e.message !== undefined ? { message: e.message } : {}),
        };
        return { op: 'update', item };
      }
      case 'result':
        return this.#add({ kind: 'result', key: `r${e.seq}`, event: e });
      case 'error':
        return this.#add({ kind: 'error', key: `e${e.seq}`, event: e });
      case 'state':
        this.#state = e.state;
        return notable(e) ? this.#add({ kind: 'state', key: `s${e.seq}`, event: e }) : { op: 'none' };
    }
  }
}
