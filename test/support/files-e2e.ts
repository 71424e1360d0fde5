/**
 * The world of the `files` end-to-end tests: a real relay process, a real
 * host (`openHost`, in this process, on loopback) whose files root and home
 * are temporary folders, Node devices paired with chosen grants, and the
 * files client run as a child process (support/files-client.ts) — to kill
 * it mid-transfer, or to measure its memory apart from the host's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PairedHost } from '@pocketshell/client';
import { Device } from '@pocketshell/client';
import { isLoopbackIPv4, type OpenedHost, openHost, statePaths } from '@pocketshell/host-core';
import {
  b64u,
  type Grant,
  generateKeyPair,
  type KeyPair,
  type WebSocketFactory,
} from '@pocketshell/protocol';
import { type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { NodeDataChannelEngine, type WebRtcEngine, WeriftEngine } from '@pocketshell/webrtc';
import { WebSocket } from 'ws';

const CLIENT = fileURLToPath(new URL('./files-client.ts', import.meta.url));

/** The WebRTC engines a files test may run on (both ends the same). */
export type EngineName = 'werift' | 'node-datachannel';

/** An engine bound to loopback. */
export function loopbackEngine(name: EngineName = 'werift'): WebRtcEngine {
  return name === 'werift'
    ? new WeriftEngine({ bindAddress: '127.0.0.1' })
    : new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });
}

/** A Node device on loopback (as support/cli.ts's `loopbackDevice`), on the engine named. */
export function filesDevice(relayWsUrl: string, keyPair: KeyPair, engine: EngineName = 'werift'): Device {
  const device = new Device({
    keyPair,
    relayUrl: relayWsUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    engine: loopbackEngine(engine),
    localAddressFilter: isLoopbackIPv4,
    minBackoffMs: 50,
    maxBackoffMs: 500,
  });
  device.start();
  return device;
}

export interface FilesWorld {
  relay: StartedRelay;
  host: OpenedHost;
  engine: EngineName;
  /** Scratch folder; `root` (the devices' files root) and `home` are in it. */
  dir: string;
  root: string;
  home: string;
  /** Pairs a new device holding `grants`. */
  pair(grants: Grant[]): Promise<Paired>;
  /** Runs the files client as a child process (see files-client.ts). */
  child(
    p: Paired,
    job: { op: 'upload' | 'download'; local: string; remote: string; overwrite?: boolean },
  ): ChildProcess;
  close(): Promise<void>;
}

export interface Paired {
  device: Device;
  host: PairedHost;
  keyPair: KeyPair;
  seed: Uint8Array;
}

/** Starts the relay and the host; `perDevice` caps concurrent transfers. */
export async function filesWorld(
  limits: { perDevice?: number } = {},
  engine: EngineName = 'werift',
): Promise<FilesWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'pocketshell-files-'));
  const root = join(dir, 'root');
  const home = join(root, 'home');
  mkdirSync(home, { recursive: true });
  const relay = await startRelay({ dataDir: join(dir, 'relay') });
  const host = await openHost({
    paths: statePaths({ root: join(dir, 'state') }),
    relayUrl: relay.wsUrl,
    env: { ...process.env, POCKETSHELL_KEYSTORE: 'file', SHELL: '/bin/sh', HOME: home },
    engine: loopbackEngine(engine),
    localAddressFilter: isLoopbackIPv4,
    iceServers: [],
    minBackoffMs: 50,
    maxBackoffMs: 500,
    files: { root, home, ...(limits.perDevice ? { limits: { perDevice: limits.perDevice } } : {}) },
  });
  host.agent.start();
  const devices: Device[] = [];
  const children: ChildProcess[] = [];
  let n = 0;
  return {
    relay,
    host,
    engine,
    dir,
    root,
    home,
    async pair(grants) {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const keyPair = generateKeyPair(seed);
      const device = filesDevice(relay.wsUrl, keyPair, engine);
      devices.push(device);
      let paired: Promise<PairedHost> | undefined;
      await host.agent.pair({
        webUrl: relay.url,
        grants,
        onUrl: (url) => {
          paired = device.pair(url, { name: `files ${grants.join('+')}` });
        },
        confirm: async () => true,
      });
      return { device, host: await (paired as Promise<PairedHost>), keyPair, seed };
    },
    child(p, job) {
      const config = join(dir, `client-${++n}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          relayWsUrl: relay.wsUrl,
          seed: b64u(p.seed),
          host: { ...p.host, pub: b64u(p.host.pub) },
          engine,
          ...job,
        }),
        { mode: 0o600 },
      );
      const c = spawn(process.execPath, [CLIENT, config], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    },
    async close() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await Promise.all(devices.map((d) => d.close()));
      await host.close();
      await relay.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lines a child prints, as they come; `result`/`error` settle `done`. */
export function childLines(c: ChildProcess): {
  progress: () => number;
  done: Promise<{ result?: Record<string, number | string>; error?: string; stderr: string }>;
} {
  let last = 0;
  let buf = '';
  let stderr = '';
  c.stderr?.on('data', (d: Buffer) => {
    stderr += d;
  });
  const done = new Promise<{ result?: Record<string, number | string>; error?: string; stderr: string }>(
    (resolve) => {
      let settled: { result?: Record<string, number | string>; error?: string } = {};
      c.stdout?.on('data', (d: Buffer) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith('progress ')) last = Number(line.slice(9));
          else if (line.startsWith('result ')) settled = { result: JSON.parse(line.slice(7)) };
          else if (line.startsWith('error ')) settled = { error: line.slice(6) };
        }
      });
      c.on('exit', () => resolve({ ...settled, stderr }));
    },
  );
  return { progress: () => last, done };
}
