/**
 * Directory entries as the `files` channel shows them (`FileEntry`): read
 * with `lstat` through an anchored folder, so a link is described — where
 * it leads as seen through the root: `file`, `dir`, `other`, `broken`, or
 * `outside` (out of the root or onto the deny list) — and never followed
 * further; an entry on the deny list is marked `denied`.
 */
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { EntryType, FileEntry, LinkTarget } from '@pocketshell/protocol';
import { type AnchoredDir, type FileRoot, fsError, isWithin } from './confine.ts';

/** The entry type of an `lstat`. */
export function typeOf(st: Stats): EntryType {
  if (st.isSymbolicLink()) return 'link';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

/** Where the link `name` of `dir` leads, seen through the root (resolved, never opened). */
export async function linkTarget(root: FileRoot, dir: AnchoredDir, name: string): Promise<LinkTarget> {
  let real: string;
  try {
    real = await fs.realpath(dir.path(name));
  } catch {
    return 'broken';
  }
  if (!isWithin(real, root.root) || root.isDenied(real)) return 'outside';
  try {
    const st = await fs.lstat(real);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'broken';
  }
}

/** Builds the entry of `name` in `dir` from its `lstat`. */
export async function entryFrom(
  root: FileRoot,
  dir: AnchoredDir,
  name: string,
  st: Stats,
  shownName = name,
): Promise<FileEntry> {
  const type = typeOf(st);
  const link = type === 'link' ? await linkTarget(root, dir, name) : undefined;
  const denied = root.isDenied(path.join(dir.real, name));
  return {
    name: shownName,
    type,
    size: st.size,
    mtime: Math.trunc(st.mtimeMs),
    mode: st.mode & 0o7777,
    ...(link === undefined ? {} : { link }),
    ...(denied ? { denied: true } : {}),
  };
}

/** `lstat` of `name` in `dir` (coded errors). */
export async function lstatIn(dir: AnchoredDir, name: string, what = 'the entry'): Promise<Stats> {
  try {
    return await fs.lstat(dir.path(name));
  } catch (error) {
    throw fsError(error, what);
  }
}

/** `lstat` of `name` in `dir`, or undefined when it is gone. */
export async function lstatOrGone(dir: AnchoredDir, name: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(dir.path(name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(error, 'the entry');
  }
}
