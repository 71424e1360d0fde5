/**
 * The agent session manager (issue 18, docs/host.md "Agents"): starts
 * Claude Code / Codex sessions through their adapters (`claude.ts`,
 * `codex.ts`, given as a map so each plugs in on its own), numbers and
 * keeps each session's events (at most `MAX_AGENT_BACKLOG`, the oldest
 * dropped), streams them to watchers, and — the part that matters — applies
 * the device's tier to every permission request an adapter makes:
 *
 * - `read-only`: writes, edits and commands are denied at once (the agent
 *   is told the tier); reads inside the roots are allowed;
 * - `ask`: everything but reads inside the roots waits for a device's answer;
 * - `auto-edit`: writes and edits of a path inside the roots are allowed at
 *   once; commands and everything else wait for an answer.
 *
 * An answer comes from any device holding `agent` whose roots contain the
 * session's folder (`answer`); approvals still pending when the session
 * ends are `expired`. Every decision is audited (`agent.approval`), so are
 * starts and stops. The working folder is confined to the device's roots
 * (realpath), the tier can only be lowered (a session resumed keeps the
 * lowest tier it ever ran at on this host), the agent gets an allowlisted
 * environment, its argv goes through `wrap` (the sandbox), and every text
 * it streams through a fresh streaming filter per text stream (the secret
 * filter), so a secret split over two deltas is caught. A text stream ends
 * with an empty delta of its id (the adapter saw the block end) or with
 * any event that is not a text delta; what its filter held back comes out
 * then.
 */
import { type ChildProcessWithoutNullStreams, spawn as spawnChild } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type AgentEvent,
  type AgentInfo,
  type AgentKind,
  type AgentSessionInfo,
  type AgentState,
  type AgentTier,
  type ApprovalState,
  DEFAULT_AGENT_TIER,
  type DeviceId,
  lowerTier,
  MAX_AGENT_BACKLOG,
  MAX_AGENT_HISTORY,
  MAX_AGENT_SESSIONS,
  MAX_AGENT_TEXT,
  type PastAgentSession,
  ProtocolError,
} from '@pocketshell/protocol';
import type { AuditValue } from '../audit/audit-log.ts';
import type {
  AgentAdapter,
  AgentBackend,
  AgentEventBody,
  PermissionAnswer,
  PermissionRequest,
} from './backend.ts';
import {
  agentEnv,
  BIN_ENV,
  canMove,
  isInside,
  resolveReal,
  tierVerdict,
  widensPermissions,
} from './policy.ts';
import { redactSecrets, SecretStream } from './secret-filter.ts';

/** A streaming text filter (the secret filter's shape): `push` returns what is safe to show now, `flush` the rest. */
export interface TextFilter {
  push(chunk: string): string;
  flush(): string;
}

/** What the audit log is to the manager. */
export interface AgentAudit {
  append(event: 'agent.start' | 'agent.stop' | 'agent.approval', fields: Record<string, AuditValue>): void;
}

/** A device's agent policy: its tier and workspace roots (absolute). */
export interface AgentPolicy {
  readonly tier: AgentTier;
  readonly roots: readonly string[];
}

/** Lists an agent's past sessions on disk (all of them; the manager filters by roots). */
export type AgentHistory = (home: string, limit: number) => Promise<PastAgentSession[]>;

/** The sandbox agents run in, as `agent.info` reports it. */
export interface AgentSandbox {
  readonly kind: 'bwrap' | 'none';
  /** Why there is none (a sentence for a person), when `kind` is `none`. */
  readonly reason?: string | undefined;
  /** Wraps an argv (only with `bwrap`): the session's folder writable, the roots as given. */
  wrap?(
    argv: readonly string[],
    o: { kind: AgentKind; cwd: string; roots: readonly string[]; home: string },
  ): string[];
}

export interface AgentManagerOptions {
  /** The agents this host runs (a kind without an adapter is `agent_unavailable`). */
  readonly adapters: Partial<Record<AgentKind, AgentAdapter>>;
  /** Past sessions per agent (`agent.history`). */
  readonly histories?: Partial<Record<AgentKind, AgentHistory>>;
  /** The device's tier and roots now (none set: `DEFAULT_AGENT_TIER` and the home folder). */
  readonly policy: (device: DeviceId) => Partial<AgentPolicy> | undefined;
  /** A device's name for events and audit (`by`). */
  readonly deviceName?: (device: DeviceId) => string | undefined;
  readonly audit?: AgentAudit;
  /** The daemon's environment (the allowlist is taken from it; `PATH` finds the executables). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The host user's home (default `env.HOME`, else `os.homedir()`). */
  readonly home?: string;
  /** The sandbox (default: none, with its reason). */
  readonly sandbox?: AgentSandbox;
  /** A fresh streaming text filter (default: the secret filter, `SecretStream`). */
  readonly filter?: () => TextFilter;
  /** Hears an approval that waits for a device (the host raises an alert). */
  readonly onApproval?: (session: AgentSessionInfo, event: AgentEvent & { type: 'approval' }) => void;
  /** Live sessions per device (default 4) and per host (default 8). */
  readonly limits?: { readonly perDevice?: number; readonly total?: number };
  /** Where the lowest tier each native session ran at is kept (a file; none: in memory). */
  readonly tiersFile?: string;
  readonly now?: () => number;
  /** Spawns a process (default `child_process.spawn`); tests may watch argv. */
  readonly spawn?: (
    argv: readonly string[],
    o: { cwd: string; env: Record<string, string> },
  ) => ChildProcessWithoutNullStreams;
}

/** Most text one session keeps for replay (beyond it the oldest events go, as beyond `MAX_AGENT_BACKLOG`). */
export const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

/** An event's weight in the backlog: its texts' lengths plus a little. */
function eventSize(e: AgentEvent): number {
  let n = 64;
  for (const v of Object.values(e)) if (typeof v === 'string') n += v.length;
  return n;
}

const cut = (s: string, max = MAX_AGENT_TEXT) => (s.length > max ? s.slice(0, max) : s);
const oneLine = (s: string, max: number) => {
  const flat = s.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

interface Pending {
  readonly request: PermissionRequest;
  readonly resolve: (a: PermissionAnswer) => void;
}

interface Watcher {
  readonly listener: (event: AgentEvent) => void;
  readonly gone: (seq: number) => void;
}

/** One live (or recently ended) session. */
class Session {
  readonly id: string;
  readonly kind: AgentKind;
  readonly cwd: string;
  readonly tier: AgentTier;
  readonly owner: DeviceId;
  readonly startedAt: number;
  readonly sandbox: 'bwrap' | 'none';
  title = '';
  updatedAt: number;
  native: string | undefined;
  state: AgentState = 'starting';
  seq = 0;
  events: AgentEvent[] = [];
  /** The kept events' text, roughly (`eventSize`). */
  bytes = 0;
  backend: AgentBackend | undefined;
  stopping: string | undefined;
  readonly pending = new Map<string, Pending>();
  readonly watchers = new Set<Watcher>();
  /** Open text streams' filters, by text id. */
  readonly streams = new Map<string, TextFilter>();
  /** Request ids used (unique within the session). */
  readonly requestIds = new Set<string>();

  constructor(o: {
    id: string;
    kind: AgentKind;
    cwd: string;
    tier: AgentTier;
    owner: DeviceId;
    at: number;
    sandbox: 'bwrap' | 'none';
  }) {
    this.id = o.id;
    this.kind = o.kind;
    this.cwd = o.cwd;
    this.tier = o.tier;
    this.owner = o.owner;
    this.startedAt = o.at;
    this.updatedAt = o.at;
    this.sandbox = o.sandbox;
  }

  get live(): boolean {
    return this.state !== 'ended' && this.state !== 'failed';
  }

  info(): AgentSessionInfo {
    return {
      id: this.id,
      kind: this.kind,
      cwd: this.cwd,
      tier: this.tier,
      state: this.state,
      title: this.title,
      startedAt: this.startedAt,
      updatedAt: this.updatedAt,
      ...(this.native !== undefined ? { native: this.native } : {}),
      pending: this.pending.size,
      sandbox: this.sandbox,
      seq: this.seq,
    };
  }
}

/** Agent sessions of this host. */
export class AgentManager {
  readonly #o: AgentManagerOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #home: string;
  readonly #filter: () => TextFilter;
  /** The lowest tier each native session ran at (resume never raises it). */
  readonly #tiers = new Map<string, AgentTier>();
  #closed = false;

  constructor(options: AgentManagerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#env = options.env ?? process.env;
    this.#home = options.home ?? this.#env.HOME ?? os.homedir();
    this.#filter = options.filter ?? (() => new SecretStream());
    this.#loadTiers();
  }

  /** The device's tier and roots (defaults filled in, roots resolved). */
  policy(device: DeviceId): AgentPolicy {
    const p = this.#o.policy(device);
    const roots = p?.roots && p.roots.length > 0 ? p.roots : [this.#home];
    return { tier: p?.tier ?? DEFAULT_AGENT_TIER, roots: roots.map((r) => resolveReal(r)) };
  }

  /** The executable of `kind` (its override, else found on `PATH`), or undefined. */
  executable(kind: AgentKind): string | undefined {
    const override = this.#env[BIN_ENV[kind]];
    if (override) return isExecutable(override) ? override : undefined;
    for (const dir of (this.#env.PATH ?? '').split(':')) {
      if (!dir.startsWith('/')) continue;
      const candidate = path.join(dir, kind);
      if (isExecutable(candidate)) return candidate;
    }
    return undefined;
  }

  /** `agent.info` for a device. */
  info(device: DeviceId): AgentInfo {
    const { tier, roots } = this.policy(device);
    const sb = this.#o.sandbox ?? { kind: 'none' as const, reason: 'no sandbox is configured on this host' };
    return {
      tier,
      roots: [...roots],
      sandbox: { kind: sb.kind, ...(sb.reason !== undefined ? { reason: sb.reason } : {}) },
      agents: (['claude', 'codex'] as const).map((kind) => ({
        kind,
        available: this.#o.adapters[kind] !== undefined && this.executable(kind) !== undefined,
      })),
    };
  }

  /** The sessions whose folder is inside the device's roots, newest first. */
  sessions(device: DeviceId): AgentSessionInfo[] {
    const { roots } = this.policy(device);
    return [...this.#sessions.values()]
      .filter((s) => roots.some((r) => isInside(s.cwd, r)))
      .sort((a, b) => b.startedAt - a.startedAt)
      .slice(0, MAX_AGENT_SESSIONS)
      .map((s) => s.info());
  }

  /** Past sessions on disk whose folder is inside the device's roots, newest first. */
  async history(
    device: DeviceId,
    o: { kind?: AgentKind | undefined; limit: number },
  ): Promise<PastAgentSession[]> {
    const { roots } = this.policy(device);
    const kinds = o.kind ? [o.kind] : (['claude', 'codex'] as const);
    const all: PastAgentSession[] = [];
    for (const kind of kinds) {
      const list = this.#o.histories?.[kind];
      if (list) all.push(...(await list(this.#home, MAX_AGENT_HISTORY * 4)));
    }
    return all
      .filter((p) => roots.some((r) => isInside(resolveReal(p.cwd), r)))
      .map((p) => ({ ...p, title: this.#clean(p.title, 120) }))
      .sort((a, b) => b.updatedAt - a.updatedAt)
      .slice(0, Math.min(o.limit, MAX_AGENT_HISTORY));
  }

  /**
   * Starts a session for `device` (its tier and roots applied). The folder
   * defaults to the resumed session's (from the agent's history), else the
   * device's first root.
   */
  async start(
    device: DeviceId,
    p: {
      kind: AgentKind;
      cwd?: string | undefined;
      tier?: AgentTier | undefined;
      prompt?: string | undefined;
      resume?: string | undefined;
    },
  ): Promise<AgentSessionInfo> {
    if (this.#closed) throw new ProtocolError('unavailable', 'the host is stopping');
    // What the agent is given passes the secret filter too (it goes on to a model's API).
    if (p.prompt !== undefined) p = { ...p, prompt: redactSecrets(p.prompt).text };
    const policy = this.policy(device);
    // Resuming without a folder: the past session's own (the agent finds it there), still confined.
    let wanted = p.cwd;
    if (wanted === undefined && p.resume !== undefined) {
      const past = await this.#o.histories?.[p.kind]?.(this.#home, MAX_AGENT_HISTORY * 4);
      wanted = past?.find((x) => x.native === p.resume)?.cwd;
    }
    const cwd = this.#confine(wanted ?? policy.roots[0]!, policy.roots);
    try {
      if (!fs.statSync(cwd).isDirectory())
        throw new ProtocolError('wrong_type', 'the working folder is not a folder');
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError('not_found', 'no such working folder');
    }
    let tier = lowerTier(policy.tier, p.tier ?? policy.tier);
    if (p.resume !== undefined) {
      const before = this.#tiers.get(`${p.kind}:${p.resume}`);
      if (before) tier = lowerTier(tier, before);
    }
    const adapter = this.#o.adapters[p.kind];
    const executable = this.executable(p.kind);
    if (!adapter || !executable)
      throw new ProtocolError(
        'agent_unavailable',
        `${p.kind} is not installed on this host (not found on the daemon's PATH; ${BIN_ENV[p.kind]} names it)`,
      );
    const live = [...this.#sessions.values()].filter((s) => s.live);
    const perDevice = this.#o.limits?.perDevice ?? 4;
    const total = this.#o.limits?.total ?? 8;
    if (live.filter((s) => s.owner === device).length >= perDevice)
      throw new ProtocolError('limit_reached', `at most ${perDevice} agent sessions per device`);
    if (live.length >= total)
      throw new ProtocolError('limit_reached', `at most ${total} agent sessions on this host`);
    this.#prune();
    const sandbox = this.#o.sandbox;
    const s = new Session({
      id: `ag_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16)}`,
      kind: p.kind,
      cwd,
      tier,
      owner: device,
      at: this.#now(),
      sandbox: sandbox?.kind === 'bwrap' && sandbox.wrap ? 'bwrap' : 'none',
    });
    if (p.prompt !== undefined) s.title = this.#clean(p.prompt.split('\n')[0] ?? '', 120);
    if (p.resume !== undefined) {
      s.native = p.resume;
      this.#rememberTier(p.kind, p.resume, tier);
      if (!s.title) s.title = `resumed ${p.resume}`.slice(0, 120);
    }
    this.#sessions.set(s.id, s);
    this.#o.audit?.append('agent.start', {
      session: s.id,
      kind: s.kind,
      cwd,
      tier,
      resume: p.resume ?? null,
      sandbox: s.sandbox,
      device,
    });
    const env = { ...agentEnv(p.kind, this.#env) };
    try {
      s.backend = adapter({
        kind: p.kind,
        cwd,
        tier,
        roots: policy.roots,
        ...(p.prompt !== undefined ? { prompt: p.prompt } : {}),
        ...(p.resume !== undefined ? { resume: p.resume } : {}),
        executable,
        spawn: (args, extraEnv) => {
          let argv = [executable, ...args];
          if (s.sandbox === 'bwrap' && sandbox?.wrap)
            argv = sandbox.wrap(argv, { kind: p.kind, cwd, roots: policy.roots, home: this.#home });
          const childEnv = { ...env, ...extraEnv };
          const run = this.#o.spawn ?? defaultSpawn;
          return run(argv, { cwd, env: childEnv });
        },
        emit: (event) => this.#emit(s, event),
        native: (id) => {
          if (s.native === id) return;
          s.native = id;
          this.#rememberTier(s.kind, id, s.tier);
        },
        permit: (request) => this.#permit(s, request),
      });
    } catch (error) {
      this.#setState(s, 'failed', (error as Error).message?.slice(0, 200) ?? 'could not start');
      this.#finish(s);
      throw new ProtocolError(
        'agent_unavailable',
        `${p.kind} could not start: ${String((error as Error).message ?? error).slice(0, 200)}`,
      );
    }
    if (p.prompt !== undefined) {
      this.#emit(s, { type: 'user', text: p.prompt, ...this.#by(device) });
      this.#setState(s, 'working');
    } else this.#setState(s, 'idle');
    const backend = s.backend;
    void backend.exited.then(({ code, signal }) => {
      this.#flushStreams(s);
      for (const [, pending] of s.pending)
        this.#settle(s, pending, 'expired', undefined, 'the session ended');
      if (s.live) {
        const detail = s.stopping ?? (signal ? `killed by ${signal}` : `exit ${code}`);
        this.#setState(s, s.stopping || code === 0 ? 'ended' : 'failed', detail);
      }
      this.#finish(s);
    });
    return s.info();
  }

  /** Sends the next prompt. */
  send(device: DeviceId, session: string, prompt: string): { seq: number } {
    const s = this.#visible(device, session);
    // What the agent is given passes the secret filter too (it goes on to a model's API).
    const text = redactSecrets(prompt).text;
    if (!s.live || !s.backend) throw new ProtocolError('not_found', 'that session has ended');
    if (!s.title) s.title = this.#clean(text.split('\n')[0] ?? '', 120);
    this.#emit(s, { type: 'user', text, ...this.#by(device) });
    if (s.state === 'idle' || s.state === 'starting') this.#setState(s, 'working');
    s.backend.send(text);
    return { seq: s.seq };
  }

  /** Interrupts the running turn, or ends the session. */
  async stop(device: DeviceId, session: string, interrupt: boolean): Promise<{ state: AgentState }> {
    const s = this.#visible(device, session);
    if (!s.live || !s.backend) return { state: s.state };
    if (interrupt) {
      await s.backend.interrupt();
      return { state: s.state };
    }
    s.stopping = `stopped by ${this.#o.deviceName?.(device) ?? device}`;
    this.#o.audit?.append('agent.stop', { session: s.id, kind: s.kind, device });
    await s.backend.stop();
    return { state: s.state };
  }

  /**
   * Streams a session's events after `since` (those still kept), then each
   * new one; `gone` is called with the last seq once the session has ended
   * (at once for one that already has). Returns the function that stops
   * watching.
   */
  watch(
    device: DeviceId,
    session: string,
    since: number,
    listener: (event: AgentEvent) => void,
    gone: (seq: number) => void,
  ): () => void {
    const s = this.#visible(device, session);
    for (const e of s.events) if (e.seq > since) listener(e);
    if (!s.live) {
      // An ended session sends nothing more: its result comes at once.
      gone(s.seq);
      return () => {};
    }
    const w: Watcher = { listener, gone };
    s.watchers.add(w);
    return () => {
      s.watchers.delete(w);
    };
  }

  /** Answers an approval (from any device that may see the session). */
  answer(
    device: DeviceId,
    session: string,
    request: string,
    decision: 'approve' | 'deny',
    message?: string,
  ): { state: ApprovalState } {
    const s = this.#visible(device, session);
    const pending = s.pending.get(request);
    if (!pending) {
      const last = [...s.events].reverse().find((e) => e.type === 'approval' && e.id === request);
      if (last && last.type === 'approval') return { state: last.state };
      throw new ProtocolError('not_found', 'no such approval');
    }
    this.#settle(s, pending, decision === 'approve' ? 'approved' : 'denied', device, message);
    return { state: decision === 'approve' ? 'approved' : 'denied' };
  }

  /** Ends every session (the host stops). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [...this.#sessions.values()].map(async (s) => {
        if (!s.live || !s.backend) return;
        s.stopping = 'the host stopped';
        await s.backend.stop().catch(() => {});
      }),
    );
    for (const s of this.#sessions.values()) for (const w of s.watchers) w.gone(s.seq);
    this.#sessions.clear();
  }

  // ------------------------------------------------------------ internals

  #by(device: DeviceId): { by?: string } {
    const name = this.#o.deviceName?.(device);
    return name ? { by: oneLine(name, 64) } : {};
  }

  #confine(cwd: string, roots: readonly string[]): string {
    if (!path.isAbsolute(cwd)) throw new ProtocolError('path_denied', 'the working folder must be absolute');
    const real = resolveReal(cwd);
    if (!roots.some((r) => isInside(real, r)))
      throw new ProtocolError('path_denied', "the working folder is outside the device's workspace roots");
    return real;
  }

  /** The session if this device may see it (its folder inside the device's roots); else `not_found`. */
  #visible(device: DeviceId, id: string): Session {
    const s = this.#sessions.get(id);
    if (!s || !this.policy(device).roots.some((r) => isInside(s.cwd, r)))
      throw new ProtocolError('not_found', 'no such agent session');
    return s;
  }

  #setState(s: Session, next: AgentState, detail?: string): void {
    if (s.state === next) return;
    if (!canMove(s.state, next)) throw new Error(`agent session ${s.id}: illegal move ${s.state} → ${next}`);
    s.state = next;
    this.#push(s, {
      type: 'state',
      state: next,
      ...(detail !== undefined ? { detail: cut(detail, 1024) } : {}),
    });
  }

  /** Whole text through a fresh filter. */
  #clean(text: string, max = MAX_AGENT_TEXT): string {
    const f = this.#filter();
    return cut(f.push(text) + f.flush(), max);
  }

  /** Ends one text stream. */
  #flushStream(s: Session, id: string): void {
    const f = s.streams.get(id);
    if (!f) return;
    s.streams.delete(id);
    const rest = f.flush();
    if (rest) this.#push(s, { type: 'text', id, text: rest, delta: true });
  }

  /** Ends every open text stream: what each filter held back comes out. */
  #flushStreams(s: Session): void {
    for (const [id, f] of [...s.streams]) {
      s.streams.delete(id);
      const rest = f.flush();
      if (rest) this.#push(s, { type: 'text', id, text: rest, delta: true });
    }
  }

  /** An adapter's event: texts filtered, cut, numbered, stored, streamed. */
  #emit(s: Session, e: AgentEventBody): void {
    if (!s.live && e.type !== 'error' && e.type !== 'result' && e.type !== 'tool' && e.type !== 'text')
      return;
    // Deltas of one text stream share a filter (overlap); streams may interleave. Any other event
    // ends every open stream first (the agent moved on), so what a filter held back comes out in order.
    if (e.type === 'text' && e.delta) {
      if (e.text === '') {
        // An empty delta ends its stream (the adapter saw the block end): what its filter held comes out now.
        this.#flushStream(s, e.id);
        return;
      }
      let f = s.streams.get(e.id);
      if (!f) {
        f = this.#filter();
        s.streams.set(e.id, f);
      }
      const out = f.push(e.text);
      if (out)
        for (let i = 0; i < out.length; i += MAX_AGENT_TEXT)
          this.#push(s, { ...e, text: out.slice(i, i + MAX_AGENT_TEXT) });
      return;
    }
    this.#flushStreams(s);
    switch (e.type) {
      case 'state':
        if (s.live && canMove(s.state, e.state) && e.state !== 'ended' && e.state !== 'failed')
          this.#setState(s, e.state, e.detail);
        return;
      case 'user':
        this.#push(s, { ...e, text: this.#clean(e.text, 100 * 1024) });
        return;
      case 'text':
        this.#push(s, { ...e, text: this.#clean(e.text) });
        return;
      case 'tool': {
        const input = this.#clean(e.input);
        const output = e.output !== undefined ? this.#clean(e.output) : undefined;
        const diff = e.diff !== undefined ? this.#clean(e.diff) : undefined;
        const truncated =
          e.truncated || e.input.length > MAX_AGENT_TEXT || (e.output?.length ?? 0) > MAX_AGENT_TEXT
            ? true
            : undefined;
        this.#push(s, {
          type: 'tool',
          id: oneLine(e.id, 128) || 'tool',
          name: oneLine(e.name, 128) || 'tool',
          state: e.state,
          input,
          ...(output !== undefined ? { output } : {}),
          ...(diff !== undefined ? { diff } : {}),
          ...(truncated ? { truncated } : {}),
        });
        return;
      }
      case 'result': {
        this.#push(s, {
          ...e,
          ...(e.text !== undefined ? { text: this.#clean(e.text) } : {}),
        });
        if (s.live && s.pending.size === 0) this.#setState(s, 'idle');
        return;
      }
      case 'error':
        this.#push(s, {
          type: 'error',
          code: oneLine(e.code, 64),
          message: this.#clean(e.message, 4096),
        });
        return;
      case 'approval':
        // Approvals are the manager's own (through permit); an adapter's are dropped.
        return;
    }
  }

  #push(s: Session, body: AgentEventBody): void {
    const event = { ...body, seq: ++s.seq, at: this.#now() } as AgentEvent;
    s.updatedAt = event.at;
    s.events.push(event);
    s.bytes += eventSize(event);
    // Bounded by count and by size: the oldest go first.
    while (s.events.length > MAX_AGENT_BACKLOG || (s.bytes > MAX_BACKLOG_BYTES && s.events.length > 1))
      s.bytes -= eventSize(s.events.shift()!);
    for (const w of [...s.watchers]) {
      try {
        w.listener(event);
      } catch {
        // One watcher's failure is its own.
      }
    }
  }

  #requestId(s: Session, wanted: string): string {
    let id = /^[A-Za-z0-9_.:-]{1,100}$/.test(wanted) ? wanted : `req_${s.requestIds.size + 1}`;
    while (s.requestIds.has(id)) id = `${id.slice(0, 100)}.${s.requestIds.size + 1}`;
    s.requestIds.add(id);
    return id;
  }

  /** The tier applied to one request; waits for a device when it says ask. */
  #permit(s: Session, raw: PermissionRequest): Promise<PermissionAnswer> {
    if (!s.live) return Promise.resolve({ decision: 'deny', message: 'The session has ended.' });
    const roots = this.policy(s.owner).roots;
    const target = raw.path !== undefined ? resolveReal(path.resolve(s.cwd, raw.path)) : undefined;
    // An agent's own settings (and git hooks) widen what runs unasked: never "inside the roots" for the tier.
    const inRoots =
      target !== undefined && !widensPermissions(target) && roots.some((r) => isInside(target, r));
    const request: PermissionRequest = {
      ...raw,
      id: this.#requestId(s, raw.id),
      summary: oneLine(this.#clean(raw.summary, 1024), 1024) || raw.tool,
      ...(raw.command !== undefined ? { command: this.#clean(raw.command, 16 * 1024) } : {}),
      ...(target !== undefined ? { path: target } : {}),
      ...(raw.diff !== undefined ? { diff: this.#clean(raw.diff) } : {}),
    };
    const verdict = tierVerdict(s.tier, request.action, inRoots);
    if (verdict !== 'ask') {
      const message =
        verdict === 'deny'
          ? `Denied: this session runs at the ${s.tier} tier, which does not allow ${request.action === 'command' ? 'running commands' : 'changing files'}.`
          : undefined;
      this.#audit(s, request, verdict === 'approve' ? 'approved' : 'denied', `tier:${s.tier}`);
      if (verdict === 'deny')
        this.#push(s, { ...this.#approvalBody(request, 'denied'), by: `tier ${s.tier}`, message: message! });
      return Promise.resolve(
        verdict === 'approve' ? { decision: 'approve' } : { decision: 'deny', message: message! },
      );
    }
    return new Promise<PermissionAnswer>((resolve) => {
      const pending: Pending = { request, resolve };
      s.pending.set(request.id, pending);
      this.#push(s, this.#approvalBody(request, 'pending'));
      const approval = s.events[s.events.length - 1] as AgentEvent & { type: 'approval' };
      this.#setState(s, 'waiting');
      try {
        this.#o.onApproval?.(s.info(), approval);
      } catch {
        // The alert is best effort; the approval waits anyway.
      }
    });
  }

  #approvalBody(r: PermissionRequest, state: ApprovalState): AgentEventBody & { type: 'approval' } {
    return {
      type: 'approval',
      id: r.id,
      action: r.action,
      tool: oneLine(r.tool, 128) || 'tool',
      summary: r.summary,
      ...(r.command !== undefined ? { command: r.command } : {}),
      ...(r.path !== undefined ? { path: cut(r.path, 4096) } : {}),
      ...(r.diff !== undefined ? { diff: r.diff } : {}),
      state,
    };
  }

  #settle(
    s: Session,
    p: Pending,
    state: 'approved' | 'denied' | 'expired',
    device: DeviceId | undefined,
    message?: string,
  ): void {
    if (!s.pending.delete(p.request.id)) return;
    const told =
      state === 'approved'
        ? undefined
        : state === 'expired'
          ? (message ?? 'The request expired.')
          : message
            ? `Denied by the user: ${message}`
            : 'Denied by the user.';
    this.#audit(s, p.request, state, device ?? 'none');
    this.#push(s, {
      ...this.#approvalBody(p.request, state),
      ...(device ? this.#by(device) : {}),
      ...(told !== undefined ? { message: cut(told, 1024) } : {}),
    });
    if (s.live && s.pending.size === 0 && s.state === 'waiting') this.#setState(s, 'working');
    p.resolve(state === 'approved' ? { decision: 'approve' } : { decision: 'deny', message: told! });
  }

  #audit(s: Session, r: PermissionRequest, decision: string, device: string): void {
    this.#o.audit?.append('agent.approval', {
      session: s.id,
      request: r.id,
      tool: r.tool.slice(0, 128),
      action: r.action,
      summary: r.summary.slice(0, 512),
      command: r.command?.slice(0, 1024) ?? null,
      path: r.path?.slice(0, 1024) ?? null,
      decision,
      device,
    });
  }

  #finish(s: Session): void {
    for (const w of [...s.watchers]) w.gone(s.seq);
    s.watchers.clear();
    this.#prune();
  }

  /** Keeps at most `MAX_AGENT_SESSIONS` sessions: the oldest ended ones go first. */
  #prune(): void {
    const ended = [...this.#sessions.values()]
      .filter((s) => !s.live)
      .sort((a, b) => a.updatedAt - b.updatedAt);
    while (this.#sessions.size >= MAX_AGENT_SESSIONS && ended.length > 0) {
      const s = ended.shift()!;
      for (const w of s.watchers) w.gone(s.seq);
      this.#sessions.delete(s.id);
    }
  }

  #rememberTier(kind: AgentKind, native: string, tier: AgentTier): void {
    const key = `${kind}:${native}`;
    const before = this.#tiers.get(key);
    const next = before ? lowerTier(before, tier) : tier;
    if (before === next) return;
    this.#tiers.delete(key);
    this.#tiers.set(key, next);
    while (this.#tiers.size > 4096) this.#tiers.delete(this.#tiers.keys().next().value!);
    this.#saveTiers();
  }

  #loadTiers(): void {
    const file = this.#o.tiersFile;
    if (!file) return;
    try {
      const o = JSON.parse(fs.readFileSync(file, 'utf8')) as { v?: number; tiers?: Record<string, string> };
      for (const [k, v] of Object.entries(o.tiers ?? {}))
        if (
          /^(claude|codex):[A-Za-z0-9_.:-]{1,128}$/.test(k) &&
          (['read-only', 'ask', 'auto-edit'] as string[]).includes(v)
        )
          this.#tiers.set(k, v as AgentTier);
    } catch {
      // None yet (or unreadable: the tiers start afresh, never higher than the device's).
    }
  }

  #saveTiers(): void {
    const file = this.#o.tiersFile;
    if (!file) return;
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ v: 1, tiers: Object.fromEntries(this.#tiers) }), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function defaultSpawn(
  argv: readonly string[],
  o: { cwd: string; env: Record<string, string> },
): ChildProcessWithoutNullStreams {
  return spawnChild(argv[0]!, argv.slice(1), { cwd: o.cwd, env: o.env, stdio: 'pipe' });
}
