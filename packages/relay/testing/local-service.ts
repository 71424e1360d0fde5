/**
 * What the test helpers that run a private system service (Redis,
 * PostgreSQL, HAProxy) share: a free loopback port, and the service's
 * binary from Debian's package, or an error naming the package.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The first of `paths` that runs with `versionArg`, or an error saying how
 * to install it: `scripts/install-system-deps.sh`, Debian package `pkg`.
 */
export function systemBinary(paths: readonly string[], versionArg: string, pkg: string): string {
  for (const path of paths) {
    try {
      execFileSync(path, [versionArg], { stdio: 'ignore' });
      return path;
    } catch {
      // try the next
    }
  }
  const name = paths[0]!.split('/').pop();
  throw new Error(`${name} is missing: run scripts/install-system-deps.sh (Debian package ${pkg})`);
}
