/**
 * The one typed event emitter of PocketShell, for Node and the browser (the
 * relay client, the host agent, the terminal stream, the WebRTC engines'
 * peers and channels, the web client). Events are declared as a map from
 * name to payload; a listener receives that one payload, and an event whose
 * payload may be `undefined` is emitted without one (`emit('close')`).
 * Listeners run synchronously in registration order; one that throws does
 * not stop the others (its error goes to `reportError` where the platform
 * has one, otherwise it is re-thrown on a microtask, so it is never
 * swallowed). `on` returns the function that removes the listener.
 */

/** Event name → payload type (an interface or a type literal; `undefined` for none). */
export type EventMap<E> = { [K in keyof E]: unknown };

/** A listener for one event. */
export type Listener<T> = (payload: T) => void;

/** `emit`'s payload argument: optional when the payload may be `undefined`. */
export type EmitArgs<T> = undefined extends T ? [payload?: T] : [payload: T];

/** The read side of an emitter: what a consumer may do (e.g. the WebRTC engine interfaces). */
export interface Events<E extends EventMap<E>> {
  /** Adds `listener` for `event`; returns the function that removes it. */
  on<K extends keyof E & string>(event: K, listener: Listener<E[K]>): () => void;
  /** Like `on`, but the listener runs at most once. */
  once<K extends keyof E & string>(event: K, listener: Listener<E[K]>): () => void;
  /** Removes `listener` from `event` (no-op when absent). */
  off<K extends keyof E & string>(event: K, listener: Listener<E[K]>): void;
}

/** The emitter; only its owner (a subclass) emits. */
export class Emitter<E extends EventMap<E>> implements Events<E> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>();

  on<K extends keyof E & string>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends keyof E & string>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof E & string>(event: K, listener: Listener<E[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Removes every listener. */
  removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** Calls the listeners of `event` with `payload`. */
  protected emit<K extends keyof E & string>(event: K, ...[payload]: EmitArgs<E[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K] | undefined>)(payload);
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
