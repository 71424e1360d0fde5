/**
 * The browser end of a host's `files` channel (docs/protocol.md §6): the
 * protocol's `FILES_METHODS` over the shared typed RPC client, plus the
 * binary data and ack frames of transfers (files-frames.ts) — never base64.
 *
 * - `read` (a range, for previews) and `download` (a whole file, to a
 *   Blob) take the host's data frames on the request's id, check their
 *   order and the host's window (`ChunkReceiver`) and ack each chunk once
 *   it is taken into the page; a download hashes what it takes (streaming
 *   SHA-256, in a Web Worker: sha256-stream.ts) and refuses (`integrity`)
 *   bytes that do not match the host's hash. Chunks are folded into a Blob every few MiB, so the browser may
 *   keep a large file out of the page's heap.
 * - `upload` sends a `File` (or any Blob) in slices read with
 *   `blob.slice().arrayBuffer()`, at most `FILES_WINDOW` bytes in flight
 *   (`ChunkSender`, paced by the host's acks; the next slice read while
 *   one is sent), hashing as it goes (in the worker), and
 *   ends with `files.upload.finish` and the hash. A resumed upload (the
 *   host answers `begin` with an offset) hashes its own first `offset`
 *   bytes and compares them with the host's `prefix`; when they differ it
 *   begins again (`restart`).
 * - Aborting (an `AbortSignal`) cancels on the host: `files.cancel` for a
 *   read or download, `files.upload.cancel` for an upload.
 *
 * The request id of a read or download names its data frames (the RPC
 * client's `onId` says it before the request leaves).
 * A frame that breaks the rules (out of order, past the window, of an
 * unknown type) ends the channel, as the host does.
 */
import {
  type CallArgs,
  ChunkReceiver,
  ChunkSender,
  decodeFilesMessage,
  encodeRpcFrames,
  FILES_METHODS,
  type FilesMethods,
  MAX_FILES_REPLY,
  ProtocolError,
  type ResultOf,
  RpcClient,
  RpcReassembler,
} from '@pocketshell/protocol';
import { channelOpened } from './rpc-channel.ts';
import { Sha256Stream } from './sha256-stream.ts';

/** Bytes read from a File at once for an upload (four windows). */
export const UPLOAD_SLICE = 1024 * 1024;
/** Chunks are folded into one Blob every this many bytes of a download. */
const FOLD_BYTES = 8 * 1024 * 1024;

export type FilesMethod = keyof FilesMethods & string;
export type FilesResult<K extends FilesMethod> = ResultOf<FilesMethods, K>;

/** Progress of a transfer: bytes done out of `total`. */
export type Progress = (done: number, total: number) => void;

/** Where a data frame of a pending read or download goes. */
type Sink = (offset: number, bytes: Uint8Array) => void;

const aborted = () => new ProtocolError('cancelled', 'cancelled');

/** `file[at, at + UPLOAD_SLICE)` (to `end` at most); its failure is taken where it is awaited. */
function readSlice(file: Blob, at: number, end: number): Promise<Uint8Array> {
  const p = file
    .slice(at, Math.min(end, at + UPLOAD_SLICE))
    .arrayBuffer()
    .then((b) => new Uint8Array(b));
  p.catch(() => undefined);
  return p;
}

export class FilesChannel {
  readonly channel: RTCDataChannel;
  readonly #rpc: RpcClient<FilesMethods>;
  readonly #sinks = new Map<number, Sink>();
  readonly #senders = new Map<number, ChunkSender>();
  #closed = false;
  readonly closed: Promise<void>;

  constructor(channel: RTCDataChannel) {
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    this.#rpc = new RpcClient(
      FILES_METHODS,
      (text) => {
        if (channel.readyState !== 'open') throw new ProtocolError('unavailable', 'files channel not open');
        for (const frame of encodeRpcFrames(text))
          if (typeof frame === 'string') channel.send(frame);
          else channel.send(frame as Uint8Array<ArrayBuffer>);
      },
      { maxReply: MAX_FILES_REPLY },
    );
    const rpcFrames = new RpcReassembler(MAX_FILES_REPLY);
    channel.addEventListener('message', (e: MessageEvent) => {
      try {
        const m = decodeFilesMessage(
          typeof e.data === 'string' ? e.data : new Uint8Array(e.data as ArrayBuffer),
        );
        if (m.kind === 'rpc') {
          const whole = rpcFrames.push(m.data);
          if (whole !== undefined) this.#rpc.receive(whole);
        } else if (m.kind === 'data') {
          // Frames of a transfer cancelled here may still be on the way: dropped.
          this.#sinks.get(m.id)?.(m.offset, m.bytes);
        } else this.#senders.get(m.id)?.ack(m.offset);
      } catch {
        // A host that breaks the framing loses this channel (its transfers fail `unavailable`).
        this.close();
      }
    });
    this.closed = new Promise((resolve) => {
      channel.addEventListener('close', () => {
        this.#end();
        resolve();
      });
    });
  }

  /** Waits for the channel to open (rejects `unavailable` when it closes first, `timeout` after `ms`). */
  opened(ms = 20_000): Promise<void> {
    return channelOpened(this.channel, this.closed, this.#closed, 'files', 'unavailable', ms);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Calls any files method (typed by the protocol's method map). */
  call<K extends FilesMethod>(method: K, ...args: CallArgs<FilesMethods, K>): Promise<FilesResult<K>> {
    return this.#rpc.call(method, ...args);
  }

  #send(frame: Uint8Array): void {
    if (this.channel.readyState === 'open') this.channel.send(frame as Uint8Array<ArrayBuffer>);
  }

  /**
   * Sends a read or download and routes its data frames to `take` (offset
   * checked, window checked, acked once taken); a cancel on `signal`.
   */
  async #receive<K extends 'files.read' | 'files.download'>(
    method: K,
    params: { path: string; offset: number; length?: number },
    take: (bytes: Uint8Array, offset: number) => void,
    signal?: AbortSignal,
  ): Promise<FilesResult<K>> {
    if (signal?.aborted) throw aborted();
    let id = -1;
    let failed: Error | undefined;
    const pending = this.#rpc.call(method, params as never, {
      // The data frames carry the request's id: their sink is in place before the request leaves.
      onId: (assigned) => {
        id = assigned;
        const receiver = new ChunkReceiver(id, params.offset, (frame) => this.#send(frame));
        this.#sinks.set(id, (offset, bytes) => {
          if (failed) return;
          try {
            receiver.accept(offset, bytes.length);
            take(bytes, offset);
            receiver.consumed(receiver.received);
          } catch (error) {
            failed = error as Error;
            this.close();
          }
        });
      },
    }) as Promise<FilesResult<K>>;
    const onAbort = () => void this.#rpc.call('files.cancel', { id }).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await pending;
      if (failed) throw failed;
      return result;
    } catch (error) {
      throw failed ?? error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#sinks.delete(id);
    }
  }

  /** Up to `length` bytes (≤ 1 MiB) of `path` from `offset`, with the file's size. */
  async read(
    path: string,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<{ bytes: Uint8Array; size: number; eof: boolean }> {
    const parts: Uint8Array[] = [];
    let total = 0;
    const r = await this.#receive(
      'files.read',
      { path, offset, length },
      (bytes) => {
        if (total + bytes.length > length) throw new ProtocolError('bad_message', 'read past its length');
        parts.push(bytes.slice());
        total += bytes.length;
      },
      signal,
    );
    if (r.sent !== total) throw new ProtocolError('bad_message', 'read size does not match');
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return { bytes, size: r.size, eof: r.eof };
  }

  /**
   * The whole of `path` as a Blob of `type`, its SHA-256 checked against
   * the host's (`integrity` when they differ); `onProgress` after each chunk.
   */
  async download(
    path: string,
    options: { type?: string; signal?: AbortSignal; onProgress?: Progress; expectedSize?: number } = {},
  ): Promise<{ blob: Blob; size: number; sha256: string; mtime: number }> {
    const hash = new Sha256Stream();
    const folded: Blob[] = [];
    let parts: Uint8Array<ArrayBuffer>[] = [];
    let pendingBytes = 0;
    let done = 0;
    const total = options.expectedSize ?? 0;
    try {
      const r = await this.#receive(
        'files.download',
        { path, offset: 0 },
        (bytes) => {
          hash.update(bytes);
          // A view of the message's own buffer (a fresh one each message): the Blob copies it.
          parts.push(bytes as Uint8Array<ArrayBuffer>);
          pendingBytes += bytes.length;
          done += bytes.length;
          if (pendingBytes >= FOLD_BYTES) {
            folded.push(new Blob(parts));
            parts = [];
            pendingBytes = 0;
          }
          options.onProgress?.(done, Math.max(total, done));
        },
        options.signal,
      );
      const digest = await hash.digest();
      if (done !== r.size || digest !== r.sha256)
        throw new ProtocolError('integrity', 'the bytes received do not match the host’s SHA-256');
      const blob = new Blob([...folded, ...parts], options.type ? { type: options.type } : {});
      return { blob, size: r.size, sha256: r.sha256, mtime: r.mtime };
    } finally {
      hash.close();
    }
  }

  /**
   * Uploads `file` to `path` (resuming a broken upload of the same path
   * when the host holds its first bytes and they match ours); resolves
   * with the host's `{path, size, sha256}` once it renamed the file into place.
   */
  async upload(
    file: Blob,
    path: string,
    options: { overwrite?: boolean; signal?: AbortSignal; onProgress?: Progress } = {},
  ): Promise<FilesResult<'files.upload.finish'> & { resumedFrom: number }> {
    const { signal } = options;
    if (signal?.aborted) throw aborted();
    const size = file.size;
    const begin = (restart: boolean) =>
      this.#rpc.call('files.upload.begin', {
        path,
        size,
        overwrite: options.overwrite === true,
        restart,
        mode: undefined,
      });
    let started = await begin(false);
    const hash = new Sha256Stream();
    try {
      if (started.offset > 0) {
        // A resume: our own first `offset` bytes must be what the host holds.
        const same = started.offset <= size && (await this.#hashInto(hash, file, 0, started.offset, signal));
        if (!same || (await hash.peek()) !== started.prefix) {
          await this.#rpc.call('files.upload.cancel', { handle: started.handle }).catch(() => {});
          started = await begin(true);
          if (started.offset !== 0)
            throw new ProtocolError('bad_message', 'a restarted upload must start at 0');
          hash.close();
          const fresh = new Sha256Stream();
          try {
            return await this.#sendFrom(file, started.handle, 0, fresh, options);
          } finally {
            fresh.close();
          }
        }
      }
      return await this.#sendFrom(file, started.handle, started.offset, hash, options);
    } finally {
      hash.close();
    }
  }

  async #sendFrom(
    file: Blob,
    handle: number,
    offset: number,
    hash: Sha256Stream,
    options: { signal?: AbortSignal; onProgress?: Progress },
  ): Promise<FilesResult<'files.upload.finish'> & { resumedFrom: number }> {
    const { signal } = options;
    const size = file.size;
    const sender = new ChunkSender(handle, offset, (frame) => this.#send(frame));
    this.#senders.set(handle, sender);
    const onAbort = () => sender.abort(aborted());
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      options.onProgress?.(offset, size);
      // The next slice is read from the File while this one is hashed and sent.
      let next = offset < size ? readSlice(file, offset, size) : undefined;
      for (let at = offset; at < size; at += UPLOAD_SLICE) {
        if (signal?.aborted) throw aborted();
        if (this.#closed) throw new ProtocolError('unavailable', 'files channel closed');
        const bytes = await (next as Promise<Uint8Array>);
        next = at + UPLOAD_SLICE < size ? readSlice(file, at + UPLOAD_SLICE, size) : undefined;
        hash.update(bytes);
        await sender.push(bytes);
        // Done is what the host has acked (written); the window's worth in flight is not yet.
        options.onProgress?.(sender.sent - sender.inFlight, size);
      }
      if (signal?.aborted) throw aborted();
      const result = await this.#rpc.call('files.upload.finish', { handle, sha256: await hash.digest() });
      options.onProgress?.(size, size);
      return { ...result, resumedFrom: offset };
    } catch (error) {
      if ((error as { code?: string }).code === 'cancelled' && !this.#closed)
        await this.#rpc.call('files.upload.cancel', { handle }).catch(() => {});
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#senders.delete(handle);
    }
  }

  /** Feeds `file[from, to)` into `hash`, slice by slice; false when the file is shorter. */
  async #hashInto(
    hash: Sha256Stream,
    file: Blob,
    from: number,
    to: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if (to > file.size) return false;
    for (let at = from; at < to; at += UPLOAD_SLICE) {
      if (signal?.aborted) throw aborted();
      hash.update(new Uint8Array(await file.slice(at, Math.min(to, at + UPLOAD_SLICE)).arrayBuffer()));
    }
    return true;
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = new ProtocolError('unavailable', 'files channel closed');
    this.#rpc.close(error);
    for (const s of this.#senders.values()) s.abort(error);
  }

  /** Closes the channel (pending calls and transfers fail `unavailable`). Idempotent. */
  close(): void {
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') this.channel.close();
    this.#end();
  }
}
