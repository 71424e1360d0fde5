/**
 * Helpers for end-to-end tests that drive the real `pocketshell` command:
 * run it to completion, start it as a long-lived process, read lines from
 * its output, and a Node device and a host agent wired for loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Device, type TerminalClient } from '@pocketshell/client';
import {
  type EngineName,
  type OpenedHost,
  type OpenHostOptions,
  openHost,
  statePaths,
} from '@pocketshell/host-core';
import { generateKeyPair, type KeyPair, type WebSocketFactory } from '@pocketshell/protocol';
import { isLoopbackIPv4, NodeDataChannelEngine, WeriftEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const POCKETSHELL = fileURLToPath(
  new URL('../../packages/host-agent/bin/pocketshell.js', import.meta.url),
);

/** Runs `pocketshell args…` to completion. */
export function pocketshell(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
  bin: string = POCKETSHELL,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env },
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pocketshell ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolves with the first match of `re` in a growing stream of output. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}; output so far: ${text.slice(-500)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = re.exec(text);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

/**
 * A host agent in process, its state under `<home>/state`, `/bin/sh` as the
 * shell, werift on 127.0.0.1 with loopback candidates only, no ICE servers,
 * short reconnect backoff; `extra` adds or overrides options. Not started.
 */
export function openLoopbackHost(
  relayWsUrl: string,
  home: string,
  extra: Partial<Omit<OpenHostOptions, 'holder'>> = {},
): Promise<OpenedHost> {
  return openHost({
    paths: statePaths({ root: join(home, 'state') }),
    relayUrl: relayWsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine: new WeriftEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
    minBackoffMs: 50,
    maxBackoffMs: 500,
    ...extra,
  });
}

/** A Node device on loopback with short reconnect backoff. */
export function loopbackDevice(relayWsUrl: string, keyPair: KeyPair = generateKeyPair()): Device {
  return loopbackDeviceOn(relayWsUrl, 'werift', keyPair);
}

/** A Node device on loopback on the WebRTC engine `engine`, short reconnect backoff. */
export function loopbackDeviceOn(
  relayWsUrl: string,
  engine: EngineName,
  keyPair: KeyPair = generateKeyPair(),
): Device {
  const device = new Device({
    keyPair,
    relayUrl: relayWsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine:
      engine === 'werift'
        ? new WeriftEngine({ bindAddress: '127.0.0.1' })
        : new NodeDataChannelEngine({ bindAddress: '127.0.0.1' }),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  device.start();
  return device;
}

/** Collects a terminal's live output as text until `pattern` appears. */
export function waitForText(term: TerminalClient, pattern: RegExp, ms = 20_000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text.slice(-300))}`));
    }, ms);
    const off = term.on('data', ({ bytes }) => {
      text += new TextDecoder().decode(bytes);
      if (pattern.test(text)) {
        clearTimeout(timer);
        off();
        resolve(text);
      }
    });
  });
}

/** Polls `fn` until it returns true. */
export async function until(
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  stepMs = 100,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error('condition not met in time');
}

/**
 * Starts `pocketshell daemon run --relay <relayUrl>` with `psEnv` (and extra
 * Node flags, e.g. a CPU profile) and resolves once its relay connection is
 * ready, as `pocketshell status --json` reports it. `bin`: another
 * `pocketshell` launcher (an installed package's) instead of this checkout's.
 */
/** Where `startReadyDaemon` writes the daemon's output: beside its state folder. */
export function daemonLog(psEnv: Record<string, string>): string {
  return `${psEnv.POCKETSHELL_HOME ?? join(psEnv.HOME ?? '.', '.pocketshell')}.daemon.log`;
}

/** The last `lines` lines of a test daemon's output (for a failing assertion's message). */
export function daemonLogTail(psEnv: Record<string, string>, lines = 40): string {
  const path = daemonLog(psEnv);
  if (!existsSync(path)) return '(no daemon log)';
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Ends the session holder of a state folder, if one runs (SIGTERM: it ends its shells and goes). */
export function endHolder(stateDir: string | undefined): void {
  if (!stateDir) return;
  let pid = 0;
  try {
    pid = Number(readFileSync(join(stateDir, 'holder.pid'), 'utf8').trim());
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 1)
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
}

export async function startReadyDaemon(
  psEnv: Record<string, string>,
  relayUrl: string,
  nodeArgs: string[] = [],
  bin: string = POCKETSHELL,
): Promise<ChildProcess> {
  // Its output goes to a file beside the state folder (daemonLog): what a failing test shows.
  const logFd = openSync(daemonLog(psEnv), 'a', 0o600);
  const daemon = spawn(process.execPath, [...nodeArgs, bin, 'daemon', 'run', '--relay', relayUrl], {
    env: { ...process.env, ...psEnv },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  // The session holder it starts outlives it by design (a restart keeps the shells); a test's or
  // a benchmark's daemon takes its holder along, or every run would leave one with its shells.
  daemon.once('exit', () => endHolder(psEnv.POCKETSHELL_HOME));
  try {
    await until(
      async () => {
        const r = await pocketshell(['status', '--json'], psEnv, 30_000, bin).catch(() => null);
        return r?.code === 0 && JSON.parse(r.stdout).daemon.relay?.state === 'ready';
      },
      30_000,
      200,
    );
  } catch (error) {
    daemon.kill('SIGTERM');
    throw error;
  }
  return daemon;
}
