/**
 * The `files` channel's operations on entries (issue 15): info, list,
 * stat, mkdir, rename, move, copy, delete (to the trash), search — each
 * confined to the device's root (confine.ts): folders are anchored by
 * descriptor, entries read with `lstat` (a link is described, never
 * followed), nothing on the deny list is read or written, and a folder
 * holding a denied path is never moved, copied or deleted whole. Every
 * write is audited (`files.<op>` with the device and the paths); refusals
 * are audited by the RPC layer. Copying lives in copy.ts, the trash in
 * trash.ts, search in search.ts, the descriptor walks in walk.ts.
 */
import type { Dirent, Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  type FileEntry,
  type FilesMethods,
  type Handlers,
  type ListSort,
  MAX_DIR_ENTRIES,
  ProtocolError,
} from '@pocketshell/protocol';
import type { ChannelContext } from '../host/channels.ts';
import type { AnchoredDir, FileRoot } from './confine.ts';
import { fsError } from './confine.ts';
import { copyEntry } from './copy.ts';
import { entryFrom, lstatIn } from './entries.ts';
import { DEFAULT_SEARCH_LIMITS, type SearchLimits, searchTree } from './search.ts';
import { moveToTrash } from './trash.ts';
import { childDir, readEntries, removeTree, renameError, renameNoReplace, type TreeLimits } from './walk.ts';

/** The methods served here. */
export type OpsMethod =
  | 'files.info'
  | 'files.list'
  | 'files.stat'
  | 'files.mkdir'
  | 'files.rename'
  | 'files.move'
  | 'files.copy'
  | 'files.delete'
  | 'files.search';

/** Bounds of the operations (tests shrink them). */
export interface OpsLimits {
  /** A copy or a permanent delete: most entries and deepest nesting. */
  readonly tree: TreeLimits;
  readonly search: SearchLimits;
  /** Most entries a listing reads from one folder (`MAX_DIR_ENTRIES`). */
  readonly dirEntries: number;
}

/** Default bounds: 100 000 entries, 256 levels; search as `DEFAULT_SEARCH_LIMITS`. */
export const DEFAULT_OPS_LIMITS: OpsLimits = {
  tree: { entries: 100_000, depth: 256 },
  search: DEFAULT_SEARCH_LIMITS,
  dirEntries: MAX_DIR_ENTRIES,
};

/** Longest path written to the audit log (its values are capped). */
const AUDIT_PATH = 1000;
const auditPath = (p: string) => (p.length > AUDIT_PATH ? `${p.slice(0, AUDIT_PATH - 1)}…` : p);
/** Entries `lstat`ed at once by a listing. */
const PARALLEL = 32;

/** Made on the first listing: an Intl collator loads ICU's data (≈2.5 MiB of the daemon's RSS) that an idle daemon never needs. */
let collator: Intl.Collator | undefined;
function byName(a: string, b: string): number {
  collator ??= new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The handlers, for one channel of one device. */
export function fileOps(
  ctx: ChannelContext,
  root: FileRoot,
  limits: OpsLimits = DEFAULT_OPS_LIMITS,
): Pick<Handlers<FilesMethods, number>, OpsMethod> {
  const audit = (
    event: 'files.mkdir' | 'files.rename' | 'files.move' | 'files.copy' | 'files.delete',
    fields: Record<string, string | number | boolean>,
  ) => {
    const f: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(fields)) f[k] = typeof v === 'string' ? auditPath(v) : v;
    ctx.audit.append(event, { device: ctx.device, ...f });
  };

  return {
    'files.info': () => ({
      root: root.root,
      write: ctx.grants().has('files:write'),
      home: root.home,
    }),

    'files.list': async ({ path: rel, cursor, limit, sort, desc, hidden }) => {
      const dir = await root.dir(rel);
      try {
        const read = await readEntries(dir, Math.min(limits.dirEntries, MAX_DIR_ENTRIES));
        const shown = hidden ? read.entries : read.entries.filter((e) => !e.name.startsWith('.'));
        const sorted = await sortEntries(dir, shown, sort, desc);
        const page = sorted.slice(cursor, cursor + limit);
        const entries: FileEntry[] = [];
        for (let i = 0; i < page.length; i += PARALLEL) {
          const got = await Promise.all(
            page.slice(i, i + PARALLEL).map(async ({ name, st }) => {
              const s = st ?? (await fs.lstat(dir.path(name)).catch(() => undefined));
              return s ? entryFrom(root, dir, name, s) : undefined;
            }),
          );
          for (const e of got) if (e) entries.push(e);
        }
        const end = cursor + page.length;
        return {
          path: rel,
          entries,
          next: end < sorted.length ? end : null,
          total: sorted.length,
          truncated: read.truncated,
        };
      } finally {
        await dir.close();
      }
    },

    'files.stat': async ({ path: rel }) => {
      if (rel === '') {
        const dir = await root.dir('');
        try {
          const st = await dir.handle.stat();
          return { ...(await entryFrom(root, dir, '.', st, '')), path: '' };
        } finally {
          await dir.close();
        }
      }
      const cut = rel.lastIndexOf('/');
      // The parent is anchored (and refused when it is denied); the entry itself is shown as a listing shows it.
      const dir = await root.dir(cut < 0 ? '' : rel.slice(0, cut));
      try {
        const name = cut < 0 ? rel : rel.slice(cut + 1);
        const st = await lstatIn(dir, name);
        return { ...(await entryFrom(root, dir, name, st)), path: rel };
      } finally {
        await dir.close();
      }
    },

    'files.mkdir': async ({ path: rel, parents }) => {
      if (rel === '') {
        if (parents) return { path: rel };
        throw new ProtocolError('exists', 'the root already exists');
      }
      if (!parents) {
        const { dir, name } = await root.parentOf(rel);
        try {
          await fs.mkdir(dir.path(name));
        } catch (error) {
          throw fsError(error, 'the folder');
        } finally {
          await dir.close();
        }
        audit('files.mkdir', { path: rel });
        return { path: rel };
      }
      // Like `mkdir -p`: one component at a time, each from an anchored parent; links inside the root followed.
      const parts = rel.split('/');
      let made = 0;
      for (let i = 0; i < parts.length; i++) {
        const { dir, name } = await root.parentOf(parts.slice(0, i + 1).join('/'));
        try {
          await fs.mkdir(dir.path(name));
          made++;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, 'the folder');
          const st = await fs.stat(dir.path(name)).catch(() => undefined);
          if (!st?.isDirectory()) throw new ProtocolError('wrong_type', 'the folder: a file has that name');
        } finally {
          await dir.close();
        }
      }
      if (made > 0) audit('files.mkdir', { path: rel, made });
      return { path: rel };
    },

    'files.rename': async ({ path: rel, name: to }) => {
      const { dir, name } = await root.parentOf(rel);
      try {
        if (root.isDenied(path.join(dir.real, to)))
          throw new ProtocolError('path_denied', 'on the deny list');
        const st = await lstatIn(dir, name);
        if (st.isDirectory()) await refuseHoldingDenied(root, dir, name);
        if (to !== name) await renameNoReplace(dir, name, dir, to, st.isDirectory());
        const out = dir.relOf(to);
        audit('files.rename', { path: rel, to: out });
        return { path: out };
      } finally {
        await dir.close();
      }
    },

    'files.move': async ({ from, to, overwrite }) => {
      const src = await root.parentOf(from);
      try {
        const dst = await root.parentOf(to);
        try {
          const st = await lstatIn(src.dir, src.name, 'the source');
          if (st.isDirectory()) await refuseHoldingDenied(root, src.dir, src.name);
          if (overwrite) {
            try {
              await fs.rename(src.dir.path(src.name), dst.dir.path(dst.name));
            } catch (error) {
              throw renameError(error, 'the target');
            }
          } else {
            await renameNoReplace(src.dir, src.name, dst.dir, dst.name, st.isDirectory());
          }
        } finally {
          await dst.dir.close();
        }
      } finally {
        await src.dir.close();
      }
      audit('files.move', { path: from, to, overwrite });
      return { path: to };
    },

    'files.copy': async ({ from, to, overwrite }) => {
      const result = await copyEntry(root, from, to, overwrite, limits.tree);
      audit('files.copy', {
        path: from,
        to,
        entries: result.entries,
        bytes: result.bytes,
        ...(result.sha256 ? { sha256: result.sha256 } : {}),
      });
      return result;
    },

    'files.delete': async ({ path: rel, permanent }) => {
      const { dir, name } = await root.parentOf(rel);
      try {
        const st = await lstatIn(dir, name);
        if (st.isDirectory()) await refuseHoldingDenied(root, dir, name);
        if (permanent) {
          const entries = await removeTree(root, dir, name, limits.tree);
          audit('files.delete', { path: rel, permanent: true, entries });
          return { trashed: false };
        }
        const as = await moveToTrash(root, dir, name, st.isDirectory());
        audit('files.delete', { path: rel, permanent: false, trashed: as });
        return { trashed: true };
      } finally {
        await dir.close();
      }
    },

    'files.search': async ({ path: rel, query, limit, hidden }) => {
      const dir = await root.dir(rel);
      try {
        return await searchTree(root, dir, query, limit, hidden, limits.search);
      } finally {
        await dir.close();
      }
    },
  };
}

/** Refuses (`path_denied`) a folder that holds a path on the deny list (checked by its descriptor). */
async function refuseHoldingDenied(root: FileRoot, dir: AnchoredDir, name: string): Promise<void> {
  const sub = await childDir(root, dir, name);
  try {
    if (root.holdsDenied(sub.real) || root.holdsDenied(path.join(dir.real, name)))
      throw new ProtocolError('path_denied', 'the folder holds a path on the deny list');
  } finally {
    await sub.close();
  }
}

interface Sortable {
  readonly name: string;
  readonly st: Stats | undefined;
  readonly dir: boolean;
}

/** Folders first, then by `sort` (`desc` reverses the key, not the folders-first rule). */
async function sortEntries(
  dir: AnchoredDir,
  entries: Dirent[],
  sort: ListSort,
  desc: boolean,
): Promise<Sortable[]> {
  const items: Sortable[] = [];
  const needStat = sort !== 'name';
  for (let i = 0; i < entries.length; i += PARALLEL) {
    const batch = await Promise.all(
      entries.slice(i, i + PARALLEL).map(async (e) => {
        const known = e.isDirectory() || e.isFile() || e.isSymbolicLink();
        const st = needStat || !known ? await fs.lstat(dir.path(e.name)).catch(() => undefined) : undefined;
        if ((needStat || !known) && !st) return undefined; // gone meanwhile
        return { name: e.name, st, dir: st ? st.isDirectory() : e.isDirectory() };
      }),
    );
    for (const b of batch) if (b) items.push(b);
  }
  const sign = desc ? -1 : 1;
  const key = (a: Sortable, b: Sortable): number => {
    if (sort === 'size') return (a.st?.size ?? 0) - (b.st?.size ?? 0);
    if (sort === 'mtime') return (a.st?.mtimeMs ?? 0) - (b.st?.mtimeMs ?? 0);
    return 0;
  };
  items.sort((a, b) => {
    if (a.dir !== b.dir) return a.dir ? -1 : 1;
    return sign * (key(a, b) || byName(a.name, b.name));
  });
  return items;
}
