/**
 * Confinement of the `files` channel (issue 15, docs/security.md "Files"):
 * every path a device names is resolved against its root at the moment of
 * use, and nothing outside the root — or on the deny list — is ever read or
 * written, even when a folder or a link is swapped between the check and
 * the use.
 *
 * How:
 * - Paths arrive normalised (`normalizeFilePath`: no `..`, no NUL).
 * - A folder is *anchored*: its path is resolved with `realpath`, checked
 *   to lie inside the root, opened with `O_DIRECTORY | O_NOFOLLOW`, and the
 *   opened folder is checked again by its descriptor (`fstat` device and
 *   inode against a second `realpath` of what it is now). On Linux every
 *   later operation on an entry of that folder goes through
 *   `/proc/self/fd/<fd>/<name>`, which the kernel resolves to the very
 *   folder opened — a component swapped for a link afterwards changes
 *   nothing. Elsewhere the checked real path is used (a narrow race the
 *   docs name).
 * - A file to read is opened `O_NOFOLLOW | O_NONBLOCK` (a link as the last
 *   component is refused by the kernel, a FIFO does not block), then
 *   checked by its descriptor the same way, and must be a regular file —
 *   before a byte is read.
 * - New files are created `O_CREAT | O_EXCL | O_NOFOLLOW` in an anchored
 *   folder; renames and links happen between anchored folders.
 * - The deny list (credentials, keys, PocketShell's own state) holds each
 *   path both as written (under the real home) and resolved with
 *   `realpath`; a path is checked both as the device named it (joined to
 *   the root, before any link is followed) and as resolved, so a deny path
 *   that is a link — or becomes one after the root was opened — is denied
 *   under either name. An entry on it or under it is neither read nor
 *   written, and a folder holding one may not be moved, copied or deleted
 *   whole. No grant lifts it.
 * - Root-relative paths and entry names are checked again here (no `..`,
 *   no NUL, a name is one component), whatever the caller did before.
 * - On macOS and Windows, whose file systems usually ignore case, the deny
 *   list is compared without case.
 */
import { constants as C, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { normalizeFilePath, ProtocolError } from '@pocketshell/protocol';

/** Paths under the host user's home that no device may read or write, whatever its grants. */
export const DENIED_IN_HOME = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.kube',
  '.docker/config.json',
  '.netrc',
  '.npmrc',
  '.pypirc',
  '.git-credentials',
  '.pgpass',
  '.password-store',
  '.config/gcloud',
  '.config/gh/hosts.yml',
  '.config/hub',
  '.config/rclone',
  '.local/share/keyrings',
  '.pki',
  '.mozilla',
  '.config/google-chrome',
  '.config/chromium',
  '.pocketshell',
  '.config/pocketshell',
  '.local/state/pocketshell',
  '.claude/.credentials.json',
  '.codex/auth.json',
] as const;

/** Where a root lives and what is denied in it. */
export interface FileRootOptions {
  /** The device's root (default: the host user's home). */
  readonly root?: string;
  /** The host user's home (default `os.homedir()`): `DENIED_IN_HOME` is under it. */
  readonly home?: string;
  /** More absolute paths to deny (the host's state folder). */
  readonly deny?: readonly string[];
  /**
   * The host user's trash (freedesktop.org layout; default
   * `$XDG_DATA_HOME/Trash`, or `<home>/.local/share/Trash` — always the
   * latter when `home` is given).
   */
  readonly trash?: string;
}

const ANCHOR_BY_FD = process.platform === 'linux';
const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const O_READ = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;

/** Maps a failed file-system call to a wire code; the message never holds a host path. */
export function fsError(error: unknown, what: string): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return new ProtocolError('not_found', `${what}: no such file or folder`);
    case 'ENOTDIR':
      return new ProtocolError('wrong_type', `${what}: not a folder`);
    case 'EISDIR':
      return new ProtocolError('wrong_type', `${what}: is a folder`);
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new ProtocolError('exists', `${what}: already exists`);
    case 'ELOOP':
      return new ProtocolError('path_denied', `${what}: a link where none may be followed`);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new ProtocolError('not_permitted', `${what}: the host’s user may not do that`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new ProtocolError('no_space', `${what}: the host’s disk is full`);
    case 'EXDEV':
      return new ProtocolError('not_permitted', `${what}: across file systems`);
    case 'ENAMETOOLONG':
      return new ProtocolError('bad_message', `${what}: name too long`);
    default:
      return new ProtocolError('internal', `${what} failed`, { cause: error });
  }
}

/** True when `p` is `base` or lies under it (both absolute, normalised). */
export function isWithin(p: string, base: string): boolean {
  return p === base || p.startsWith(base.endsWith(path.sep) ? base : base + path.sep);
}

/** An opened, checked folder inside the root. */
export class AnchoredDir {
  readonly handle: FileHandle;
  /** Its real path (checked inside the root). */
  readonly real: string;
  /** Its root-relative path. */
  readonly rel: string;

  constructor(handle: FileHandle, real: string, rel: string) {
    this.handle = handle;
    this.real = real;
    this.rel = rel;
  }

  /** The path by which to reach `name` in this folder (through the descriptor on Linux). */
  path(name?: string): string {
    const base = ANCHOR_BY_FD ? `/proc/self/fd/${this.handle.fd}` : this.real;
    if (name === undefined) return base;
    checkName(name);
    return `${base}/${name}`;
  }

  /** The root-relative path of `name` in this folder. */
  relOf(name: string): string {
    return this.rel === '' ? name : `${this.rel}/${name}`;
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => undefined);
  }
}

/** An opened regular file inside the root, checked by its descriptor. */
export interface OpenedFile {
  readonly handle: FileHandle;
  readonly real: string;
  readonly stat: Stats;
}

/** A device's root: resolves its paths, confined (see the header). */
export class FileRoot {
  /** The root's real path. */
  readonly root: string;
  /** Denied real paths (absolute). */
  readonly deny: readonly string[];
  /** The host user's home, relative to the root (null when outside it). */
  readonly home: string | null;
  /** The host user's trash folder (absolute; it may not exist yet). */
  readonly trash: string;

  private constructor(root: string, deny: readonly string[], home: string | null, trash: string) {
    this.root = root;
    this.deny = deny;
    this.home = home;
    this.trash = trash;
  }

  /** Resolves the root and the deny list (each through `realpath` where it exists). */
  static async open(opts: FileRootOptions = {}): Promise<FileRoot> {
    const home = await realOrResolved(opts.home ?? os.homedir());
    const root = await fs.realpath(opts.root ?? home);
    const st = await fs.stat(root);
    if (!st.isDirectory()) throw new ProtocolError('wrong_type', 'the files root is not a folder');
    // Each denied path as written and as resolved: a link on the list is denied under both names.
    const named = [...DENIED_IN_HOME.map((d) => path.join(home, d)), ...(opts.deny ?? [])].map((p) =>
      path.resolve(p),
    );
    const deny = [...named, ...(await Promise.all(named.map(realOrResolved)))];
    const relHome = isWithin(home, root) ? path.relative(root, home).split(path.sep).join('/') : null;
    const trash = path.resolve(
      opts.trash ??
        (opts.home === undefined && process.env.XDG_DATA_HOME && path.isAbsolute(process.env.XDG_DATA_HOME)
          ? path.join(process.env.XDG_DATA_HOME, 'Trash')
          : path.join(home, '.local', 'share', 'Trash')),
    );
    return new FileRoot(root, [...new Set(deny)], relHome, trash);
  }

  /**
   * The path a root-relative path names under the root, not resolved (the
   * caller resolves). `rel` is checked again (`bad_message` for `..`, NUL).
   */
  join(rel: string): string {
    const norm = normalizeFilePath(rel);
    return norm === '' ? this.root : path.join(this.root, ...norm.split('/'));
  }

  /** True when `real` is on the deny list or under an entry of it. */
  isDenied(real: string): boolean {
    const p = fold(real);
    return this.deny.some((d) => isWithin(p, fold(d)));
  }

  /** True when a denied path lies strictly under the folder `real` (it may not be moved or deleted whole). */
  holdsDenied(real: string): boolean {
    const p = fold(real);
    return this.deny.some((d) => fold(d) !== p && isWithin(fold(d), p));
  }

  /** Refuses (`path_denied`) a real path outside the root or on the deny list. */
  check(real: string, what: string): void {
    if (!isWithin(real, this.root)) throw new ProtocolError('path_denied', `${what}: outside the root`);
    if (this.isDenied(real)) throw new ProtocolError('path_denied', `${what}: on the deny list`);
  }

  /**
   * Opens an existing folder (`rel`, links inside the root followed) and
   * checks it by its descriptor. The caller closes it.
   */
  async dir(rel: string): Promise<AnchoredDir> {
    const what = rel === '' ? 'the root' : 'the folder';
    const named = this.join(rel);
    if (this.isDenied(named)) throw new ProtocolError('path_denied', `${what}: on the deny list`);
    let real: string;
    try {
      real = await fs.realpath(named);
    } catch (error) {
      throw fsError(error, what);
    }
    this.check(real, what);
    let handle: FileHandle;
    try {
      handle = await fs.open(real, O_DIR);
    } catch (error) {
      throw fsError(error, what);
    }
    try {
      await this.#verify(handle, real, what);
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    return new AnchoredDir(handle, real, rel);
  }

  /**
   * The folder holding `rel` and the entry's name in it (`rel` must not be
   * the root). The entry itself is not resolved: a link stays a link.
   */
  async parentOf(rel: string): Promise<{ dir: AnchoredDir; name: string }> {
    rel = normalizeFilePath(rel);
    if (rel === '') throw new ProtocolError('path_denied', 'the root itself cannot be changed');
    if (this.isDenied(this.join(rel))) throw new ProtocolError('path_denied', 'on the deny list');
    const cut = rel.lastIndexOf('/');
    const dir = await this.dir(cut < 0 ? '' : rel.slice(0, cut));
    const name = cut < 0 ? rel : rel.slice(cut + 1);
    if (this.isDenied(path.join(dir.real, name))) {
      await dir.close();
      throw new ProtocolError('path_denied', 'on the deny list');
    }
    return { dir, name };
  }

  /**
   * Opens an existing regular file to read (`rel`; a link inside the root
   * is followed once, to its checked real path), checked by its descriptor
   * before anything is read. The caller closes it.
   */
  async openFile(rel: string): Promise<OpenedFile> {
    const named = this.join(rel);
    if (this.isDenied(named)) throw new ProtocolError('path_denied', 'the file: on the deny list');
    let real: string;
    try {
      real = await fs.realpath(named);
    } catch (error) {
      throw fsError(error, 'the file');
    }
    this.check(real, 'the file');
    let handle: FileHandle;
    try {
      handle = await fs.open(real, O_READ);
    } catch (error) {
      throw fsError(error, 'the file');
    }
    try {
      const stat = await this.#verify(handle, real, 'the file');
      if (!stat.isFile()) throw new ProtocolError('wrong_type', 'not a regular file');
      return { handle, real, stat };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Checks an opened descriptor: what `real` names now must be the very
   * object opened (same device and inode) and lie inside the root, off the
   * deny list. A swap between `realpath` and `open` fails here.
   */
  async #verify(handle: FileHandle, real: string, what: string): Promise<Stats> {
    const stat = await handle.stat();
    let now: string;
    try {
      now = ANCHOR_BY_FD ? await fs.readlink(`/proc/self/fd/${handle.fd}`) : await fs.realpath(real);
    } catch (error) {
      throw fsError(error, what);
    }
    this.check(now, what);
    if (!ANCHOR_BY_FD) {
      const again = await fs.stat(now).catch(() => undefined);
      if (!again || again.dev !== stat.dev || again.ino !== stat.ino)
        throw new ProtocolError('path_denied', `${what}: changed while it was opened`);
    }
    return stat;
  }
}

/**
 * A path as the deny list compares it: lower-cased where file systems
 * usually ignore case (macOS, Windows), so `~/.SSH` is `~/.ssh` there.
 */
const fold: (p: string) => string =
  process.platform === 'darwin' || process.platform === 'win32' ? (p) => p.toLowerCase() : (p) => p;

/** Refuses (`bad_message`) anything but one path component. */
function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw new ProtocolError('bad_message', 'not a file name');
}

/**
 * `realpath` of `p`, or — when it does not exist (yet) — of its longest
 * existing ancestor with the rest appended: a denied path that appears
 * later under a linked folder is still named by its real path.
 */
async function realOrResolved(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return path.join(await fs.realpath(at), ...rest);
    } catch {
      const up = path.dirname(at);
      if (up === at) return abs;
      rest.unshift(path.basename(at));
      at = up;
    }
  }
}
