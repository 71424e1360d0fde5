/**
 * What an agent adapter (Claude Code's stream-json in `claude.ts`, Codex's
 * app-server in `codex.ts`) gives the session manager (`manager.ts`): one
 * process per session, its normalised events, and every permission request
 * it makes. The adapter never decides a permission itself: it asks
 * `permit`, which applies the session's tier (and, when the tier says so,
 * waits for a device's answer), and does what the answer says. Resolution
 * of paths, the sandbox, the allowlisted environment and the secret filter
 * are the manager's; an adapter spawns exactly the argv and environment it
 * is given through `spawn`.
 */
import type { AgentEvent, AgentKind, AgentTier, ApprovalAction } from '@pocketshell/protocol';

/** An event as an adapter emits it: the manager numbers it, stamps it and filters its texts. */
export type AgentEventBody = AgentEvent extends infer E
  ? E extends AgentEvent
    ? Omit<E, 'seq' | 'at'>
    : never
  : never;

/** A permission request, classified by the adapter. */
export interface PermissionRequest {
  /** Unique within the session (Claude's tool_use_id, Codex's request/item id). */
  readonly id: string;
  readonly action: ApprovalAction;
  /** The agent's tool name (Bash, Write, Edit, commandExecution, fileChange…). */
  readonly tool: string;
  /** One line: what exactly will run or change. */
  readonly summary: string;
  readonly command?: string;
  /** Absolute path of the file touched (write, edit, read). */
  readonly path?: string;
  /** For an edit: the change as a unified diff (or the new content's start). */
  readonly diff?: string;
}

/** The answer an adapter acts on. `message` is told to the agent with a denial. */
export type PermissionAnswer =
  | { readonly decision: 'approve' }
  | { readonly decision: 'deny'; readonly message: string };

/** What the manager gives an adapter to start one session. */
export interface AgentStart {
  readonly kind: AgentKind;
  /** Absolute working directory (already confined to the workspace roots). */
  readonly cwd: string;
  readonly tier: AgentTier;
  /** The device's workspace roots (absolute). */
  readonly roots: readonly string[];
  /** The first prompt, if any. */
  readonly prompt?: string;
  /** The agent's own session/thread id to resume. */
  readonly resume?: string;
  /** The executable (`claude`, `codex`, or a path), resolved by the manager. */
  readonly executable: string;
  /**
   * Spawns the agent's process: the manager wraps argv in the sandbox when
   * there is one and passes only the allowlisted environment (plus
   * `extraEnv`). Returns a child with piped stdio.
   */
  spawn(
    args: readonly string[],
    extraEnv?: Readonly<Record<string, string>>,
  ): import('node:child_process').ChildProcessWithoutNullStreams;
  /** Emits an event to the session (numbered, filtered and stored by the manager). */
  emit(event: AgentEventBody): void;
  /** The agent's own session/thread id, once known. */
  native(id: string): void;
  /** Asks whether a request may go ahead (the tier first, then a device when the tier says ask). */
  permit(request: PermissionRequest): Promise<PermissionAnswer>;
}

/** A running session's process, as the manager drives it. */
export interface AgentBackend {
  /** Sends the next prompt (queued by the adapter if a turn runs). */
  send(text: string): void;
  /** Interrupts the running turn, if any. */
  interrupt(): Promise<void>;
  /** Ends the process (gracefully, then SIGKILL after a grace period); resolves when it exited. */
  stop(): Promise<void>;
  /** Resolves with the exit when the process ends by itself or after stop. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
}

/** Starts one session of an agent. */
export type AgentAdapter = (start: AgentStart) => AgentBackend;
