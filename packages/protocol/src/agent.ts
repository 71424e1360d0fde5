/**
 * Agent sessions (issue 18, docs/protocol.md §6 `agent`, docs/host.md
 * "Agents"): Claude Code and Codex run on the host, driven from a device.
 * The host normalises each agent's own stream (Claude's stream-json, Codex's
 * app-server JSON-RPC) into `AgentEvent`s, numbered per session so a device
 * that reconnects asks for what it missed (`agent.watch` with `since`).
 *
 * Nothing runs without an answer unless the device's tier allows it: an
 * agent's request to write or to run something becomes an `approval` event,
 * and the agent waits until a device holding the grant answers it
 * (`agent.answer`). Tiers, lowest first:
 * - `read-only`: the agent may read; every write and command is refused
 *   without asking;
 * - `ask`: every write and every command waits for an approval;
 * - `auto-edit`: edits inside the workspace roots are allowed, commands and
 *   edits elsewhere wait for an approval.
 * A device's tier is set on the host (per device grant); a session runs at
 * the tier it was started with, never above the device's, and resuming a
 * past session never raises it.
 */
import { ProtocolError } from './errors.ts';
import { method, noParams } from './rpc.ts';
import { array, boolean, integer, type Obj, object, oneOf, optional, string } from './schema.ts';

/** The agents a host can run. */
export const AGENT_KINDS = ['claude', 'codex'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

/** Tiers, lowest first (the order is the ranking: a tier never rises above another that comes before it in a comparison). */
export const AGENT_TIERS = ['read-only', 'ask', 'auto-edit'] as const;
export type AgentTier = (typeof AGENT_TIERS)[number];

/** The tier a device gets when nobody set one. */
export const DEFAULT_AGENT_TIER: AgentTier = 'ask';

/** The lower of two tiers (resuming or starting never goes above the device's). */
export function lowerTier(a: AgentTier, b: AgentTier): AgentTier {
  return AGENT_TIERS.indexOf(a) <= AGENT_TIERS.indexOf(b) ? a : b;
}

/**
 * A live session's state: `starting` (spawned, not yet talking), `working`
 * (a turn runs), `waiting` (a turn waits for an approval), `idle` (ready for
 * the next prompt), `ended` (the process exited or was stopped), `failed`
 * (it could not start or died with an error).
 */
export const AGENT_STATES = ['starting', 'working', 'waiting', 'idle', 'ended', 'failed'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/** What an approval is for. */
export const APPROVAL_ACTIONS = ['command', 'write', 'edit', 'read', 'network', 'other'] as const;
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number];

/** An approval's state. `expired`: the session ended or the agent withdrew the request before an answer. */
export const APPROVAL_STATES = ['pending', 'approved', 'denied', 'expired'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** A tool call's state as the device shows it. */
export const TOOL_STATES = ['started', 'done', 'failed', 'denied'] as const;
export type ToolState = (typeof TOOL_STATES)[number];

/** Longest text in one event (longer output is split over several events or cut, marked `truncated`). */
export const MAX_AGENT_TEXT = 64 * 1024;
/** Longest prompt a device sends. */
export const MAX_AGENT_PROMPT = 100 * 1024;
/** Most events one `agent.watch` replays; older ones are gone (the device is told by `first`). */
export const MAX_AGENT_BACKLOG = 4000;
/** Most live (and recently ended) sessions a host lists. */
export const MAX_AGENT_SESSIONS = 64;
/** Most past sessions one `agent.history` lists. */
export const MAX_AGENT_HISTORY = 200;
/** Most workspace roots a device may have. */
export const MAX_AGENT_ROOTS = 16;
/** Longest path the agent methods take, in characters. */
export const MAX_AGENT_PATH = 4096;

/** A host agent-session id (the host's own, not the agent's). */
export const AGENT_SESSION_ID = /^ag_[A-Za-z0-9]{8,32}$/;
/** An agent's own session or thread id (Claude's session_id, Codex's thread id), as it gave it. */
export const AGENT_NATIVE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
/** An approval request's id, unique within its session. */
export const APPROVAL_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A live (or recently ended) agent session, as listed. */
export interface AgentSessionInfo {
  readonly id: string;
  readonly kind: AgentKind;
  /** The working directory (inside one of the device's workspace roots). */
  readonly cwd: string;
  /** The tier it runs at. */
  readonly tier: AgentTier;
  readonly state: AgentState;
  /** The first prompt's first line, cut to 120 characters (redacted like every text). */
  readonly title: string;
  /** Milliseconds since the epoch, at the host. */
  readonly startedAt: number;
  readonly updatedAt: number;
  /** The agent's own session or thread id once it gave one (what `resume` takes). */
  readonly native?: string;
  /** Approvals waiting for an answer. */
  readonly pending: number;
  /** `bwrap` when it runs inside bubblewrap, `none` when the host has no sandbox (the app says so). */
  readonly sandbox: 'bwrap' | 'none';
  /** The last event's number (a device that has it is up to date). */
  readonly seq: number;
}

/** A past session on the host's disk that `agent.start` can resume. */
export interface PastAgentSession {
  readonly kind: AgentKind;
  /** The agent's own id (Claude's session id, Codex's thread id). */
  readonly native: string;
  readonly cwd: string;
  /** Its first prompt's first line, cut to 120 characters (redacted). */
  readonly title: string;
  /** Milliseconds since the epoch: the session file's last change. */
  readonly updatedAt: number;
}

/** Fields every event has. */
interface EventBase {
  /** 1, 2, 3… within the session. */
  readonly seq: number;
  /** Milliseconds since the epoch, at the host. */
  readonly at: number;
}

/**
 * One thing that happened in a session, in order. Every text in it passed
 * the host's secret filter (docs/host.md "Agents: sandbox and secret
 * filter") before it was numbered.
 */
export type AgentEvent = EventBase &
  (
    | {
        /** A prompt sent to the agent (by which device: its name, when known). */
        readonly type: 'user';
        readonly text: string;
        readonly by?: string;
      }
    | {
        /** Text from the agent. `delta`: a piece of the message that `id` names, to be appended; else a whole message. */
        readonly type: 'text';
        readonly id: string;
        readonly text: string;
        readonly delta: boolean;
      }
    | {
        /** A tool call (Read, Edit, Bash, a Codex command or patch…): its input as compact JSON, later its output. */
        readonly type: 'tool';
        readonly id: string;
        readonly name: string;
        readonly state: ToolState;
        /** Compact JSON of the call's input, cut to `MAX_AGENT_TEXT`. */
        readonly input: string;
        readonly output?: string;
        /** A unified diff when the call changes a file (cut; the device caps what it colours). */
        readonly diff?: string;
        readonly truncated?: boolean;
      }
    | {
        /**
         * The agent asks to do something the tier does not allow by itself.
         * The same `id` comes again with the answer (`approved`/`denied`/`expired`).
         */
        readonly type: 'approval';
        readonly id: string;
        readonly action: ApprovalAction;
        /** The tool that asks (Bash, Write, Edit, commandExecution, fileChange…). */
        readonly tool: string;
        /** One line: what exactly will run or change ("run `npm test` in ~/src/app", "write ~/src/app/a.ts"). */
        readonly summary: string;
        /** The command line, for `command`. */
        readonly command?: string;
        /** The file, for `write`/`edit`/`read`. */
        readonly path?: string;
        /** The change, for `write`/`edit` (a unified diff, or the new content's start). */
        readonly diff?: string;
        readonly state: ApprovalState;
        /** The device that answered (its name). */
        readonly by?: string;
        /** The reason given with a denial (told to the agent). */
        readonly message?: string;
      }
    | {
        /** The session's state changed. */
        readonly type: 'state';
        readonly state: AgentState;
        /** A short reason (`exit 0`, `stopped by Pixel`, a start error). */
        readonly detail?: string;
      }
    | {
        /** A turn ended. */
        readonly type: 'result';
        readonly ok: boolean;
        readonly text?: string;
        readonly turns?: number;
        readonly durationMs?: number;
      }
    | {
        /** Something went wrong that the person should see (the agent's stderr tail, a refused request). */
        readonly type: 'error';
        readonly code: string;
        readonly message: string;
      }
  );

/** The kinds of event. */
export const AGENT_EVENT_TYPES = ['user', 'text', 'tool', 'approval', 'state', 'result', 'error'] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

const BIG = Number.MAX_SAFE_INTEGER;
const at = (o: Obj, k: string) => integer(o, k, 0, BIG);
const sessionId = (o: Obj, k: string) => string(o, k, 40, AGENT_SESSION_ID);
const nativeId = (o: Obj, k: string) => string(o, k, 128, AGENT_NATIVE_ID);
const text = (o: Obj, k: string, max = MAX_AGENT_TEXT) => string(o, k, max);
const line = (o: Obj, k: string, max: number) => {
  const v = string(o, k, max);
  if (/[\p{Cc}]/u.test(v)) throw new ProtocolError('bad_message', `${k}: one line, no control characters`);
  return v;
};
/** `o` without its undefined fields (optional fields are absent, never undefined). */
type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};
function defined<T extends object>(o: T): Defined<T> {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o as Defined<T>;
}
const path = (o: Obj, k: string) => {
  const v = string(o, k, MAX_AGENT_PATH);
  if (!v.startsWith('/') || v.includes('\0'))
    throw new ProtocolError('bad_message', `${k}: an absolute path`);
  return v;
};

/** Checks a session as listed. */
export function parseAgentSessionInfo(value: unknown): AgentSessionInfo {
  const o = object(value, 'session');
  return defined({
    id: sessionId(o, 'id'),
    kind: oneOf(o, 'kind', AGENT_KINDS),
    cwd: path(o, 'cwd'),
    tier: oneOf(o, 'tier', AGENT_TIERS),
    state: oneOf(o, 'state', AGENT_STATES),
    title: line(o, 'title', 200),
    startedAt: at(o, 'startedAt'),
    updatedAt: at(o, 'updatedAt'),
    native: optional(o, 'native', nativeId),
    pending: integer(o, 'pending', 0, 10_000),
    sandbox: oneOf(o, 'sandbox', ['bwrap', 'none'] as const),
    seq: integer(o, 'seq', 0, BIG),
  });
}

/** Checks a past session as listed. */
export function parsePastAgentSession(value: unknown): PastAgentSession {
  const o = object(value, 'past');
  return {
    kind: oneOf(o, 'kind', AGENT_KINDS),
    native: nativeId(o, 'native'),
    cwd: path(o, 'cwd'),
    title: line(o, 'title', 200),
    updatedAt: at(o, 'updatedAt'),
  };
}

/** Checks one event (a device runs this on every event it gets). */
export function parseAgentEvent(value: unknown): AgentEvent {
  const o = object(value, 'event');
  const base = { seq: integer(o, 'seq', 1, BIG), at: at(o, 'at') };
  const type = oneOf(o, 'type', AGENT_EVENT_TYPES);
  switch (type) {
    case 'user':
      return defined({
        ...base,
        type,
        text: text(o, 'text', MAX_AGENT_PROMPT),
        by: optional(o, 'by', (x, k) => line(x, k, 64)),
      });
    case 'text':
      return defined({
        ...base,
        type,
        id: line(o, 'id', 128),
        text: text(o, 'text'),
        delta: boolean(o, 'delta'),
      });
    case 'tool':
      return defined({
        ...base,
        type,
        id: line(o, 'id', 128),
        name: line(o, 'name', 128),
        state: oneOf(o, 'state', TOOL_STATES),
        input: text(o, 'input'),
        output: optional(o, 'output', (x, k) => text(x, k)),
        diff: optional(o, 'diff', (x, k) => text(x, k)),
        truncated: optional(o, 'truncated', boolean),
      });
    case 'approval':
      return defined({
        ...base,
        type,
        id: string(o, 'id', 128, APPROVAL_ID),
        action: oneOf(o, 'action', APPROVAL_ACTIONS),
        tool: line(o, 'tool', 128),
        summary: line(o, 'summary', 1024),
        command: optional(o, 'command', (x, k) => text(x, k, 16 * 1024)),
        path: optional(o, 'path', (x, k) => string(x, k, MAX_AGENT_PATH)),
        diff: optional(o, 'diff', (x, k) => text(x, k)),
        state: oneOf(o, 'state', APPROVAL_STATES),
        by: optional(o, 'by', (x, k) => line(x, k, 64)),
        message: optional(o, 'message', (x, k) => text(x, k, 1024)),
      });
    case 'state':
      return defined({
        ...base,
        type,
        state: oneOf(o, 'state', AGENT_STATES),
        detail: optional(o, 'detail', (x, k) => text(x, k, 1024)),
      });
    case 'result':
      return defined({
        ...base,
        type,
        ok: boolean(o, 'ok'),
        text: optional(o, 'text', (x, k) => text(x, k)),
        turns: optional(o, 'turns', (x, k) => integer(x, k, 0, 1_000_000)),
        durationMs: optional(o, 'durationMs', (x, k) => integer(x, k, 0, BIG)),
      });
    case 'error':
      return defined({ ...base, type, code: line(o, 'code', 64), message: text(o, 'message', 4096) });
  }
}

/** What this device may do with agents on this host. */
export interface AgentInfo {
  /** The device's tier on this host. */
  readonly tier: AgentTier;
  /** Its workspace roots (an agent's working directory must be inside one). */
  readonly roots: readonly string[];
  /** The sandbox agents run in, or why there is none. */
  readonly sandbox: { readonly kind: 'bwrap' | 'none'; readonly reason?: string };
  /** Each agent and whether the host found its executable. */
  readonly agents: ReadonlyArray<{
    readonly kind: AgentKind;
    readonly available: boolean;
    readonly version?: string;
  }>;
}

/**
 * The `agent` channel's methods. All need the `agent` grant; the host also
 * confines every working directory to the device's workspace roots and
 * every session to the device's tier.
 */
export const AGENT_METHODS = {
  /** The device's tier, roots, the sandbox and which agents this host has. */
  'agent.info': method({
    grant: 'agent',
    params: noParams,
    result: (v): AgentInfo => {
      const o = object(v, 'result');
      const sb = object(o.sandbox, 'sandbox');
      return {
        tier: oneOf(o, 'tier', AGENT_TIERS),
        roots: array(o, 'roots', MAX_AGENT_ROOTS, (x, f) => path({ [f]: x }, f)),
        sandbox: defined({
          kind: oneOf(sb, 'kind', ['bwrap', 'none'] as const),
          reason: optional(sb, 'reason', (x, k) => text(x, k, 1024)),
        }),
        agents: array(o, 'agents', AGENT_KINDS.length, (x) => {
          const a = object(x, 'agent');
          return defined({
            kind: oneOf(a, 'kind', AGENT_KINDS),
            available: boolean(a, 'available'),
            version: optional(a, 'version', (y, k) => line(y, k, 128)),
          });
        }),
      };
    },
  }),
  /**
   * Starts a session: a new one with `prompt`, or the past one `resume`
   * names (its own id) with an optional next prompt. `cwd` defaults to the
   * device's first root; `tier` (default: the device's) can only lower it.
   */
  'agent.start': method({
    grant: 'agent',
    optional: ['cwd', 'tier', 'prompt', 'resume'],
    params: (v) => {
      const o = object(v, 'params');
      const prompt = optional(o, 'prompt', (x, k) => text(x, k, MAX_AGENT_PROMPT));
      const resume = optional(o, 'resume', nativeId);
      if (prompt === undefined && resume === undefined)
        throw new ProtocolError('bad_message', 'agent.start needs a prompt or a session to resume');
      return {
        kind: oneOf(o, 'kind', AGENT_KINDS),
        cwd: optional(o, 'cwd', path),
        tier: optional(o, 'tier', (x, k) => oneOf(x, k, AGENT_TIERS)),
        prompt,
        resume,
      };
    },
    result: (v) => ({ session: parseAgentSessionInfo(object(v, 'result').session) }),
  }),
  /** Sends the next prompt to a session (queued by the agent if a turn runs). */
  'agent.send': method({
    grant: 'agent',
    params: (v) => {
      const o = object(v, 'params');
      return { session: sessionId(o, 'session'), text: text(o, 'text', MAX_AGENT_PROMPT) };
    },
    result: (v) => ({ seq: integer(object(v, 'result'), 'seq', 0, BIG) }),
  }),
  /** Interrupts the running turn (`interrupt`), or ends the session and its process (default). */
  'agent.stop': method({
    grant: 'agent',
    optional: ['interrupt'],
    params: (v) => {
      const o = object(v, 'params');
      return { session: sessionId(o, 'session'), interrupt: optional(o, 'interrupt', boolean) ?? false };
    },
    result: (v) => ({ state: oneOf(object(v, 'result'), 'state', AGENT_STATES) }),
  }),
  /** The live and recently ended sessions this device may see. */
  'agent.sessions': method({
    grant: 'agent',
    params: noParams,
    result: (v) => ({
      sessions: array(object(v, 'result'), 'sessions', MAX_AGENT_SESSIONS, (x) => parseAgentSessionInfo(x)),
    }),
  }),
  /** Past sessions on disk (`~/.claude/projects`, `~/.codex/sessions`) whose folder is inside the device's roots, newest first. */
  'agent.history': method({
    grant: 'agent',
    optional: ['kind', 'limit'],
    params: (v) => {
      const o = object(v ?? {}, 'params');
      return {
        kind: optional(o, 'kind', (x, k) => oneOf(x, k, AGENT_KINDS)),
        limit: optional(o, 'limit', (x, k) => integer(x, k, 1, MAX_AGENT_HISTORY)) ?? 50,
      };
    },
    result: (v) => ({
      past: array(object(v, 'result'), 'past', MAX_AGENT_HISTORY, (x) => parsePastAgentSession(x)),
    }),
  }),
  /**
   * Streams a session's events (event `agent`, data an `AgentEvent`): first
   * those after `since` still kept (at most `MAX_AGENT_BACKLOG`), then each
   * new one, until the channel closes; its result (the last event's
   * number) comes once the session has ended — at once for one that
   * already had.
   */
  'agent.watch': method({
    grant: 'agent',
    optional: ['since'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        session: sessionId(o, 'session'),
        since: optional(o, 'since', (x, k) => integer(x, k, 0, BIG)) ?? 0,
      };
    },
    result: (v) => ({ seq: integer(object(v, 'result'), 'seq', 0, BIG) }),
  }),
  /** Answers an approval (audited with what it approved). A `message` goes to the agent with a denial. */
  'agent.answer': method({
    grant: 'agent',
    optional: ['message'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        session: sessionId(o, 'session'),
        request: string(o, 'request', 128, APPROVAL_ID),
        decision: oneOf(o, 'decision', ['approve', 'deny'] as const),
        message: optional(o, 'message', (x, k) => text(x, k, 1024)),
      };
    },
    result: (v) => ({ state: oneOf(object(v, 'result'), 'state', APPROVAL_STATES) }),
  }),
} as const;

/** The agent method map's type. */
export type AgentMethods = typeof AGENT_METHODS;
