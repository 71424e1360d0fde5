/**
 * The `files` channel's transfers (issue 15, docs/protocol.md §6):
 * `files.read`, `files.download` and `files.tail` send data frames paced by
 * the device's acks (`ChunkSender`); uploads receive them (`ChunkReceiver`)
 * into a temporary file in the target folder, checked by SHA-256, fsynced
 * and put in place; `files.cancel` ends a pending one. Memory stays flat
 * for any file size: at most `FILES_WINDOW` bytes per transfer are in
 * flight, files are read and written in small pieces, never whole.
 *
 * Uploads:
 * - The temporary file is `.<name>.pocketshell-<key>.part` in the target
 *   folder, created `O_CREAT | O_EXCL | O_NOFOLLOW` through the anchored
 *   folder; `key` hashes the device, the folder's real path, the name and
 *   the declared size, so the same upload after a reconnect finds it again
 *   and resumes from its length (the device checks the `prefix` hash). A
 *   `begin` for a key another channel still holds takes the file over (the
 *   old channel's client is gone or about to be).
 * - Frames are written in order, one at a time, at their offset; the ack
 *   goes once the bytes are written, so the device is paced by the disk.
 *   The SHA-256 is computed as the bytes are written (the resumed prefix
 *   hashed from the disk first).
 * - `finish`: the hash must be the sender's (`integrity` otherwise: the
 *   temporary file is removed, nothing appears), then fchmod, fsync, `link`
 *   to the final name (`exists` if it appeared meanwhile) or `rename` over
 *   it (`overwrite`), fsync of the folder, audit `files.write`.
 * - A channel that closes mid-upload keeps the temporary file for a resume;
 *   temporary files unused for 24 hours are removed when an upload begins
 *   in their folder.
 *
 * `limits.perDevice` caps the transfers (reads, downloads, tails, uploads
 * between begin and finish) of one device over all its channels.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants as C, type FSWatcher, watch as fsWatch } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import {
  ChunkReceiver,
  ChunkSender,
  type DeviceId,
  encodeEvent,
  FILES_CHUNK,
  type FilesMethods,
  type Handlers,
  ProtocolError,
  utf8Length,
} from '@pocketshell/protocol';
import type { ChannelContext } from '../host/channels.ts';
import { type AnchoredDir, type FileRoot, fsError } from './confine.ts';

/** The methods served here. */
export type TransferMethod =
  | 'files.read'
  | 'files.download'
  | 'files.tail'
  | 'files.cancel'
  | 'files.upload.begin'
  | 'files.upload.finish'
  | 'files.upload.cancel';

/** Caps on transfers. */
export interface TransferLimits {
  /** Transfers (reads, downloads, tails, uploads) one device may run at once, over all its channels. */
  readonly perDevice: number;
}

/** Default caps. */
export const DEFAULT_TRANSFER_LIMITS: TransferLimits = { perDevice: 8 };

/** How transfers reach the channel. */
export interface TransferIO {
  /** Sends one binary frame (dropped when the channel is closed). */
  send(frame: Uint8Array): void;
  /** True while the channel is open. */
  open(): boolean;
}

/** Temporary upload files unused this long are removed when an upload begins in their folder. */
export const STALE_PART_MS = 24 * 60 * 60 * 1000;
/** How often a tail looks at its file when no change notice came. */
export const TAIL_POLL_MS = 500;
/** Bytes read from disk at once (a few frames). */
const READ_PIECE = FILES_CHUNK * 8;
/** Most entries looked at when clearing stale temporary files of a folder. */
const MAX_STALE_SCAN = 100_000;
const PART_RE = /^\..*\.pocketshell-[0-9a-f]{16}\.part$/;
const EMPTY_SHA256 = createHash('sha256').digest('hex');
const O_PART_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const O_PART_OLD = C.O_RDWR | C.O_NOFOLLOW | C.O_NONBLOCK;

/** What the transfers of one host share across channels. */
interface Shared {
  /** Transfers running, per device. */
  readonly active: Map<DeviceId, number>;
  /** Uploads open, by temporary-file key. */
  readonly uploads: Map<string, Upload>;
}

// One per host: its limits object is made once per host.
const SHARED = new WeakMap<TransferLimits, Shared>();

function sharedOf(limits: TransferLimits): Shared {
  let s = SHARED.get(limits);
  if (!s) {
    s = { active: new Map(), uploads: new Map() };
    SHARED.set(limits, s);
  }
  return s;
}

/** A read, download or tail being sent. */
interface Outgoing {
  sender: ChunkSender;
  /** Ends it: `cancelled` (files.cancel) or `closed` (the channel). */
  end(why: 'cancelled' | 'closed'): void;
  /** Heard after each ack. */
  onAck?: () => void;
}

/** Reads `length` bytes at `position` into `buf` (fewer at the end of the file). */
async function readAt(fh: FileHandle, buf: Uint8Array, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

/** Writes all of `bytes` at `position`. */
async function writeAt(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Hashes the first `length` bytes of an open file into `hash`, a piece at a time. */
async function hashPrefix(fh: FileHandle, hash: Hash, length: number): Promise<void> {
  const buf = new Uint8Array(READ_PIECE);
  for (let at = 0; at < length; ) {
    const n = await readAt(fh, buf, Math.min(buf.length, length - at), at);
    if (n === 0) throw new ProtocolError('integrity', 'the file shrank while it was read');
    hash.update(buf.subarray(0, n));
    at += n;
  }
}

/** The temporary file's name for `name` (the name cut so the whole stays within 255 bytes). */
export function partName(name: string, key: string): string {
  const suffix = `.pocketshell-${key}.part`;
  let base = name;
  while (utf8Length(base) + suffix.length + 1 > 255) base = Array.from(base).slice(0, -1).join('');
  return `.${base}${suffix}`;
}

/** One upload: a temporary file being written. */
class Upload {
  readonly key: string;
  readonly handle: number;
  readonly owner: Transfers;
  readonly dir: AnchoredDir;
  readonly name: string;
  readonly part: string;
  readonly size: number;
  readonly overwrite: boolean;
  readonly mode: number;
  readonly receiver: ChunkReceiver;
  readonly hash: Hash;
  readonly release: () => void;
  fh: FileHandle | undefined;
  /** The first write error: the rest is acked unwritten, and `finish` answers it. */
  error: ProtocolError | undefined;
  readonly #queue: { offset: number; bytes: Uint8Array }[] = [];
  #pumping = false;
  #idle: (() => void)[] = [];
  /** Set once the upload ended here (finished, cancelled, closed, taken over): frames are dropped. */
  ended = false;

  constructor(o: {
    key: string;
    handle: number;
    owner: Transfers;
    dir: AnchoredDir;
    name: string;
    part: string;
    size: number;
    overwrite: boolean;
    mode: number;
    fh: FileHandle;
    offset: number;
    hash: Hash;
    sendAck: (frame: Uint8Array) => void;
    release: () => void;
  }) {
    this.key = o.key;
    this.handle = o.handle;
    this.owner = o.owner;
    this.dir = o.dir;
    this.name = o.name;
    this.part = o.part;
    this.size = o.size;
    this.overwrite = o.overwrite;
    this.mode = o.mode;
    this.fh = o.fh;
    this.hash = o.hash;
    this.release = o.release;
    this.receiver = new ChunkReceiver(o.handle, o.offset, o.sendAck);
  }

  /** Takes a data frame (checked: in order, within the window and the declared size). */
  data(offset: number, bytes: Uint8Array): void {
    if (offset + bytes.length > this.size)
      throw new ProtocolError('bad_message', 'a data frame past the declared size');
    this.receiver.accept(offset, bytes.length);
    this.#queue.push({ offset, bytes });
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
      if (!this.error && !this.ended && this.fh) {
        try {
          await writeAt(this.fh, item.bytes, item.offset);
          this.hash.update(item.bytes);
        } catch (error) {
          this.error = fsError(error, 'the upload');
        }
      }
      // Acked once written (or dropped after an error: the sender goes on to `finish`, which answers it).
      if (!this.ended) this.receiver.consumed(item.offset + item.bytes.length);
    }
    this.#pumping = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  /** Resolves once every frame taken is written. */
  idle(): Promise<void> {
    if (!this.#pumping && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Ends it here: waits for the writes, closes the file (kept on disk unless `remove`) and the folder. */
  async stop(remove: boolean): Promise<void> {
    if (this.ended) return;
    await this.idle();
    this.ended = true;
    this.release();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    if (remove) await fs.unlink(this.dir.path(this.part)).catch(() => undefined);
    await this.dir.close();
  }
}

/** The transfers of one channel. */
export class Transfers {
  readonly #ctx: ChannelContext;
  readonly #root: FileRoot;
  readonly #limits: TransferLimits;
  readonly #io: TransferIO;
  readonly #shared: Shared;
  readonly #outgoing = new Map<number, Outgoing>();
  readonly #uploads = new Map<number, Upload>();
  #nextHandle = 1;
  #closed = false;

  constructor(ctx: ChannelContext, root: FileRoot, limits: TransferLimits, io: TransferIO) {
    this.#ctx = ctx;
    this.#root = root;
    this.#limits = limits;
    this.#io = io;
    this.#shared = sharedOf(limits);
  }

  /** The handlers (`send` sends an RPC text message: events of a pending request). */
  handlers(send: (text: string) => void): Pick<Handlers<FilesMethods, number>, TransferMethod> {
    return {
      'files.read': (p, id) => this.#read(p.path, p.offset, p.length, id),
      'files.download': (p, id) => this.#download(p.path, p.offset, id),
      'files.tail': (p, id) => this.#tail(p.path, p.backlog, id, send),
      'files.cancel': (p) => {
        const out = this.#outgoing.get(p.id);
        if (!out) return { cancelled: false };
        out.end('cancelled');
        return { cancelled: true };
      },
      'files.upload.begin': (p) => this.#begin(p),
      'files.upload.finish': (p) => this.#finish(p.handle, p.sha256),
      'files.upload.cancel': async (p) => {
        const up = this.#uploads.get(p.handle);
        if (!up) return { cancelled: false };
        this.#uploads.delete(p.handle);
        this.#forget(up);
        await up.stop(true);
        return { cancelled: true };
      },
    };
  }

  /** A data frame of an upload. */
  data(id: number, offset: number, bytes: Uint8Array): void {
    const up = this.#uploads.get(id);
    if (!up) throw new ProtocolError('bad_message', 'no such upload');
    up.data(offset, bytes);
  }

  /** An ack of a read, download or tail (a late one, for a finished transfer, is ignored). */
  ack(id: number, offset: number): void {
    const out = this.#outgoing.get(id);
    if (!out) return;
    out.sender.ack(offset);
    out.onAck?.();
  }

  /** The channel closed: pending transfers end, open uploads keep their temporary file for a resume. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const out of this.#outgoing.values()) out.end('closed');
    for (const up of this.#uploads.values()) {
      this.#forget(up);
      void up.stop(false);
    }
    this.#uploads.clear();
  }

  /** Takes one of the device's transfer slots (`limit_reached` when none is free); returns its release. */
  #acquire(): () => void {
    if (this.#closed) throw new ProtocolError('unavailable', 'the channel closed');
    const device = this.#ctx.device;
    const now = this.#shared.active.get(device) ?? 0;
    if (now >= this.#limits.perDevice)
      throw new ProtocolError('limit_reached', `at most ${this.#limits.perDevice} transfers at once`);
    this.#shared.active.set(device, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#shared.active.get(device) ?? 1) - 1;
      if (left <= 0) this.#shared.active.delete(device);
      else this.#shared.active.set(device, left);
    };
  }

  /** Sends bytes `[from, to)` of `fh` through `out.sender` (to `Infinity`: until the end, as it grows). */
  async #send(fh: FileHandle, out: Outgoing, from: number, to: number, hash?: Hash): Promise<number> {
    const buf = new Uint8Array(READ_PIECE);
    let at = from;
    while (at < to) {
      const n = await readAt(fh, buf, Math.min(buf.length, to - at), at);
      if (n === 0) break;
      const piece = buf.subarray(0, n);
      hash?.update(piece);
      await out.sender.push(piece);
      at += n;
    }
    return at - from;
  }

  /** Registers a sender under request `id`. */
  #outgoingFor(id: number, start: number): Outgoing {
    // Closed while the file was opening: nothing would ever end this sender.
    if (this.#closed) throw new ProtocolError('unavailable', 'the channel closed');
    if (this.#outgoing.has(id)) throw new ProtocolError('bad_message', 'a transfer with that id is running');
    const out: Outgoing = {
      sender: new ChunkSender(id, start, this.#io.send),
      end: (why) =>
        out.sender.abort(
          why === 'cancelled'
            ? new ProtocolError('cancelled', 'cancelled')
            : new ProtocolError('unavailable', 'the channel closed'),
        ),
    };
    this.#outgoing.set(id, out);
    return out;
  }

  /** `#outgoingFor`, closing `fh` when it refuses. */
  async #register(fh: FileHandle, id: number, start: number): Promise<Outgoing> {
    try {
      return this.#outgoingFor(id, start);
    } catch (error) {
      await fh.close().catch(() => undefined);
      throw error;
    }
  }

  async #read(rel: string, offset: number, length: number, id: number) {
    const release = this.#acquire();
    try {
      const file = await this.#root.openFile(rel);
      const out = await this.#register(file.handle, id, offset);
      try {
        const size = file.stat.size;
        const sent = await this.#send(file.handle, out, offset, Math.min(size, offset + length));
        return { size, sent, eof: offset + sent >= size };
      } catch (error) {
        throw fsError(error, 'the file');
      } finally {
        this.#outgoing.delete(id);
        await file.handle.close().catch(() => undefined);
      }
    } finally {
      release();
    }
  }

  async #download(rel: string, offset: number, id: number) {
    const release = this.#acquire();
    try {
      const file = await this.#root.openFile(rel);
      if (offset > file.stat.size) {
        await file.handle.close().catch(() => undefined);
        throw new ProtocolError('bad_message', 'offset past the end of the file');
      }
      const out = await this.#register(file.handle, id, offset);
      try {
        const hash = createHash('sha256');
        // A resumed download is checked whole: the device's prefix is hashed here too.
        await hashPrefix(file.handle, hash, offset);
        const sent = await this.#send(file.handle, out, offset, Number.POSITIVE_INFINITY, hash);
        const stat = await file.handle.stat();
        return { size: offset + sent, sha256: hash.digest('hex'), mtime: stat.mtimeMs };
      } catch (error) {
        throw fsError(error, 'the file');
      } finally {
        this.#outgoing.delete(id);
        await file.handle.close().catch(() => undefined);
      }
    } finally {
      release();
    }
  }

  async #tail(rel: string, backlog: number, id: number, send: (text: string) => void) {
    const release = this.#acquire();
    let watcher: FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const file = await this.#root.openFile(rel);
      let ended: 'cancelled' | 'closed' | 'deleted' | undefined;
      let wake: (() => void) | undefined;
      const poke = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const nap = () =>
        new Promise<void>((resolve) => {
          wake = resolve;
        });
      let pos = Math.max(0, file.stat.size - backlog);
      const out = await this.#register(file.handle, id, pos);
      const stop = out.end;
      out.end = (why) => {
        ended ??= why;
        stop(why);
        poke();
      };
      out.onAck = poke;
      try {
        watcher = fsWatch(file.real, { persistent: false }, poke);
        watcher.on('error', () => undefined);
      } catch {
        // No change notices (inotify exhausted): the poll alone follows the file.
      }
      timer = setInterval(poke, TAIL_POLL_MS);
      try {
        while (!ended) {
          const st = await file.handle.stat();
          const now = await fs.stat(file.real).catch(() => undefined);
          if (st.nlink === 0 || !now || now.ino !== st.ino || now.dev !== st.dev) {
            ended = 'deleted';
            break;
          }
          if (st.size < pos) {
            // Every byte sent is acked before the event, so no ack of the old bytes reaches the new sender.
            while (!ended && out.sender.inFlight > 0) await nap();
            if (ended) break;
            send(encodeEvent(id, 'truncated', { size: st.size }));
            pos = st.size;
            out.sender = new ChunkSender(id, pos, this.#io.send);
          }
          if (st.size > pos) pos += await this.#send(file.handle, out, pos, st.size);
          else await nap();
        }
      } catch (error) {
        if (!ended) throw fsError(error, 'the file');
      } finally {
        this.#outgoing.delete(id);
        await file.handle.close().catch(() => undefined);
      }
      return { ended };
    } finally {
      watcher?.close();
      if (timer) clearInterval(timer);
      release();
    }
  }

  async #begin(p: {
    path: string;
    size: number;
    overwrite: boolean;
    restart: boolean;
    mode?: number | undefined;
  }) {
    if (this.#closed) throw new ProtocolError('unavailable', 'the channel closed');
    const { dir, name } = await this.#root.parentOf(p.path);
    let release: (() => void) | undefined;
    let fh: FileHandle | undefined;
    try {
      const target = await fs.lstat(dir.path(name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw fsError(error, 'the target');
      });
      if (target?.isDirectory()) throw new ProtocolError('wrong_type', 'the target is a folder');
      if (target && !p.overwrite) throw new ProtocolError('exists', 'the target already exists');
      const key = createHash('sha256')
        .update(`${this.#ctx.device}\0${dir.real}\0${name}\0${p.size}`)
        .digest('hex')
        .slice(0, 16);
      const part = partName(name, key);
      // The same upload still open on another channel (its client went away): this one takes it over.
      const held = this.#shared.uploads.get(key);
      if (held) {
        held.owner.#uploads.delete(held.handle);
        this.#forget(held);
        await held.stop(false);
      }
      release = this.#acquire();
      await this.#clearStale(dir, part);
      const partPath = dir.path(part);
      if (p.restart) await fs.unlink(partPath).catch(() => undefined);
      const hash = createHash('sha256');
      let offset = 0;
      let prefix = EMPTY_SHA256;
      try {
        fh = await fs.open(partPath, O_PART_NEW, 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, 'the upload');
        // A part file from an earlier try: resume from its length when it is a plain file of ours.
        // Anything else under that name (a link, a hard link to elsewhere, a FIFO, a longer file)
        // is removed — the name itself, never what it leads to — and the file made anew.
        const old = await fs.open(partPath, O_PART_OLD).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ELOOP') return undefined;
          throw fsError(e, 'the upload');
        });
        const st = await old?.stat();
        if (!old || !st?.isFile() || st.nlink !== 1 || st.size > p.size) {
          await old?.close();
          if (st?.isDirectory()) throw new ProtocolError('wrong_type', 'the temporary file is a folder');
          await fs.unlink(partPath).catch(() => undefined);
          fh = await fs.open(partPath, O_PART_NEW, 0o600).catch((e) => {
            throw fsError(e, 'the upload');
          });
        } else {
          fh = old;
          await hashPrefix(fh, hash, st.size);
          offset = st.size;
          prefix = hash.copy().digest('hex');
        }
      }
      const handle = this.#nextHandle++;
      const up = new Upload({
        key,
        handle,
        owner: this,
        dir,
        name,
        part,
        size: p.size,
        overwrite: p.overwrite,
        mode: p.mode ?? (target?.isFile() ? target.mode & 0o777 : 0o644),
        fh,
        offset,
        hash,
        sendAck: this.#io.send,
        release,
      });
      if (this.#closed) {
        // The channel closed while this began: the file stays for a resume, nothing stays open.
        await up.stop(false);
        throw new ProtocolError('unavailable', 'the channel closed');
      }
      this.#uploads.set(handle, up);
      this.#shared.uploads.set(key, up);
      return { handle, offset, prefix };
    } catch (error) {
      release?.();
      await fh?.close().catch(() => undefined);
      await dir.close();
      throw fsError(error, 'the upload');
    }
  }

  async #finish(handle: number, sha256: string) {
    const up = this.#uploads.get(handle);
    if (!up) throw new ProtocolError('not_found', 'no such upload');
    // Frames are taken as they arrive, so every one sent before this request is counted already.
    if (up.receiver.received !== up.size)
      throw new ProtocolError('bad_message', 'finish before every declared byte arrived');
    this.#uploads.delete(handle);
    this.#forget(up);
    await up.idle();
    const fail = async (error: unknown): Promise<never> => {
      await up.stop(true);
      throw fsError(error, 'the upload');
    };
    if (up.error) return fail(up.error);
    const digest = up.hash.digest('hex');
    if (digest !== sha256)
      return fail(new ProtocolError('integrity', 'the bytes received do not match their SHA-256'));
    const fh = up.fh as FileHandle;
    try {
      await fh.chmod(up.mode);
      await fh.sync();
    } catch (error) {
      return fail(error);
    }
    const from = up.dir.path(up.part);
    const to = up.dir.path(up.name);
    try {
      if (up.overwrite) await fs.rename(from, to);
      else {
        // link() never replaces: a target that appeared since `begin` is kept (`exists`).
        await fs.link(from, to);
        await fs.unlink(from);
      }
      await up.dir.handle.sync();
    } catch (error) {
      return fail(error);
    }
    const path = up.dir.relOf(up.name);
    this.#ctx.audit.append('files.write', { device: this.#ctx.device, path, size: up.size, sha256: digest });
    await up.stop(false);
    return { path, size: up.size, sha256: digest };
  }

  /** Drops an upload from the host's table of open ones. */
  #forget(up: Upload): void {
    if (this.#shared.uploads.get(up.key) === up) this.#shared.uploads.delete(up.key);
  }

  /** Removes the folder's temporary upload files unused for `STALE_PART_MS` (not `keep`). */
  async #clearStale(dir: AnchoredDir, keep: string): Promise<void> {
    const before = Date.now() - STALE_PART_MS;
    try {
      const d = await fs.opendir(dir.path());
      let seen = 0;
      for await (const e of d) {
        if (++seen > MAX_STALE_SCAN) break;
        if (e.name === keep || !PART_RE.test(e.name)) continue;
        const st = await fs.lstat(dir.path(e.name)).catch(() => undefined);
        if (st?.isFile() && st.mtimeMs < before) await fs.unlink(dir.path(e.name)).catch(() => undefined);
      }
    } catch {
      // Best effort: a folder that cannot be listed keeps its stale files.
    }
  }
}
