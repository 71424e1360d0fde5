/**
 * A tiny typed event emitter that runs in Node and in the browser. Events
 * are declared as a map from name to payload; listeners are called in
 * registration order, and a throwing listener does not stop the others (its
 * error is reported through `reportError` when the platform has one).
 */

/** Event name → payload type. */
export type EventMap = Record<string, unknown>;

/** A listener for one event. */
export type Listener<T> = (payload: T) => void;

export class Emitter<E extends EventMap> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Removes a listener. */
  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Removes every listener. */
  removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** Calls the listeners of `event` with `payload`. */
  protected emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (error) {
        const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
        if (report) report(error);
        else
          queueMicrotask(() => {
            throw error;
          });
      }
    }
  }
}
