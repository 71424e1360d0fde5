/**
 * The words for a terminal that ended: the program's own exit, or the
 * reason the host gave when it ended the session (its session limits, a
 * close from a device, a shutdown — `EXIT_REASONS` in the protocol).
 */
/** What the banner says when a session ends: why, when the host ended it (its session limits, a close). */
export function exitMessage(code: number, reason: string | undefined): string {
  switch (reason) {
    case 'idle_timeout':
      return 'The host closed this session: nothing was typed for longer than its idle limit.';
    case 'max_lifetime':
      return 'The host closed this session: it reached its maximum lifetime.';
    case 'closed':
      return 'This session was closed from a device.';
    case 'shutdown':
      return 'The host closed this session while shutting down.';
    default:
      return `The program ended (exit code ${code}).`;
  }
}
