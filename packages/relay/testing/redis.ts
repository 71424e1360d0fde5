/**
 * A private `redis-server` for tests and benchmarks: Debian's binary on
 * 127.0.0.1 at a free port, no persistence (`--save ''`, `--appendonly no`),
 * its working folder a fresh temporary one, stopped and removed by `stop()`
 * (idempotent). `scripts/install-system-deps.sh` installs the package.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, systemBinary } from './local-service.ts';

/** A running private Redis. */
export interface StartedRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Kills it at once (SIGKILL), as a crash would; everything in it is gone. */
  kill(): Promise<void>;
  /** Kills it and starts an empty one on the same port (a Redis restart without persistence). */
  restart(): Promise<void>;
  /** Stops it and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** The redis-server binary, or an error saying how to install it. */
export function redisServerBinary(): string {
  return systemBinary(['/usr/bin/redis-server', '/usr/local/bin/redis-server'], '--version', 'redis-server');
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(500);
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

/** Starts a private Redis and waits until it answers PING. */
export async function startRedis(): Promise<StartedRedis> {
  const bin = redisServerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-redis-'));
  const port = await freePort();
  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const proc = spawn(
      bin,
      [
        ...['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
        ...['--dir', dir, '--protected-mode', 'yes', '--maxclients', '1000'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const deadline = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not start; output:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: () => kill(),
    restart: async () => {
      await kill();
      await launch();
    },
    stop: () => {
      stopping ??= (async () => {
        await kill('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
