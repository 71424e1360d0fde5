/**
 * Structured logging: one JSON object per line (`ts`, `level`, `msg`, then
 * fields), filtered by level, written to an injected sink (stdout in the
 * process). Callers pass only ids, codes, counts and addresses: never an
 * envelope, a claim, a token or a key. Fields named like secrets are
 * dropped here as a second line of defence.
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** One log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Extra fields of a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Field names that never reach a log line whatever the caller passes. */
const FORBIDDEN = new Set([
  'env',
  'claim',
  'token',
  'enroll',
  'pub',
  'sig',
  'secret',
  'key',
  'credential',
  'ct',
]);

/** A leveled JSON-lines logger. */
export class Logger {
  readonly #min: number;
  readonly #write: (line: string) => void;
  readonly #now: () => number;

  constructor(options: { level?: LogLevel; write: (line: string) => void; now?: () => number }) {
    this.#min = LOG_LEVELS.indexOf(options.level ?? 'info');
    this.#write = options.write;
    this.#now = options.now ?? Date.now;
  }

  /** Writes one line at `level` when the level is enabled (or always, with `force`). */
  log(level: LogLevel, msg: string, fields: LogFields = {}, force = false): void {
    if (!force && LOG_LEVELS.indexOf(level) < this.#min) return;
    const line: Record<string, unknown> = { ts: new Date(this.#now()).toISOString(), level, msg };
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined && !FORBIDDEN.has(k)) line[k] = v;
    }
    this.#write(`${JSON.stringify(line)}\n`);
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }
}
