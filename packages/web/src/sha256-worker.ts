/**
 * A Web Worker that hashes the bytes of one transfer (SHA-256, streaming),
 * so the page's main thread — which also takes and sends the data frames
 * and acks — is not held by it (sha256-stream.ts is its page side).
 * Messages, in order: `Uint8Array` bytes to add; `{ peek: id }` answers
 * `{ id, hex }`, the digest so far (the hash goes on); `{ digest: id }`
 * answers the final digest. Nothing leaves the page: it only hashes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '@pocketshell/protocol';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

const hash = sha256.create();

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as Uint8Array | { peek?: number; digest?: number };
  if (m instanceof Uint8Array) hash.update(m);
  else if (typeof m.peek === 'number') scope.postMessage({ id: m.peek, hex: toHex(hash.clone().digest()) });
  else if (typeof m.digest === 'number') scope.postMessage({ id: m.digest, hex: toHex(hash.digest()) });
};
