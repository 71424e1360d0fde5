/**
 * `PostgresStore` against a private PostgreSQL cluster on 127.0.0.1
 * (`testing/postgres.ts`; Debian's server, installed by
 * scripts/install-system-deps.sh — without it this test fails rather than
 * skips): the store conformance suite, shared with `SqliteStore`, on a
 * database owned by an ordinary role, twice (a pool of one connection and
 * one of ten); then what only PostgreSQL has — relays migrating one fresh
 * database at once, the same tables and columns as SQLite's, pooled
 * connections killed idle and mid-query, a pg_dump backup restored the way
 * docs/relay.md says, and failures that say `store_failed` without the
 * password.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { type PostgresCluster, postgresBinDir, startPostgres } from '../testing/postgres.ts';
import { storeConformance } from '../testing/store-conformance.ts';
import { describeDatabaseUrl } from './database-url.ts';
import { MIGRATIONS } from './migrations.ts';
import { MIGRATION_LOCK, PostgresStore } from './postgres-store.ts';
import { SqliteStore } from './sqlite-store.ts';

const run = promisify(execFile);
let cluster: PostgresCluster;
const started = startPostgres();
before(async () => {
  cluster = await started;
});
after(async () => {
  await (await started).stop();
});

for (const poolSize of [1, 10]) {
  storeConformance(`PostgresStore (pool of ${poolSize})`, async () => {
    const db = await (await started).createDatabase();
    return {
      open: (migrations) => PostgresStore.open({ url: db.url, password: db.password, poolSize, migrations }),
      schemaVersion: (store) => (store as PostgresStore).schemaVersion(),
      drop: async () => {
        await cluster.query(`DROP DATABASE ${db.name} WITH (FORCE)`);
      },
    };
  });
}

describe('PostgresStore on its own', () => {
  it('lets relays that start together migrate a fresh database once', async () => {
    const db = await cluster.createDatabase();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () =>
        PostgresStore.open({ url: db.url, password: db.password, poolSize: 2 }),
      ),
    );
    const applied = await cluster.query(
      'SELECT version, name FROM schema_migrations ORDER BY version',
      [],
      db.name,
    );
    assert.deepEqual(
      applied,
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    for (const s of stores) assert.equal(await s.schemaVersion(), MIGRATIONS.at(-1)!.version);
    await Promise.all(stores.map((s) => s.close()));
    // the migration lock is a transaction's: none is left held
    assert.deepEqual(
      await cluster.query('SELECT objid FROM pg_locks WHERE locktype = $1 AND objid = $2', [
        'advisory',
        MIGRATION_LOCK,
      ]),
      [],
    );
  });

  it('makes the same tables and columns as SQLite from the one migration list', async () => {
    const db = await cluster.createDatabase();
    const pgStore = await PostgresStore.open({ url: db.url, password: db.password });
    await pgStore.close();
    const pgColumns = await cluster.query(
      `SELECT table_name AS t, column_name AS c, is_nullable AS n FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, column_name`,
      [],
      db.name,
    );
    const dir = mkdtempSync(join(tmpdir(), 'relay-schema-'));
    try {
      const sqlite = new SqliteStore(join(dir, 'db.sqlite'));
      await sqlite.close();
      const { DatabaseSync } = await import('node:sqlite');
      const file = new DatabaseSync(join(dir, 'db.sqlite'));
      const tables = file
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => r.name as string);
      const sqliteColumns = tables.flatMap((t) =>
        file
          .prepare(`PRAGMA table_info(${t})`)
          .all()
          .map((c) => ({ t, c: c.name as string, n: c.notnull === 1 || c.pk === 1 ? 'NO' : 'YES' })),
      );
      file.close();
      const key = (r: Record<string, unknown>) => `${r.t}.${r.c} ${r.n}`;
      assert.deepEqual(pgColumns.map(key).sort(), sqliteColumns.map(key).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('survives its pooled connections being killed, and tells who asked', async () => {
    const db = await cluster.createDatabase();
    const idle: Error[] = [];
    const store = await PostgresStore.open({
      url: db.url,
      password: db.password,
      poolSize: 2,
      onIdleError: (e) => idle.push(e),
    });
    try {
      await store.ping();
      const killed = await cluster.query(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1',
        [db.name],
      );
      assert.ok(killed.length >= 1);
      // the idle connection's end reaches the store's listener, not an uncaught 'error'
      for (let i = 0; i < 200 && idle.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(idle.length >= 1, 'onIdleError was told');
      await store.ping();
      await store.touchHost(`h_${'k'.repeat(26)}`, 'pub', 1);
      assert.equal(await store.hasHost(`h_${'k'.repeat(26)}`), true);
    } finally {
      await store.close();
    }
    await assert.rejects(store.ping(), { code: 'store_failed', message: /closed/ });
  });

  it('fails a call whose connection is killed mid-query with store_failed, and goes on', async () => {
    const db = await cluster.createDatabase();
    const store = await PostgresStore.open({ url: db.url, password: db.password, poolSize: 2 });
    const blocker = new pg.Client({ connectionString: db.urlWithPassword });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE enrollment_tokens IN ACCESS EXCLUSIVE MODE');
      const pending = store.enrollHost(`h_${'m'.repeat(26)}`, 'pub', 'hash', 1);
      const waiting = async () =>
        cluster.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pocketshell-relay'
           AND wait_event_type = 'Lock'`,
          [db.name],
        );
      for (let i = 0; i < 500 && (await waiting()).length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      const [victim] = await waiting();
      assert.ok(victim, 'the store waits on the lock');
      await cluster.query('SELECT pg_terminate_backend($1)', [victim.pid]);
      await assert.rejects(pending, { code: 'store_failed', message: /terminat/ });
      await blocker.query('ROLLBACK');
      assert.equal(await store.enrollHost(`h_${'m'.repeat(26)}`, 'pub', 'hash', 1), false, 'no such token');
      await store.ping();
    } finally {
      await blocker.end();
      await store.close();
    }
  });

  it('restores from a pg_dump backup, as docs/relay.md says, into a database the relay opens', async () => {
    const from = await cluster.createDatabase();
    const to = await cluster.createDatabase();
    const store = await PostgresStore.open({ url: from.url, password: from.password });
    const [h, d] = [`h_${'n'.repeat(26)}`, `d_${'n'.repeat(26)}`] as const;
    await store.touchHost(h, 'pubH', 100);
    await store.addPending(h, d, 'pubD', 10_000);
    assert.equal(await store.acceptPending(h, d, 200), true);
    await store.createToken({
      id: 'kept',
      hash: 'kept-hash',
      label: 'backup',
      createdAt: 1,
      expiresAt: null,
      uses: 3,
    });
    const dir = mkdtempSync(join(tmpdir(), 'relay-dump-'));
    const dump = join(dir, 'relay.dump');
    const bin = postgresBinDir();
    try {
      // while the relay's pool is open: pg_dump takes a consistent snapshot
      await run(join(bin, 'pg_dump'), ['--format=custom', '--file', dump, from.url], {
        env: { PATH: process.env.PATH ?? '', PGPASSWORD: from.password },
      });
      await run(join(bin, 'pg_restore'), ['--no-owner', '--role', to.role, '--dbname', to.url, dump], {
        env: { PATH: process.env.PATH ?? '', PGPASSWORD: to.password },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await store.close();
    }
    const restored = await PostgresStore.open({ url: to.url, password: to.password });
    try {
      assert.equal(await restored.schemaVersion(), MIGRATIONS.at(-1)!.version);
      assert.equal(await restored.isPaired(h, d), true);
      assert.equal(await restored.publicKeyOf(d), 'pubD');
      assert.deepEqual(
        (await restored.listTokens()).map((t) => [t.id, t.usesLeft]),
        [['kept', 3]],
      );
      assert.equal(await restored.enrollHost(`h_${'o'.repeat(26)}`, 'p', 'kept-hash', 300), true);
    } finally {
      await restored.close();
    }
  });

  it('fails with store_failed and never shows the password', async () => {
    const db = await cluster.createDatabase();
    const wrong = 'not-the-password-9f3c1a';
    await assert.rejects(
      PostgresStore.open({ url: db.url, password: wrong, connectTimeoutMs: 5000 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'store_failed');
        assert.match(e.message, /password authentication failed/);
        assert.ok(!e.message.includes(wrong), e.message);
        assert.ok(e.message.includes(describeDatabaseUrl(db.url)), e.message);
        return true;
      },
    );
    const inUrl = db.url.replace('@', `:${wrong}@`);
    await assert.rejects(PostgresStore.open({ url: inUrl }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'store_failed');
      assert.ok(!e.message.includes(wrong), e.message);
      return true;
    });
    // nothing listens on port 1
    await assert.rejects(
      PostgresStore.open({ url: `postgres://x:${wrong}@127.0.0.1:1/x`, connectTimeoutMs: 2000 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'store_failed');
        assert.match(e.message, /ECONNREFUSED/);
        assert.ok(!e.message.includes(wrong), e.message);
        return true;
      },
    );
  });

  it('describes a URL without its password or query', () => {
    assert.equal(
      describeDatabaseUrl('postgres://relay:s3cret@db.example:5433/relay?sslmode=require&password=x'),
      'postgres://relay@db.example:5433/relay',
    );
    assert.equal(describeDatabaseUrl('postgresql://db.example/relay'), 'postgresql://db.example/relay');
    assert.equal(describeDatabaseUrl('postgres:///relay?host=/run/postgresql'), 'postgres:///relay');
    assert.equal(describeDatabaseUrl('postgres://u:p@'), 'postgres://u@');
  });
});
