/**
 * `SqliteStore` on a real database file: the store conformance suite
 * (`testing/store-conformance.ts`, shared with `PostgresStore`) on a fresh
 * file, plus what only SQLite has — the schema version read synchronously.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { storeConformance } from '../testing/store-conformance.ts';
import { MIGRATIONS } from './migrations.ts';
import { SqliteStore } from './sqlite-store.ts';

storeConformance('SqliteStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  const path = join(dir, 'db.sqlite');
  return {
    open: async (migrations) => new SqliteStore(path, migrations),
    schemaVersion: async (store) => (store as SqliteStore).schemaVersion,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

it('SqliteStore: a fresh file is at the newest schema, and a closed store refuses with store_failed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
  try {
    const store = new SqliteStore(join(dir, 'db.sqlite'));
    assert.equal(store.schemaVersion, MIGRATIONS.at(-1)!.version);
    await store.close();
    await assert.rejects(store.ping(), { code: 'store_failed' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
