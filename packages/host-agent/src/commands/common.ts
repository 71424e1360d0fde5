/**
 * What the `pocketshell` commands share: the `Cli` context each one is
 * registered with (output, environment, version), the state folder, the
 * `--allow-root` guard, `--json` output and tables, argv checks that are
 * usage errors (`--grants`, `--relay`), the daemon's local API and the
 * service backend. Each command module (`commands/*.ts`) exports one function
 * that adds its command to the program; `cli.ts` assembles them, installs the
 * guard and maps errors to exit codes.
 */
import { checkNotRoot, type StatePaths, statePaths } from '@pocketshell/host-core';
import { GRANTS, type Grant } from '@pocketshell/protocol';
import type { Command } from 'commander';
import { readConfig, relayUrls, socketPath } from '../config.ts';
import { CliError } from '../exit-codes.ts';
import { LocalClient } from '../local-api.ts';
import { type ServiceBackend, serviceBackend } from '../service/index.ts';

/** Where a command writes and what it reads of the world. */
export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

/** What every command is registered with. */
export interface Cli {
  io: Io;
  /** This package's version (read by `cli.ts`, which the bundle keeps beside its package.json). */
  version: string;
}

/** The state folder (`POCKETSHELL_HOME`, default `~/.pocketshell`). */
export function paths(io: Io): StatePaths {
  return statePaths({ env: io.env });
}

/**
 * The root guard, a `preAction` hook of the program: a command that has
 * `--allow-root` refuses to run as root unless given it (or
 * `POCKETSHELL_ALLOW_ROOT=1`), before its action starts.
 */
export function refuseRoot(io: Io): (program: Command, action: Command) => void {
  return (_, action) => {
    if (!action.options.some((o) => o.long === '--allow-root')) return;
    const flag = (action.opts() as { allowRoot?: boolean }).allowRoot;
    checkNotRoot({ allowRoot: flag === true || io.env.POCKETSHELL_ALLOW_ROOT === '1' });
  };
}

/** Prints `data` as JSON under `--json`, else the text `text` makes of it. */
export function print<T>(io: Io, o: { json?: boolean }, data: T, text: (data: T) => string): void {
  io.out(o.json ? JSON.stringify(data, null, 2) : text(data));
}

/** `--grants a,b` checked: a usage error naming the unknown grant. */
export function parseGrants(text: string): Grant[] {
  const grants = text
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  for (const g of grants) {
    if (!(GRANTS as readonly string[]).includes(g)) {
      throw new CliError('config_invalid', `unknown grant ${g}; known: ${GRANTS.join(', ')}`);
    }
  }
  return grants as Grant[];
}

/** `--relay URL` checked: a usage error naming the flag when it is not a relay URL. */
export function relayFlag(flag: string): { relay: string; web: string } {
  try {
    return relayUrls(flag);
  } catch {
    throw new CliError(
      'config_invalid',
      `--relay ${JSON.stringify(flag.slice(0, 200))} is not a relay URL; give its address, e.g. --relay https://relay.example or --relay http://127.0.0.1:8080`,
    );
  }
}

/** The relay of `--relay`, else of config.json; a usage error when there is neither. */
export function relayFrom(p: StatePaths, flag: string | undefined): { relay: string; web: string } {
  if (flag !== undefined) return relayFlag(flag);
  const c = readConfig(p);
  if (!c.relay)
    throw new CliError(
      'config_invalid',
      'no relay configured: pass --relay URL (e.g. https://relay.example)',
    );
  return { relay: c.relay, web: c.web ?? relayUrls(c.relay).web };
}

/** The running daemon's local API, or null when no daemon answers. */
export async function daemonClient(p: StatePaths): Promise<LocalClient | null> {
  return LocalClient.connect(socketPath(p));
}

/**
 * Runs `use` against the running daemon and closes the connection after;
 * undefined when no daemon answers (`use` then never runs).
 */
export async function withDaemon<T>(
  p: StatePaths,
  use: (client: LocalClient) => Promise<T>,
): Promise<T | undefined> {
  const client = await daemonClient(p);
  if (!client) return undefined;
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** This machine's service backend (systemd --user, launchd, or a detached process). */
export function serviceFor({ io }: Cli, p: StatePaths, linger?: boolean): Promise<ServiceBackend> {
  return serviceBackend({ paths: p, env: io.env, note: io.err, ...(linger ? { linger: true } : {}) });
}

/** Rows as columns two spaces apart, each as wide as its widest cell. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
