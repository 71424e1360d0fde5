/**
 * Protocol time: timestamps on the wire and in stored state are whole Unix
 * seconds, bounded by `MAX_TS` when parsed.
 */

/** Largest Unix timestamp any parser accepts (year 2286 and change). */
export const MAX_TS = 9_999_999_999;

/** Whole Unix seconds of `ms` (milliseconds since the epoch; default now). */
export function unixNow(ms: number = Date.now()): number {
  return Math.floor(ms / 1000);
}
