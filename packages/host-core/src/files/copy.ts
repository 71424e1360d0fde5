/**
 * `files.copy`: a file, a link (copied as a link: its text, never
 * followed) or a folder (recursively, through anchored descriptors, never
 * following a link) to a new path in the root. The copy is built under a
 * temporary name in the target folder (`.<name>.pocketshell-copy-<random>`)
 * and takes its final name at the end with one rename — never replacing
 * anything unless `overwrite` (then a file, a link or an empty folder is
 * replaced; a folder that is not empty is `exists`). A failed copy removes
 * its temporary tree: nothing appears under the final name. Each file is
 * opened `O_NOFOLLOW` and checked by its descriptor (inside the root, off
 * the deny list, a regular file) and written to a new file created
 * `O_CREAT | O_EXCL | O_NOFOLLOW` in an anchored folder. Bounded in entries
 * and depth (`limit_reached`); sockets, FIFOs and devices are skipped.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { constants as C } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ProtocolError, utf8Length } from '@pocketshell/protocol';
import { type AnchoredDir, type FileRoot, fsError, isWithin } from './confine.ts';
import { lstatIn } from './entries.ts';
import {
  childDir,
  openFileIn,
  readEntries,
  removeTree,
  renameError,
  renameNoReplace,
  type TreeLimits,
} from './walk.ts';

const O_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const CHUNK = 1024 * 1024;

/** What a copy did. */
export interface CopyResult {
  readonly path: string;
  readonly entries: number;
  readonly bytes: number;
  /** The SHA-256 (hex) of the bytes copied, when a single file was (the audit records it). */
  readonly sha256?: string;
}

/** What a copy counts as it goes. */
interface CopyState {
  entries: number;
  bytes: number;
  /** Hashes a single file's bytes. */
  hash?: Hash;
}

/** A temporary name beside `name` (within 255 bytes). */
export function tempName(name: string, kind: string): string {
  const tail = `.pocketshell-${kind}-${randomBytes(6).toString('hex')}`;
  let chars = Array.from(name);
  while (chars.length > 1 && utf8Length(`.${chars.join('')}${tail}`) > 255) chars = chars.slice(0, -1);
  return `.${chars.join('')}${tail}`;
}

/** Copies `from` to `to` (both root-relative, normalised). */
export async function copyEntry(
  root: FileRoot,
  from: string,
  to: string,
  overwrite: boolean,
  limits: TreeLimits,
): Promise<CopyResult> {
  const src = await root.parentOf(from);
  try {
    const dst = await root.parentOf(to);
    try {
      const st = await lstatIn(src.dir, src.name, 'the source');
      const tmp = tempName(dst.name, 'copy');
      if (root.isDenied(path.join(dst.dir.real, tmp)))
        throw new ProtocolError('path_denied', 'on the deny list');
      const state: CopyState = { entries: 0, bytes: 0 };
      const buf = Buffer.allocUnsafe(CHUNK);
      const count = () => {
        if (++state.entries > limits.entries)
          throw new ProtocolError('limit_reached', `more than ${limits.entries} entries`);
      };
      const isDir = st.isDirectory();
      if (!isDir && !st.isFile() && !st.isSymbolicLink())
        throw new ProtocolError('wrong_type', 'the source is not a file, a folder or a link');
      try {
        if (isDir) {
          const sub = await childDir(root, src.dir, src.name);
          try {
            if (root.holdsDenied(sub.real))
              throw new ProtocolError('path_denied', 'the folder holds a path on the deny list');
            if (isWithin(dst.dir.real, sub.real))
              throw new ProtocolError('bad_message', 'a folder cannot be copied into itself');
            count();
            await copyDir(root, sub, dst.dir, tmp, st.mode, 0, limits, count, state, buf);
          } finally {
            await sub.close();
          }
        } else {
          count();
          if (st.isFile()) state.hash = createHash('sha256');
          await copyOne(root, src.dir, src.name, st.isSymbolicLink(), dst.dir, tmp, state, buf);
        }
        if (overwrite) {
          try {
            await fs.rename(dst.dir.path(tmp), dst.dir.path(dst.name));
          } catch (error) {
            throw renameError(error, 'the target');
          }
        } else {
          await renameNoReplace(dst.dir, tmp, dst.dir, dst.name, isDir);
        }
      } catch (error) {
        await removeTree(root, dst.dir, tmp, {
          entries: Number.MAX_SAFE_INTEGER,
          depth: limits.depth + 1,
        }).catch(() => undefined);
        throw error;
      }
      return {
        path: to,
        entries: state.entries,
        bytes: state.bytes,
        ...(state.hash ? { sha256: state.hash.digest('hex') } : {}),
      };
    } finally {
      await dst.dir.close();
    }
  } finally {
    await src.dir.close();
  }
}

/** Copies a file or a link `name` of `from` to the new name `as` in `to`. */
async function copyOne(
  root: FileRoot,
  from: AnchoredDir,
  name: string,
  isLink: boolean,
  to: AnchoredDir,
  as: string,
  state: CopyState,
  buf: Buffer,
): Promise<void> {
  if (root.isDenied(path.join(from.real, name)))
    throw new ProtocolError('path_denied', 'the folder holds a path on the deny list');
  if (isLink) {
    let target: string;
    try {
      target = await fs.readlink(from.path(name));
    } catch (error) {
      // EINVAL: no longer a link — it changed between the look and the copy.
      if ((error as NodeJS.ErrnoException).code === 'EINVAL')
        throw new ProtocolError('path_denied', 'the link changed while it was copied');
      throw fsError(error, 'the link');
    }
    try {
      await fs.symlink(target, to.path(as));
    } catch (error) {
      throw fsError(error, 'the copy');
    }
    return;
  }
  const source = await openFileIn(root, from, name);
  try {
    let out: FileHandle;
    try {
      out = await fs.open(to.path(as), O_NEW, source.mode & 0o777);
    } catch (error) {
      throw fsError(error, 'the copy');
    }
    try {
      for (let pos = 0; ; ) {
        const { bytesRead } = await source.handle.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        let done = 0;
        while (done < bytesRead) {
          const { bytesWritten } = await out.write(buf, done, bytesRead - done);
          done += bytesWritten;
        }
        state.hash?.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
        state.bytes += bytesRead;
      }
      // On disk before it gets its name: a crash leaves the old state or the whole copy.
      await out.sync();
    } catch (error) {
      throw fsError(error, 'the copy');
    } finally {
      await out.close();
    }
  } finally {
    await source.handle.close();
  }
}

/** Copies the opened folder `src` to a new folder `as` in `to`, recursively. */
async function copyDir(
  root: FileRoot,
  src: AnchoredDir,
  to: AnchoredDir,
  as: string,
  mode: number,
  depth: number,
  limits: TreeLimits,
  count: () => void,
  state: CopyState,
  buf: Buffer,
): Promise<void> {
  if (depth >= limits.depth) throw new ProtocolError('limit_reached', `deeper than ${limits.depth}`);
  try {
    await fs.mkdir(to.path(as), 0o700);
  } catch (error) {
    throw fsError(error, 'the copy');
  }
  const out = await childDir(root, to, as);
  try {
    const { entries, truncated } = await readEntries(src, limits.entries + 1);
    if (truncated) throw new ProtocolError('limit_reached', `more than ${limits.entries} entries`);
    // Counted as read, before going deeper: the names held along the walk stay within the bound.
    for (const _ of entries) count();
    for (const e of entries) {
      if (root.isDenied(path.join(src.real, e.name)))
        throw new ProtocolError('path_denied', 'the folder holds a path on the deny list');
      const st = await fs.lstat(src.path(e.name)).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        const sub = await childDir(root, src, e.name);
        try {
          await copyDir(root, sub, out, e.name, st.mode, depth + 1, limits, count, state, buf);
        } finally {
          await sub.close();
        }
      } else if (st.isFile() || st.isSymbolicLink()) {
        await copyOne(root, src, e.name, st.isSymbolicLink(), out, e.name, state, buf);
      }
    }
    await out.handle.chmod(mode & 0o7777).catch(() => undefined);
  } finally {
    await out.close();
  }
}
