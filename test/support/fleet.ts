/**
 * A relay fleet for tests and benchmarks: a private Redis and two or three
 * real `pocketshell-relay` processes sharing it and one store. The store is
 * chosen in one place (`fleetStore`): today every node opens the same
 * SQLite file (WAL, busy timeout), the PostgreSQL store replaces it with a
 * `--database postgres://…` argument when it lands.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StartedRedis, type StartedRelay, startRedis, startRelay } from '@pocketshell/relay/testing';

/** The store every node of a fleet uses: the relay arguments that name it, and its teardown. */
export interface FleetStore {
  /** A data folder every node shares (the SQLite file; also the Web Push keys). */
  dataDir?: string;
  /** Relay arguments naming the store. */
  args: string[];
  close(): Promise<void>;
}

/** One shared SQLite file in a fresh folder (the switch to PostgreSQL is here). */
export async function fleetStore(): Promise<FleetStore> {
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-fleet-'));
  return {
    dataDir: dir,
    args: [],
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A running fleet. */
export interface StartedFleet {
  redis: StartedRedis;
  nodes: StartedRelay[];
  /** Stops every node, Redis and the store. Idempotent. */
  stop(): Promise<void>;
}

/** Starts Redis, the store and `count` relay nodes named n0, n1… */
export async function startFleet(
  count: number,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<StartedFleet> {
  const redis = await startRedis();
  const store = await fleetStore();
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
            '--redis',
            redis.url,
            '--node-id',
            `n${i}`,
            '--redis-ttl',
            '3',
            ...(options.args ?? []),
          ],
          ...(options.env ? { env: options.env } : {}),
        }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { redis, nodes, stop };
}
