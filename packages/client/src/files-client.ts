/**
 * The `files` channel from a Node device (docs/protocol.md §6): an
 * `RpcClient` over `FILES_METHODS`, and the transfers on top of it —
 * `download`/`read`/`tail` receive data frames (`ChunkReceiver`: the ack
 * goes once the sink has taken the bytes, so a slow sink slows the host;
 * frames that queued while the sink was busy reach it as one chunk, so a
 * file sink writes once per batch, not per 16 KiB frame), `upload` sends
 * them (`ChunkSender`: never more than `FILES_WINDOW` bytes unacked, so
 * the host's disk paces it; the next piece read while one is sent). `downloadFile` and `uploadFile`
 * move whole files: a download goes to `<local>.pocketshell-part`, is
 * resumed from that file's length, checked against the host's SHA-256 of
 * the whole file (the local prefix hashed too), fsynced and renamed into
 * place; an upload resumes from the host's temporary file when its prefix
 * hash matches this file's, and the host checks the whole file's SHA-256.
 * Memory stays flat: files are read and written a piece at a time.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants as C } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import {
  ChunkReceiver,
  ChunkSender,
  decodeFilesMessage,
  FILES_ACK_EVERY,
  FILES_CHUNK,
  FILES_METHODS,
  FILES_WINDOW,
  type FilesMethods,
  MAX_FILES_REPLY,
  ProtocolError,
  type RpcClient,
  rpcEndpoint,
} from '@pocketshell/protocol';
import { type DataChannel, sendIfOpen } from '@pocketshell/webrtc';

/** Takes received bytes; the ack waits for it to resolve. */
export type FileSink = (chunk: Uint8Array, offset: number) => void | Promise<void>;

/** Where an upload's bytes come from. */
export interface UploadSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes read from a source at once (a few frames). */
const PIECE = FILES_CHUNK * 8;

type Item =
  | { kind: 'data'; receiver: ChunkReceiver; offset: number; bytes: Uint8Array }
  | { kind: 'truncated'; size: number };

/** One transfer being received: frames checked, handed to the sink in order, acked after it. */
class Incoming {
  readonly id: number;
  /** Made at the first frame when the start is not known (a tail's backlog). */
  receiver: ChunkReceiver | undefined;
  readonly #sink: FileSink;
  readonly #sendAck: (frame: Uint8Array) => void;
  readonly #ackEvery: number;
  readonly #onTruncated: ((size: number) => void) | undefined;
  readonly #queue: Item[] = [];
  #pumping = false;
  #idle: (() => void)[] = [];
  /** The sink's error: the rest is dropped. */
  error: unknown;
  hash: Hash | undefined;

  constructor(
    id: number,
    start: number | undefined,
    sink: FileSink,
    sendAck: (frame: Uint8Array) => void,
    o: { ackEvery?: number; hash?: Hash; onTruncated?: (size: number) => void } = {},
  ) {
    this.#sink = sink;
    this.#sendAck = sendAck;
    this.#ackEvery = o.ackEvery ?? FILES_ACK_EVERY;
    this.#onTruncated = o.onTruncated;
    this.hash = o.hash;
    this.id = id;
    if (start !== undefined) this.receiver = this.#receiverAt(start);
  }

  #receiverAt(start: number): ChunkReceiver {
    return new ChunkReceiver(this.id, start, this.#sendAck, FILES_WINDOW, this.#ackEvery);
  }

  /** Bytes received up to (the offset after the last frame). */
  get received(): number | undefined {
    return this.receiver?.received;
  }

  /** A data frame (`bad_message` when out of order or past the window). */
  data(offset: number, bytes: Uint8Array): void {
    this.receiver ??= this.#receiverAt(offset);
    this.receiver.accept(offset, bytes.length);
    this.#queue.push({ kind: 'data', receiver: this.receiver, offset, bytes });
    void this.#pump();
  }

  /** A tail's file shrank to `size`: the next frames start there. */
  truncated(size: number): void {
    this.receiver = this.#receiverAt(size);
    this.#queue.push({ kind: 'truncated', size });
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
      if (item.kind === 'truncated') {
        if (this.error === undefined) this.#onTruncated?.(item.size);
        continue;
      }
      // The frames waiting behind this one (same transfer, next offsets) go to the sink as one
      // chunk: one write to disk per batch instead of one per 16 KiB frame.
      let end = item.offset + item.bytes.length;
      const parts = [item.bytes];
      for (
        let next = this.#queue[0];
        next?.kind === 'data' && next.receiver === item.receiver && next.offset === end;
        next = this.#queue[0]
      ) {
        this.#queue.shift();
        parts.push(next.bytes);
        end += next.bytes.length;
      }
      const bytes = parts.length === 1 ? item.bytes : Buffer.concat(parts);
      if (this.error === undefined) {
        try {
          this.hash?.update(bytes);
          await this.#sink(bytes, item.offset);
        } catch (error) {
          this.error = error;
        }
      }
      item.receiver.consumed(end);
    }
    this.#pumping = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const f of idle) f();
  }

  /** Resolves once the sink took every frame received. */
  idle(): Promise<void> {
    if (!this.#pumping && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

/** Fsyncs a folder (a rename in it is then durable); best effort where folders cannot be opened. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, C.O_RDONLY | C.O_DIRECTORY).catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on a folder.
  } finally {
    await fh.close();
  }
}

/** Reads exactly `length` bytes at `offset` of an open file (`integrity` when it is shorter now). */
async function readExactly(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) throw new ProtocolError('integrity', 'the local file shrank while it was sent');
    got += bytesRead;
  }
  return buf;
}

const aborted = () => new ProtocolError('cancelled', 'cancelled');

export class FilesClient {
  readonly channel: DataChannel;
  /** The files methods of the host, typed: `rpc.call('files.list', {path: ''})`. */
  readonly rpc: RpcClient<FilesMethods>;
  /** Transfers being received, by request id. */
  readonly #incoming = new Map<number, Incoming>();
  /** Uploads being sent, by handle. */
  readonly #outgoing = new Map<number, ChunkSender>();

  constructor(channel: DataChannel) {
    this.channel = channel;
    const end = rpcEndpoint(FILES_METHODS, (m) => channel.send(m), MAX_FILES_REPLY);
    this.rpc = end.rpc;
    channel.on('message', (data) => {
      try {
        const m = decodeFilesMessage(data);
        if (m.kind === 'rpc') {
          try {
            end.receive(m.data);
          } catch {
            // A fragment out of order or too long: dropped, as a malformed reply is.
          }
        } else if (m.kind === 'data') {
          // A frame of a transfer already ended here (cancelled) is dropped.
          this.#incoming.get(m.id)?.data(m.offset, m.bytes);
        } else this.#outgoing.get(m.id)?.ack(m.offset);
      } catch (error) {
        // The host broke the frame rules: nothing on this channel can be trusted to go on.
        this.#fail(error as Error);
      }
    });
    channel.on('close', () => this.#fail(new ProtocolError('unavailable', 'files channel closed')));
  }

  #fail(error: Error): void {
    this.rpc.close(error);
    for (const s of this.#outgoing.values()) s.abort(error);
    if (this.channel.readyState !== 'closed') this.channel.close();
  }

  #sendFrame = (frame: Uint8Array): void => {
    sendIfOpen(this.channel, frame);
  };

  /**
   * Receives a read, download or tail: `start` is the offset of the first
   * byte; `onId` registers the receiver before the request leaves.
   */
  async #receive<T>(
    start: number | undefined,
    sink: FileSink,
    call: (onId: (id: number) => void) => Promise<T>,
    o: {
      signal?: AbortSignal | undefined;
      hash?: Hash;
      ackEvery?: number;
      onTruncated?: (size: number) => void;
    } = {},
  ): Promise<{ result: T; incoming: Incoming }> {
    if (o.signal?.aborted) throw aborted();
    let id = -1;
    let incoming: Incoming | undefined;
    const onAbort = () => {
      if (id >= 0) this.rpc.call('files.cancel', { id }).catch(() => undefined);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await call((rid) => {
        id = rid;
        incoming = new Incoming(rid, start, sink, this.#sendFrame, {
          ...(o.hash ? { hash: o.hash } : {}),
          ...(o.ackEvery ? { ackEvery: o.ackEvery } : {}),
          ...(o.onTruncated ? { onTruncated: o.onTruncated } : {}),
        });
        this.#incoming.set(rid, incoming);
      }).catch(async (error) => {
        // The sink's own error says more than the host's `cancelled` that followed it.
        await incoming?.idle();
        if (incoming?.error !== undefined) throw incoming.error;
        throw error;
      });
      const inc = incoming as Incoming;
      await inc.idle();
      if (inc.error !== undefined) throw inc.error;
      return { result, incoming: inc };
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      this.#incoming.delete(id);
    }
  }

  /** Wraps a sink so that its failure cancels the transfer on the host at once. */
  #cancelling(sink: FileSink, id: () => number): FileSink {
    return async (chunk, offset) => {
      try {
        await sink(chunk, offset);
      } catch (error) {
        this.rpc.call('files.cancel', { id: id() }).catch(() => undefined);
        throw error;
      }
    };
  }

  async #download(
    remotePath: string,
    sink: FileSink,
    opts: { offset?: number; onProgress?: (bytesDone: number) => void; signal?: AbortSignal; hash?: Hash },
  ): Promise<{ size: number; sha256: string; mtime: number }> {
    const offset = opts.offset ?? 0;
    // Checked here when the whole file flows through (or the caller hashed the prefix).
    const hash = opts.hash ?? (offset === 0 ? createHash('sha256') : undefined);
    let id = -1;
    let done = offset;
    const counting: FileSink = async (chunk, at) => {
      await sink(chunk, at);
      done = at + chunk.length;
      opts.onProgress?.(done);
    };
    const { result, incoming } = await this.#receive(
      offset,
      this.#cancelling(counting, () => id),
      (onId) =>
        this.rpc.call(
          'files.download',
          { path: remotePath, offset },
          {
            onId: (rid) => {
              id = rid;
              onId(rid);
            },
          },
        ),
      { signal: opts.signal, ...(hash ? { hash } : {}) },
    );
    if ((incoming.received ?? offset) !== result.size)
      throw new ProtocolError('integrity', 'the host sent another number of bytes than it counted');
    if (hash && hash.digest('hex') !== result.sha256)
      throw new ProtocolError('integrity', 'the bytes received do not match the host’s SHA-256');
    return result;
  }

  /**
   * Downloads `path` from `offset` (default 0): `sink` takes each chunk
   * with its offset in the file, in order (the ack waits for it). Resolves
   * with the host's `{size, sha256, mtime}` of the whole file; from offset
   * 0 the bytes are checked against it here (`ProtocolError('integrity')`).
   */
  download(
    remotePath: string,
    sink: FileSink,
    opts: { offset?: number; onProgress?: (bytesDone: number) => void; signal?: AbortSignal } = {},
  ): Promise<{ size: number; sha256: string; mtime: number }> {
    return this.#download(remotePath, sink, opts);
  }

  /** Reads up to `length` (≤ 1 MiB) bytes at `offset`: fewer at the end of the file. */
  async read(remotePath: string, offset: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    const { result } = await this.#receive(
      offset,
      (chunk, at) => {
        buf.set(chunk, at - offset);
      },
      (onId) => this.rpc.call('files.read', { path: remotePath, offset, length }, { onId }),
    );
    return buf.subarray(0, result.sent);
  }

  /**
   * Follows a growing file: `onData` hears the last `backlog` bytes, then
   * what is appended (with offsets in the file); `onTruncated` hears the
   * file shrink. Resolves with how it ended (`cancelled` after `signal`
   * aborts, `deleted` when the file goes away).
   */
  async tail(
    remotePath: string,
    onData: FileSink,
    opts: { backlog?: number; onTruncated?: (size: number) => void; signal?: AbortSignal } = {},
  ): Promise<{ ended: 'cancelled' | 'closed' | 'deleted' }> {
    let incoming: Incoming | undefined;
    // Where the backlog begins is known from the first frame; the receiver takes it from there.
    const { result } = await this.#receive(
      undefined,
      onData,
      (onId) =>
        this.rpc.call(
          'files.tail',
          { path: remotePath, backlog: opts.backlog ?? 8192 },
          {
            onId: (rid) => {
              onId(rid);
              incoming = this.#incoming.get(rid);
            },
            onEvent: (event, data) => {
              if (event !== 'truncated' || !incoming) return;
              const size = (data as { size?: unknown } | null)?.size;
              if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)
                incoming.truncated(size);
            },
          },
        ),
      {
        signal: opts.signal,
        // Each byte acked as it is taken: the host waits for every ack before it reports a truncation.
        ackEvery: 1,
        ...(opts.onTruncated ? { onTruncated: opts.onTruncated } : {}),
      },
    );
    return result;
  }

  /**
   * Uploads `source` to `path` (`exists` unless `overwrite`). Resumes
   * where the host's temporary file of the same upload ends when its
   * prefix hash matches this source's (else starts over); the host checks
   * the SHA-256 of the whole file before it puts it in place. `signal`
   * cancels it (the host removes the temporary file).
   */
  async upload(
    remotePath: string,
    source: UploadSource,
    opts: { overwrite?: boolean; onProgress?: (bytesDone: number) => void; signal?: AbortSignal } = {},
  ): Promise<{ path: string; size: number; sha256: string }> {
    if (opts.signal?.aborted) throw aborted();
    const size = source.size;
    const overwrite = opts.overwrite ?? false;
    const params = { path: remotePath, size, overwrite, restart: false, mode: undefined };
    let begun = await this.rpc.call('files.upload.begin', params);
    let hash = createHash('sha256');
    if (begun.offset > 0) {
      for (let at = 0; at < begun.offset; ) {
        const n = Math.min(PIECE, begun.offset - at);
        hash.update(await this.#readSource(source, at, n));
        at += n;
      }
      if (hash.copy().digest('hex') !== begun.prefix) {
        begun = await this.rpc.call('files.upload.begin', { ...params, restart: true });
        hash = createHash('sha256');
      }
    }
    const { handle } = begun;
    const sender = new ChunkSender(handle, begun.offset, this.#sendFrame);
    this.#outgoing.set(handle, sender);
    const onAbort = () => sender.abort(aborted());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      opts.onProgress?.(begun.offset);
      // The next piece is read while this one waits for room in the window.
      const readPiece = (at: number) => {
        const p = this.#readSource(source, at, Math.min(PIECE, size - at));
        p.catch(() => undefined);
        return p;
      };
      let next = begun.offset < size ? readPiece(begun.offset) : undefined;
      try {
        for (let at = begun.offset; at < size; ) {
          const bytes = await (next as Promise<Uint8Array>);
          next = at + bytes.length < size ? readPiece(at + bytes.length) : undefined;
          hash.update(bytes);
          await sender.push(bytes);
          at += bytes.length;
          opts.onProgress?.(sender.sent - sender.inFlight);
        }
      } finally {
        // A read still running ends before the caller may close its source.
        await next?.catch(() => undefined);
      }
      if (opts.signal?.aborted) throw aborted();
      const done = await this.rpc.call('files.upload.finish', { handle, sha256: hash.digest('hex') });
      opts.onProgress?.(size);
      return done;
    } catch (error) {
      if (opts.signal?.aborted) await this.rpc.call('files.upload.cancel', { handle }).catch(() => undefined);
      throw error;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.#outgoing.delete(handle);
    }
  }

  async #readSource(source: UploadSource, offset: number, length: number): Promise<Uint8Array> {
    const bytes = await source.read(offset, length);
    if (bytes.length !== length)
      throw new ProtocolError('integrity', 'the source gave another length than asked');
    return bytes;
  }

  /**
   * Downloads `remotePath` to `localPath`: into `<localPath>.pocketshell-part`
   * (resumed from its length unless `resume` is false), checked against the
   * host's SHA-256 of the whole file (`integrity`: the part file is removed),
   * fsynced, renamed into place.
   */
  async downloadFile(
    remotePath: string,
    localPath: string,
    opts: { resume?: boolean; onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<{ size: number; sha256: string }> {
    const part = `${localPath}.pocketshell-part`;
    // The file's size now (an empty read answers it): for progress, and to spot a part longer than the file.
    const total = (await this.rpc.call('files.read', { path: remotePath, offset: 0, length: 0 })).size;
    const resume = opts.resume ?? true;
    const fh = await fs.open(part, C.O_RDWR | C.O_CREAT | (resume ? 0 : C.O_TRUNC), 0o644);
    let ok = false;
    try {
      let offset = (await fh.stat()).size;
      // A part longer than the file now cannot be its prefix.
      if (offset > total) {
        await fh.truncate(0);
        offset = 0;
      }
      const hash = createHash('sha256');
      for (let at = 0; at < offset; ) {
        const n = Math.min(PIECE, offset - at);
        hash.update(await readExactly(fh, at, n));
        at += n;
      }
      const result = await this.#download(
        remotePath,
        async (chunk, at) => {
          let w = 0;
          while (w < chunk.length) w += (await fh.write(chunk, w, chunk.length - w, at + w)).bytesWritten;
        },
        {
          offset,
          hash,
          ...(opts.onProgress ? { onProgress: (d: number) => opts.onProgress?.(d, Math.max(total, d)) } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
      ).catch(async (error) => {
        // A part that does not hash right is useless for a resume.
        if ((error as { code?: string }).code === 'integrity') await fs.rm(part, { force: true });
        throw error;
      });
      await fh.truncate(result.size);
      await fh.sync();
      ok = true;
      await fh.close();
      await fs.rename(part, localPath);
      await syncDir(path.dirname(path.resolve(localPath)));
      return { size: result.size, sha256: result.sha256 };
    } finally {
      if (!ok) await fh.close().catch(() => undefined);
    }
  }

  /** Uploads the local file `localPath` to `remotePath` (see `upload`). */
  async uploadFile(
    localPath: string,
    remotePath: string,
    opts: {
      overwrite?: boolean;
      onProgress?: (done: number, total: number) => void;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ path: string; size: number; sha256: string }> {
    const fh = await fs.open(localPath, C.O_RDONLY);
    try {
      const size = (await fh.stat()).size;
      return await this.upload(
        remotePath,
        { size, read: (offset, length) => readExactly(fh, offset, length) },
        {
          ...(opts.overwrite === undefined ? {} : { overwrite: opts.overwrite }),
          ...(opts.onProgress ? { onProgress: (d: number) => opts.onProgress?.(d, size) } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
      );
    } finally {
      await fh.close();
    }
  }

  /** Closes the channel (pending transfers fail `unavailable`; an open upload's temporary file stays for a resume). */
  close(): void {
    this.channel.close();
  }
}
