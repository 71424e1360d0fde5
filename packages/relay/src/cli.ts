/**
 * `pocketshell-relay`: runs the relay (`pocketshell-relay [serve] [options]`)
 * or manages enrollment tokens for closed registration
 * (`pocketshell-relay token create|list|revoke`). Maps errors to exit codes
 * at this edge: 0 ok, 1 runtime failure, 2 bad usage or configuration
 * (including a data folder others can write). Sets umask 077 first.
 * Logs are JSON lines on stdout; the first `listening` line names the URL.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { EXIT, isLoopbackHost, unixNow } from '@pocketshell/protocol';
import { loadConfig, parseRelayArgs, type RelayConfig } from './config.ts';
import { openDataStore } from './data-dir.ts';
import { describeDatabaseUrl } from './database-url.ts';
import { RelayError } from './errors.ts';
import { Logger } from './log.ts';
import { Relay } from './relay.ts';
import type { RelayStore } from './store.ts';
import { newToken } from './tokens.ts';
import { bundledWebRoot, missingWebHint, webClientBuilt } from './web-root.ts';

const USAGE = `usage:
  pocketshell-relay [serve] [--listen HOST:PORT] [--data DIR] [--public-url URL]
                    [--database postgres://USER@HOST/DB [--database-pool N] [--database-password-file FILE]]
                    [--registration open|token] [--turn-secret S] [--turn-url URL]... [--turn-ttl SECONDS]
                    [--tls-cert FILE --tls-key FILE] [--trust-proxy] [--web-root DIR]
                    [--log-level debug|info|warn|error] [--config FILE]
                    [--no-push] [--push-contact mailto:ADDR|https://URL] [--push-endpoint-host HOST[:PORT]]...
                    [--redis redis://HOST:PORT] [--node-id ID] [--redis-ttl SECONDS]
  pocketshell-relay token create [--label TEXT] [--uses N] [--ttl SECONDS] [--data DIR | --database URL]
  pocketshell-relay token list [--data DIR | --database URL]
  pocketshell-relay token revoke ID [--data DIR | --database URL]
Environment: POCKETSHELL_RELAY_<OPTION> (e.g. POCKETSHELL_RELAY_TURN_SECRET). See https://github.com/pocketshell/pocketshell/blob/main/docs/relay.md.
`;

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The configured store: SQLite in the data folder, or PostgreSQL (its driver
 * loaded only then). A pooled connection lost while idle is logged, not fatal.
 */
async function openStore(config: RelayConfig, log?: Logger): Promise<RelayStore> {
  const db = config.database;
  if (db.kind === 'sqlite') return openDataStore(config.dataDir);
  const { PostgresStore } = await import('./postgres-store.ts');
  return PostgresStore.open({
    url: db.url,
    password: db.password,
    poolSize: db.poolSize,
    onIdleError: (error) => log?.warn('database connection lost', { error: error.message }),
  });
}

/** Pulls `--label/--uses/--ttl` (token options) out of argv, leaving the relay options. */
function takeTokenOptions(argv: string[]): {
  rest: string[];
  label: string;
  uses: number;
  ttl: number | null;
} {
  const rest: string[] = [];
  let label = '';
  let uses = 1;
  let ttl: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=')
      ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
      : [a, undefined];
    if (flag === '--label' || flag === '--uses' || flag === '--ttl') {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new RelayError('config_invalid', `${flag} needs a value`);
      if (flag === '--label') label = v.slice(0, 200);
      else {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1)
          throw new RelayError('config_invalid', `${flag}: a positive integer`);
        if (flag === '--uses') uses = n;
        else ttl = n;
      }
    } else rest.push(a);
  }
  return { rest, label, uses, ttl };
}

async function tokenCommand(argv: string[], out: (s: string) => void): Promise<number> {
  const { rest, label, uses, ttl } = takeTokenOptions(argv);
  const { positionals } = parseRelayArgs(rest);
  const [, sub, arg] = positionals;
  const config = loadConfig({ argv: rest, env: process.env, readFile: readIfExists, homedir: homedir() });
  const store = await openStore(config);
  const now = unixNow();
  try {
    switch (sub) {
      case 'create': {
        const { value, record } = newToken({ label, uses, ttlSeconds: ttl, now });
        await store.createToken(record);
        out(`${JSON.stringify({ id: record.id, token: value, uses, expiresAt: record.expiresAt })}\n`);
        return 0;
      }
      case 'list':
        for (const t of await store.listTokens()) out(`${JSON.stringify(t)}\n`);
        return 0;
      case 'revoke':
        if (arg === undefined) throw new RelayError('config_invalid', 'token revoke needs an ID');
        if (!(await store.revokeToken(arg, now))) throw new RelayError('token_not_found', `no token ${arg}`);
        out(`${JSON.stringify({ id: arg, revoked: true })}\n`);
        return 0;
      default:
        throw new RelayError('config_invalid', 'token needs create, list or revoke');
    }
  } finally {
    await store.close();
  }
}

async function serve(argv: string[], out: (s: string) => void): Promise<number> {
  const { positionals } = parseRelayArgs(argv);
  if (positionals.length > 0) throw new RelayError('config_invalid', `unknown command ${positionals[0]}`);
  const config = loadConfig({
    argv,
    env: process.env,
    readFile: readIfExists,
    homedir: homedir(),
    defaultWebRoot: bundledWebRoot(),
  });
  const log = new Logger({ level: config.logLevel, write: out });
  // handlers first: a supervisor may signal as soon as it reads the `listening` line
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const store = await openStore(config, log);
  const relay = new Relay(config, { store, log });
  let url: string;
  try {
    ({ url } = await relay.listen());
  } catch (error) {
    await relay.close();
    throw error;
  }
  // printed whatever the level: supervisors and tests read the bound URL from it
  log.log(
    'info',
    'listening',
    {
      url,
      registration: config.registration,
      store: config.database.kind,
      // where, never how to log in: no password, no query
      ...(config.database.kind === 'postgres' ? { database: describeDatabaseUrl(config.database.url) } : {}),
      dataDir: config.dataDir,
      publicUrl: config.publicUrl,
      turn: config.turnSecret !== undefined,
      push: config.push.enabled,
      // the fleet this node joined (never the Redis URL: it may hold a password)
      ...(config.redis !== undefined ? { node: config.nodeId, fleet: true } : {}),
      // the web client served, or what is missing and how to fix it (served as soon as it is built)
      ...(config.webRoot !== undefined && webClientBuilt(config.webRoot)
        ? { web: config.webRoot }
        : {
            web: 'missing',
            webRoot: config.webRoot,
            webFix: config.webRoot ? missingWebHint(config.webRoot) : 'pass --web-root DIR',
          }),
    },
    true,
  );
  if (config.registration === 'open' && !isLoopbackHost(config.host)) {
    log.warn('open registration on a non-loopback address: anyone can register hosts');
  }
  const signal = await signalled;
  log.info('stopping', { signal });
  try {
    await relay.close();
  } catch (error) {
    log.error('close failed', { error: String((error as Error).message) });
    return 1;
  }
  log.info('stopped');
  return 0;
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string) => {
    process.stdout.write(s);
  };
  // whatever the relay creates is its own: the database, its journal, anything later
  process.umask(0o077);
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      out(USAGE);
      return 0;
    }
    const first = argv.find((a) => !a.startsWith('-'));
    if (first === 'token') return await tokenCommand(argv, out);
    return await serve(
      argv.filter((a, i) => !(a === 'serve' && i === argv.indexOf('serve'))),
      out,
    );
  } catch (error) {
    // `pocketshell-relay` has three exit codes: a relay code the catalogue does not call a runtime
    // failure (configuration, an unsafe data folder, an unknown token) is 2; anything else is 1.
    const code = error instanceof RelayError && error.exit !== EXIT.failure ? 2 : 1;
    process.stderr.write(
      `${JSON.stringify({ ts: new Date().toISOString(), level: 'error', msg: (error as Error).message, code: (error as RelayError).code ?? 'internal' })}\n`,
    );
    if (code === 2 && (error as RelayError).code !== 'data_insecure') process.stderr.write(USAGE);
    return code;
  }
}
