/**
 * The relay's process-level tests a second time, on PostgreSQL: each relay
 * process they start (`startRelay`) gets a database of its own in one
 * private PostgreSQL 15 cluster (`POCKETSHELL_TEST_RELAY_STORE=postgres`),
 * so pairing, routing and presence, the HTTP surface, the limits and TURN
 * are checked against both stores. Left out: the tests that open
 * relay.sqlite itself (auth, privacy, redteam, restart, cli) — their
 * PostgreSQL side is postgres-relay.test.ts (restart, kill -9, two relays on
 * one database) and the store conformance suite (postgres-store.test.ts).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startRelay, stopTestPostgres } from '../testing/index.ts';

process.env.POCKETSHELL_TEST_RELAY_STORE = 'postgres';
after(() => stopTestPostgres());

test('the relays of this file run on PostgreSQL', async () => {
  const relay = await startRelay();
  try {
    assert.match(relay.logs(), /"store":"postgres"/);
  } finally {
    await relay.stop();
  }
});

await import('./pairing.test.ts');
await import('./routing.test.ts');
await import('./http.test.ts');
await import('./limits.test.ts');
await import('./turn.test.ts');
