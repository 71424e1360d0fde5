/**
 * The unfinished part of a message being read, held under a cap: what
 * `RpcReassembler` (fragments on a data channel) and the daemon's local
 * API's `LineReader` (lines on a socket) keep between two reads. A part
 * that would take it past the cap is refused with `bad_message`, and what
 * it held is forgotten, before holding more than the cap. The readers
 * extend it: its `max` and `held` are theirs, the rest is for them only.
 */
import { concat } from './bytes.ts';
import { ProtocolError } from './errors.ts';

export class HeldBytes {
  readonly max: number;
  #parts: Uint8Array[] = [];
  #held = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Bytes held now (never more than `max`). */
  get held(): number {
    return this.#held;
  }

  /** Whether any part is held. */
  protected get holding(): boolean {
    return this.#parts.length > 0;
  }

  /** Holds `part`; throws `bad_message` with `tooLong` (holding nothing then) when past `max`. */
  protected add(part: Uint8Array, tooLong: string): void {
    if (this.#held + part.length > this.max) this.fail(tooLong);
    this.#parts.push(part);
    this.#held += part.length;
  }

  /** The whole held message (the one part itself when there is one), holding nothing after. */
  protected take(): Uint8Array {
    const whole = this.#parts.length === 1 ? (this.#parts[0] as Uint8Array) : concat(...this.#parts);
    this.clear();
    return whole;
  }

  /** Forgets what is held. */
  protected clear(): void {
    this.#parts = [];
    this.#held = 0;
  }

  /** Forgets what is held and throws `bad_message` with `why`. */
  protected fail(why: string): never {
    this.clear();
    throw new ProtocolError('bad_message', why);
  }
}
