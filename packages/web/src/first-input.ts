/**
 * What a new terminal types first, handed from another screen: the Files
 * screen's "Open a terminal here" leaves `cd -- '<folder>'` for the host,
 * and the terminal screen takes it when it opens a new session there and
 * writes it once that session is live. Kept in the page only (a reload
 * forgets it), one per host, taken once.
 */
const pending = new Map<string, string>();

/** Leaves `data` for the next new terminal on `host`. */
export function setFirstInput(host: string, data: string): void {
  pending.set(host, data);
}

/** Takes what was left for `host`, if anything. */
export function takeFirstInput(host: string): string | undefined {
  const data = pending.get(host);
  pending.delete(host);
  return data;
}
