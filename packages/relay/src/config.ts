/**
 * Relay configuration: one `RelayConfig` built from, in increasing
 * precedence, the defaults, a JSON config file, `POCKETSHELL_RELAY_*`
 * environment variables and command-line options. Pure: argv, env, the
 * file reader and the home directory are passed in. Validates everything
 * and throws `RelayError('config_invalid')` naming the setting.
 */
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isLoopbackHost } from '@pocketshell/protocol';
import { isPostgresUrl, urlHasPassword } from './database-url.ts';
import { RelayError } from './errors.ts';
import { isNodeId, randomNodeId } from './fleet.ts';
import { DEFAULT_LIMITS, type Limits, mergeLimits } from './limits.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';
import {
  checkEndpointHost,
  DEFAULT_PUSH_ENDPOINT_HOSTS,
  defaultPushContact,
  type PushConfig,
} from './push.ts';

/** Who may register a new host. */
export type Registration = 'open' | 'token';

/**
 * Where the relay keeps its data: the embedded SQLite file in the data
 * directory (the default), or a PostgreSQL database several relays can share.
 * `password` (from `--database-password-file`) is a secret: never logged.
 */
export type DatabaseConfig =
  | { kind: 'sqlite' }
  | { kind: 'postgres'; url: string; password: string | undefined; poolSize: number };

/** Everything the relay process needs to run. */
export interface RelayConfig {
  /** Address to listen on. */
  host: string;
  /** Port (0: any free port). */
  port: number;
  /** Directory holding the SQLite database (when `database` is SQLite) and the VAPID key. */
  dataDir: string;
  database: DatabaseConfig;
  /** Public base URL (`https://relay.example`); the auth challenge's origin comes from it. */
  publicUrl: string | undefined;
  registration: Registration;
  /** Shared secret with coturn (`static-auth-secret`). */
  turnSecret: string | undefined;
  /** TURN/STUN URLs handed to clients. */
  turnUrls: string[];
  /** Lifetime of TURN credentials, seconds (≤ 3600). */
  turnTtlSeconds: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** Trust `X-Forwarded-Proto` / `X-Forwarded-For` from a reverse proxy. */
  trustProxy: boolean;
  /** Directory of the built web client (served when it exists). */
  webRoot: string | undefined;
  logLevel: LogLevel;
  limits: Limits;
  /** Web Push (docs/relay.md "Web Push"). */
  push: PushConfig;
  /** Redis URL of the fleet this node belongs to (docs/operations.md "Fleet"); undefined: a single node. */
  redis: string | undefined;
  /** This node's id in the fleet (default: random at each start). */
  nodeId: string;
  /** Seconds a node's entries in Redis live without renewal. */
  redisTtlSeconds: number;
}

/** The option names, shared by argv, env (`POCKETSHELL_RELAY_` + upper snake) and the config file (camelCase). */
const OPTIONS = {
  listen: { type: 'string' },
  data: { type: 'string' },
  database: { type: 'string' },
  'database-pool': { type: 'string' },
  'database-password-file': { type: 'string' },
  'public-url': { type: 'string' },
  registration: { type: 'string' },
  'turn-secret': { type: 'string' },
  'turn-url': { type: 'string', multiple: true },
  'turn-ttl': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'trust-proxy': { type: 'boolean' },
  'web-root': { type: 'string' },
  'log-level': { type: 'string' },
  'no-push': { type: 'boolean' },
  'push-contact': { type: 'string' },
  'push-endpoint-host': { type: 'string', multiple: true },
  redis: { type: 'string' },
  'node-id': { type: 'string' },
  'redis-ttl': { type: 'string' },
  config: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Raw = Partial<Record<OptionName, string | string[] | boolean>>;

/** What `loadConfig` reads from the world. */
export interface ConfigSources {
  argv: string[];
  env: Record<string, string | undefined>;
  /** Reads a file as UTF-8, or returns undefined when it does not exist. */
  readFile: (path: string) => string | undefined;
  homedir: string;
  /** Web root used when none is configured (the monorepo's built web client). */
  defaultWebRoot?: string;
}

function fail(what: string, why: string): never {
  throw new RelayError('config_invalid', `${what}: ${why}`);
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function envName(name: string): string {
  return `POCKETSHELL_RELAY_${name.replace(/-/g, '_').toUpperCase()}`;
}

/** Parses argv into raw option values (subcommand positionals are the caller's business). */
export function parseRelayArgs(argv: string[]): { raw: Raw; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { raw: values as Raw, positionals };
  } catch (cause) {
    throw new RelayError('config_invalid', (cause as Error).message, { cause });
  }
}

function fromEnv(env: Record<string, string | undefined>): Raw {
  const raw: Raw = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) {
    const v = env[envName(name)];
    if (v === undefined || v === '') continue;
    const spec = OPTIONS[name] as { type: string; multiple?: boolean };
    if (spec.type === 'boolean') raw[name] = v === '1' || v === 'true' || v === 'yes';
    else if (spec.multiple)
      raw[name] = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else raw[name] = v;
  }
  return raw;
}

/** What a config file may hold besides the options: `limits` and `push`. */
interface FileExtras {
  limits: unknown;
  push: { enabled?: boolean; contact?: string; endpoints?: string[] };
}

/** The config file's `push` object: `{enabled?, contact?, endpoints?}`. */
function filePush(v: unknown, path: string): FileExtras['push'] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${path}: push`, 'expected an object');
  const out: FileExtras['push'] = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'enabled' && typeof x === 'boolean') out.enabled = x;
    else if (k === 'contact' && typeof x === 'string') out.contact = x;
    else if (k === 'endpoints' && Array.isArray(x) && x.every((e) => typeof e === 'string'))
      out.endpoints = x;
    else
      fail(
        `${path}: push.${k}`,
        'unknown setting or wrong type (enabled: boolean, contact: string, endpoints: strings)',
      );
  }
  return out;
}

function fromFile(text: string, path: string): { raw: Raw } & FileExtras {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new RelayError('config_invalid', `${path}: not JSON`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    fail(path, 'expected an object');
  const raw: Raw = {};
  let limits: unknown;
  let push: FileExtras['push'] = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (k === 'limits') {
      limits = v;
      continue;
    }
    if (k === 'push') {
      push = filePush(v, path);
      continue;
    }
    const name = (Object.keys(OPTIONS) as OptionName[]).find((n) => camel(n) === k);
    if (name === undefined || name === 'config') fail(`${path}: ${k}`, 'unknown setting');
    const spec = OPTIONS[name] as { type: string; multiple?: boolean };
    if (
      spec.type === 'boolean'
        ? typeof v !== 'boolean'
        : spec.multiple
          ? !Array.isArray(v)
          : typeof v !== 'string'
    ) {
      fail(
        `${path}: ${k}`,
        `expected ${spec.type === 'boolean' ? 'a boolean' : spec.multiple ? 'an array of strings' : 'a string'}`,
      );
    }
    raw[name] = v as string | string[] | boolean;
  }
  return { raw, limits, push };
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) fail('listen', 'expected HOST:PORT (IPv6 as [ADDR]:PORT)');
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (port > 65535) fail('listen', 'port out of range');
  if (m[1] !== undefined && isIP(host) !== 6) fail('listen', 'bad IPv6 address');
  return { host, port };
}

/** `--database` / `--database-pool` / `--database-password-file`: SQLite unless a PostgreSQL URL is given. */
function databaseConfig(raw: Raw, readFile: ConfigSources['readFile']): DatabaseConfig {
  const url = raw.database as string | undefined;
  const pool = raw['database-pool'] as string | undefined;
  const passwordFile = raw['database-password-file'] as string | undefined;
  if (url === undefined) {
    if (pool !== undefined) fail('database-pool', 'only with --database');
    if (passwordFile !== undefined) fail('database-password-file', 'only with --database');
    return { kind: 'sqlite' };
  }
  // the URL may hold a password: these messages never repeat it
  if (!isPostgresUrl(url)) fail('database', 'expected a postgres:// or postgresql:// URL');
  if (url.length > 2048 || !/^[\x21-\x7e]+$/.test(url)) fail('database', 'not a URL');
  const poolSize = Number(pool ?? '10');
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 100) {
    fail('database-pool', 'an integer between 1 and 100');
  }
  let password: string | undefined;
  if (passwordFile !== undefined) {
    if (urlHasPassword(url)) fail('database-password-file', 'the database URL already has a password');
    const text = readFile(passwordFile);
    if (text === undefined) fail('database-password-file', `${passwordFile} does not exist`);
    password = text.replace(/\r?\n$/, '');
    if (password === '' || password.includes('\n')) fail('database-password-file', 'expected one line');
  }
  return { kind: 'postgres', url, password, poolSize };
}

/** Default data directory: `$XDG_DATA_HOME/pocketshell-relay` or `~/.local/share/pocketshell-relay`. */
export function defaultDataDir(env: Record<string, string | undefined>, homedir: string): string {
  const base = env.XDG_DATA_HOME || join(homedir, '.local', 'share');
  return join(base, 'pocketshell-relay');
}

/** Default config file: `$XDG_CONFIG_HOME/pocketshell-relay/relay.json`. */
export function defaultConfigFile(env: Record<string, string | undefined>, homedir: string): string {
  const base = env.XDG_CONFIG_HOME || join(homedir, '.config');
  return join(base, 'pocketshell-relay', 'relay.json');
}

/** Builds the configuration from its sources. */
export function loadConfig(sources: ConfigSources): RelayConfig {
  const { raw: cli } = parseRelayArgs(sources.argv);
  const env = fromEnv(sources.env);
  const explicitFile = (cli.config ?? env.config) as string | undefined;
  const filePath = explicitFile ?? defaultConfigFile(sources.env, sources.homedir);
  const text = sources.readFile(filePath);
  if (text === undefined && explicitFile !== undefined) fail('config', `${explicitFile} does not exist`);
  const file =
    text === undefined ? { raw: {} as Raw, limits: undefined, push: {} } : fromFile(text, filePath);
  const raw: Raw = { ...file.raw, ...env, ...cli };
  const str = (n: OptionName) => raw[n] as string | undefined;

  const { host, port } = parseListen(str('listen') ?? '127.0.0.1:8080');
  const registrationRaw = str('registration') ?? (isLoopbackHost(host) ? 'open' : 'token');
  if (registrationRaw !== 'open' && registrationRaw !== 'token')
    fail('registration', 'expected open or token');

  const publicUrl = str('public-url');
  if (publicUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(publicUrl);
    } catch {
      fail('public-url', 'not a URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('public-url', 'expected http(s)://');
  }

  const turnUrls = (raw['turn-url'] as string[] | undefined) ?? [];
  for (const u of turnUrls) {
    if (!/^(stun|stuns|turn|turns):[\x21-\x7e]{1,250}$/.test(u))
      fail('turn-url', `bad URL ${JSON.stringify(u)}`);
  }
  const turnSecret = str('turn-secret');
  if (turnSecret !== undefined && turnSecret.length < 16) fail('turn-secret', 'at least 16 characters');
  const turnTtlSeconds = Number(str('turn-ttl') ?? '3600');
  if (!Number.isInteger(turnTtlSeconds) || turnTtlSeconds < 60 || turnTtlSeconds > 3600) {
    fail('turn-ttl', 'an integer between 60 and 3600 seconds');
  }

  const tlsCert = str('tls-cert');
  const tlsKey = str('tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) fail('tls-cert/tls-key', 'give both or neither');

  const logLevel = str('log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    fail('log-level', `one of ${LOG_LEVELS.join(', ')}`);

  const contact = str('push-contact') ?? file.push.contact ?? defaultPushContact(publicUrl);
  if (!/^(mailto:[^\s@]+@[^\s@]+|https:\/\/[\x21-\x7e]+)$/.test(contact) || contact.length > 200) {
    fail('push-contact', 'a mailto: address or an https: URL');
  }
  const push: PushConfig = {
    enabled: raw['no-push'] !== true && file.push.enabled !== false,
    contact,
    endpointHosts: [
      ...new Set(
        [
          ...DEFAULT_PUSH_ENDPOINT_HOSTS,
          ...(file.push.endpoints ?? []),
          ...((raw['push-endpoint-host'] as string[] | undefined) ?? []),
        ].map(checkEndpointHost),
      ),
    ],
  };

  const redis = str('redis');
  if (redis !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(redis);
    } catch {
      u = undefined;
    }
    // never echo the URL: it may hold Redis's password
    if (u === undefined || (u.protocol !== 'redis:' && u.protocol !== 'rediss:')) {
      fail('redis', 'expected redis://[user:password@]host:port[/db] or rediss://…');
    }
  }
  const nodeId = str('node-id') ?? randomNodeId();
  if (!isNodeId(nodeId)) fail('node-id', 'letters, digits, _ and -, at most 64');
  const redisTtlSeconds = Number(str('redis-ttl') ?? '15');
  if (!Number.isInteger(redisTtlSeconds) || redisTtlSeconds < 2 || redisTtlSeconds > 300) {
    fail('redis-ttl', 'an integer between 2 and 300 seconds');
  }
  const database = databaseConfig(raw, sources.readFile);

  let limits: Limits;
  try {
    limits = mergeLimits(DEFAULT_LIMITS, file.limits);
  } catch (cause) {
    throw new RelayError('config_invalid', (cause as Error).message, { cause });
  }

  return {
    host,
    port,
    dataDir: str('data') ?? defaultDataDir(sources.env, sources.homedir),
    database,
    publicUrl,
    registration: registrationRaw,
    turnSecret,
    turnUrls,
    turnTtlSeconds,
    tlsCert,
    tlsKey,
    trustProxy: raw['trust-proxy'] === true,
    webRoot: str('web-root') ?? sources.defaultWebRoot,
    logLevel: logLevel as LogLevel,
    limits,
    push,
    redis,
    nodeId,
    redisTtlSeconds,
  };
}
