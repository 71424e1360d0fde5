/**
 * A tiny typed event emitter for the WebRTC layer. Each event name maps to
 * the tuple of its listener's arguments, so `on('message', …)` is checked by
 * the compiler. Listeners run synchronously in registration order; one that
 * throws does not stop the others (its error is re-thrown on a microtask, so
 * it is never swallowed). `on` returns the function that removes the listener.
 */

/** Event name → listener arguments. */
export type EventMap<M> = { [K in keyof M]: readonly unknown[] };

/** A listener for the arguments `A`. */
export type Listener<A extends readonly unknown[]> = (...args: A) => void;

/** The read side of an emitter: what a consumer may do. */
export interface Events<M extends EventMap<M>> {
  /** Adds `listener` for `event`; returns the function that removes it. */
  on<E extends keyof M & string>(event: E, listener: Listener<M[E]>): () => void;
  /** Like `on`, but the listener runs at most once. */
  once<E extends keyof M & string>(event: E, listener: Listener<M[E]>): () => void;
  /** Removes `listener` from `event` (no-op when absent). */
  off<E extends keyof M & string>(event: E, listener: Listener<M[E]>): void;
}

/** The emitter itself; only the owner calls `emit` and `clear`. */
export class Emitter<M extends EventMap<M>> implements Events<M> {
  readonly #listeners = new Map<keyof M, Set<Listener<M[keyof M]>>>();

  on<E extends keyof M & string>(event: E, listener: Listener<M[E]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<M[keyof M]>);
    return () => this.off(event, listener);
  }

  once<E extends keyof M & string>(event: E, listener: Listener<M[E]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<E extends keyof M & string>(event: E, listener: Listener<M[E]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<M[keyof M]>);
  }

  /** Calls every listener of `event` with `args`. */
  emit<E extends keyof M & string>(event: E, ...args: M[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<M[E]>)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Number of listeners of `event` (for tests and leak checks). */
  listenerCount(event: keyof M & string): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
