/**
 * `stderrLog`: the long-lived processes' log lines for people (the daemon,
 * the session holder), one per line on stderr, stamped with the time unless
 * journald stamps them (`JOURNAL_STREAM`). Its own module so the session
 * holder's small entry point does not load the daemon.
 */

/** Log lines to stderr, with an ISO time stamp unless running under journald. */
export function stderrLog(
  env: Readonly<Record<string, string | undefined>> = process.env,
): (line: string) => void {
  const stamp = !env.JOURNAL_STREAM;
  return (line) => process.stderr.write(`${stamp ? `${new Date().toISOString()} ` : ''}${line}\n`);
}
