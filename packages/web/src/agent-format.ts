/**
 * The Agents screens' words (views/agents.ts, views/agent-chat.ts): tiers
 * and states as a person reads them, the sandbox said plainly, why an agent
 * cannot be started, a tool call's one-line summary, an approval's title,
 * whether a folder is inside the workspace roots, error codes in plain
 * words, and a diff as coloured lines — `+`/`-`/`@@` marked, the code on
 * each line coloured by the files preview's highlighter (highlight.ts) for
 * the file's language, capped so a huge patch does not freeze the phone.
 */
import type {
  AgentInfo,
  AgentKind,
  AgentState,
  AgentTier,
  ApprovalAction,
  ApprovalState,
} from '@pocketshell/protocol';
import { highlight, type Token } from './highlight.ts';

export const AGENT_LABEL: Record<AgentKind, string> = { claude: 'Claude', codex: 'Codex' };

export const TIER_LABEL: Record<AgentTier, string> = {
  'read-only': 'read-only',
  ask: 'ask',
  'auto-edit': 'auto-edit',
};

/** What a tier lets the agent do, in one sentence. */
export const TIER_HINT: Record<AgentTier, string> = {
  'read-only': 'The agent may read files; it can never write or run anything.',
  ask: 'Every write and every command waits for your approval.',
  'auto-edit': 'Edits inside the workspace go ahead; commands and edits elsewhere wait for your approval.',
};

export const STATE_LABEL: Record<AgentState, string> = {
  starting: 'starting',
  working: 'working',
  waiting: 'waiting for you',
  idle: 'idle',
  ended: 'ended',
  failed: 'failed',
};

/** Whether a session in this state takes a prompt, an interrupt, a stop. */
export function live(state: AgentState): boolean {
  return state !== 'ended' && state !== 'failed';
}

/** The sandbox, said plainly: the headline and (for none) the reason. */
export function sandboxWords(sandbox: AgentInfo['sandbox']): { title: string; detail?: string } {
  if (sandbox.kind === 'bwrap')
    return {
      title: 'Sandboxed: agents run inside bubblewrap, with only the workspace writable.',
      ...(sandbox.reason ? { detail: sandbox.reason } : {}),
    };
  return {
    title: 'No sandbox on this host: the agent runs with your user’s full rights.',
    // The host's reason as it worded it (it says why, and how to get one).
    detail: sandbox.reason ?? 'The host did not say why.',
  };
}

/** Why an agent cannot be started here, or undefined when it can. */
export function unavailableReason(info: Pick<AgentInfo, 'agents'>, kind: AgentKind): string | undefined {
  const a = info.agents.find((x) => x.kind === kind);
  if (a?.available) return undefined;
  return `${AGENT_LABEL[kind]} is not available on this host: it found no \`${kind}\` it can run.`;
}

/** An approval's headline by what it is for. */
export const APPROVAL_TITLE: Record<ApprovalAction, string> = {
  command: 'Run a command',
  write: 'Write a file',
  edit: 'Edit a file',
  read: 'Read a file',
  network: 'Use the network',
  other: 'Permission',
};

/**
 * An answered (or expired) approval in one line: who answered. What the
 * host told the agent with a denial (`message`, the reason given) is shown
 * apart, as the host worded it.
 */
export function approvalOutcome(a: { state: ApprovalState; by?: string }): string {
  switch (a.state) {
    case 'pending':
      return 'Waiting for an answer';
    case 'approved':
      return `Approved${a.by ? ` by ${a.by}` : ''}`;
    case 'denied':
      return `Denied${a.by ? ` by ${a.by}` : ''}`;
    case 'expired':
      return 'Expired: nobody answered before the agent stopped asking';
  }
}

const SUMMARY_MAX = 160;

const cut = (s: string, max = SUMMARY_MAX) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * A tool call's input in one line: the command of a shell call, the file
 * of a read or an edit, the pattern of a search, else its JSON cut short.
 */
export function toolSummary(name: string, input: string): string {
  let v: unknown;
  try {
    v = JSON.parse(input);
  } catch {
    return cut(input.replace(/\s+/g, ' ').trim());
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const k of ['command', 'cmd', 'file_path', 'path', 'notebook_path', 'pattern', 'url', 'query']) {
      const x = o[k];
      if (typeof x === 'string' && x !== '') return cut(x.replace(/\s+/g, ' ').trim());
      if (Array.isArray(x) && x.every((y) => typeof y === 'string') && x.length > 0)
        return cut(x.join(' ').replace(/\s+/g, ' ').trim());
    }
  }
  const compact = JSON.stringify(v) ?? '';
  return compact === '{}' ? name : cut(compact);
}

/** A turn's result in one line. */
export function resultLine(r: { ok: boolean; turns?: number; durationMs?: number }): string {
  const parts = [r.ok ? 'Turn done' : 'Turn failed'];
  if (r.turns !== undefined) parts.push(`${r.turns} ${r.turns === 1 ? 'step' : 'steps'}`);
  if (r.durationMs !== undefined) parts.push(seconds(r.durationMs));
  return parts.join(' · ');
}

function seconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/**
 * `path` as an absolute path with `.` and `..` worked out and no trailing
 * slash, or undefined when it is not absolute.
 */
export function normalPath(path: string): string | undefined {
  const p = path.trim();
  if (!p.startsWith('/') || p.includes('\0')) return undefined;
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/**
 * Whether a folder typed by the person is inside one of the roots (the
 * host checks again, following links; this is for the form's words).
 * Returns the normalised folder, or a problem in words.
 */
export function folderProblem(path: string, roots: readonly string[]): { ok: string } | { problem: string } {
  const p = normalPath(path);
  if (p === undefined) return { problem: 'Type a full path, starting with /.' };
  for (const r of roots) {
    const root = normalPath(r);
    if (root === undefined) continue;
    if (root === '/' || p === root || p.startsWith(`${root}/`)) return { ok: p };
  }
  return {
    problem:
      roots.length === 0
        ? 'This device has no workspace folder on this host.'
        : `Not inside a workspace folder of this device (${roots.join(', ')}).`,
  };
}

const ERROR_WORDS: Record<string, string> = {
  agent_unavailable: 'That agent is not installed on the host, or could not start.',
  tier_refused: 'Your tier on this host does not allow that.',
  path_denied: 'That folder is outside this device’s workspace folders.',
  not_found: 'That session is no longer on the host.',
  grant_missing: 'This device may not run agents on this host (it lacks the agent grant).',
  limit_reached: 'The host runs as many agent sessions as it allows; stop one first.',
  unavailable: 'The connection to the computer was lost.',
  timeout: 'The computer did not answer in time.',
  unsupported: 'This computer’s pocketshell runs no agents (too old).',
  bad_message: 'The computer refused the request as malformed.',
};

/** An agent error in plain words, with its code. */
export function agentError(error: unknown): string {
  const raw = (error as { code?: unknown } | undefined)?.code;
  const code = typeof raw === 'string' ? raw : 'internal';
  const words = ERROR_WORDS[code] ?? (error as Error | undefined)?.message ?? 'Something went wrong.';
  return `${words} (${code})`;
}

// ---------------------------------------------------------------- diffs

/** Lines of a diff shown before "Show more". */
export const DIFF_LINES_SHOWN = 400;

export type DiffLineKind = 'add' | 'del' | 'hunk' | 'meta' | 'ctx';

export interface DiffLine {
  readonly kind: DiffLineKind;
  /** The +/-/space marker (empty for hunk and meta lines). */
  readonly mark: string;
  /** The line after its marker, coloured. */
  readonly tokens: Token[];
}

/** The file a unified diff is about (its `+++` line, else `---`), for its language. */
export function diffFile(diff: string): string | undefined {
  const plus = /^\+\+\+ (?:b\/)?([^\t\n]+)/m.exec(diff)?.[1];
  const minus = /^--- (?:a\/)?([^\t\n]+)/m.exec(diff)?.[1];
  const name = plus && plus !== '/dev/null' ? plus : minus && minus !== '/dev/null' ? minus : undefined;
  return name?.trim();
}

const UNIFIED = /^(?:@@ |--- |\+\+\+ |diff --git )/m;

const splitLines = (text: string) => (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');

/**
 * Each line's kind. File headers (`---`, `+++`, `index`…) only come before
 * a file's first hunk; inside a hunk a line "--- x" is a removed "-- x".
 * Text without diff markers is a new file's content: every line added.
 */
function kinds(all: readonly string[], unified: boolean): DiffLineKind[] {
  if (!unified) return all.map(() => 'add');
  let header = true;
  return all.map((line) => {
    if (line.startsWith('@@')) {
      header = false;
      return 'hunk';
    }
    if (line.startsWith('diff ')) {
      header = true;
      return 'meta';
    }
    if (header || line.startsWith('\\ ')) return 'meta';
    if (line.startsWith('+')) return 'add';
    if (line.startsWith('-')) return 'del';
    return 'ctx';
  });
}

/**
 * A unified diff (or a new file's content, when it has no diff markers) as
 * coloured lines: `limit` lines from line `from`, and how many more there
 * are. `file` (the approval's path) names the language when the diff does
 * not.
 */
export function diffLines(
  diff: string,
  file?: string,
  limit = DIFF_LINES_SHOWN,
  from = 0,
): { lines: DiffLine[]; more: number; total: number } {
  const all = diff === '' ? [] : splitLines(diff);
  // The highlighter goes by the file's name (its extension, or Makefile…), not its folders.
  const name = (diffFile(diff) ?? file ?? '').split('/').pop() ?? '';
  const unified = UNIFIED.test(diff);
  const kind = kinds(all, unified);
  const lines: DiffLine[] = [];
  const end = Math.min(all.length, from + limit);
  for (let i = from; i < end; i++) {
    const line = all[i] ?? '';
    const k = kind[i] ?? 'ctx';
    if (k === 'hunk' || k === 'meta') lines.push({ kind: k, mark: '', tokens: line ? [['', line]] : [] });
    else if (!unified) lines.push({ kind: k, mark: '+', tokens: highlight(line, name) });
    else {
      const mark = k === 'add' ? '+' : k === 'del' ? '-' : ' ';
      lines.push({ kind: k, mark, tokens: highlight(line.startsWith(mark) ? line.slice(1) : line, name) });
    }
  }
  return { lines, more: all.length - end, total: all.length };
}

/** Lines added and removed by a diff (a new file's content: every line added). */
export function diffStat(diff: string): { added: number; removed: number } {
  const all = diff === '' ? [] : splitLines(diff);
  const kind = kinds(all, UNIFIED.test(diff));
  return { added: kind.filter((k) => k === 'add').length, removed: kind.filter((k) => k === 'del').length };
}

// ---------------------------------------------------------------- messages

/** A piece of an agent's message: prose, or a fenced code block (its language as the fence named it). */
export type MessageBlock =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'code'; readonly lang: string; readonly text: string };

/**
 * An agent's message split at its fenced code blocks (```lang … ```), so
 * code shows in monospace and coloured; a fence still open (the message is
 * streaming) runs to the end. Nothing else of Markdown is interpreted: the
 * prose is shown as written.
 */
export function messageBlocks(text: string): MessageBlock[] {
  const out: MessageBlock[] = [];
  const fence = /^[ \t]*```([\w+.-]*)[^\n]*\n/gm;
  let at = 0;
  for (;;) {
    fence.lastIndex = at;
    const open = fence.exec(text);
    if (!open) break;
    if (open.index > at) out.push({ kind: 'text', text: text.slice(at, open.index) });
    const body = open.index + open[0].length;
    const close = /^[ \t]*```[ \t]*$/m;
    const rest = text.slice(body);
    const end = close.exec(rest);
    if (!end) {
      out.push({ kind: 'code', lang: open[1] ?? '', text: rest });
      return out;
    }
    out.push({ kind: 'code', lang: open[1] ?? '', text: rest.slice(0, end.index).replace(/\n$/, '') });
    at = body + end.index + end[0].length;
    if (text[at] === '\n') at++;
  }
  if (at < text.length) out.push({ kind: 'text', text: text.slice(at) });
  return out;
}

/** A file name that makes the highlighter pick the language a code fence names. */
export function fenceFile(lang: string): string {
  const l = lang.toLowerCase();
  const alias: Record<string, string> = {
    typescript: 'ts',
    javascript: 'js',
    python: 'py',
    shell: 'sh',
    bash: 'sh',
    zsh: 'sh',
    console: 'sh',
    rust: 'rs',
    golang: 'go',
    yml: 'yaml',
    markdown: 'md',
    diff: 'diff',
  };
  return `x.${alias[l] ?? l}`;
}
