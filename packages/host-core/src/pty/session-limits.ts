/**
 * Session limits (docs/host.md "Session limits"): an idle timeout and a
 * maximum lifetime, for every device (`default`) and per device id, off
 * unless configured. Idle means no keyboard input from any device — output
 * and an open channel do not count (a phone left on a table with `top`
 * running is exactly the unattended session the limit is for, as with
 * tmux's `lock-after-time` and the shell's `TMOUT`). The lifetime counts
 * from the session's start, like Tailscale SSH's session duration. A
 * session several devices opened or attached takes the strictest limits
 * among them, so attaching an older session never escapes a device's own
 * limits. Pure functions plus the timer interface the manager uses.
 */
import { type ExitReason, ProtocolError } from '@pocketshell/protocol';

/** One set of limits, in milliseconds; absent or 0 means none. */
export interface SessionLimits {
  /** Close the session after this long without input from any device. */
  readonly idleMs?: number;
  /** Close the session this long after it started. */
  readonly maxLifetimeMs?: number;
}

/**
 * The limits of every device (`default`) and of single devices by id; a
 * device's entry overrides the default key by key (0 there lifts it).
 */
export interface SessionTimeouts {
  readonly default?: SessionLimits;
  readonly devices?: Readonly<Record<string, SessionLimits>>;
}

/** What ends a session when a limit hits (the `exit` reason, audited on `session.closed`). */
export type LimitReason = Extract<ExitReason, 'idle_timeout' | 'max_lifetime'>;

/** Timers the manager arms (injected by tests with a manual clock). */
export interface LimitTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: a limit timer never keeps the process alive. */
export const REAL_TIMERS: LimitTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Largest limit accepted (a year): beyond it `setTimeout` would misfire. */
export const MAX_LIMIT_MS = 365 * 24 * 3600 * 1000;

function check(value: number | undefined, what: string): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_LIMIT_MS)
    throw new ProtocolError('bad_message', `${what} must be 0..${MAX_LIMIT_MS} ms`);
}

/** Checks a `SessionTimeouts` (integers in range); throws `bad_message`. */
export function checkTimeouts(t: SessionTimeouts): SessionTimeouts {
  const all = [t.default, ...Object.values(t.devices ?? {})];
  for (const l of all) {
    check(l?.idleMs, 'idleMs');
    check(l?.maxLifetimeMs, 'maxLifetimeMs');
  }
  return t;
}

/** The limits `device` gets (absent device: the default). */
export function limitsFor(t: SessionTimeouts, device: string | undefined): SessionLimits {
  const own = device !== undefined && t.devices && Object.hasOwn(t.devices, device) ? t.devices[device] : {};
  return { ...t.default, ...own };
}

/** The strictest of several limits: the smallest non-zero of each. */
export function strictest(list: Iterable<SessionLimits>): SessionLimits {
  let idleMs = 0;
  let maxLifetimeMs = 0;
  for (const l of list) {
    if (l.idleMs && (idleMs === 0 || l.idleMs < idleMs)) idleMs = l.idleMs;
    if (l.maxLifetimeMs && (maxLifetimeMs === 0 || l.maxLifetimeMs < maxLifetimeMs))
      maxLifetimeMs = l.maxLifetimeMs;
  }
  return { idleMs, maxLifetimeMs };
}

/**
 * When `limits` end a session that started at `createdAt` and last had
 * input at `lastInputAt` (ms since the epoch): the earliest deadline and
 * which limit it is, or undefined when none applies.
 */
export function nextDeadline(
  limits: SessionLimits,
  createdAt: number,
  lastInputAt: number,
): { at: number; reason: LimitReason } | undefined {
  const lifetime = limits.maxLifetimeMs ? createdAt + limits.maxLifetimeMs : Number.POSITIVE_INFINITY;
  const idle = limits.idleMs ? lastInputAt + limits.idleMs : Number.POSITIVE_INFINITY;
  if (lifetime === Number.POSITIVE_INFINITY && idle === Number.POSITIVE_INFINITY) return undefined;
  return lifetime <= idle ? { at: lifetime, reason: 'max_lifetime' } : { at: idle, reason: 'idle_timeout' };
}
