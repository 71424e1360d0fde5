/**
 * Keys typed while the terminal has no open channel (reconnecting, host
 * offline): kept in order up to a bound and handed over on resume, so
 * nothing typed is dropped silently. What does not fit is counted, not
 * kept — the screen says how much was lost.
 */

/** Most input held, in UTF-8 bytes. */
export const INPUT_QUEUE_MAX = 4096;

const encoder = new TextEncoder();

export class InputQueue {
  readonly max: number;
  #parts: string[] = [];
  #size = 0;
  #dropped = 0;

  constructor(max = INPUT_QUEUE_MAX) {
    this.max = max;
  }

  /** Bytes waiting. */
  get size(): number {
    return this.#size;
  }

  /** Bytes refused since the last `take` because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues `data` whole, or counts it as dropped when it does not fit. */
  push(data: string): boolean {
    const n = encoder.encode(data).length;
    if (this.#size + n > this.max) {
      this.#dropped += n;
      return false;
    }
    this.#parts.push(data);
    this.#size += n;
    return true;
  }

  /** Everything waiting, in order; empties the queue and the dropped count. */
  take(): string {
    const data = this.#parts.join('');
    this.#parts = [];
    this.#size = 0;
    this.#dropped = 0;
    return data;
  }
}
