/**
 * `@pocketshell/protocol/sqlite`: what every `node:sqlite` store
 * of PocketShell does the same way — the relay's store and the host's
 * monitoring history — does the same way, kept once: a cache of prepared
 * statements by their SQL, a transaction that commits or rolls back, and
 * versioned migrations. Typed structurally
 * (no Node import), so it lives beside the protocol without pulling Node
 * into its browser surface; not part of the protocol's main entry.
 */

/** What of a `node:sqlite` `DatabaseSync` these helpers use. */
export interface SqlDatabase<S> {
  exec(sql: string): void;
  prepare(sql: string): S;
  readonly isTransaction: boolean;
}

/** One schema change: its version (increasing from 1), a name, its SQL. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

/** A statement as these helpers run it. */
interface Runnable {
  run(...params: (string | number | bigint | null)[]): unknown;
  get(...params: (string | number | bigint | null)[]): unknown;
}

/** Prepared statements of one database, by their SQL, prepared on first use. */
export class Statements<S> {
  readonly #db: SqlDatabase<S>;
  readonly #cache = new Map<string, S>();
  readonly #check: () => void;

  /** `check` runs before each use (a closed store throws its own coded error there). */
  constructor(db: SqlDatabase<S>, check: () => void = () => {}) {
    this.#db = db;
    this.#check = check;
  }

  /** The statement for `sql`. */
  get(sql: string): S {
    this.#check();
    let s = this.#cache.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#cache.set(sql, s);
    }
    return s;
  }

  /** Runs `fn` in one `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** The schema version in the file (0 before the first migration). */
  schemaVersion(): number {
    const row = (
      this.#db.prepare('SELECT MAX(version) AS v FROM schema_migrations') as unknown as Runnable
    ).get() as { v?: unknown } | undefined;
    return Number(row?.v ?? 0);
  }

  /**
   * Applies every migration newer than the file's version, each in its own
   * transaction. A file ahead of the newest migration known here is refused
   * with the error `newer` makes (its caller's coded error).
   */
  migrate(
    migrations: readonly Migration[],
    now: number,
    newer: (current: number, known: number) => Error,
  ): void {
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const current = this.schemaVersion();
    const known = migrations.at(-1)?.version ?? 0;
    if (current > known) throw newer(current, known);
    for (const m of migrations) {
      if (m.version <= current) continue;
      this.transaction(() => {
        for (const sql of m.statements) this.#db.exec(sql);
        (
          this.#db.prepare(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
          ) as unknown as Runnable
        ).run(m.version, m.name, now);
      });
    }
  }

  /** Forgets every prepared statement (before the database closes). */
  clear(): void {
    this.#cache.clear();
  }
}
