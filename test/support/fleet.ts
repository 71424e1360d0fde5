/**
 * A relay fleet for tests and benchmarks: a private Redis and two or three
 * real `pocketshell-relay` processes sharing it and one store. The store is
 * chosen in one place (`fleetStore`): a private PostgreSQL cluster with a
 * fresh database (`--database postgres://…`, the password in `PGPASSWORD`),
 * as a fleet runs in production, or one SQLite file in a data folder every
 * node opens (WAL, busy timeout), for nodes on one machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type StartedRedis,
  type StartedRelay,
  startPostgres,
  startRedis,
  startRelay,
} from '@pocketshell/relay/testing';

/** The store every node of a fleet uses: how to point a relay at it, and its teardown. */
export interface FleetStore {
  kind: 'postgres' | 'sqlite';
  /** A data folder every node shares (SQLite: the database; also the Web Push keys). */
  dataDir?: string;
  /** Relay arguments naming the store. */
  args: string[];
  /** Environment the relays need (the database password). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** The store of a fleet: PostgreSQL (default) or one shared SQLite file. */
export async function fleetStore(kind: 'postgres' | 'sqlite' = 'postgres'): Promise<FleetStore> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'pocketshell-fleet-'));
    return {
      kind,
      dataDir: dir,
      args: [],
      env: {},
      close: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const cluster = await startPostgres();
  try {
    const db = await cluster.createDatabase();
    return {
      kind,
      args: ['--database', db.url],
      env: { PGPASSWORD: db.password },
      close: () => cluster.stop(),
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** The authenticated connections of each role a node holds (its /metrics). */
export async function held(url: string): Promise<{ host: number; device: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const of = (role: string) =>
    Number(
      new RegExp(`^pocketshell_relay_authenticated_connections\\{role="${role}"\\} (\\d+)`, 'm').exec(
        text,
      )?.[1],
    );
  return { host: of('host'), device: of('device') };
}

/** A running fleet. */
export interface StartedFleet {
  redis: StartedRedis;
  store: FleetStore;
  nodes: StartedRelay[];
  /** Stops every node, Redis and the store. Idempotent. */
  stop(): Promise<void>;
}

/** Starts Redis, the store and `count` relay nodes named n0, n1… */
export async function startFleet(
  count: number,
  options: { args?: string[]; env?: Record<string, string>; store?: 'postgres' | 'sqlite' } = {},
): Promise<StartedFleet> {
  const redis = await startRedis();
  let store: FleetStore;
  try {
    store = await fleetStore(options.store);
  } catch (error) {
    await redis.stop();
    throw error;
  }
  const nodes: StartedRelay[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
      await store.close();
    })();
    return stopping;
  };
  try {
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startRelay({
          ...(store.dataDir !== undefined ? { dataDir: store.dataDir } : {}),
          args: [
            ...store.args,
            ...['--redis', redis.url, '--node-id', `n${i}`, '--redis-ttl', '3'],
            ...(options.args ?? []),
          ],
          env: { ...store.env, ...options.env },
        }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { redis, store, nodes, stop };
}
