/**
 * Private files: the only way host state touches the disk. Folders are made
 * 0700, files are written 0600 by write-temp-in-the-same-folder, fsync,
 * rename, fsync the folder (so a crash leaves the old or the new file, never
 * half of one). Reads open with O_NOFOLLOW and check the open descriptor, so
 * a file reached through a symlink, owned by another user, or (for secrets)
 * readable by group or others is refused with a `state_insecure` error that
 * says why and how to fix it. JSON files are parsed by a schema function and
 * a bad one is a `state_corrupt` error naming the file, never a silent reset.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HostError } from '../errors.ts';

/** Who may own state: the current user (injected in tests that need another). */
export interface Owner {
  readonly uid: number;
}

/** The current process's user, or uid -1 where there is none (Windows). */
export function currentOwner(): Owner {
  return { uid: typeof process.getuid === 'function' ? process.getuid() : -1 };
}

function insecure(file: string, why: string): HostError {
  return new HostError('state_insecure', `${file}: ${why}`, { path: file });
}

function checkStat(file: string, st: fs.Stats, owner: Owner, secret: boolean, dir: boolean): void {
  if (owner.uid >= 0 && st.uid !== owner.uid) {
    throw insecure(file, `owned by uid ${st.uid}, not by this user (uid ${owner.uid})`);
  }
  const mode = st.mode & 0o777;
  if (mode & 0o022) {
    throw insecure(file, `writable by group or others (mode ${mode.toString(8)}); run: chmod go-w ${file}`);
  }
  if (secret && mode & 0o077) {
    const fix = dir ? `chmod 700 ${file}` : `chmod 600 ${file}`;
    throw insecure(file, `readable by group or others (mode ${mode.toString(8)}); run: ${fix}`);
  }
}

/**
 * Makes `dir` (and missing parents) with mode 0700, or checks an existing one:
 * a real folder (not a symlink), owned by this user, not open to group or others.
 */
export function ensurePrivateDir(dir: string, owner: Owner = currentOwner()): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new HostError('state_io', `${dir}: cannot create folder`, { cause, path: dir });
  }
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink()) throw insecure(dir, 'is a symlink; state folders must be real folders');
  if (!st.isDirectory()) throw insecure(dir, 'is not a folder');
  checkStat(dir, st, owner, true, true);
}

/**
 * Reads a private file, or returns null when it does not exist. Refuses a
 * symlink, another owner, a group/other-writable file, and, when `secret`,
 * a file group or others may read.
 */
export function readPrivateFile(file: string, opts: { secret?: boolean; owner?: Owner } = {}): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw insecure(file, 'is a symlink; state files must be real files');
    throw new HostError('state_io', `${file}: cannot open`, { cause, path: file });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw insecure(file, 'is not a regular file');
    checkStat(file, st, opts.owner ?? currentOwner(), opts.secret ?? false, false);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically replaces `file` with `data`, mode 0600: temp file in the same folder, fsync, rename, fsync folder. */
export function writePrivateFile(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(
      tmp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      fs.fchmodSync(fd, 0o600); // the umask may have narrowed it; never widened
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const existing = fs.lstatSync(file, { throwIfNoEntry: false });
    if (existing?.isSymbolicLink()) throw insecure(file, 'is a symlink; refusing to replace it');
    fs.renameSync(tmp, file);
    fsyncDir(dir);
  } catch (cause) {
    fs.rmSync(tmp, { force: true });
    if (cause instanceof HostError) throw cause;
    throw new HostError('state_io', `${file}: cannot write`, { cause, path: file });
  }
}

/** Removes `file` (no error when it is absent) and syncs its folder. */
export function removePrivateFile(file: string): void {
  try {
    fs.rmSync(file, { force: true });
    fsyncDir(path.dirname(file));
  } catch (cause) {
    throw new HostError('state_io', `${file}: cannot remove`, { cause, path: file });
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a JSON state file through `parse` (a schema check that throws on a
 * bad shape). Absent → null; unreadable JSON or a schema failure → a
 * `state_corrupt` error naming the file.
 */
export function readJsonFile<T>(file: string, parse: (value: unknown) => T, owner?: Owner): T | null {
  const raw = readPrivateFile(file, owner ? { owner } : {});
  if (raw === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new HostError('state_corrupt', `${file}: not valid JSON; move it away to start afresh`, {
      cause,
      path: file,
    });
  }
  try {
    return parse(value);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new HostError('state_corrupt', `${file}: ${why}`, { cause, path: file });
  }
}

/** Writes `value` as pretty JSON with a trailing newline, atomically, mode 0600. */
export function writeJsonFile(file: string, value: unknown): void {
  writePrivateFile(file, JSON.stringify(value, null, 2) + '\n');
}
