/**
 * Past Codex sessions on the host's disk, for `agent.history`: Codex writes
 * each thread as a rollout file, `$CODEX_HOME/sessions/YYYY/MM/DD/
 * rollout-<time>-<thread id>.jsonl` (`CODEX_HOME` defaults to `~/.codex`),
 * whose first line is `{"type":"session_meta","payload":{"id","cwd",…}}`
 * and whose first `event_msg` of type `user_message` is the first prompt.
 * Only the head of each file is read (at most `HEAD_BYTES`), files are
 * taken newest change first, and a file that is not a rollout (garbage, a
 * missing id or cwd, a cwd outside the roots) is skipped, never an error.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  AGENT_NATIVE_ID,
  MAX_AGENT_HISTORY,
  MAX_AGENT_PATH,
  type PastAgentSession,
} from '@pocketshell/protocol';

/** Bytes read from the start of a rollout file (its meta line can hold long instructions). */
const HEAD_BYTES = 512 * 1024;
/** Rollout files looked at, at most (the newest by their folder's date). */
const MAX_FILES = 5000;

export interface ListCodexSessionsOptions {
  /** The user's home folder (`~`). */
  readonly home: string;
  /** Codex's own folder when not `<home>/.codex` (the `CODEX_HOME` Codex was run with). */
  readonly codexHome?: string;
  /** The device's workspace roots (absolute): only sessions whose cwd is inside one are listed. */
  readonly roots: readonly string[];
  /** Most sessions returned (default 50, at most `MAX_AGENT_HISTORY`). */
  readonly limit?: number;
}

/** True when `path` is `root` or inside it (both absolute, compared as normalised paths). */
export function insideRoot(path: string, root: string): boolean {
  const p = resolve(path);
  const r = resolve(root);
  return p === r || p.startsWith(r.endsWith('/') ? r : `${r}/`);
}

async function entries(dir: string, pattern: RegExp, dirs: boolean): Promise<string[]> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    return list
      .filter((e) => (dirs ? e.isDirectory() : e.isFile()) && pattern.test(e.name))
      .map((e) => e.name)
      .sort()
      .reverse();
  } catch {
    return [];
  }
}

/** The first line of the first prompt, one line, at most 120 characters. */
function titleOf(text: string): string {
  const first =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? '';
  const line = first.replace(/[\p{Cc}]+/gu, ' ');
  return line.length <= 120 ? line : `${line.slice(0, 119)}…`;
}

interface Head {
  readonly id: string;
  readonly cwd: string;
  readonly title: string;
}

/** Reads a rollout file's head: its session meta and its first prompt. */
export async function readRolloutHead(file: string): Promise<Head | undefined> {
  let fh: import('node:fs/promises').FileHandle | undefined;
  try {
    fh = await open(file, 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const lines = text.split('\n');
    if (bytesRead === HEAD_BYTES) lines.pop(); // the last line may be cut
    let id: string | undefined;
    let cwd: string | undefined;
    let title: string | undefined;
    let fallback: string | undefined;
    for (const line of lines) {
      if (line.trim() === '') continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof rec !== 'object' || rec === null) continue;
      const { type, payload } = rec as { type?: unknown; payload?: unknown };
      if (typeof payload !== 'object' || payload === null) continue;
      const p = payload as Record<string, unknown>;
      if (type === 'session_meta' && id === undefined) {
        if (typeof p.id === 'string') id = p.id;
        if (typeof p.cwd === 'string') cwd = p.cwd;
      } else if (type === 'event_msg' && p.type === 'user_message' && typeof p.message === 'string') {
        title = titleOf(p.message);
        break;
      } else if (
        fallback === undefined &&
        type === 'response_item' &&
        p.type === 'message' &&
        p.role === 'user' &&
        Array.isArray(p.content)
      ) {
        // Older rollouts: the first user message that is not injected context (`<environment_context>`…).
        const t = p.content
          .map((c) =>
            typeof c === 'object' && c !== null && typeof (c as { text?: unknown }).text === 'string'
              ? (c as { text: string }).text
              : '',
          )
          .join('');
        if (t.trim() !== '' && !t.trimStart().startsWith('<')) fallback = titleOf(t);
      }
    }
    if (id === undefined || cwd === undefined) return undefined;
    return { id, cwd, title: title ?? fallback ?? '' };
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * The past Codex sessions whose working directory is inside one of
 * `roots`, newest change first, at most `limit`.
 */
export async function listCodexSessions(opts: ListCodexSessionsOptions): Promise<PastAgentSession[]> {
  const limit = Math.max(1, Math.min(opts.limit ?? 50, MAX_AGENT_HISTORY));
  const roots = opts.roots.filter((r) => r.startsWith('/'));
  if (roots.length === 0) return [];
  const base = join(opts.codexHome ?? join(opts.home, '.codex'), 'sessions');
  const files: string[] = [];
  outer: for (const y of await entries(base, /^\d{4}$/, true))
    for (const m of await entries(join(base, y), /^\d{2}$/, true))
      for (const d of await entries(join(base, y, m), /^\d{2}$/, true))
        for (const f of await entries(join(base, y, m, d), /^rollout-.*\.jsonl$/, false)) {
          files.push(join(base, y, m, d, f));
          if (files.length >= MAX_FILES) break outer;
        }
  const dated: { file: string; mtime: number }[] = [];
  for (const file of files) {
    try {
      dated.push({ file, mtime: Math.floor((await stat(file)).mtimeMs) });
    } catch {
      // gone since the listing
    }
  }
  dated.sort((a, b) => b.mtime - a.mtime);
  const out: PastAgentSession[] = [];
  for (const { file, mtime } of dated) {
    const head = await readRolloutHead(file);
    if (head === undefined) continue;
    if (!AGENT_NATIVE_ID.test(head.id)) continue;
    if (!head.cwd.startsWith('/') || head.cwd.includes('\0') || head.cwd.length > MAX_AGENT_PATH) continue;
    if (!roots.some((r) => insideRoot(head.cwd, r))) continue;
    out.push({ kind: 'codex', native: head.id, cwd: head.cwd, title: head.title, updatedAt: mtime });
    if (out.length >= limit) break;
  }
  return out;
}
