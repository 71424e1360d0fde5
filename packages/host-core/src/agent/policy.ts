/**
 * The rules of agent sessions, as pure functions (docs/host.md "Agents"):
 * the tier table (what the tier decides before anyone is asked), paths
 * inside the workspace roots (resolved through links) and the paths that
 * widen what an agent runs unasked, the session state machine, and the
 * environment an agent inherits. The manager (./manager.ts) applies them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentKind, AgentState, AgentTier } from '@pocketshell/protocol';
import type { PermissionRequest } from './backend.ts';

/** Environment variables an agent gets from the daemon (`*` ends a prefix). */
const BASE_ENV = ['HOME', 'USER', 'LOGNAME', 'PATH', 'LANG', 'LC_*', 'TERM', 'SHELL', 'TMPDIR'];
/** Each agent's own auth and settings. */
const AGENT_ENV: Record<AgentKind, readonly string[]> = {
  claude: ['ANTHROPIC_*', 'CLAUDE_*'],
  codex: ['OPENAI_*', 'CODEX_*'],
};
/** The override of each executable. */
export const BIN_ENV: Record<AgentKind, string> = {
  claude: 'POCKETSHELL_CLAUDE_BIN',
  codex: 'POCKETSHELL_CODEX_BIN',
};

/** The environment an agent of `kind` gets: the allowlist only, never `POCKETSHELL_*`. */
export function agentEnv(
  kind: AgentKind,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const allowed = [...BASE_ENV, ...AGENT_ENV[kind]];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k.startsWith('POCKETSHELL_')) continue;
    if (allowed.some((a) => (a.endsWith('*') ? k.startsWith(a.slice(0, -1)) : k === a))) out[k] = v;
  }
  return out;
}

/** The moves a session's state may make (anything else is a bug, refused). */
const MOVES: Readonly<Record<AgentState, readonly AgentState[]>> = {
  starting: ['working', 'waiting', 'idle', 'ended', 'failed'],
  working: ['waiting', 'idle', 'ended', 'failed'],
  waiting: ['working', 'idle', 'ended', 'failed'],
  idle: ['working', 'waiting', 'ended', 'failed'],
  ended: [],
  failed: [],
};

/** True when `from → to` is a legal move. */
export function canMove(from: AgentState, to: AgentState): boolean {
  return MOVES[from].includes(to);
}

/** What the tier says about a request, before any device is asked. */
export type TierVerdict = 'approve' | 'deny' | 'ask';

/**
 * The tier table: `inRoots` says whether the request's path (if any) is
 * inside the device's roots. Reads inside the roots pass in every tier;
 * read-only denies writes, edits and commands; auto-edit lets writes and
 * edits inside the roots through; everything else is asked.
 */
export function tierVerdict(
  tier: AgentTier,
  action: PermissionRequest['action'],
  inRoots: boolean,
): TierVerdict {
  if (action === 'read' && inRoots) return 'approve';
  if (tier === 'read-only' && (action === 'write' || action === 'edit' || action === 'command'))
    return 'deny';
  if (tier === 'auto-edit' && (action === 'write' || action === 'edit') && inRoots) return 'approve';
  return 'ask';
}

/**
 * Paths whose change widens what an agent runs without asking — its own
 * settings (`.claude/`, `.claude.json`, `.mcp.json`, `.codex/`) and git
 * hooks: a write there is always asked, whatever the tier allows inside
 * the roots.
 */
export function widensPermissions(p: string): boolean {
  return /\/(\.claude|\.codex|\.git\/hooks)(\/|$)|\/(\.claude\.json|\.mcp\.json)$/.test(p);
}

/** True when `p` is `root` or inside it (both absolute and resolved). */
export function isInside(p: string, root: string): boolean {
  if (p === root) return true;
  return p.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** The realpath of `p`, or of its nearest existing parent with the rest appended (for a file not yet written). */
export function resolveReal(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}
