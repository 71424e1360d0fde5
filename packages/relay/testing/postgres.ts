/**
 * A private PostgreSQL cluster for tests (test support, never production
 * code): Debian's server binaries (`/usr/lib/postgresql/<version>/bin`,
 * installed by scripts/install-system-deps.sh) make a fresh cluster with
 * `initdb` in a temporary folder and run it on 127.0.0.1 on a free port
 * (its socket in that folder), with fsync off — the data is thrown away.
 * PostgreSQL refuses to run as root, so under root the cluster belongs to
 * the `postgres` system user (`setpriv`). A test file starts one cluster and
 * takes a fresh database per suite: `createDatabase` makes a login role with
 * a random password and a database it owns — exactly what a relay operator
 * gives the relay. The server runs under a small shell that ends it as soon
 * as this process's end of its stdin closes, so a test process killed by
 * the runner leaves no server behind; `stop()` ends it and removes the
 * folder.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './local-service.ts';

/** A running test cluster. */
export interface PostgresCluster {
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** The folder holding the cluster and its socket. */
  readonly dir: string;
  /** Makes a login role and a database it owns; its URL has no password (given apart). */
  createDatabase(): Promise<TestDatabase>;
  /** Runs SQL as the superuser, in `database` (default `postgres`). */
  query(sql: string, values?: unknown[], database?: string): Promise<Record<string, unknown>[]>;
  /** Everything the server logged. */
  logs(): string;
  /** Ends the server and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** A database of the test cluster and the role that owns it. */
export interface TestDatabase {
  name: string;
  role: string;
  password: string;
  /** `postgres://ROLE@127.0.0.1:PORT/NAME`, without the password. */
  url: string;
  /** The same URL with the password in it. */
  urlWithPassword: string;
}

/** The folder of PostgreSQL's server binaries: `$POCKETSHELL_PG_BIN`, else the newest `/usr/lib/postgresql/N/bin`. */
export function postgresBinDir(): string {
  const forced = process.env.POCKETSHELL_PG_BIN;
  if (forced) return forced;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): run scripts/install-system-deps.sh',
    );
  }
  return join(root, versions[0]!, 'bin');
}

/** How to run a program as the cluster's owner: as is, or (under root) as `postgres` through `setpriv`. */
function asOwner(): { prefix: string[]; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(
      'running as root and there is no postgres user to run PostgreSQL as (install postgresql)',
    );
  }
  return {
    prefix: ['setpriv', '--reuid', String(uid), '--regid', String(gid), '--init-groups', '--'],
    uid,
    gid,
  };
}

/** Starts a private cluster on 127.0.0.1 and waits until it accepts connections. */
export async function startPostgres(options: { timeoutMs?: number } = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  const owner = asOwner();
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-pg-'));
  const data = join(dir, 'data');
  const superPassword = randomBytes(18).toString('base64url');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${superPassword}\n`, { mode: 0o600 });
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
    try {
      execFileSync(owner.prefix[0]!, [...owner.prefix.slice(1), 'test', '-w', dir]);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`the postgres user cannot reach ${dir}: point TMPDIR at a folder others can traverse`);
    }
  }
  const run = (program: string, args: string[]) => {
    const argv = [...(owner?.prefix ?? []), join(bin, program), ...args];
    return { cmd: argv[0]!, args: argv.slice(1) };
  };
  try {
    const init = run('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      `--pwfile=${pwfile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ]);
    execFileSync(init.cmd, init.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(error as { stderr?: Buffer }).stderr?.toString() ?? error}`);
  }
  rmSync(pwfile, { force: true });

  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  for (let attempt = 0; attempt < 3 && child === undefined; attempt++) {
    port = await freePort();
    // the server's stdin is /dev/null; fd 3 keeps our pipe: at its EOF (stop(), or this process gone) the server ends
    const script =
      'exec 3<&0; "$@" </dev/null & pg=$!; (cat <&3 >/dev/null; kill -QUIT $pg 2>/dev/null) & wait $pg';
    const argv = [
      ...(owner?.prefix ?? []),
      'sh',
      '-c',
      script,
      'sh',
      join(bin, 'postgres'),
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      ...['listen_addresses=127.0.0.1', 'fsync=off', 'synchronous_commit=off', 'full_page_writes=off']
        .concat(['max_connections=200'])
        .flatMap((setting) => ['-c', setting]),
    ];
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    const gone = new Promise<void>((res) => proc.once('close', () => res()));
    const ready = await new Promise<boolean>((res, rej) => {
      const timer = setTimeout(() => {
        proc.stdin!.end();
        rej(new Error(`PostgreSQL did not start in time:\n${output}`));
      }, options.timeoutMs ?? 30_000);
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('ready to accept connections')) {
          clearTimeout(timer);
          res(true);
        }
      });
      proc.once('exit', () => {
        clearTimeout(timer);
        proc.stdin!.end();
        res(false);
      });
    }).catch(async (error: unknown) => {
      await gone;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    });
    if (ready) {
      child = proc;
      exited = gone;
    } else {
      await gone;
      if (!/could not bind|Address already in use/.test(output)) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL exited before it was ready:\n${output}`);
      }
    }
  }
  if (child === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL found no free port:\n${output}`);
  }
  const server = child;

  const admin = new Map<string, pg.Pool>();
  const pool = (database: string) => {
    let p = admin.get(database);
    if (p === undefined) {
      p = new pg.Pool({
        host: '127.0.0.1',
        port,
        user: 'postgres',
        password: superPassword,
        database,
        max: 2,
      });
      p.on('error', () => {}); // a terminated idle admin connection is simply dropped
      admin.set(database, p);
    }
    return p;
  };
  let count = 0;
  let stopping: Promise<void> | undefined;
  return {
    port,
    dir,
    logs: () => output,
    query: async (sql, values, database = 'postgres') => (await pool(database).query(sql, values)).rows,
    async createDatabase() {
      const n = ++count;
      const name = `relay_${n}_${randomBytes(3).toString('hex')}`;
      const password = randomBytes(18).toString('base64url');
      const p = pool('postgres');
      // identifiers and the password are ours (alphanumeric / base64url), safe to inline
      await p.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
      await p.query(`CREATE DATABASE ${name} OWNER ${name}`);
      const url = `postgres://${name}@127.0.0.1:${port}/${name}`;
      return { name, role: name, password, url, urlWithPassword: url.replace('@', `:${password}@`) };
    },
    stop() {
      stopping ??= (async () => {
        await Promise.all([...admin.values()].map((p) => p.end().catch(() => {})));
        server.stdin!.end();
        await exited;
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
