/**
 * The daemons' umask: `pocketshell daemon run` and `pocketshell up` run with
 * umask 077, so whatever they create (state, sockets, the relay's database)
 * is private even where a write forgets its mode. The shells they spawn must
 * not inherit that: a login gives the user's umask, so PTY children are
 * forked under the umask the daemon started with (`withUserUmask`).
 */

let userUmask: number | undefined;

/** Sets the process umask to 077, remembering the one it had (idempotent). */
export function privateUmask(): void {
  if (userUmask === undefined) userUmask = process.umask(0o077);
  else process.umask(0o077);
}

/** Runs `fn` (a synchronous fork) under the umask the process had before `privateUmask`. */
export function withUserUmask<T>(fn: () => T): T {
  if (userUmask === undefined) return fn();
  const previous = process.umask(userUmask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}
