/**
 * `HistoryStore`: the host's own monitoring history (issue 14), kept on the
 * host and never on the relay. The collector hands it numeric samples
 * (`record(at, values)`); it keeps the current minute in memory
 * (min/sum/count/max per series) and writes that minute's row when the
 * minute ends, so a crash loses at most the minute in progress. When an
 * hour ends it rolls the hour's minute rows up into one hourly row per
 * series and deletes what is past retention (minute rows after 30 days,
 * hourly rows after 366 days). `query(series, range, now)` answers the
 * `stats.history` method: minute, 5-minute, hourly or 6-hour points, each
 * `[at, min, avg, max]` with `avg = sum / count` over the raw samples (never
 * an average of averages).
 *
 * Storage: `stats.db` in the state folder (0600; `node:sqlite`, WAL,
 * `synchronous=FULL`: one fsync per minute costs nothing and makes "at most
 * the current minute lost" hold through a power cut too, not only a killed
 * process). Rows are keyed `(time, series)` so every write appends at the
 * end of the B-tree (one or two pages per minute, full leaves) and
 * retention frees whole pages at the start. The disk is bounded by the
 * series cap: see `HISTORY_DISK_BOUND`. The clock is only the `at` / `now`
 * arguments; nothing here runs a timer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { type HistoryPoint, type HistoryRange, ProtocolError, SERIES_NAME } from '@pocketshell/protocol';
import { Statements } from '@pocketshell/protocol/sqlite';
import { HostError } from '../errors.ts';
import { currentOwner, ensurePrivateDir, type Owner } from '../state/private-files.ts';

/** File name of the history database inside the state folder. */
export const HISTORY_FILE = 'stats.db';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Most series the store keeps (a new one beyond it is refused with `limit_reached`). */
export const MAX_SERIES = 64;
/** Minute rows are kept this many minutes (30 days). */
export const MINUTE_RETENTION = 30 * 24 * 60;
/** Hourly rows are kept this many hours (366 days, so the `1y` range is always whole). */
export const HOUR_RETENTION = 366 * 24;
/**
 * Most bytes one stored row takes on disk, B-tree overhead included
 * (measured by history.test.ts: about 41 with full-precision values).
 */
export const ROW_BYTES = 48;
/** The WAL is truncated back to this after a checkpoint (bytes). */
export const WAL_LIMIT = 4 * 1024 * 1024;
/**
 * Upper bound of `stats.db` plus its WAL: every series at its cap with a full
 * 30 days of minute rows and 366 days of hourly rows, plus the WAL limit and
 * 1 MiB for the schema, interior pages and a transaction in flight:
 * 64 × (43 200 + 8 784) × 48 B + 5 MiB ≈ 165 MB.
 */
export const HISTORY_DISK_BOUND =
  MAX_SERIES * (MINUTE_RETENTION + HOUR_RETENTION) * ROW_BYTES + WAL_LIMIT + 1024 * 1024;

/** True when `name` is a series name the store (and the `stats` channel) accepts: protocol's `SERIES_NAME` (`cpu`, `net.rx`, `disk:/home`, `temp:Package_id_0`…). */
export function isSeriesName(name: string): boolean {
  return name.length <= 80 && SERIES_NAME.test(name);
}

/** How each range is answered: its span, the step of its points, and where they come from. */
export const HISTORY_STEPS: Readonly<Record<HistoryRange, { readonly span: number; readonly step: number }>> =
  {
    '1h': { span: HOUR, step: MINUTE }, // 60 points
    '24h': { span: DAY, step: MINUTE }, // 1 440 points
    '7d': { span: 7 * DAY, step: 5 * MINUTE }, // 2 016 points, from minute rows
    '30d': { span: 30 * DAY, step: HOUR }, // 720 points, from hourly rows
    '1y': { span: 365 * DAY, step: 6 * HOUR }, // 1 460 points, from hourly rows
  };

/** The answer of `query` (the `stats.history` result). */
export interface HistoryResult {
  /** Milliseconds between points. */
  readonly step: number;
  /** One entry per asked series, in the order asked; buckets without samples are left out. */
  readonly series: { readonly name: string; readonly points: HistoryPoint[] }[];
}

interface Agg {
  min: number;
  sum: number;
  count: number;
  max: number;
}

type Row = Record<string, SQLInputValue>;

const MIGRATIONS: readonly { version: number; name: string; statements: string[] }[] = [
  {
    version: 1,
    name: 'initial',
    statements: [
      'CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, last_hour INTEGER NOT NULL)',
      // minute: epoch minutes; hour: epoch hours. Keyed by time first so writes append.
      `CREATE TABLE minutes (minute INTEGER NOT NULL, series INTEGER NOT NULL, min REAL NOT NULL,
        sum REAL NOT NULL, count INTEGER NOT NULL, max REAL NOT NULL, PRIMARY KEY (minute, series)) WITHOUT ROWID`,
      `CREATE TABLE hours (hour INTEGER NOT NULL, series INTEGER NOT NULL, min REAL NOT NULL,
        sum REAL NOT NULL, count INTEGER NOT NULL, max REAL NOT NULL, PRIMARY KEY (hour, series)) WITHOUT ROWID`,
      // rolled_through: the last hour whose minute rows are rolled up
      'CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)',
    ],
  },
];

function badInput(message: string): ProtocolError {
  return new ProtocolError('bad_message', `history: ${message}`);
}

function merge(into: Agg | undefined, min: number, sum: number, count: number, max: number): Agg {
  if (into === undefined) return { min, sum, count, max };
  into.min = Math.min(into.min, min);
  into.max = Math.max(into.max, max);
  into.sum += sum;
  into.count += count;
  return into;
}

/** Creates the database file 0600 (or checks an existing one) before SQLite opens it. */
function preparePrivateDb(file: string, owner: Owner): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new HostError('state_insecure', `${file}: is a symlink; state files must be real files`, {
        path: file,
      });
    }
    throw new HostError('state_io', `${file}: cannot open`, { cause, path: file });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new HostError('state_insecure', `${file}: is not a regular file`, { path: file });
    if (owner.uid >= 0 && st.uid !== owner.uid) {
      throw new HostError(
        'state_insecure',
        `${file}: owned by uid ${st.uid}, not by this user (uid ${owner.uid})`,
        { path: file },
      );
    }
    const mode = st.mode & 0o777;
    if (mode & 0o077) {
      throw new HostError(
        'state_insecure',
        `${file}: open to group or others (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
        { path: file },
      );
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The history kept on the host. */
export class HistoryStore {
  /** The database file. */
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #sql: Statements<StatementSync>;
  /** Series name → id, as stored. */
  readonly #ids = new Map<string, number>();
  /** The minute being accumulated (epoch minutes), or null before the first sample. */
  #openMinute: number | null = null;
  readonly #open = new Map<string, Agg>();
  /** Last hour whose minute rows are rolled up, or null on a store that never rolled one. */
  #rolledThrough: number | null = null;
  #closed = false;

  /**
   * Opens (creating and migrating) `stats.db` in the state folder `stateDir`
   * (made 0700 when missing). `state_insecure` for a file or folder open to
   * others, `state_corrupt` for a file that is not this store's database.
   */
  constructor(stateDir: string, opts: { owner?: Owner } = {}) {
    const owner = opts.owner ?? currentOwner();
    ensurePrivateDir(stateDir, owner);
    this.file = path.join(stateDir, HISTORY_FILE);
    preparePrivateDb(this.file, owner);
    try {
      this.#db = new DatabaseSync(this.file);
    } catch (cause) {
      throw new HostError('state_io', `${this.file}: cannot open`, { cause, path: this.file });
    }
    this.#sql = new Statements(this.#db);
    try {
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA synchronous = FULL');
      this.#db.exec(`PRAGMA journal_size_limit = ${WAL_LIMIT}`);
      this.#db.exec('PRAGMA busy_timeout = 5000');
      this.#migrate();
      this.#reload();
    } catch (cause) {
      this.#db.close();
      if (cause instanceof HostError) throw cause;
      throw new HostError('state_corrupt', `${this.file}: not a usable history database; move it away`, {
        cause,
        path: this.file,
      });
    }
  }

  /** The schema version in the file. */
  get schemaVersion(): number {
    return this.#sql.schemaVersion();
  }

  /** How many series the store knows (at most `MAX_SERIES`). */
  get seriesCount(): number {
    let n = this.#ids.size;
    for (const name of this.#open.keys()) if (!this.#ids.has(name)) n++;
    return n;
  }

  #migrate(): void {
    this.#sql.migrate(
      MIGRATIONS,
      Math.floor(Date.now() / 1000),
      (current, known) =>
        new HostError(
          'state_corrupt',
          `${this.file}: history schema v${current} is newer than this host (v${known})`,
          {
            path: this.file,
          },
        ),
    );
  }

  /** Reads the series ids and the roll-up mark from the file (at open, and after a failed write). */
  #reload(): void {
    this.#ids.clear();
    for (const r of this.#sql.get('SELECT id, name FROM series').all() as Row[]) {
      this.#ids.set(r.name as string, Number(r.id));
    }
    const rolled = this.#sql.get("SELECT value FROM meta WHERE key = 'rolled_through'").get() as
      | Row
      | undefined;
    this.#rolledThrough = rolled === undefined ? null : Number(rolled.value);
  }

  #ensureOpen(): void {
    if (this.#closed) throw new HostError('closed', 'the history store is closed');
  }

  /**
   * Adds one sample of each series at `at` (ms since the epoch). The first
   * sample of a new minute writes the previous minute's rows; the first of a
   * new hour also rolls up the hours that ended and applies retention.
   *
   * Validation: a bad `at` (not a finite number ≥ 0) refuses the whole call
   * with `bad_message` and changes nothing. Otherwise each value is taken on
   * its own: an invalid series name or a non-finite value is refused with
   * `bad_message`, a new series beyond `MAX_SERIES` with `limit_reached`;
   * the valid values of the same call are kept, then the call throws that
   * coded error naming what it refused. A storage failure is `state_io`
   * (the minute being written is dropped; later minutes go on).
   */
  record(at: number, values: Readonly<Record<string, number>>): void {
    this.#ensureOpen();
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > Number.MAX_SAFE_INTEGER) {
      throw badInput('`at` must be a finite number of milliseconds ≥ 0');
    }
    const minute = Math.floor(at / MINUTE);
    let failure: unknown;
    if (this.#openMinute !== minute) {
      try {
        this.#advance(minute);
      } catch (error) {
        failure = error;
      }
    }
    const bad: string[] = [];
    const over: string[] = [];
    for (const [name, v] of Object.entries(values)) {
      if (!isSeriesName(name)) bad.push(`${JSON.stringify(name.slice(0, 80))} (bad name)`);
      else if (typeof v !== 'number' || !Number.isFinite(v)) bad.push(`${name} (not a finite number)`);
      else {
        const acc = this.#open.get(name);
        if (acc === undefined && !this.#ids.has(name) && this.seriesCount >= MAX_SERIES) {
          over.push(name);
          continue;
        }
        this.#open.set(name, merge(acc, v, v, 1, v));
      }
    }
    if (failure !== undefined) throw failure;
    if (bad.length > 0) throw badInput(`refused ${bad.join(', ')}`);
    if (over.length > 0) {
      throw new ProtocolError(
        'limit_reached',
        `history: at most ${MAX_SERIES} series; refused ${over.join(', ')}`,
      );
    }
  }

  /** Writes the open minute, rolls up ended hours, applies retention, and opens `minute`. */
  #advance(minute: number): void {
    const previous = this.#openMinute;
    const pending = [...this.#open];
    this.#openMinute = minute;
    this.#open.clear();
    const hour = Math.floor(minute / 60);
    const needsRoll = this.#rolledThrough === null || this.#rolledThrough < hour - 1;
    if (pending.length === 0 && !needsRoll) return;
    try {
      this.#sql.transaction(() => {
        if (previous !== null && pending.length > 0) this.#writeMinute(previous, pending);
        if (needsRoll) this.#rollUp(hour, minute);
      });
    } catch (cause) {
      this.#reload(); // the transaction rolled back: so does what it changed in memory
      throw new HostError('state_io', `${this.file}: cannot write the history`, { cause, path: this.file });
    }
  }

  #writeMinute(minute: number, rows: [string, Agg][]): void {
    const hour = Math.floor(minute / 60);
    const upsert = this.#sql.get(
      `INSERT INTO minutes (minute, series, min, sum, count, max) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (minute, series) DO UPDATE SET min = MIN(min, excluded.min), sum = sum + excluded.sum,
         count = count + excluded.count, max = MAX(max, excluded.max)`,
    );
    const touch = this.#sql.get('UPDATE series SET last_hour = ? WHERE id = ? AND last_hour < ?');
    for (const [name, a] of rows) {
      let id = this.#ids.get(name);
      if (id === undefined) {
        id = Number(
          this.#sql.get('INSERT INTO series (name, last_hour) VALUES (?, ?)').run(name, hour).lastInsertRowid,
        );
        this.#ids.set(name, id);
      } else touch.run(hour, id, hour); // changes (and dirties its page) once an hour at most
      upsert.run(minute, id, a.min, a.sum, a.count, a.max);
    }
    // a minute of an hour already rolled up (the clock went back): roll that hour again
    if (this.#rolledThrough !== null && hour <= this.#rolledThrough) this.#rollHours(hour, hour);
  }

  /** Rolls up every hour before `hour` not yet rolled, then deletes rows past retention (as of `minute`). */
  #rollUp(hour: number, minute: number): void {
    let from = this.#rolledThrough === null ? null : this.#rolledThrough + 1;
    if (from === null) {
      const first = this.#sql.get('SELECT MIN(minute) AS m FROM minutes').get() as Row;
      from = first.m === null ? hour : Math.floor(Number(first.m) / 60);
    }
    if (from <= hour - 1) this.#rollHours(from, hour - 1);
    this.#sql
      .get(
        "INSERT INTO meta (key, value) VALUES ('rolled_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(hour - 1);
    this.#sql.get('DELETE FROM minutes WHERE minute < ?').run(minute - MINUTE_RETENTION);
    const oldestHour = hour - HOUR_RETENTION;
    this.#sql.get('DELETE FROM hours WHERE hour < ?').run(oldestHour);
    const gone = this.#sql
      .get('DELETE FROM series WHERE last_hour < ? RETURNING name')
      .all(oldestHour) as Row[];
    for (const r of gone) this.#ids.delete(r.name as string);
    this.#rolledThrough = hour - 1;
  }

  /** (Re)computes the hourly rows of hours `from`…`to` from their minute rows. */
  #rollHours(from: number, to: number): void {
    this.#sql
      .get(
        `INSERT INTO hours (hour, series, min, sum, count, max)
       SELECT minute / 60, series, MIN(min), SUM(sum), SUM(count), MAX(max) FROM minutes
       WHERE minute >= ? AND minute < ? GROUP BY minute / 60, series
       ON CONFLICT (hour, series) DO UPDATE SET min = excluded.min, sum = excluded.sum,
         count = excluded.count, max = excluded.max`,
      )
      .run(from * 60, (to + 1) * 60);
  }

  /**
   * The points of `series` over `range` ending at `now` (ms): the buckets of
   * `HISTORY_STEPS[range].step` whose start lies in (now − span, now], the
   * minute in progress included. Unknown series come back with no points.
   * `bad_message` for an invalid name, more than `MAX_SERIES` names, or a
   * bad `now`.
   */
  query(series: readonly string[], range: HistoryRange, now: number): HistoryResult {
    this.#ensureOpen();
    const spec = HISTORY_STEPS[range];
    if (spec === undefined) throw badInput(`unknown range ${JSON.stringify(String(range).slice(0, 16))}`);
    if (typeof now !== 'number' || !Number.isFinite(now) || now < 0 || now > Number.MAX_SAFE_INTEGER) {
      throw badInput('`now` must be a finite number of milliseconds ≥ 0');
    }
    if (series.length > MAX_SERIES) throw badInput(`at most ${MAX_SERIES} series per query`);
    for (const name of series) if (!isSeriesName(name)) throw badInput('bad series name');
    const names = [...new Set(series)];
    const { span, step } = spec;
    const first = Math.floor((now - span) / step) + 1; // first bucket
    const last = Math.floor(now / step); // last bucket
    const buckets = new Map<string, Map<number, Agg>>();
    for (const name of names) buckets.set(name, new Map());
    const byId = new Map<number, Map<number, Agg>>();
    for (const name of names) {
      const id = this.#ids.get(name);
      if (id !== undefined) byId.set(id, buckets.get(name)!);
    }
    if (byId.size > 0) {
      // Plain rows, bucketed here: a GROUP BY would sort them in a temporary B-tree (several times slower).
      const ids = [...byId.keys()].join(',');
      const add = (table: 'minutes' | 'hours', from: number, to: number, per: number) => {
        const col = table === 'minutes' ? 'minute' : 'hour';
        const stmt = this.#db.prepare(
          `SELECT series, ${col}, min, sum, count, max FROM ${table}
           WHERE ${col} >= ? AND ${col} <= ? AND series IN (${ids})`,
        );
        stmt.setReturnArrays(true);
        for (const r of stmt.iterate(from, to) as unknown as Iterable<number[]>) {
          const into = byId.get(r[0] as number)!;
          const b = Math.floor((r[1] as number) / per);
          into.set(b, merge(into.get(b), r[2] as number, r[3] as number, r[4] as number, r[5] as number));
        }
      };
      const perMinute = step / MINUTE;
      let minuteFrom = first * perMinute;
      if (step >= HOUR) {
        const perHour = step / HOUR;
        const hourTo = Math.min((last + 1) * perHour - 1, this.#rolledThrough ?? -1);
        if (hourTo >= first * perHour) add('hours', first * perHour, hourTo, perHour);
        // the hours not rolled up yet come from their minute rows
        minuteFrom = Math.max(minuteFrom, ((this.#rolledThrough ?? -1) + 1) * 60);
      }
      const minuteTo = (last + 1) * perMinute - 1;
      if (minuteTo >= minuteFrom) add('minutes', minuteFrom, minuteTo, perMinute);
    }
    const open = this.#openMinute;
    if (open !== null) {
      const b = Math.floor((open * MINUTE) / step);
      if (b >= first && b <= last) {
        for (const name of names) {
          const a = this.#open.get(name);
          const into = buckets.get(name)!;
          if (a !== undefined) into.set(b, merge(into.get(b), a.min, a.sum, a.count, a.max));
        }
      }
    }
    return {
      step,
      series: names.map((name) => ({
        name,
        points: [...buckets.get(name)!]
          .sort((x, y) => x[0] - y[0])
          .map(([b, a]): HistoryPoint => [b * step, a.min, a.sum / a.count, a.max]),
      })),
    };
  }

  /**
   * Writes the minute in progress (a restart within the same minute adds to
   * that row) and closes the database. Idempotent; a failed write is thrown
   * (`state_io`) after the database is closed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let failure: unknown;
    const pending = [...this.#open];
    if (this.#openMinute !== null && pending.length > 0) {
      try {
        const minute = this.#openMinute;
        this.#sql.transaction(() => this.#writeMinute(minute, pending));
      } catch (cause) {
        failure = new HostError('state_io', `${this.file}: cannot write the history`, {
          cause,
          path: this.file,
        });
      }
    }
    this.#open.clear();
    this.#sql.clear();
    this.#db.close();
    if (failure !== undefined) throw failure;
  }
}
