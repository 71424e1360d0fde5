/**
 * Versioned schema migrations, recorded in `schema_migrations`: one list
 * for both stores, every statement run as written on SQLite and on
 * PostgreSQL. SQLite applies each migration in its own transaction
 * (`Statements.migrate`); PostgreSQL applies all pending ones in one
 * transaction under an advisory lock (`PostgresStore`), so relays starting
 * together do not race. The SQL is kept portable: standard types (TEXT,
 * INTEGER, BIGINT), integer Unix-second timestamps, `ON CONFLICT`, no
 * AUTOINCREMENT, nothing only one of them knows — `postgres-store.test.ts`
 * checks both end with the same tables and columns. A step that cannot be
 * written once would carry both versions here, side by side. Never edit a
 * shipped migration; add the next one.
 */

/** One schema step. */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    statements: [
      `CREATE TABLE hosts (
        id TEXT PRIMARY KEY,
        pub TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        enrolled_with TEXT NULL
      )`,
      `CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        pub TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
      )`,
      `CREATE TABLE pairings (
        host_id TEXT NOT NULL REFERENCES hosts (id),
        device_id TEXT NOT NULL REFERENCES devices (id),
        created_at BIGINT NOT NULL,
        PRIMARY KEY (host_id, device_id)
      )`,
      'CREATE INDEX pairings_device ON pairings (device_id)',
      `CREATE TABLE claims (
        hash TEXT PRIMARY KEY,
        host_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL
      )`,
      'CREATE INDEX claims_host ON claims (host_id)',
      `CREATE TABLE pending_pairings (
        host_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (host_id, device_id)
      )`,
      `CREATE TABLE enrollment_tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NULL,
        uses_left INTEGER NOT NULL,
        revoked_at BIGINT NULL
      )`,
      `CREATE TABLE push_subscriptions (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        endpoint TEXT NOT NULL,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE (device_id, endpoint)
      )`,
    ],
  },
  {
    version: 2,
    name: 'devices-only-when-paired',
    statements: [
      // a redeem keeps the device key until the host accepts; only then is the device stored
      'ALTER TABLE pending_pairings ADD COLUMN device_pub TEXT NULL',
      // devices that never paired (or were revoked everywhere) were stored by older relays: forget them
      'DELETE FROM devices WHERE id NOT IN (SELECT device_id FROM pairings)',
    ],
  },
  {
    version: 3,
    name: 'push-endpoint-unique',
    statements: [
      // an endpoint is one browser subscription: it belongs to one device, the last to present it
      'ALTER TABLE push_subscriptions ADD COLUMN updated_at BIGINT NULL',
      'DELETE FROM push_subscriptions WHERE id NOT IN (SELECT MIN(id) FROM push_subscriptions GROUP BY endpoint)',
      'CREATE UNIQUE INDEX push_subscriptions_endpoint ON push_subscriptions (endpoint)',
    ],
  },
  {
    version: 4,
    name: 'vapid-keys',
    statements: [
      // the Web Push key pair of relays sharing one store (PostgreSQL): one row, put by the first node
      `CREATE TABLE vapid_keys (
        id INTEGER PRIMARY KEY,
        public_key TEXT NOT NULL,
        private_key TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
    ],
  },
];
