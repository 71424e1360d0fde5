/**
 * The `files` channel's contract (issue 15, docs/protocol.md §6): the
 * method map served with the shared RPC codec, the root-relative path
 * grammar, and the entries a listing carries. File bytes never travel in
 * JSON: they travel as binary data frames on the same channel, paced by
 * acknowledgements (files-frames.ts). Nothing here reaches the relay.
 *
 * Paths are relative to the device's root (default the host user's home):
 * `/`-separated, `""`, `"."` and `"/"` name the root itself, a leading `/`
 * is allowed and means the same as none. `..`, NUL bytes, a component
 * longer than 255 bytes of UTF-8 and a path longer than 4096 are refused
 * here (`bad_message`); the host resolves what is left against the root
 * with `realpath` at use (symlinks that lead out of the root, and the deny
 * list, are refused there: `path_denied`).
 */
import { utf8Length } from './bytes.ts';
import { ProtocolError } from './errors.ts';
import { method, noParams } from './rpc.ts';
import { array, boolean, finite, integer, type Obj, object, oneOf, optional, string } from './schema.ts';

/** Longest path a request carries, in UTF-16 units. */
export const MAX_PATH = 4096;
/** Longest path component, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 255;
/** Most entries a `files.list` page carries. */
export const MAX_LIST_PAGE = 1000;
/** Most entries the host reads from one folder (a larger one is listed truncated, sorted by what was read). */
export const MAX_DIR_ENTRIES = 100_000;
/** Most bytes one `files.read` returns. */
export const MAX_READ = 1024 * 1024;
/** Most bytes of backlog `files.tail` sends before it follows. */
export const MAX_TAIL_BACKLOG = 256 * 1024;
/** Most matches `files.search` returns. */
export const MAX_SEARCH_MATCHES = 1000;
/** Largest request on the files channel, in bytes (two paths and some). */
export const MAX_FILES_REQUEST = 16 * 1024;
/** Largest message a device accepts on the files channel (a listing page). */
export const MAX_FILES_REPLY = 4 * 1024 * 1024;
/** Largest file an upload may declare (2^53 − 1: any file). */
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** The kinds of directory entry. */
export const ENTRY_TYPES = ['file', 'dir', 'link', 'other'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];
/** Where a symlink leads, as the host sees it through the root. */
export const LINK_TARGETS = ['file', 'dir', 'other', 'broken', 'outside'] as const;
export type LinkTarget = (typeof LINK_TARGETS)[number];
/** Sort keys of `files.list`. */
export const LIST_SORTS = ['name', 'size', 'mtime'] as const;
export type ListSort = (typeof LIST_SORTS)[number];

/** One directory entry (or the result of `files.stat`). */
export interface FileEntry {
  /** The entry's name (the last component; `""` for the root). */
  readonly name: string;
  readonly type: EntryType;
  /** Bytes (of the link itself for a link). */
  readonly size: number;
  /** Milliseconds since the epoch. */
  readonly mtime: number;
  /** Permission bits (`mode & 0o7777`). */
  readonly mode: number;
  /** For a link: what it leads to (`outside`: out of the root or onto the deny list; never followed). */
  readonly link?: LinkTarget;
  /** True when the entry is on the deny list: it is shown but neither read nor written. */
  readonly denied?: boolean;
}

/**
 * Parses a root-relative path and returns it normalised: components joined
 * by `/`, without a leading `/`, `.` components dropped (`""` is the root).
 */
export function normalizeFilePath(value: unknown, field = 'path'): string {
  if (typeof value !== 'string') throw new ProtocolError('bad_message', `${field}: expected a string`);
  if (value.length > MAX_PATH) throw new ProtocolError('bad_message', `${field}: longer than ${MAX_PATH}`);
  if (value.includes('\0')) throw new ProtocolError('bad_message', `${field}: contains a NUL byte`);
  const parts: string[] = [];
  for (const part of value.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new ProtocolError('bad_message', `${field}: ".." is not allowed`);
    if (utf8Length(part) > MAX_NAME_BYTES)
      throw new ProtocolError('bad_message', `${field}: a component is longer than ${MAX_NAME_BYTES} bytes`);
    parts.push(part);
  }
  return parts.join('/');
}

/** A path field of a request (normalised). */
export function filePath(o: Obj, key: string): string {
  return normalizeFilePath(o[key], key);
}

/** A single name (no `/`, not `.` or `..`, not empty). */
export function fileName(o: Obj, key: string): string {
  const v = string(o, key, MAX_NAME_BYTES);
  if (
    v === '' ||
    v === '.' ||
    v === '..' ||
    v.includes('/') ||
    v.includes('\0') ||
    utf8Length(v) > MAX_NAME_BYTES
  )
    throw new ProtocolError('bad_message', `${key}: not a file name`);
  return v;
}

const BIG = Number.MAX_SAFE_INTEGER;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const sha256 = (o: Obj, k: string) => string(o, k, 64, SHA256_HEX);

/** Parses one entry, rebuilt field by field. */
export function parseFileEntry(v: unknown): FileEntry {
  const o = object(v, 'entry');
  const name = string(o, 'name', 1024);
  const link = o.link === undefined ? undefined : oneOf(o, 'link', LINK_TARGETS);
  const denied = o.denied === undefined ? undefined : boolean(o, 'denied');
  return {
    name,
    type: oneOf(o, 'type', ENTRY_TYPES),
    size: integer(o, 'size', 0, BIG),
    mtime: finite(o, 'mtime', -BIG, BIG),
    mode: integer(o, 'mode', 0, 0o7777),
    ...(link === undefined ? {} : { link }),
    ...(denied === undefined ? {} : { denied }),
  };
}

const pathResult = (v: unknown) => ({ path: normalizeFilePath(object(v, 'result').path) });

/** The methods of the `files` channel. */
export const FILES_METHODS = {
  /** The device's root and what it may do there. */
  'files.info': method({
    grant: 'files:read',
    params: noParams,
    result: (v) => {
      const o = object(v, 'result');
      return {
        /** The root's absolute path on the host (for display). */
        root: string(o, 'root', MAX_PATH),
        /** True when the device holds `files:write`. */
        write: boolean(o, 'write'),
        /** The host user's home, relative to the root (`null` when the home is outside it). */
        home: o.home === null ? null : normalizeFilePath(o.home, 'home'),
      };
    },
  }),
  /** One page of a folder, sorted. */
  'files.list': method({
    grant: 'files:read',
    optional: ['cursor', 'limit', 'sort', 'desc', 'hidden'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        path: filePath(o, 'path'),
        cursor: optional(o, 'cursor', (x, k) => integer(x, k, 0, MAX_DIR_ENTRIES)) ?? 0,
        limit: optional(o, 'limit', (x, k) => integer(x, k, 1, MAX_LIST_PAGE)) ?? 200,
        sort: optional(o, 'sort', (x, k) => oneOf(x, k, LIST_SORTS)) ?? 'name',
        desc: optional(o, 'desc', boolean) ?? false,
        hidden: optional(o, 'hidden', boolean) ?? false,
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        path: normalizeFilePath(o.path),
        entries: array(o, 'entries', MAX_LIST_PAGE, parseFileEntry),
        /** Cursor of the next page, or null at the end. */
        next: o.next === null ? null : integer(o, 'next', 0, MAX_DIR_ENTRIES),
        /** Entries in the folder (as listed: hidden ones only when asked). */
        total: integer(o, 'total', 0, MAX_DIR_ENTRIES),
        /** True when the folder holds more than `MAX_DIR_ENTRIES`. */
        truncated: boolean(o, 'truncated'),
      };
    },
  }),
  /** One entry (a link is described, not followed). */
  'files.stat': method({
    grant: 'files:read',
    params: (v) => ({ path: filePath(object(v, 'params'), 'path') }),
    result: (v) => ({ ...parseFileEntry(v), path: normalizeFilePath(object(v, 'result').path) }),
  }),
  /**
   * A range of a file: data frames on the request's id (offsets from
   * `offset`), paced by the device's acks as a download is, then the result.
   */
  'files.read': method({
    grant: 'files:read',
    optional: ['offset'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        path: filePath(o, 'path'),
        offset: optional(o, 'offset', (x, k) => integer(x, k, 0, BIG)) ?? 0,
        length: integer(o, 'length', 0, MAX_READ),
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      /** `size`: the file's size; `sent`: bytes sent; `eof`: the range reached the end. */
      return {
        size: integer(o, 'size', 0, BIG),
        sent: integer(o, 'sent', 0, MAX_READ),
        eof: boolean(o, 'eof'),
      };
    },
  }),
  /**
   * A whole file from `offset` (resuming): data frames on the request's id,
   * paced by the device's acks, then `{size, sha256, mtime}` — the SHA-256
   * of the whole file as read (the host hashes a skipped prefix too).
   */
  'files.download': method({
    grant: 'files:read',
    optional: ['offset'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        path: filePath(o, 'path'),
        offset: optional(o, 'offset', (x, k) => integer(x, k, 0, BIG)) ?? 0,
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        size: integer(o, 'size', 0, BIG),
        sha256: sha256(o, 'sha256'),
        mtime: finite(o, 'mtime', -BIG, BIG),
      };
    },
  }),
  /**
   * Follows a growing file: the last `backlog` bytes (default 8 KiB), then
   * what is appended, as data frames (offsets in the file); a `truncated`
   * event `{size}` when the file shrinks (following goes on from there).
   * Ends with `{ended: "cancelled" | "closed" | "deleted"}`.
   */
  'files.tail': method({
    grant: 'files:read',
    optional: ['backlog'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        path: filePath(o, 'path'),
        backlog: optional(o, 'backlog', (x, k) => integer(x, k, 0, MAX_TAIL_BACKLOG)) ?? 8192,
      };
    },
    result: (v) => ({
      ended: oneOf(object(v, 'result'), 'ended', ['cancelled', 'closed', 'deleted'] as const),
    }),
  }),
  /** Ends a pending `files.read`, `files.download` or `files.tail` by its request id. */
  'files.cancel': method({
    grant: 'files:read',
    params: (v) => ({ id: integer(object(v, 'params'), 'id', 0, 2 ** 31) }),
    result: (v) => ({ cancelled: boolean(object(v, 'result'), 'cancelled') }),
  }),
  /**
   * Starts or resumes an upload to `path`: the host writes to a temporary
   * file in the target folder and answers the transfer's `handle` (for the
   * data frames) and the `offset` to go on from, with the SHA-256 of the
   * bytes it already holds (`prefix`; the device checks its own first
   * `offset` bytes against it, and starts over with `restart` otherwise).
   */
  'files.upload.begin': method({
    grant: 'files:write',
    optional: ['overwrite', 'restart', 'mode'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        path: filePath(o, 'path'),
        size: integer(o, 'size', 0, MAX_FILE_SIZE),
        overwrite: optional(o, 'overwrite', boolean) ?? false,
        restart: optional(o, 'restart', boolean) ?? false,
        mode: optional(o, 'mode', (x, k) => integer(x, k, 0, 0o777)),
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        handle: integer(o, 'handle', 1, 2 ** 31),
        offset: integer(o, 'offset', 0, BIG),
        prefix: sha256(o, 'prefix'),
      };
    },
  }),
  /**
   * Ends an upload: once every declared byte is written, the host checks
   * the SHA-256 of the whole file against `sha256` (`integrity` otherwise,
   * and the temporary file is gone), fsyncs, renames it into place and
   * fsyncs the folder. Audited with the path and the hash.
   */
  'files.upload.finish': method({
    grant: 'files:write',
    params: (v) => {
      const o = object(v, 'params');
      return { handle: integer(o, 'handle', 1, 2 ** 31), sha256: sha256(o, 'sha256') };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        path: normalizeFilePath(o.path),
        size: integer(o, 'size', 0, BIG),
        sha256: sha256(o, 'sha256'),
      };
    },
  }),
  /** Abandons an upload: the temporary file is removed. */
  'files.upload.cancel': method({
    grant: 'files:write',
    params: (v) => ({ handle: integer(object(v, 'params'), 'handle', 1, 2 ** 31) }),
    result: (v) => ({ cancelled: boolean(object(v, 'result'), 'cancelled') }),
  }),
  /** Makes a folder (`parents`: and any missing parent, like `mkdir -p`). */
  'files.mkdir': method({
    grant: 'files:write',
    optional: ['parents'],
    params: (v) => {
      const o = object(v, 'params');
      return { path: filePath(o, 'path'), parents: optional(o, 'parents', boolean) ?? false };
    },
    result: pathResult,
  }),
  /** Renames an entry within its folder. */
  'files.rename': method({
    grant: 'files:write',
    params: (v) => {
      const o = object(v, 'params');
      return { path: filePath(o, 'path'), name: fileName(o, 'name') };
    },
    result: pathResult,
  }),
  /** Moves an entry to another path (`to` is the new full path). */
  'files.move': method({
    grant: 'files:write',
    optional: ['overwrite'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        from: filePath(o, 'from'),
        to: filePath(o, 'to'),
        overwrite: optional(o, 'overwrite', boolean) ?? false,
      };
    },
    result: pathResult,
  }),
  /** Copies a file or a folder (recursively; links are copied as links) to `to`. */
  'files.copy': method({
    grant: 'files:write',
    optional: ['overwrite'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        from: filePath(o, 'from'),
        to: filePath(o, 'to'),
        overwrite: optional(o, 'overwrite', boolean) ?? false,
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        path: normalizeFilePath(o.path),
        entries: integer(o, 'entries', 0, BIG),
        bytes: integer(o, 'bytes', 0, BIG),
      };
    },
  }),
  /** Deletes an entry: to the host user's trash (freedesktop.org layout) unless `permanent`. */
  'files.delete': method({
    grant: 'files:write',
    optional: ['permanent'],
    params: (v) => {
      const o = object(v, 'params');
      return { path: filePath(o, 'path'), permanent: optional(o, 'permanent', boolean) ?? false };
    },
    result: (v) => ({ trashed: boolean(object(v, 'result'), 'trashed') }),
  }),
  /** Finds entries whose name contains `query` (case-insensitive) under `path`, bounded. */
  'files.search': method({
    grant: 'files:read',
    optional: ['limit', 'hidden'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        path: filePath(o, 'path'),
        query: string(o, 'query', 256),
        limit: optional(o, 'limit', (x, k) => integer(x, k, 1, MAX_SEARCH_MATCHES)) ?? 100,
        hidden: optional(o, 'hidden', boolean) ?? false,
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        matches: array(o, 'matches', MAX_SEARCH_MATCHES, (m) => {
          const e = parseFileEntry(m);
          return { ...e, path: normalizeFilePath(object(m, 'match').path) };
        }),
        /** True when the walk stopped at a bound (entries visited, time) before the end. */
        truncated: boolean(o, 'truncated'),
      };
    },
  }),
} as const;

/** The files method map's type. */
export type FilesMethods = typeof FILES_METHODS;
