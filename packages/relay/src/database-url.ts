/**
 * The `--database` URL, read without loading a database driver: whether it
 * names PostgreSQL, whether it carries a password, and how it may be shown
 * (in the `listening` line, in errors) — scheme, user, host, port and
 * database only, never the password or the query, which may carry one.
 */

/** True for the URLs `PostgresStore` opens: `postgres://…` or `postgresql://…`. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(?:ql)?:\/\//.test(value);
}

/** True when the URL carries a password (`user:password@`, or a `password` query parameter). */
export function urlHasPassword(url: string): boolean {
  return /^postgres(?:ql)?:\/\/[^/?#@]*:[^/?#@]*@/.test(url) || /[?&]password=/.test(url);
}

/** The URL as it may be shown: no password, no query. */
export function describeDatabaseUrl(url: string): string {
  const m = /^(postgres(?:ql)?):\/\/(?:([^:@/?#]*)(?::[^@/?#]*)?@)?([^/?#]*)(\/[^?#]*)?/.exec(url);
  if (!m) return 'postgres://(unparsable URL)';
  return `${m[1]}://${m[2] ? `${m[2]}@` : ''}${m[3]}${m[4] ?? ''}`;
}
