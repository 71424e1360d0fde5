/**
 * `pocketshell up`: everything on one machine for a first try — a relay on
 * its embedded database and this machine's agent connected to it — then
 * pairing codes, one after another, printed as a QR code and a URL. With
 * `--lan` the relay listens on the machine's LAN address and the QR code
 * names it, so a phone on the same network can pair; its registration is
 * closed, and the agent enrolls itself with a one-use token.
 */
import { readFileSync } from 'node:fs';
import { homedir, networkInterfaces } from 'node:os';
import type { StatePaths } from '@pocketshell/host-core';
import type { Grant } from '@pocketshell/protocol';
import { once, unixNow } from '@pocketshell/protocol';
import {
  bundledWebRoot,
  defaultDataDir,
  ensureWebClient,
  Logger,
  loadConfig,
  missingWebHint,
  newToken,
  openDataStore,
  Relay,
  webClientBuilt,
} from '@pocketshell/relay';
import { DOCS, writeConfig } from './config.ts';
import { type RunningDaemon, startDaemon } from './daemon.ts';
import { CliError } from './exit-codes.ts';
import { stderrLog } from './log.ts';
import { pairingLoop } from './pairing-prompt.ts';

export interface UpOptions {
  paths: StatePaths;
  listen?: string;
  lan?: boolean;
  data?: string;
  yes: boolean;
  /** Grants for each device the pairing loop pairs (default: `shell`). */
  grants?: readonly Grant[];
  /** Accept a device whose name is pinned under another key (`--yes` never does). */
  acceptKeyChange?: boolean;
  version: string;
  out: (line: string) => void;
}

/** The first non-internal IPv4 address, if any. */
export function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/**
 * The web client the relay will serve: in a source checkout it is built
 * now when missing or older than its sources (about a second with Vite),
 * so the printed URL opens the app on the first try. A failed build is
 * said plainly; the relay then serves a page that says what is missing.
 */
async function prepareWebClient(root: string, out: (line: string) => void): Promise<void> {
  try {
    await ensureWebClient(root, (reason) =>
      out(`Building the web client (${reason === 'stale' ? 'its sources changed' : 'first run'})…`),
    );
  } catch (error) {
    out(`The web client could not be built: ${(error as Error).message}`);
  }
  if (!webClientBuilt(root))
    out(`No web client in ${root}: phones will see a page that says so. To fix: ${missingWebHint(root)}.`);
}

/** How the person started us, to show the same command back with more options. */
function upCommand(): string {
  return process.env.npm_lifecycle_event === 'start' ? 'npm start --' : 'pocketshell up';
}

/** What to say next to each QR code about reaching this relay from a phone. */
export function reachNote(webUrl: string, lan: boolean): string {
  const host = new URL(webUrl).hostname;
  const lines: string[] = [];
  if (!lan && (host === '127.0.0.1' || host === 'localhost' || host === '[::1]')) {
    lines.push(
      `This URL works only in a browser on this machine (${host}). For a phone on the same network, run: ${upCommand()} --lan`,
    );
  }
  if (!webUrl.startsWith('https:')) {
    lines.push(
      'Without HTTPS, pairing and the terminal work; installing the app, push alerts and clipboard paste need HTTPS:',
      `put the relay behind a TLS reverse proxy (${DOCS}/relay.md#behind-a-reverse-proxy).`,
    );
  }
  return lines.join('\n');
}

export interface RunningUp {
  relayUrl: string;
  webUrl: string;
  daemon: RunningDaemon;
  stop(): Promise<void>;
}

/** Starts relay + agent and the pairing loop; resolves once both run. */
export async function up(options: UpOptions): Promise<RunningUp> {
  const lan = options.lan ? lanAddress() : undefined;
  if (options.lan && !lan)
    throw new CliError('unavailable', 'no LAN address found (no non-loopback IPv4 interface)');
  const port = options.listen?.split(':').pop() ?? '8080';
  const listen = lan ? `${lan}:${port}` : (options.listen ?? '127.0.0.1:8080');
  const dataDir = options.data ?? defaultDataDir(process.env, homedir());
  const argv = ['--listen', listen, '--data', dataDir, ...(lan ? ['--registration', 'token'] : [])];
  const config = loadConfig({
    argv,
    env: {},
    readFile: (p) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
    homedir: homedir(),
    defaultWebRoot: bundledWebRoot(),
  });
  if (config.webRoot) await prepareWebClient(config.webRoot, options.out);
  const store = openDataStore(config.dataDir);
  const relay = new Relay(config, {
    store,
    log: new Logger({
      level: 'warn',
      write: (line) => process.stderr.write(line.endsWith('\n') ? line : `${line}\n`),
    }),
  });
  let bound: { url: string; port: number };
  try {
    bound = await relay.listen();
  } catch (error) {
    await relay.close();
    const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
    const host = listen.slice(0, listen.lastIndexOf(':')) || '127.0.0.1';
    if (cause?.code === 'EADDRINUSE')
      throw new CliError(
        'port_in_use',
        `port ${port} on ${host} is in use (another pocketshell up or relay?); pick another port with --listen ${host}:PORT, e.g. --listen ${host}:${Number(port) + 1}`,
      );
    throw new CliError(
      'unavailable',
      `the relay cannot listen on ${listen}: ${cause?.message ?? (error as Error).message}`,
    );
  }
  const webUrl = bound.url;
  const relayUrl = `${webUrl.replace(/^http/, 'ws')}/ws`;
  let enroll: string | undefined;
  if (lan) {
    const token = newToken({
      label: 'pocketshell up',
      uses: 1,
      ttlSeconds: 600,
      now: unixNow(),
    });
    await store.createToken(token.record);
    enroll = token.value;
  }
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({
      paths: options.paths,
      relayUrl,
      webUrl,
      version: options.version,
      mode: 'up',
      ...(enroll ? { enroll } : {}),
      log: stderrLog(),
    });
  } catch (error) {
    await relay.close();
    throw error;
  }
  writeConfig(options.paths, { relay: relayUrl, web: webUrl });
  options.out(
    `PocketShell relay on ${webUrl} (data in ${config.dataDir}); host ${daemon.host.identity.name} is ${daemon.host.identity.id}.`,
  );
  const loop = pairingLoop(daemon.host.agent, {
    webUrl,
    yes: options.yes,
    ...(options.grants ? { grants: options.grants } : {}),
    ...(options.acceptKeyChange ? { acceptKeyChange: true } : {}),
    out: options.out,
    note: reachNote(webUrl, lan !== undefined),
  });
  // Stops the pairing loop, then the daemon, then the relay it talks to.
  const stop = once(async () => {
    loop.stop();
    await daemon.stop();
    await relay.close();
  });
  return { relayUrl, webUrl, daemon, stop };
}
