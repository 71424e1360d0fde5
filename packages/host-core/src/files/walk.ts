/**
 * Walking folders through anchored descriptors (confine.ts), never
 * following a link: a sub-folder is opened `O_DIRECTORY | O_NOFOLLOW`
 * relative to its anchored parent (`/proc/self/fd/<fd>/<name>` on Linux)
 * and checked by its descriptor; the entries of a folder are read in a
 * bounded number. Also the one rename that never replaces anything
 * (`renameNoReplace`), used by move, rename, copy and the trash.
 */
import { constants as C, type Dirent } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ProtocolError } from '@pocketshell/protocol';
import { AnchoredDir, type FileRoot, fsError } from './confine.ts';

const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const BY_FD = process.platform === 'linux';

/**
 * Opens the sub-folder `name` of `parent` without following a link (a link
 * there is `path_denied`), checked by its descriptor: inside the root, off
 * the deny list. The caller closes it.
 */
export async function childDir(root: FileRoot, parent: AnchoredDir, name: string): Promise<AnchoredDir> {
  let handle: FileHandle;
  try {
    handle = await fs.open(parent.path(name), O_DIR);
  } catch (error) {
    throw fsError(error, 'the folder');
  }
  try {
    const real = BY_FD ? await fs.readlink(`/proc/self/fd/${handle.fd}`) : path.join(parent.real, name);
    root.check(real, 'the folder');
    return new AnchoredDir(handle, real, parent.relOf(name));
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw fsError(error, 'the folder');
  }
}

/** The entries of a folder, at most `max` read (`truncated` when there were more). */
export async function readEntries(
  dir: AnchoredDir,
  max: number,
): Promise<{ entries: Dirent[]; truncated: boolean }> {
  const entries: Dirent[] = [];
  let handle: Awaited<ReturnType<typeof fs.opendir>>;
  try {
    handle = await fs.opendir(dir.path(), { bufferSize: 128 });
  } catch (error) {
    throw fsError(error, 'the folder');
  }
  let truncated = false;
  try {
    for (;;) {
      const e = await handle.read();
      if (e === null) break;
      if (entries.length >= max) {
        truncated = true;
        break;
      }
      entries.push(e);
    }
  } catch (error) {
    throw fsError(error, 'the folder');
  } finally {
    await handle.close().catch(() => undefined);
  }
  return { entries, truncated };
}

/**
 * Renames `from/fromName` to `to/toName` without ever replacing an entry
 * (`exists` when `toName` is taken), without a window where a check and
 * the rename disagree: a file or a link gets a second name with `link`
 * (which fails when the name is taken) and loses the first with `unlink`;
 * a folder takes the place of an empty folder made for it with `mkdir`
 * (which fails when the name is taken) — `rename` over an empty folder
 * replaces it atomically. Where hard links are not allowed, a file falls
 * back to a check then `rename` (a narrow race the docs name).
 */
export async function renameNoReplace(
  from: AnchoredDir,
  fromName: string,
  to: AnchoredDir,
  toName: string,
  isDir: boolean,
  what = 'the target',
): Promise<void> {
  const src = from.path(fromName);
  const dst = to.path(toName);
  if (isDir) {
    try {
      await fs.mkdir(dst, 0o700);
    } catch (error) {
      throw fsError(error, what);
    }
    try {
      await fs.rename(src, dst);
    } catch (error) {
      await fs.rmdir(dst).catch(() => undefined);
      throw renameError(error, what);
    }
    return;
  }
  try {
    await fs.link(src, dst);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK')
      throw fsError(error, what);
    // No hard links here (a file system without them, protected_hardlinks): check, then rename.
    const taken = await fs.lstat(dst).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw fsError(e, what);
      },
    );
    if (taken) throw new ProtocolError('exists', `${what}: already exists`);
    try {
      await fs.rename(src, dst);
    } catch (e) {
      throw renameError(e, what);
    }
    return;
  }
  try {
    await fs.unlink(src);
  } catch (error) {
    // The source is gone already (someone else moved it): the new name stays, which is the move.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      await fs.unlink(dst).catch(() => undefined);
      throw fsError(error, what);
    }
  }
}

/** Maps a failed rename: moving a folder into itself is `bad_message`. */
export function renameError(error: unknown, what: string): ProtocolError {
  if ((error as NodeJS.ErrnoException).code === 'EINVAL')
    return new ProtocolError('bad_message', `${what}: a folder cannot go into itself`);
  return fsError(error, what);
}

/** Bounds of a walk that removes or copies a tree. */
export interface TreeLimits {
  /** Most entries. */
  readonly entries: number;
  /** Deepest nesting (each level holds one descriptor open). */
  readonly depth: number;
}

/**
 * Removes the entry `name` of `dir` for good: a file or a link is
 * unlinked (a link is never followed), a folder emptied through anchored
 * descriptors first. Refuses (`path_denied`) anything on the deny list
 * met on the way, and `limit_reached` past the bounds — what was removed
 * before stays removed.
 */
export async function removeTree(
  root: FileRoot,
  dir: AnchoredDir,
  name: string,
  limits: TreeLimits,
): Promise<number> {
  let count = 0;
  const remove = async (parent: AnchoredDir, entry: string, isDir: boolean, depth: number) => {
    if (++count > limits.entries)
      throw new ProtocolError('limit_reached', `more than ${limits.entries} entries`);
    if (root.isDenied(path.join(parent.real, entry)))
      throw new ProtocolError('path_denied', 'the folder holds a path on the deny list');
    if (!isDir) {
      try {
        await fs.unlink(parent.path(entry));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fsError(error, 'the entry');
      }
      return;
    }
    if (depth >= limits.depth) throw new ProtocolError('limit_reached', `deeper than ${limits.depth}`);
    const sub = await childDir(root, parent, entry);
    try {
      for (;;) {
        const { entries } = await readEntries(sub, 1024);
        if (entries.length === 0) break;
        for (const e of entries) {
          const st = await fs.lstat(sub.path(e.name)).catch(() => undefined);
          if (st) await remove(sub, e.name, st.isDirectory(), depth + 1);
        }
      }
    } finally {
      await sub.close();
    }
    try {
      await fs.rmdir(parent.path(entry));
    } catch (error) {
      throw fsError(error, 'the folder');
    }
  };
  const st = await fs.lstat(dir.path(name)).catch((error) => {
    throw fsError(error, 'the entry');
  });
  await remove(dir, name, st.isDirectory(), 0);
  return count;
}

const O_READ = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;

/**
 * Opens the regular file `name` of `dir` to read, without following a link
 * (`path_denied`), checked by its descriptor (inside the root, off the deny
 * list, a regular file) before a byte is read. The caller closes it.
 */
export async function openFileIn(
  root: FileRoot,
  dir: AnchoredDir,
  name: string,
): Promise<{ handle: FileHandle; size: number; mode: number }> {
  let handle: FileHandle;
  try {
    handle = await fs.open(dir.path(name), O_READ);
  } catch (error) {
    throw fsError(error, 'the file');
  }
  try {
    const st = await handle.stat();
    const real = BY_FD ? await fs.readlink(`/proc/self/fd/${handle.fd}`) : path.join(dir.real, name);
    root.check(real, 'the file');
    if (!st.isFile()) throw new ProtocolError('wrong_type', 'not a regular file');
    return { handle, size: st.size, mode: st.mode & 0o7777 };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw fsError(error, 'the file');
  }
}
