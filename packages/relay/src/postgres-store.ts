/**
 * `PostgresStore`: the `RelayStore` on PostgreSQL, for relays that share one
 * database across nodes (`--database postgres://…`). Same semantics as
 * `SqliteStore`, method for method. SQLite gets them from its single writer;
 * here every multi-statement method runs as one `SERIALIZABLE` transaction,
 * retried when PostgreSQL reports a serialization failure or a deadlock, so
 * concurrent calls — from one relay's pool or from several relays — behave as
 * if they ran one after the other (two redeems of one claim: one wins). The
 * single-statement methods are atomic on their own and retried the same way.
 * Migrations are the same versioned list as SQLite's (`migrations.ts`),
 * applied in one transaction under an advisory lock, so relays starting
 * together do not race. Every failure surfaces as `store_failed`; the
 * password never appears in a message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceId, HostId, PartyId } from '@pocketshell/protocol';
import { unixNow } from '@pocketshell/protocol';
import pg from 'pg';
import { describeDatabaseUrl, urlHasPassword } from './database-url.ts';
import { RelayError } from './errors.ts';
import { MIGRATIONS, type Migration } from './migrations.ts';
import type {
  NewToken,
  PushSubscriptionRecord,
  RedeemOutcome,
  RelayStore,
  StoredKeyPair,
  TokenRecord,
} from './store.ts';

/** The advisory lock (`pg_advisory_xact_lock`) that serializes migrations: "pshl" in ASCII. */
export const MIGRATION_LOCK = 0x7073686c;

/** Default number of pooled connections per relay process. */
export const DEFAULT_POOL_SIZE = 10;

/** How many times a transaction is tried when PostgreSQL asks for a retry. */
const MAX_TRIES = 20;

/** SQLSTATEs that mean "run the transaction again": serialization_failure, deadlock_detected. */
const RETRY_CODES = new Set(['40001', '40P01']);

/** Options of `PostgresStore.open`. */
export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host[:port]/database[?…]` (libpq URL; `?host=/dir` for a socket). */
  url: string;
  /** Password when the URL has none (else `PGPASSWORD`, else `~/.pgpass`). */
  password?: string | undefined;
  /** Pooled connections (default 10). */
  poolSize?: number | undefined;
  /** Milliseconds to wait for a connection (default 10 000). */
  connectTimeoutMs?: number | undefined;
  /** The schema steps (default: `MIGRATIONS`; tests pass fewer). */
  migrations?: readonly Migration[] | undefined;
  /** Told about a pooled connection that failed while idle (the server restarted, the network dropped). */
  onIdleError?: ((error: Error) => void) | undefined;
}

type Row = Record<string, unknown>;
type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult<Row>>;

/** The PostgreSQL store. */
export class PostgresStore implements RelayStore {
  readonly shared = true;
  readonly #pool: pg.Pool;
  readonly #where: string;
  readonly #password: string | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(pool: pg.Pool, where: string, password: string | undefined) {
    this.#pool = pool;
    this.#where = where;
    this.#password = password;
  }

  /** Connects, migrates (under the advisory lock) and returns the store; `store_failed` when it cannot. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const where = describeDatabaseUrl(options.url);
    const pool = new pg.Pool({
      connectionString: withPassword(options.url, options.password),
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'pocketshell-relay',
    });
    // an idle connection's failure must not end the process: it leaves the pool, the next query opens another
    pool.on('error', (error) => options.onIdleError?.(error));
    // scrubbed from messages: the password given, or the one in the URL
    const inUrl = /^postgres(?:ql)?:\/\/[^/?#@:]*:([^/?#@]+)@/.exec(options.url)?.[1];
    const store = new PostgresStore(pool, where, options.password ?? inUrl);
    try {
      await store.#migrate(options.migrations ?? MIGRATIONS);
    } catch (error) {
      await pool.end().catch(() => {});
      if (error instanceof RelayError) throw error;
      throw store.#fail(error, `cannot open ${where}`);
    }
    return store;
  }

  /** The schema version in the database (0 before the first migration). */
  async schemaVersion(): Promise<number> {
    const r = await this.#run((q) => q('SELECT MAX(version) AS v FROM schema_migrations'));
    return Number(r.rows[0]?.v ?? 0);
  }

  async #migrate(migrations: readonly Migration[]): Promise<void> {
    const now = unixNow();
    await this.#transaction(async (q) => {
      // a second relay starting now waits here, then finds the schema current
      await q('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await q(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const current = Number((await q('SELECT MAX(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
      const known = migrations.at(-1)?.version ?? 0;
      if (current > known) {
        throw new RelayError(
          'store_failed',
          `database schema v${current} is newer than this relay (v${known})`,
        );
      }
      for (const m of migrations) {
        if (m.version <= current) continue;
        for (const sql of m.statements) await q(sql);
        await q('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          now,
        ]);
      }
    }, 'READ COMMITTED');
  }

  async keepVapidKeys(candidate: StoredKeyPair, now: number): Promise<StoredKeyPair> {
    // a node inserting at the same moment: this INSERT waits for its commit, then does nothing
    await this.#one(
      `INSERT INTO vapid_keys (id, public_key, private_key, created_at) VALUES (1, $1, $2, $3)
       ON CONFLICT (id) DO NOTHING`,
      [candidate.publicKey, candidate.privateKey, now],
    );
    const row = (await this.#one('SELECT public_key, private_key FROM vapid_keys WHERE id = 1', [])).rows[0]!;
    return { publicKey: String(row.public_key), privateKey: String(row.private_key) };
  }

  async hasHost(id: HostId): Promise<boolean> {
    return (await this.#one('SELECT 1 FROM hosts WHERE id = $1', [id])).rowCount === 1;
  }

  async touchHost(id: HostId, pub: string, now: number): Promise<void> {
    await this.#one(
      `INSERT INTO hosts (id, pub, created_at, last_seen_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
      [id, pub, now],
    );
  }

  async enrollHost(id: HostId, pub: string, tokenHash: string, now: number): Promise<boolean> {
    return this.#transaction(async (q) => {
      const taken = await q(
        `UPDATE enrollment_tokens SET uses_left = uses_left - 1
         WHERE hash = $1 AND uses_left > 0 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
         RETURNING id`,
        [tokenHash, now],
      );
      if (taken.rowCount !== 1) return false;
      await q(
        `INSERT INTO hosts (id, pub, created_at, last_seen_at, enrolled_with) VALUES ($1, $2, $3, $3, $4)
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
        [id, pub, now, taken.rows[0]!.id],
      );
      return true;
    });
  }

  async seenDevice(id: DeviceId, now: number): Promise<void> {
    await this.#one('UPDATE devices SET last_seen_at = $1 WHERE id = $2', [now, id]);
  }

  async publicKeyOf(id: PartyId): Promise<string | undefined> {
    const table = id.startsWith('h_') ? 'hosts' : 'devices';
    const r = await this.#one(`SELECT pub FROM ${table} WHERE id = $1`, [id]);
    return r.rows[0]?.pub as string | undefined;
  }

  async countLiveClaims(host: HostId, now: number): Promise<number> {
    const r = await this.#one('SELECT COUNT(*) AS n FROM claims WHERE host_id = $1 AND expires_at > $2', [
      host,
      now,
    ]);
    return Number(r.rows[0]!.n);
  }

  async createClaim(hash: string, host: HostId, expiresAt: number, now: number): Promise<void> {
    await this.#one(
      'INSERT INTO claims (hash, host_id, created_at, expires_at, attempts) VALUES ($1, $2, $3, $4, 0)',
      [hash, host, now, expiresAt],
    );
  }

  async redeemClaim(hash: string, host: HostId, now: number, maxAttempts: number): Promise<RedeemOutcome> {
    return this.#transaction(async (q): Promise<RedeemOutcome> => {
      const burned = await q(
        'DELETE FROM claims WHERE hash = $1 AND host_id = $2 AND expires_at > $3 AND attempts < $4',
        [hash, host, now, maxAttempts],
      );
      if (burned.rowCount === 1) return { ok: true };
      await q(
        'UPDATE claims SET attempts = attempts + 1 WHERE (host_id = $1 OR hash = $2) AND expires_at > $3',
        [host, hash, now],
      );
      const dead = await q(
        'SELECT DISTINCT host_id FROM claims WHERE attempts >= $1 AND expires_at > $2 ORDER BY host_id',
        [maxAttempts, now],
      );
      await q('DELETE FROM claims WHERE attempts >= $1 OR expires_at <= $2', [maxAttempts, now]);
      return { ok: false, burned: dead.rows.map((r) => r.host_id as HostId) };
    });
  }

  async addPending(host: HostId, device: DeviceId, devicePub: string, expiresAt: number): Promise<void> {
    await this.#one(
      `INSERT INTO pending_pairings (host_id, device_id, expires_at, device_pub) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host_id, device_id) DO UPDATE SET expires_at = excluded.expires_at, device_pub = excluded.device_pub`,
      [host, device, expiresAt, devicePub],
    );
  }

  async takePending(host: HostId, device: DeviceId, now: number): Promise<boolean> {
    const r = await this.#one(
      'DELETE FROM pending_pairings WHERE host_id = $1 AND device_id = $2 AND expires_at > $3',
      [host, device, now],
    );
    return r.rowCount === 1;
  }

  async acceptPending(host: HostId, device: DeviceId, now: number): Promise<boolean> {
    return this.#transaction(async (q) => {
      const pending = await q(
        `DELETE FROM pending_pairings WHERE host_id = $1 AND device_id = $2 AND expires_at > $3
         RETURNING device_pub`,
        [host, device, now],
      );
      const pub = pending.rows[0]?.device_pub;
      if (typeof pub !== 'string') return false;
      await q(
        `INSERT INTO devices (id, pub, created_at, last_seen_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
        [device, pub, now],
      );
      await q(
        `INSERT INTO pairings (host_id, device_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (host_id, device_id) DO NOTHING`,
        [host, device, now],
      );
      return true;
    });
  }

  async isPaired(host: HostId, device: DeviceId): Promise<boolean> {
    const r = await this.#one('SELECT 1 FROM pairings WHERE host_id = $1 AND device_id = $2', [host, device]);
    return r.rowCount === 1;
  }

  async removePairing(host: HostId, device: DeviceId): Promise<boolean> {
    return this.#transaction(async (q) => {
      const removed = await q('DELETE FROM pairings WHERE host_id = $1 AND device_id = $2', [host, device]);
      await q(
        'DELETE FROM devices WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM pairings WHERE device_id = $1)',
        [device],
      );
      return removed.rowCount === 1;
    });
  }

  async hasPairing(id: PartyId): Promise<boolean> {
    const column = id.startsWith('h_') ? 'host_id' : 'device_id';
    const r = await this.#one(`SELECT 1 FROM pairings WHERE ${column} = $1 LIMIT 1`, [id]);
    return r.rowCount === 1;
  }

  async hostsOf(device: DeviceId): Promise<HostId[]> {
    const r = await this.#one('SELECT host_id FROM pairings WHERE device_id = $1 ORDER BY host_id', [device]);
    return r.rows.map((row) => row.host_id as HostId);
  }

  async devicesOf(host: HostId): Promise<DeviceId[]> {
    const r = await this.#one('SELECT device_id FROM pairings WHERE host_id = $1 ORDER BY device_id', [host]);
    return r.rows.map((row) => row.device_id as DeviceId);
  }

  async createToken(t: NewToken): Promise<void> {
    await this.#one(
      `INSERT INTO enrollment_tokens (id, hash, label, created_at, expires_at, uses_left, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
      [t.id, t.hash, t.label, t.createdAt, t.expiresAt, t.uses],
    );
  }

  async listTokens(): Promise<TokenRecord[]> {
    const r = await this.#one(
      'SELECT id, label, created_at, expires_at, uses_left, revoked_at FROM enrollment_tokens ORDER BY created_at, id',
    );
    return r.rows.map((row) => ({
      id: row.id as string,
      label: row.label as string,
      createdAt: Number(row.created_at),
      expiresAt: row.expires_at === null ? null : Number(row.expires_at),
      usesLeft: Number(row.uses_left),
      revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    }));
  }

  async revokeToken(id: string, now: number): Promise<boolean> {
    // a token revoked before keeps its first revocation time
    const r = await this.#one(
      'UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1',
      [id, now],
    );
    return r.rowCount === 1;
  }

  async putPushSubscription(s: PushSubscriptionRecord, maxPerDevice: number): Promise<boolean> {
    return this.#transaction(async (q) => {
      const held = await q(
        'SELECT COUNT(*) AS n FROM push_subscriptions WHERE device_id = $1 AND endpoint <> $2',
        [s.deviceId, s.endpoint],
      );
      if (Number(held.rows[0]!.n) >= maxPerDevice) return false;
      await q(
        `INSERT INTO push_subscriptions (id, device_id, endpoint, p256dh, auth, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (endpoint) DO UPDATE SET device_id = excluded.device_id, p256dh = excluded.p256dh,
           auth = excluded.auth, updated_at = excluded.updated_at`,
        [s.id, s.deviceId, s.endpoint, s.p256dh, s.auth, s.createdAt],
      );
      return true;
    });
  }

  async pushSubscriptionsOf(device: DeviceId): Promise<PushSubscriptionRecord[]> {
    const r = await this.#one(
      'SELECT id, device_id, endpoint, p256dh, auth, created_at FROM push_subscriptions WHERE device_id = $1 ORDER BY created_at, id',
      [device],
    );
    return r.rows.map((row) => ({
      id: row.id as string,
      deviceId: row.device_id as DeviceId,
      endpoint: row.endpoint as string,
      p256dh: row.p256dh as string,
      auth: row.auth as string,
      createdAt: Number(row.created_at),
    }));
  }

  async removePushSubscriptions(device: DeviceId, endpoint?: string): Promise<number> {
    const r =
      endpoint === undefined
        ? await this.#one('DELETE FROM push_subscriptions WHERE device_id = $1', [device])
        : await this.#one('DELETE FROM push_subscriptions WHERE device_id = $1 AND endpoint = $2', [
            device,
            endpoint,
          ]);
    return r.rowCount ?? 0;
  }

  async removePushEndpoint(endpoint: string): Promise<boolean> {
    return (await this.#one('DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint])).rowCount === 1;
  }

  async purgeExpired(now: number): Promise<void> {
    await this.#transaction(async (q) => {
      await q('DELETE FROM claims WHERE expires_at <= $1', [now]);
      await q('DELETE FROM pending_pairings WHERE expires_at <= $1', [now]);
    });
  }

  async ping(): Promise<void> {
    await this.#one('SELECT 1');
  }

  /** Ends the pool (waiting for queries under way). Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#pool.end().catch((error: unknown) => {
      throw this.#fail(error, `closing ${this.#where} failed`);
    });
    return this.#closing;
  }

  /** One statement on a pooled connection (atomic by itself), retried like a transaction. */
  #one(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>> {
    return this.#run((q) => q(text, values));
  }

  /**
   * Runs `fn` in one transaction on one pooled connection: committed when it
   * returns, rolled back when it throws, run again from the start (after a
   * short random pause) when PostgreSQL reports a serialization failure or a
   * deadlock — the other transaction won, this one must see its result.
   */
  #transaction<T>(
    fn: (q: Query) => Promise<T>,
    isolation: 'SERIALIZABLE' | 'READ COMMITTED' = 'SERIALIZABLE',
  ): Promise<T> {
    return this.#run(async (q) => {
      await q(`BEGIN ISOLATION LEVEL ${isolation}`);
      try {
        const out = await fn(q);
        await q('COMMIT');
        return out;
      } catch (error) {
        await q('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  /** Takes a connection, runs `fn` with it, retries on the retry codes, maps failures to `store_failed`. */
  async #run<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      if (this.#closed) throw new RelayError('store_failed', 'store is closed');
      let client: pg.PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (error) {
        throw this.#fail(error, `cannot reach ${this.#where}`);
      }
      let broken: Error | undefined;
      // a connection that fails while checked out emits 'error' besides failing the query: without a
      // listener that would end the process
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      try {
        return await fn((text, values) => client.query<Row>(text, values));
      } catch (error) {
        if (error instanceof RelayError) throw error;
        const code = sqlState(error);
        // the connection itself failed (no SQLSTATE, or a connection / shutdown one): the pool drops it
        if (code === undefined || code.startsWith('08') || code.startsWith('57P')) broken = error as Error;
        if (code !== undefined && RETRY_CODES.has(code) && tries < MAX_TRIES) {
          await sleep(Math.random() * Math.min(50, 2 ** tries));
          continue;
        }
        throw this.#fail(error, `query on ${this.#where} failed`);
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    }
  }

  /** A `store_failed` error for `cause`, its message scrubbed of the password. */
  #fail(cause: unknown, what: string): RelayError {
    let message = `${what}: ${(cause as Error)?.message ?? String(cause)}`;
    if (this.#password) message = message.split(this.#password).join('***');
    const code = sqlState(cause);
    return new RelayError('store_failed', `${message}${code ? ` (${code})` : ''}`, { cause });
  }
}

/** The SQLSTATE of a PostgreSQL error, if `error` is one. */
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The URL with `password` added as the `password` query parameter (libpq's
 * way, which works for every URL form, socket ones included) when the URL
 * carries none. Kept in memory only, handed to `pg`.
 */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined || urlHasPassword(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}password=${encodeURIComponent(password)}`;
}
