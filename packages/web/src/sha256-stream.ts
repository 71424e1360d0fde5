/**
 * SHA-256 of a transfer's bytes as they go (files-channel.ts), computed in
 * a Web Worker (sha256-worker.ts) so the main thread keeps taking and
 * sending frames; where no worker can start, in the page as before. Bytes
 * are gathered into 1 MiB pieces, each handed to the worker whole
 * (transferred, not copied again), so a download's 16 KiB frames are not a
 * message each. `peek()` is the digest so far (a resume compares it with
 * the host's prefix); `digest()` the final one; `close()` ends the worker.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '@pocketshell/protocol';

/** Bytes handed to the worker at once. */
const PIECE = 1024 * 1024;

export class Sha256Stream {
  #worker: Worker | undefined;
  #local: ReturnType<typeof sha256.create> | undefined;
  #buf = new Uint8Array(PIECE);
  #fill = 0;
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();

  constructor() {
    try {
      const worker = new Worker(new URL('./sha256-worker.ts', import.meta.url), { type: 'module' });
      worker.onmessage = (e: MessageEvent) => {
        const { id, hex } = e.data as { id: number; hex: string };
        this.#waiting.get(id)?.resolve(hex);
        this.#waiting.delete(id);
      };
      worker.onerror = () => this.#fail(new Error('the hashing worker failed'));
      this.#worker = worker;
    } catch {
      this.#local = sha256.create();
    }
  }

  /** Adds `bytes` (copied: the caller may reuse them). */
  update(bytes: Uint8Array): void {
    if (this.#local) {
      this.#local.update(bytes);
      return;
    }
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(PIECE - this.#fill, bytes.length - at);
      this.#buf.set(bytes.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
      if (this.#fill === PIECE) this.#flush();
    }
  }

  #flush(): void {
    if (this.#fill === 0 || !this.#worker) return;
    const piece = this.#fill === PIECE ? this.#buf : this.#buf.slice(0, this.#fill);
    this.#worker.postMessage(piece, [piece.buffer]);
    if (piece === this.#buf) this.#buf = new Uint8Array(PIECE);
    this.#fill = 0;
  }

  #ask(kind: 'peek' | 'digest'): Promise<string> {
    if (this.#local)
      return Promise.resolve(toHex(kind === 'peek' ? this.#local.clone().digest() : this.#local.digest()));
    const worker = this.#worker;
    if (!worker) return Promise.reject(new Error('the hashing worker is closed'));
    this.#flush();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ [kind]: id });
    });
  }

  /** The hex digest of the bytes so far; the hash goes on. */
  peek(): Promise<string> {
    return this.#ask('peek');
  }

  /** The final hex digest (then `close`). */
  async digest(): Promise<string> {
    try {
      return await this.#ask('digest');
    } finally {
      this.close();
    }
  }

  #fail(error: Error): void {
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
    this.close();
  }

  /** Ends the worker (idempotent). */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
  }
}
