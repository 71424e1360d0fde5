/**
 * `files.search`: entries under a folder whose name holds the query,
 * case-insensitive, found by a depth-first walk through anchored folders
 * that never follows a link and never enters a folder on the deny list
 * (its name may match; it is marked `denied`). Hidden entries (a leading
 * `.`) are skipped — and not entered — unless asked. Bounded by entries
 * visited, by time, by depth and by the matches asked for: the answer is
 * `truncated` when the walk stopped at any bound before its end. Folders
 * are read as a stream (memory flat), in the order the file system gives.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileEntry } from '@pocketshell/protocol';
import type { AnchoredDir, FileRoot } from './confine.ts';
import { entryFrom } from './entries.ts';
import { childDir } from './walk.ts';

/** Bounds of a search. */
export interface SearchLimits {
  /** Most entries visited. */
  readonly visits: number;
  /** Longest walk, in milliseconds. */
  readonly ms: number;
  /** Deepest folder entered, below the start. */
  readonly depth: number;
}

/** Default bounds. */
export const DEFAULT_SEARCH_LIMITS: SearchLimits = { visits: 200_000, ms: 5000, depth: 64 };

/** One match: an entry and its root-relative path. */
export type SearchMatch = FileEntry & { readonly path: string };

/** Searches under the opened folder `start`. */
export async function searchTree(
  root: FileRoot,
  start: AnchoredDir,
  query: string,
  limit: number,
  hidden: boolean,
  limits: SearchLimits,
  now: () => number = () => performance.now(),
): Promise<{ matches: SearchMatch[]; truncated: boolean }> {
  const needle = query.toLowerCase();
  const deadline = now() + limits.ms;
  const matches: SearchMatch[] = [];
  let visits = 0;
  let truncated = false;
  const stop = () => truncated || matches.length >= limit;

  const walk = async (dir: AnchoredDir, depth: number): Promise<void> => {
    // Streamed, not read whole: memory stays flat however large a folder or deep the walk.
    let entries: Awaited<ReturnType<typeof fs.opendir>>;
    try {
      entries = await fs.opendir(dir.path(), { bufferSize: 64 });
    } catch {
      return; // gone, or not ours to read: not searched
    }
    try {
      for (;;) {
        if (stop()) return;
        const e = await entries.read().catch(() => null);
        if (e === null) return;
        if (!hidden && e.name.startsWith('.')) continue;
        if (++visits > limits.visits || now() > deadline) {
          truncated = true;
          return;
        }
        const denied = root.isDenied(path.join(dir.real, e.name));
        let isDir = e.isDirectory();
        if (e.name.toLowerCase().includes(needle)) {
          const st = await fs.lstat(dir.path(e.name)).catch(() => undefined);
          if (!st) continue;
          isDir = st.isDirectory();
          matches.push({ ...(await entryFrom(root, dir, e.name, st)), path: dir.relOf(e.name) });
          if (matches.length >= limit) {
            truncated = true;
            return;
          }
        } else if (!e.isDirectory() && !e.isFile() && !e.isSymbolicLink()) {
          // The file system did not say the type: ask.
          isDir = (await fs.lstat(dir.path(e.name)).catch(() => undefined))?.isDirectory() ?? false;
        }
        if (!isDir || denied) continue;
        if (depth >= limits.depth) {
          truncated = true;
          continue;
        }
        let sub: AnchoredDir;
        try {
          sub = await childDir(root, dir, e.name);
        } catch {
          continue; // gone, a link by now, or not ours to read: not searched
        }
        try {
          await walk(sub, depth + 1);
        } finally {
          await sub.close();
        }
      }
    } finally {
      await entries.close().catch(() => undefined);
    }
  };
  await walk(start, 0);
  return { matches, truncated };
}
