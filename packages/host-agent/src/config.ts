/**
 * The host's own settings file (`~/.pocketshell/config.json`, 0600):
 * which relay it uses, the web URL its pairing QR codes point at, and
 * `passEnv`: extra environment variables (names, or prefixes ending in
 * `*`) that terminal sessions get from the daemon's environment besides a
 * login's, and `sessionLimits`: the idle timeout and maximum lifetime of
 * sessions, for every device and per device (docs/host.md "Session
 * limits"). Schema-checked on read; written atomically.
 */
import { join } from 'node:path';
import {
  PASS_ENV_RE,
  readJsonFile,
  type SessionLimits,
  type SessionTimeouts,
  type StatePaths,
  writeJsonFile,
} from '@pocketshell/host-core/holder';
import {
  array,
  boolean,
  DEVICE_ID_RE,
  integer,
  type Obj,
  object,
  oneOf,
  optional,
  ProtocolError,
  string,
} from '@pocketshell/protocol';

/** Session limits in config.json, in minutes; absent or 0 means none. */
export interface MinuteLimits {
  /** Close a session after this many minutes without input from any device. */
  idleMinutes?: number;
  /** Close a session this many minutes after it started. */
  maxLifetimeMinutes?: number;
}

/** `sessionLimits` in config.json: for every device, and per device id (overriding key by key). */
export interface SessionLimitsConfig {
  default?: MinuteLimits;
  devices?: Record<string, MinuteLimits>;
}

/** Longest limit in minutes (a year). */
export const MAX_LIMIT_MINUTES = 365 * 24 * 60;
/** Most per-device entries. */
const MAX_LIMIT_DEVICES = 256;

export interface HostConfig {
  /** `ws[s]://…/ws` */
  relay?: string;
  /** Other nodes of the same relay fleet (`ws[s]://…/ws`), tried in turn when the current one drops (docs/operations.md "Fleet"). */
  relayFallbacks?: string[];
  /** `http[s]://…` where the web client is served (pairing URLs). */
  web?: string;
  /** Extra variables sessions get from the daemon's environment (never `POCKETSHELL_*`). */
  passEnv?: string[];
  /** Idle timeout and maximum lifetime of sessions (default: none). */
  sessionLimits?: SessionLimitsConfig;
  /** The alert center (docs/host.md "Alerts"): the evaluator's interval and the `exec` hook. */
  alerts?: AlertsConfig;
  /** Agent sessions (docs/host.md "Agents"): the sandbox and its network. */
  agents?: AgentsConfig;
}

/** `agents` in config.json. */
export interface AgentsConfig {
  /** `false` runs agents without bubblewrap even where it works (the app then says so). Default true. */
  sandbox?: boolean;
  /** `off` cuts the sandboxed agent off the network (it then cannot reach its model's API unless local). Default `on`. */
  network?: 'on' | 'off';
}

function agentsConfig(o: Obj, key: string): AgentsConfig {
  const v = object(o[key], key);
  const out: AgentsConfig = {};
  const sandbox = optional(v, 'sandbox', boolean);
  const network = optional(v, 'network', (x, k) => oneOf(x, k, ['on', 'off'] as const));
  if (sandbox !== undefined) out.sandbox = sandbox;
  if (network !== undefined) out.network = network;
  return out;
}

/** `alerts` in config.json. */
export interface AlertsConfig {
  /** A command run for each alert, the alert as JSON on its stdin (argv, no shell). */
  exec?: string[];
  /** How often the rules are evaluated, in milliseconds (default 5000). */
  sampleMs?: number;
}

/** Fastest and slowest evaluator interval config.json may set. */
export const ALERT_SAMPLE_RANGE = { min: 1000, max: 300_000 } as const;

function alertsConfig(o: Obj, key: string): AlertsConfig {
  const v = object(o[key], key);
  const out: AlertsConfig = {};
  const exec = optional(v, 'exec', (x, k) =>
    array(x, k, 64, (a, f) => string({ [f]: a }, f, 4096, /^[^\0]*$/)),
  );
  if (exec !== undefined) {
    if (exec.length === 0 || !exec[0]) throw new ProtocolError('bad_message', 'alerts.exec: name a command');
    out.exec = exec;
  }
  const sampleMs = optional(v, 'sampleMs', (x, k) =>
    integer(x, k, ALERT_SAMPLE_RANGE.min, ALERT_SAMPLE_RANGE.max),
  );
  if (sampleMs !== undefined) out.sampleMs = sampleMs;
  return out;
}

function minuteLimits(o: Obj, key: string): MinuteLimits {
  const v = object(o[key], key);
  const out: MinuteLimits = {};
  const idle = optional(v, 'idleMinutes', (x, k) => integer(x, k, 0, MAX_LIMIT_MINUTES));
  const life = optional(v, 'maxLifetimeMinutes', (x, k) => integer(x, k, 0, MAX_LIMIT_MINUTES));
  if (idle !== undefined) out.idleMinutes = idle;
  if (life !== undefined) out.maxLifetimeMinutes = life;
  return out;
}

function sessionLimits(o: Obj, key: string): SessionLimitsConfig {
  const v = object(o[key], key);
  const out: SessionLimitsConfig = {};
  const def = optional(v, 'default', minuteLimits);
  if (def !== undefined) out.default = def;
  if (v.devices !== undefined) {
    const d = object(v.devices, 'devices');
    const ids = Object.keys(d);
    if (ids.length > MAX_LIMIT_DEVICES) throw new ProtocolError('bad_message', 'devices: too many');
    // Rebuilt key by key; only device ids pass (so never `__proto__`).
    const devices: Record<string, MinuteLimits> = {};
    for (const id of ids) {
      if (!DEVICE_ID_RE.test(id))
        throw new ProtocolError('bad_message', `devices: ${id.slice(0, 40)} is not a device id`);
      devices[id] = minuteLimits(d, id);
    }
    out.devices = devices;
  }
  return out;
}

const msOf = (l: MinuteLimits): SessionLimits => ({
  ...(l.idleMinutes !== undefined ? { idleMs: l.idleMinutes * 60_000 } : {}),
  ...(l.maxLifetimeMinutes !== undefined ? { maxLifetimeMs: l.maxLifetimeMinutes * 60_000 } : {}),
});

/** The session limits config.json sets, as host-core takes them (milliseconds). */
export function sessionTimeoutsOf(config: HostConfig): SessionTimeouts {
  const c = config.sessionLimits ?? {};
  return {
    ...(c.default ? { default: msOf(c.default) } : {}),
    ...(c.devices
      ? { devices: Object.fromEntries(Object.entries(c.devices).map(([id, l]) => [id, msOf(l)])) }
      : {}),
  };
}

const WS_RE = /^wss?:\/\/[\x21-\x7e]{1,250}$/;
const HTTP_RE = /^https?:\/\/[\x21-\x7e]{1,250}$/;

function parse(value: unknown): HostConfig {
  const o = object(value, 'config');
  const c: HostConfig = {};
  const relay = optional(o, 'relay', (x, k) => string(x, k, 256, WS_RE));
  const web = optional(o, 'web', (x, k) => string(x, k, 256, HTTP_RE));
  const relayFallbacks = optional(o, 'relayFallbacks', (x, k) =>
    array(x, k, 8, (v, f) => string({ [f]: v }, f, 256, WS_RE)),
  );
  const passEnv = optional(o, 'passEnv', (x, k) =>
    array(x, k, 64, (v, f) => string({ [f]: v }, f, 129, PASS_ENV_RE)),
  );
  const limits = optional(o, 'sessionLimits', sessionLimits);
  const alerts = optional(o, 'alerts', alertsConfig);
  const agents = optional(o, 'agents', agentsConfig);
  if (relay !== undefined) c.relay = relay;
  if (web !== undefined) c.web = web;
  if (relayFallbacks !== undefined) c.relayFallbacks = relayFallbacks;
  if (passEnv !== undefined) c.passEnv = passEnv;
  if (limits !== undefined) c.sessionLimits = limits;
  if (alerts !== undefined) c.alerts = alerts;
  if (agents !== undefined) c.agents = agents;
  return c;
}

export function readConfig(paths: StatePaths): HostConfig {
  return readJsonFile(paths.config, parse) ?? {};
}

/** Writes `config` over the keys it names; the others (e.g. `passEnv`) are kept. */
export function writeConfig(paths: StatePaths, config: HostConfig): void {
  writeJsonFile(paths.config, parse({ ...readConfig(paths), ...config }));
}

/**
 * Where people read the docs: the repository's docs folder on GitHub (the
 * repository the packages name in package.json). Messages link here, never
 * to a repository path an installed user does not have.
 */
export const DOCS = 'https://github.com/pocketshell/pocketshell/blob/main/docs';

/** Where the daemon's local API listens. */
export function socketPath(paths: StatePaths): string {
  return join(paths.root, 'agent.sock');
}

/** The relay's WebSocket URL for a relay base URL (`http://h:p` → `ws://h:p/ws`); ws URLs pass through. */
export function relayUrls(url: string): { relay: string; web: string } {
  const u = new URL(url);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') {
    const web = new URL(url);
    web.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    web.pathname = '/';
    return { relay: url, web: web.origin };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not a relay URL: ${url}`);
  const ws = new URL(url);
  ws.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.pathname = '/ws';
  return { relay: ws.toString(), web: u.origin };
}
