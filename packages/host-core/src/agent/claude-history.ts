/**
 * Claude Code's past sessions on disk, for `agent.history` (docs/host.md
 * "Agents"): `~/.claude/projects/<folder>/<session id>.jsonl`, as Claude
 * Code writes them, read with bounded reads (a capped number of files, the
 * first 64 KiB of each, never through a link). The manager keeps those
 * whose folder is inside the device's roots and redacts their titles.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PastAgentSession } from '@pocketshell/protocol';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Most session files `claudeHistory` opens. */
const MAX_HISTORY_FILES = 1000;
/** Bytes read from the start of each session file. */
const HISTORY_HEAD = 64 * 1024;

/**
 * Claude's past sessions: `~/.claude/projects/<folder>/<session id>.jsonl`,
 * newest first, each with the `cwd` and the first user prompt found in its
 * first 64 KiB (files without a cwd are skipped).
 */
export async function claudeHistory(home: string, limit: number): Promise<PastAgentSession[]> {
  const projects = path.join(home, '.claude', 'projects');
  let folders: string[];
  try {
    folders = await fs.promises.readdir(projects);
  } catch {
    return [];
  }
  const files: { file: string; id: string; mtime: number }[] = [];
  for (const f of folders.slice(0, 10_000)) {
    let names: string[];
    try {
      names = await fs.promises.readdir(path.join(projects, f));
    } catch {
      continue;
    }
    for (const n of names) {
      const id = n.endsWith('.jsonl') ? n.slice(0, -6) : '';
      if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) continue;
      const file = path.join(projects, f, n);
      try {
        const st = await fs.promises.lstat(file);
        if (st.isFile()) files.push({ file, id, mtime: Math.floor(st.mtimeMs) });
      } catch {}
    }
  }
  files.sort((a, b) => b.mtime - a.mtime);
  const out: PastAgentSession[] = [];
  for (const f of files.slice(0, MAX_HISTORY_FILES)) {
    if (out.length >= limit) break;
    const head = await readHead(f.file, HISTORY_HEAD);
    let cwd: string | undefined;
    let title = '';
    for (const line of head.split('\n')) {
      let o: Record<string, unknown> | undefined;
      try {
        o = obj(JSON.parse(line));
      } catch {
        continue;
      }
      if (!o) continue;
      cwd ??= str(o.cwd);
      if (!title && o.type === 'user') {
        const content = obj(o.message)?.content;
        title =
          typeof content === 'string'
            ? content
            : Array.isArray(content)
              ? (str(obj(content.find((c) => obj(c)?.type === 'text'))?.text) ?? '')
              : '';
      }
      if (cwd && title) break;
    }
    if (!cwd?.startsWith('/') || cwd.length > 4096 || cwd.includes('\0')) continue;
    const first = (title.split('\n').find((l) => l.trim()) ?? '').replace(/[\p{Cc}\p{Cf}]+/gu, ' ').trim();
    out.push({ kind: 'claude', native: f.id, cwd, title: first.slice(0, 120), updatedAt: f.mtime });
  }
  return out;
}

async function readHead(file: string, max: number): Promise<string> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}
