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
import {
  bundledWebRoot,
  defaultDataDir,
  Logger,
  loadConfig,
  newToken,
  openDataStore,
  Relay,
} from '@pocketshell/relay';
import { writeConfig } from './config.ts';
import { type RunningDaemon, startDaemon } from './daemon.ts';
import { CliError } from './exit-codes.ts';
import { pairingLoop } from './pairing-prompt.ts';

export interface UpOptions {
  paths: StatePaths;
  listen?: string;
  lan?: boolean;
  data?: string;
  yes: boolean;
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

/** The monorepo's built web client as the relay's default web root, like `pocketshell-relay`. */
function webRootDefault(): { defaultWebRoot?: string } {
  const root = bundledWebRoot();
  return root ? { defaultWebRoot: root } : {};
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
    ...webRootDefault(),
  });
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
    throw new CliError('unavailable', `the relay cannot listen on ${listen}: ${(error as Error).message}`);
  }
  const webUrl = bound.url;
  const relayUrl = `${webUrl.replace(/^http/, 'ws')}/ws`;
  let enroll: string | undefined;
  if (lan) {
    const token = newToken({
      label: 'pocketshell up',
      uses: 1,
      ttlSeconds: 600,
      now: Math.floor(Date.now() / 1000),
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
      ...(enroll ? { enroll } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (error) {
    await relay.close();
    throw error;
  }
  writeConfig(options.paths, { relay: relayUrl, web: webUrl });
  options.out(
    `PocketShell relay on ${webUrl} (data in ${config.dataDir}); host ${daemon.host.identity.name} is ${daemon.host.identity.id}.`,
  );
  if (!webUrl.startsWith('https:')) {
    options.out(
      'Note: installing the web app on a phone and push alerts need HTTPS. Put the relay behind a TLS reverse proxy (see docs/relay.md) or pass --tls-cert/--tls-key to pocketshell-relay.',
    );
  }
  const loop = pairingLoop(daemon.host.agent, { webUrl, yes: options.yes, out: options.out });
  let stopping: Promise<void> | undefined;
  return {
    relayUrl,
    webUrl,
    daemon,
    stop: () => {
      stopping ??= (async () => {
        loop.stop();
        await daemon.stop();
        await relay.close();
      })();
      return stopping;
    },
  };
}
