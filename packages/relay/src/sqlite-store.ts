/**
 * `SqliteStore`: the embedded `RelayStore` on `node:sqlite`. One database
 * file in the relay's data directory, WAL journal with `synchronous=FULL`
 * (a kill -9 loses nothing that was acknowledged and never leaves half a
 * change), foreign keys on, multi-row changes in `BEGIN IMMEDIATE`
 * transactions, versioned migrations from `migrations.ts`.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { DeviceId, HostId, PartyId } from '@pocketshell/protocol';
import { unixNow } from '@pocketshell/protocol';
import { Statements } from '@pocketshell/protocol/sqlite';
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

/** File name of the database inside the data directory. */
export const DATABASE_FILE = 'relay.sqlite';

type Row = Record<string, SQLInputValue>;

/** The embedded store. */
export class SqliteStore implements RelayStore {
  readonly shared = false;
  readonly #db: DatabaseSync;
  readonly #sql: Statements<StatementSync>;
  #closed = false;

  /** Opens (creating and migrating) the database at `path`. */
  constructor(path: string, migrations: readonly Migration[] = MIGRATIONS) {
    try {
      this.#db = new DatabaseSync(path);
      this.#sql = new Statements(this.#db, () => {
        if (this.#closed) throw new RelayError('store_failed', 'store is closed');
      });
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA synchronous = FULL');
      this.#db.exec('PRAGMA foreign_keys = ON');
      this.#db.exec('PRAGMA busy_timeout = 5000');
      this.#migrate(migrations);
    } catch (cause) {
      if (cause instanceof RelayError) throw cause;
      throw new RelayError('store_failed', `cannot open ${path}`, { cause });
    }
  }

  /** The schema version in the file. */
  get schemaVersion(): number {
    return this.#sql.schemaVersion();
  }

  #migrate(migrations: readonly Migration[]): void {
    this.#sql.migrate(
      migrations,
      unixNow(),
      (current, known) =>
        new RelayError('store_failed', `database schema v${current} is newer than this relay (v${known})`),
    );
  }

  async keepVapidKeys(candidate: StoredKeyPair, now: number): Promise<StoredKeyPair> {
    this.#sql
      .get(
        `INSERT INTO vapid_keys (id, public_key, private_key, created_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      )
      .run(candidate.publicKey, candidate.privateKey, now);
    const row = this.#sql.get('SELECT public_key, private_key FROM vapid_keys WHERE id = 1').get() as {
      public_key: string;
      private_key: string;
    };
    return { publicKey: row.public_key, privateKey: row.private_key };
  }

  async hasHost(id: HostId): Promise<boolean> {
    return this.#sql.get('SELECT 1 AS x FROM hosts WHERE id = ?').get(id) !== undefined;
  }

  async touchHost(id: HostId, pub: string, now: number): Promise<void> {
    this.#sql
      .get(
        `INSERT INTO hosts (id, pub, created_at, last_seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
      )
      .run(id, pub, now, now);
  }

  async enrollHost(id: HostId, pub: string, tokenHash: string, now: number): Promise<boolean> {
    return this.#sql.transaction(() => {
      const taken = this.#sql
        .get(
          `UPDATE enrollment_tokens SET uses_left = uses_left - 1
         WHERE hash = ? AND uses_left > 0 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
        )
        .run(tokenHash, now);
      if (taken.changes !== 1) return false;
      const token = this.#sql.get('SELECT id FROM enrollment_tokens WHERE hash = ?').get(tokenHash) as Row;
      this.#sql
        .get(
          `INSERT INTO hosts (id, pub, created_at, last_seen_at, enrolled_with) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
        )
        .run(id, pub, now, now, token.id as string);
      return true;
    });
  }

  async seenDevice(id: DeviceId, now: number): Promise<void> {
    this.#sql.get('UPDATE devices SET last_seen_at = ? WHERE id = ?').run(now, id);
  }

  async publicKeyOf(id: PartyId): Promise<string | undefined> {
    const table = id.startsWith('h_') ? 'hosts' : 'devices';
    const row = this.#sql.get(`SELECT pub FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
    return row?.pub as string | undefined;
  }

  async countLiveClaims(host: HostId, now: number): Promise<number> {
    const row = this.#sql
      .get('SELECT COUNT(*) AS n FROM claims WHERE host_id = ? AND expires_at > ?')
      .get(host, now) as Row;
    return Number(row.n);
  }

  async createClaim(hash: string, host: HostId, expiresAt: number, now: number): Promise<void> {
    this.#sql
      .get('INSERT INTO claims (hash, host_id, created_at, expires_at, attempts) VALUES (?, ?, ?, ?, 0)')
      .run(hash, host, now, expiresAt);
  }

  async redeemClaim(hash: string, host: HostId, now: number, maxAttempts: number): Promise<RedeemOutcome> {
    return this.#sql.transaction(() => {
      const burned = this.#sql
        .get('DELETE FROM claims WHERE hash = ? AND host_id = ? AND expires_at > ? AND attempts < ?')
        .run(hash, host, now, maxAttempts);
      if (burned.changes === 1) return { ok: true };
      this.#sql
        .get('UPDATE claims SET attempts = attempts + 1 WHERE (host_id = ? OR hash = ?) AND expires_at > ?')
        .run(host, hash, now);
      const dead = this.#sql
        .get('SELECT DISTINCT host_id FROM claims WHERE attempts >= ? AND expires_at > ? ORDER BY host_id')
        .all(maxAttempts, now) as Row[];
      this.#sql.get('DELETE FROM claims WHERE attempts >= ? OR expires_at <= ?').run(maxAttempts, now);
      return { ok: false, burned: dead.map((r) => r.host_id as HostId) };
    });
  }

  async addPending(host: HostId, device: DeviceId, devicePub: string, expiresAt: number): Promise<void> {
    this.#sql
      .get(
        `INSERT INTO pending_pairings (host_id, device_id, expires_at, device_pub) VALUES (?, ?, ?, ?)
       ON CONFLICT (host_id, device_id) DO UPDATE SET expires_at = excluded.expires_at, device_pub = excluded.device_pub`,
      )
      .run(host, device, expiresAt, devicePub);
  }

  async takePending(host: HostId, device: DeviceId, now: number): Promise<boolean> {
    return (
      this.#sql
        .get('DELETE FROM pending_pairings WHERE host_id = ? AND device_id = ? AND expires_at > ?')
        .run(host, device, now).changes === 1
    );
  }

  async acceptPending(host: HostId, device: DeviceId, now: number): Promise<boolean> {
    return this.#sql.transaction(() => {
      const pending = this.#sql
        .get('SELECT device_pub FROM pending_pairings WHERE host_id = ? AND device_id = ? AND expires_at > ?')
        .get(host, device, now) as Row | undefined;
      if (pending === undefined || typeof pending.device_pub !== 'string') return false;
      this.#sql.get('DELETE FROM pending_pairings WHERE host_id = ? AND device_id = ?').run(host, device);
      this.#sql
        .get(
          `INSERT INTO devices (id, pub, created_at, last_seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
        )
        .run(device, pending.device_pub, now, now);
      this.#sql
        .get(
          `INSERT INTO pairings (host_id, device_id, created_at) VALUES (?, ?, ?)
         ON CONFLICT (host_id, device_id) DO NOTHING`,
        )
        .run(host, device, now);
      return true;
    });
  }

  async isPaired(host: HostId, device: DeviceId): Promise<boolean> {
    return (
      this.#sql.get('SELECT 1 AS x FROM pairings WHERE host_id = ? AND device_id = ?').get(host, device) !==
      undefined
    );
  }

  async removePairing(host: HostId, device: DeviceId): Promise<boolean> {
    return this.#sql.transaction(() => {
      const removed = this.#sql
        .get('DELETE FROM pairings WHERE host_id = ? AND device_id = ?')
        .run(host, device);
      this.#sql
        .get('DELETE FROM devices WHERE id = ? AND NOT EXISTS (SELECT 1 FROM pairings WHERE device_id = ?)')
        .run(device, device);
      return removed.changes === 1;
    });
  }

  async hasPairing(id: PartyId): Promise<boolean> {
    const column = id.startsWith('h_') ? 'host_id' : 'device_id';
    return this.#sql.get(`SELECT 1 AS x FROM pairings WHERE ${column} = ? LIMIT 1`).get(id) !== undefined;
  }

  async hostsOf(device: DeviceId): Promise<HostId[]> {
    const rows = this.#sql
      .get('SELECT host_id FROM pairings WHERE device_id = ? ORDER BY host_id')
      .all(device) as Row[];
    return rows.map((r) => r.host_id as HostId);
  }

  async devicesOf(host: HostId): Promise<DeviceId[]> {
    const rows = this.#sql
      .get('SELECT device_id FROM pairings WHERE host_id = ? ORDER BY device_id')
      .all(host) as Row[];
    return rows.map((r) => r.device_id as DeviceId);
  }

  async createToken(t: NewToken): Promise<void> {
    this.#sql
      .get(
        `INSERT INTO enrollment_tokens (id, hash, label, created_at, expires_at, uses_left, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, NULL)`,
      )
      .run(t.id, t.hash, t.label, t.createdAt, t.expiresAt, t.uses);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = this.#sql
      .get(
        'SELECT id, label, created_at, expires_at, uses_left, revoked_at FROM enrollment_tokens ORDER BY created_at, id',
      )
      .all() as Row[];
    return rows.map((r) => ({
      id: r.id as string,
      label: r.label as string,
      createdAt: Number(r.created_at),
      expiresAt: r.expires_at === null ? null : Number(r.expires_at),
      usesLeft: Number(r.uses_left),
      revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    }));
  }

  async revokeToken(id: string, now: number): Promise<boolean> {
    const row = this.#sql.get('SELECT revoked_at FROM enrollment_tokens WHERE id = ?').get(id) as
      | Row
      | undefined;
    if (row === undefined) return false;
    this.#sql
      .get('UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(now, id);
    return true;
  }

  async putPushSubscription(s: PushSubscriptionRecord, maxPerDevice: number): Promise<boolean> {
    return this.#sql.transaction(() => {
      const held = this.#sql
        .get('SELECT COUNT(*) AS n FROM push_subscriptions WHERE device_id = ? AND endpoint <> ?')
        .get(s.deviceId, s.endpoint) as Row;
      if (Number(held.n) >= maxPerDevice) return false;
      this.#sql
        .get(
          `INSERT INTO push_subscriptions (id, device_id, endpoint, p256dh, auth, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET device_id = excluded.device_id, p256dh = excluded.p256dh,
           auth = excluded.auth, updated_at = excluded.updated_at`,
        )
        .run(s.id, s.deviceId, s.endpoint, s.p256dh, s.auth, s.createdAt, s.createdAt);
      return true;
    });
  }

  async removePushSubscriptions(device: DeviceId, endpoint?: string): Promise<number> {
    const r =
      endpoint === undefined
        ? this.#sql.get('DELETE FROM push_subscriptions WHERE device_id = ?').run(device)
        : this.#sql
            .get('DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?')
            .run(device, endpoint);
    return Number(r.changes);
  }

  async removePushEndpoint(endpoint: string): Promise<boolean> {
    return this.#sql.get('DELETE FROM push_subscriptions WHERE endpoint = ?').run(endpoint).changes === 1;
  }

  async pushSubscriptionsOf(device: DeviceId): Promise<PushSubscriptionRecord[]> {
    const rows = this.#sql
      .get(
        'SELECT id, device_id, endpoint, p256dh, auth, created_at FROM push_subscriptions WHERE device_id = ? ORDER BY created_at, id',
      )
      .all(device) as Row[];
    return rows.map((r) => ({
      id: r.id as string,
      deviceId: r.device_id as DeviceId,
      endpoint: r.endpoint as string,
      p256dh: r.p256dh as string,
      auth: r.auth as string,
      createdAt: Number(r.created_at),
    }));
  }

  async purgeExpired(now: number): Promise<void> {
    this.#sql.transaction(() => {
      this.#sql.get('DELETE FROM claims WHERE expires_at <= ?').run(now);
      this.#sql.get('DELETE FROM pending_pairings WHERE expires_at <= ?').run(now);
    });
  }

  async ping(): Promise<void> {
    this.#sql.get('SELECT 1 AS x').get();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sql.clear();
    this.#db.close();
  }
}
