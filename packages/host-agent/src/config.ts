/**
 * The host's own settings file (`~/.pocketshell/config.json`, 0600):
 * which relay it uses, the web URL its pairing QR codes point at, and
 * `passEnv`: extra environment variables (names, or prefixes ending in
 * `*`) that terminal sessions get from the daemon's environment besides a
 * login's (docs/host.md). Schema-checked on read; written atomically.
 */
import { join } from 'node:path';
import { PASS_ENV_RE, readJsonFile, type StatePaths, writeJsonFile } from '@pocketshell/host-core';
import { array, object, optional, string } from '@pocketshell/protocol';

export interface HostConfig {
  /** `ws[s]://…/ws` */
  relay?: string;
  /** `http[s]://…` where the web client is served (pairing URLs). */
  web?: string;
  /** Extra variables sessions get from the daemon's environment (never `POCKETSHELL_*`). */
  passEnv?: string[];
}

const WS_RE = /^wss?:\/\/[\x21-\x7e]{1,250}$/;
const HTTP_RE = /^https?:\/\/[\x21-\x7e]{1,250}$/;

function parse(value: unknown): HostConfig {
  const o = object(value, 'config');
  const c: HostConfig = {};
  const relay = optional(o, 'relay', (x, k) => string(x, k, 256, WS_RE));
  const web = optional(o, 'web', (x, k) => string(x, k, 256, HTTP_RE));
  const passEnv = optional(o, 'passEnv', (x, k) =>
    array(x, k, 64, (v, f) => string({ [f]: v }, f, 129, PASS_ENV_RE)),
  );
  if (relay !== undefined) c.relay = relay;
  if (web !== undefined) c.web = web;
  if (passEnv !== undefined) c.passEnv = passEnv;
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
