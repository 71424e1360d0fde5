/**
 * The host user's trash, in the freedesktop.org layout (Trash
 * specification 1.0): a deleted entry moves to `<trash>/files/<name>`, and
 * `<trash>/info/<name>.trashinfo` records where it came from (`Path`,
 * percent-encoded) and when (`DeletionDate`, local time). The `.trashinfo`
 * is created first with `O_EXCL`, which reserves the name (`name`,
 * `name.2`, `name.3`, …); the entry then moves with a rename that never
 * replaces anything. The trash's folders are opened from `/` one component
 * at a time with `O_NOFOLLOW` (and made, 0700, when missing): a link inside
 * the root on the way — a device may write under its root, which usually
 * holds the trash — is refused, so the trash cannot be turned into a door
 * out of the root. Only a trash on the same file system as the entry is
 * used (`not_permitted` otherwise: delete it permanently).
 */
import { constants as C } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ProtocolError, utf8Length } from '@pocketshell/protocol';
import { AnchoredDir, type FileRoot, fsError, isWithin } from './confine.ts';
import { renameNoReplace } from './walk.ts';

const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const O_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const BY_FD = process.platform === 'linux';
/** Names tried (`name`, `name.2`, …) before a random one. */
const MAX_TRIES = 100;

/** The trash's two folders, opened. */
interface OpenedTrash {
  readonly files: AnchoredDir;
  readonly info: AnchoredDir;
  close(): Promise<void>;
}

/**
 * Opens (making what is missing, 0700) the trash's `files` and `info`
 * folders, walking from `/` one component at a time without following a
 * link — except a link that lies outside the root, which no device can
 * have made (the host user's own layout, followed with `realpath`). A link
 * inside the root on the way is refused (`not_permitted`).
 */
async function openTrash(root: FileRoot): Promise<OpenedTrash> {
  const base = await walkDown(root, root.trash, '/');
  let files: AnchoredDir | undefined;
  try {
    files = await walkDown(root, 'files', base.real, base.handle);
    const info = await walkDown(root, 'info', base.real, base.handle);
    for (const d of [files, info]) {
      if (root.isDenied(d.real)) {
        await Promise.all([files.close(), info.close()]);
        throw new ProtocolError('path_denied', 'the trash is on the deny list');
      }
    }
    const f = files;
    return { files: f, info, close: async () => void (await Promise.all([f.close(), info.close()])) };
  } catch (error) {
    await files?.close();
    throw fsError(error, 'the trash');
  } finally {
    await base.close();
  }
}

/** Links followed on the way to the trash (as the kernel's own limit). */
const MAX_HOPS = 40;

/**
 * Walks `target` (absolute, or relative to `from`) down from `from`; see
 * `openTrash`. A link outside the root is followed one level at a time —
 * its text resolved against its folder and walked by the same rules — so a
 * chain that passes through the root is refused there.
 */
async function walkDown(
  root: FileRoot,
  target: string,
  from: string,
  start?: FileHandle,
  hops = { n: 0 },
): Promise<AnchoredDir> {
  let real = from;
  let handle = start ? await openDir(`${fdPath(start, real)}/.`) : await openDir(from);
  try {
    for (const part of target.split('/').filter((p) => p !== '' && p !== '.')) {
      if (part === '..') throw new ProtocolError('not_permitted', 'the trash path holds ".."');
      const at = `${fdPath(handle, real)}/${part}`;
      await fs.mkdir(at, 0o700).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw fsError(error, 'the trash');
      });
      let next: FileHandle;
      let followed: string | undefined;
      try {
        next = await fs.open(at, O_DIR);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ELOOP' && code !== 'ENOTDIR') throw fsError(error, 'the trash');
        const where = path.join(real, part);
        if (isWithin(where, root.root))
          throw new ProtocolError('not_permitted', 'the trash is reached through a link: delete permanently');
        if (++hops.n > MAX_HOPS) throw new ProtocolError('not_permitted', 'the trash: too many links');
        const text = await fs
          .readlink(at)
          .catch((e: NodeJS.ErrnoException) =>
            Promise.reject(
              e.code === 'EINVAL'
                ? new ProtocolError('not_permitted', 'the trash: a file where a folder should be')
                : fsError(e, 'the trash'),
            ),
          );
        const via = await walkDown(root, path.resolve(real, text), '/', undefined, hops);
        next = via.handle;
        followed = via.real;
      }
      await handle.close().catch(() => undefined);
      handle = next;
      real = BY_FD ? await fs.readlink(`/proc/self/fd/${handle.fd}`) : (followed ?? path.join(real, part));
    }
    return new AnchoredDir(handle, real, '');
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** The path to reach an opened folder by (its descriptor on Linux). */
function fdPath(handle: FileHandle, real: string): string {
  return BY_FD ? `/proc/self/fd/${handle.fd}` : real;
}

async function openDir(p: string): Promise<FileHandle> {
  try {
    return await fs.open(p, O_DIR);
  } catch (error) {
    throw fsError(error, 'the trash');
  }
}

/** Percent-encodes a path for `Path=` (RFC 2396: all but unreserved characters and `/`). */
export function encodeTrashPath(p: string): string {
  let out = '';
  for (const byte of Buffer.from(p, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.!~*'()/]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `YYYY-MM-DDThh:mm:ss` in local time, as the specification asks. */
export function trashDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The `n`th name tried for `name` in the trash (its `.trashinfo` stays within 255 bytes). */
export function trashName(name: string, n: number): string {
  const suffix = n <= 1 ? '' : n > MAX_TRIES ? `.${crypto.randomUUID().slice(0, 8)}` : `.${n}`;
  let chars = Array.from(name);
  while (chars.length > 1 && utf8Length(`${chars.join('')}${suffix}.trashinfo`) > 255)
    chars = chars.slice(0, -1);
  return `${chars.join('')}${suffix}`;
}

/**
 * Moves the entry `name` of `dir` (checked by the caller: inside the
 * root, off the deny list, holding none) to the trash; returns its name
 * there.
 */
export async function moveToTrash(
  root: FileRoot,
  dir: AnchoredDir,
  name: string,
  isDir: boolean,
  now: Date = new Date(),
): Promise<string> {
  const trash = await openTrash(root);
  try {
    const original = path.join(dir.real, name);
    if (isDir && isWithin(trash.files.real, original))
      throw new ProtocolError('not_permitted', 'the folder holds the trash: delete permanently');
    const body = `[Trash Info]\nPath=${encodeTrashPath(original)}\nDeletionDate=${trashDate(now)}\n`;
    for (let n = 1; ; n++) {
      const candidate = trashName(name, n);
      let info: FileHandle;
      try {
        info = await fs.open(trash.info.path(`${candidate}.trashinfo`), O_NEW, 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST' && n <= MAX_TRIES + 10) continue;
        throw fsError(error, 'the trash');
      }
      try {
        await info.writeFile(body);
        await info.sync();
      } finally {
        await info.close();
      }
      try {
        await renameNoReplace(dir, name, trash.files, candidate, isDir, 'the trash');
        return candidate;
      } catch (error) {
        await fs.unlink(trash.info.path(`${candidate}.trashinfo`)).catch(() => undefined);
        if (error instanceof ProtocolError && error.code === 'exists' && n <= MAX_TRIES + 10) continue;
        if (
          (error as { code?: string }).code === 'not_permitted' &&
          /across/.test(String((error as Error).message))
        )
          throw new ProtocolError('not_permitted', 'the trash is on another file system: delete permanently');
        throw error;
      }
    }
  } finally {
    await trash.close();
  }
}
