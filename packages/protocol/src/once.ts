/**
 * `once`: the idempotent async close every long-lived object here needs —
 * the first call runs the work, every call gets the same promise, so a
 * second `close()` waits for the first instead of closing twice.
 */

/** Wraps `fn` so that it runs at most once; every call returns its one promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}
