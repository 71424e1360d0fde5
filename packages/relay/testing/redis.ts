/**
 * A private `redis-server` for tests and benchmarks: Debian's binary on
 * 127.0.0.1 at a free port, no persistence (`--save ''`, `--appendonly no`),
 * its working folder a fresh temporary one, stopped and removed by `stop()`
 * (idempotent). `scripts/install-system-deps.sh` installs the package.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running private Redis. */
export interface StartedRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Stops it and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** The redis-server binary, or an error saying how to install it. */
export function redisServerBinary(): string {
  for (const path of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    try {
      execFileSync(path, ['--version'], { stdio: 'ignore' });
      return path;
    } catch {
      // try the next
    }
  }
  throw new Error(
    'redis-server is missing: run scripts/install-system-deps.sh (Debian package redis-server)',
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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
  const child: ChildProcess = spawn(
    bin,
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--protected-mode',
      'yes',
      '--maxclients',
      '1000',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  child.stderr!.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start; output:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let stopping: Promise<void> | undefined;
  const end = (signal: NodeJS.Signals) => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { url: `redis://127.0.0.1:${port}`, port, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}
