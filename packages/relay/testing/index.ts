/**
 * Test helpers for any package that needs a real relay: `startRelay` spawns
 * the actual `pocketshell-relay` process on 127.0.0.1:0 with its own data
 * directory and reads the bound URL from its `listening` log line;
 * `RawClient` speaks the raw protocol over `ws` (challenge, auth, then any
 * frame you like) and queues what the relay says so tests can await it.
 * Also here: a private PostgreSQL cluster (`postgres.ts`) and the
 * conformance suite every `RelayStore` passes (`store-conformance.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AuthMessage,
  b64u,
  deviceIdOf,
  fromB64u,
  generateKeyPair,
  hostIdOf,
  type KeyPair,
  type PartyId,
  pairAcceptTranscript,
  pairRequestTranscript,
  type Role,
  readServerMessage,
  relayAuthTranscript,
  type ServerMessage,
  sealJson,
  sign,
  unixNow,
} from '@pocketshell/protocol';
import { WebSocket } from 'ws';

import { type PostgresCluster, startPostgres, type TestDatabase } from './postgres.ts';

export * from './fixtures.ts';
export * from './postgres.ts';
export * from './store-conformance.ts';

/**
 * `POCKETSHELL_TEST_RELAY_STORE=postgres`: every relay this process starts
 * runs on a database of its own in one private PostgreSQL cluster, made on
 * the first start — how the relay's process-level tests run a second time
 * on PostgreSQL (src/relay-on-postgres.test.ts). `stopTestPostgres` ends it.
 */
let testCluster: Promise<PostgresCluster> | undefined;

async function testDatabase(): Promise<TestDatabase | undefined> {
  if (process.env.POCKETSHELL_TEST_RELAY_STORE !== 'postgres') return undefined;
  testCluster ??= startPostgres();
  return (await testCluster).createDatabase();
}

/** Ends the cluster `POCKETSHELL_TEST_RELAY_STORE=postgres` started, if any. */
export async function stopTestPostgres(): Promise<void> {
  const cluster = testCluster;
  testCluster = undefined;
  await (await cluster)?.stop();
}

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'pocketshell-relay.js');

/** A relay process started by `startRelay`. */
export interface StartedRelay {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/ws` */
  readonly wsUrl: string;
  readonly dataDir: string;
  /** The current process id (undefined once it exited). */
  readonly pid: number | undefined;
  /** Everything the process printed (stdout and stderr), across restarts. */
  logs(): string;
  /** Sends a signal (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills (if running) and starts again on the same port and data directory. */
  restart(): Promise<void>;
  /** SIGTERM, wait for exit (SIGKILL after 10 s); removes the data directory if `startRelay` made it. Idempotent. */
  stop(): Promise<void>;
}

/** Options of `startRelay`. */
export interface StartRelayOptions {
  dataDir?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Milliseconds to wait for `listening` (default 20 000). */
  timeoutMs?: number;
}

/** Spawns a real relay process on 127.0.0.1:0 and waits until it listens. */
export async function startRelay(options: StartRelayOptions = {}): Promise<StartedRelay> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pocketshell-relay-'));
  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let url = '';
  let stopped = false;
  // On PostgreSQL (see testDatabase): the same database across restarts, as the same data folder.
  const database = await testDatabase();

  const launch = async () => {
    const args = [
      BIN,
      '--listen',
      `127.0.0.1:${port}`,
      '--data',
      dataDir,
      ...(database ? ['--database', database.url] : []),
      ...(options.args ?? []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dataDir,
        XDG_CONFIG_HOME: join(dataDir, 'config'),
        XDG_DATA_HOME: join(dataDir, 'xdg-data'),
        ...(database ? { PGPASSWORD: database.password } : {}),
        ...options.env,
      },
    });
    child = proc;
    // 'close', not 'exit': by then stdout and stderr are drained into the logs
    exited = new Promise((res) => proc.once('close', () => res()));
    let pending = '';
    const listening = new Promise<string>((res, rej) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL'); // never leave a process behind
        rej(new Error(`relay did not listen in time; output:\n${output}`));
      }, options.timeoutMs ?? 20_000);
      proc.stdout!.setEncoding('utf8');
      proc.stdout!.on('data', (chunk: string) => {
        output += chunk;
        pending += chunk;
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
          try {
            const parsed = JSON.parse(line) as { msg?: string; url?: string };
            if (parsed.msg === 'listening' && parsed.url) {
              clearTimeout(timer);
              res(parsed.url);
            }
          } catch {
            // not a JSON line; kept in the output
          }
        }
      });
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (chunk: string) => {
        output += chunk;
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        rej(new Error(`relay exited (${code ?? signal}) before listening; output:\n${output}`));
      });
    });
    url = await listening;
    port = Number(new URL(url).port);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    await exited;
  };

  try {
    await launch();
  } catch (error) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    get url() {
      return url;
    },
    get wsUrl() {
      return `${url.replace(/^http/, 'ws')}/ws`;
    },
    dataDir,
    get pid() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
        ? child.pid
        : undefined;
    },
    logs: () => output,
    kill,
    restart: async () => {
      await kill('SIGKILL');
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      const proc = child;
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
        const force = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        proc.kill('SIGTERM');
        await exited;
        clearTimeout(force);
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Options of `RawClient.open`. */
export interface RawOpenOptions {
  /** Milliseconds to wait for each step (default 10 000). */
  timeoutMs?: number;
  /** Answer the relay's pings (default true; false plays a silent peer). */
  autoPong?: boolean;
  /** CA certificate(s) to trust for `wss:` (a self-signed test relay). */
  ca?: string | Buffer;
  /** Source address to connect from (any 127.x.y.z on Linux: tests play several addresses). */
  localAddress?: string;
}

/** Options of `RawClient.connect`. */
export interface RawConnectOptions extends RawOpenOptions {
  role: Role;
  keyPair: KeyPair;
  /** Enrollment token (closed registration). */
  enroll?: string;
  /** Overrides the `ts` signed (default: now). */
  ts?: number;
}

type Waiter = { predicate: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void };

/** A minimal raw protocol client for tests. */
export class RawClient {
  readonly ws: WebSocket;
  /** The id from `ready` (after `connect`). */
  id: PartyId | undefined;
  /** Frames that did not parse as server messages (should stay empty). */
  readonly invalid: string[] = [];
  readonly #queue: ServerMessage[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly closed: Promise<{ code: number; reason: string }>;
  #rid = 0;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((res) => {
      ws.once('close', (code, reason) => res({ code, reason: reason.toString() }));
    });
    ws.on('error', () => {
      // surfaced through `closed`
    });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      let m: ServerMessage;
      try {
        m = readServerMessage(text);
      } catch {
        this.invalid.push(text);
        return;
      }
      for (const w of this.#waiters) {
        if (w.predicate(m)) {
          this.#waiters.delete(w);
          w.resolve(m);
          return;
        }
      }
      this.#queue.push(m);
    });
  }

  /** Opens a socket without authenticating (the `challenge` is the first queued message). */
  static async open(wsUrl: string, options: RawOpenOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(wsUrl, {
      perMessageDeflate: false,
      handshakeTimeout: options.timeoutMs ?? 10_000,
      autoPong: options.autoPong ?? true,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    const client = new RawClient(ws);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    return client;
  }

  /** The signed `auth` for a challenge. */
  static authFor(
    challenge: { nonce: string; relay: string },
    options: { role: Role; keyPair: KeyPair; ts?: number; enroll?: string },
  ): AuthMessage {
    const ts = options.ts ?? unixNow();
    const pub = options.keyPair.publicKey;
    const sig = sign(
      relayAuthTranscript(challenge.relay, fromB64u(challenge.nonce), options.role, pub, ts),
      options.keyPair.secretKey,
    );
    const auth: AuthMessage = { t: 'auth', role: options.role, pub: b64u(pub), ts, sig: b64u(sig) };
    if (options.enroll !== undefined) auth.enroll = options.enroll;
    return auth;
  }

  /** Opens, answers the challenge, and waits for `ready`; throws with the relay's error code otherwise. */
  static async connect(wsUrl: string, options: RawConnectOptions): Promise<RawClient> {
    const timeout = options.timeoutMs ?? 10_000;
    const client = await RawClient.open(wsUrl, options);
    const challenge = await client.next((m) => m.t === 'challenge' || m.t === 'error', timeout);
    if (challenge.t !== 'challenge') {
      client.close();
      throw Object.assign(
        new Error(`relay refused: ${challenge.t === 'error' ? challenge.code : challenge.t}`),
        {
          code: challenge.t === 'error' ? challenge.code : 'unexpected',
        },
      );
    }
    client.send(RawClient.authFor(challenge, options));
    const ready = await client.next((m) => m.t === 'ready' || m.t === 'error', timeout);
    if (ready.t !== 'ready') {
      client.close();
      throw Object.assign(new Error(`relay refused auth: ${ready.t === 'error' ? ready.code : ready.t}`), {
        code: ready.t === 'error' ? ready.code : 'unexpected',
      });
    }
    client.id = ready.id;
    return client;
  }

  /** Sends a message object (as JSON) or a raw string/bytes frame. */
  send(message: object | string | Uint8Array): void {
    this.ws.send(
      typeof message === 'string' || message instanceof Uint8Array ? message : JSON.stringify(message),
    );
  }

  /** A fresh request id. */
  rid(): string {
    this.#rid += 1;
    return `r${this.#rid}`;
  }

  /** The first queued or future message matching `predicate` (default: any); rejects after `timeoutMs`. */
  next(predicate: (m: ServerMessage) => boolean = () => true, timeoutMs = 10_000): Promise<ServerMessage> {
    const i = this.#queue.findIndex(predicate);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0]!);
    return new Promise((res, rej) => {
      const waiter: Waiter = {
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          res(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const tail = JSON.stringify(this.#queue.slice(-3)).slice(0, 600);
        rej(
          new Error(
            `no matching message within ${timeoutMs} ms; ${this.#queue.length} queued, last: ${tail}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Sends a message with an `rid` (added when missing) and waits for the reply carrying it. */
  request<M extends { t: string; rid?: string }>(message: M, timeoutMs = 10_000): Promise<ServerMessage> {
    const rid = message.rid ?? this.rid();
    this.send({ ...message, rid });
    return this.next((m) => 'rid' in m && m.rid === rid, timeoutMs);
  }

  /** Messages received and not yet taken. */
  get queued(): readonly ServerMessage[] {
    return this.#queue;
  }

  /** Closes the socket and waits until it is closed. Idempotent. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else this.ws.close();
    const t = setTimeout(() => this.ws.terminate(), 5_000);
    await this.closed;
    clearTimeout(t);
  }
}

/** A host and a device, both connected and paired through a relay. */
export interface PairedClients {
  host: RawClient;
  device: RawClient;
  hostKey: KeyPair;
  deviceKey: KeyPair;
  /** The claim used (base64url), for tests that look for it where it must not be. */
  claim: string;
}

/**
 * Runs the whole pairing exchange between two raw clients on `wsUrl`:
 * create → redeem (with a real sealed `pair.request`) → accept (with a real
 * sealed `pair.accept`). Both stay connected. Pass connected clients as
 * `host`/`device` together with their key pairs to reuse them.
 */
export async function pairClients(
  wsUrl: string,
  keys: {
    hostKey?: KeyPair;
    deviceKey?: KeyPair;
    host?: RawClient;
    device?: RawClient;
    /** A claim the host created earlier (its `pair.created`); by default a fresh one. */
    claim?: ServerMessage;
  } = {},
): Promise<PairedClients> {
  const hostKey = keys.hostKey ?? generateKeyPair();
  const deviceKey = keys.deviceKey ?? generateKeyPair();
  const host = keys.host ?? (await RawClient.connect(wsUrl, { role: 'host', keyPair: hostKey }));
  const device = keys.device ?? (await RawClient.connect(wsUrl, { role: 'device', keyPair: deviceKey }));
  const created = keys.claim ?? (await host.request({ t: 'pair.create' }));
  if (created.t !== 'pair.created') throw new Error(`pair.create failed: ${JSON.stringify(created)}`);
  const hostId = hostIdOf(hostKey.publicKey);
  const deviceId = deviceIdOf(deviceKey.publicKey);
  const ts = unixNow();
  const claim = fromB64u(created.claim);
  const requestEnv = sealJson({
    kind: 'pair.request',
    body: {
      name: 'test device',
      ts,
      sig: b64u(
        sign(pairRequestTranscript(hostKey.publicKey, deviceKey.publicKey, claim, ts), deviceKey.secretKey),
      ),
    },
    senderId: deviceId,
    senderSecret: deviceKey.secretKey,
    recipientId: hostId,
    recipientPublic: hostKey.publicKey,
  });
  const redeemed = await device.request({
    t: 'pair.redeem',
    claim: created.claim,
    host: hostId,
    env: requestEnv,
  });
  if (redeemed.t !== 'ok') throw new Error(`pair.redeem failed: ${JSON.stringify(redeemed)}`);
  await host.next((m) => m.t === 'pair.request' && m.from === deviceId);
  const acceptEnv = sealJson({
    kind: 'pair.accept',
    body: {
      host_name: 'test host',
      grants: ['shell'],
      sig: b64u(sign(pairAcceptTranscript(hostKey.publicKey, deviceKey.publicKey, claim), hostKey.secretKey)),
    },
    senderId: hostId,
    senderSecret: hostKey.secretKey,
    recipientId: deviceId,
    recipientPublic: deviceKey.publicKey,
  });
  const accepted = await host.request({ t: 'pair.accept', to: deviceId, env: acceptEnv });
  if (accepted.t !== 'ok') throw new Error(`pair.accept failed: ${JSON.stringify(accepted)}`);
  await device.next((m) => m.t === 'pair.accepted' && m.from === hostId);
  return { host, device, hostKey, deviceKey, claim: created.claim };
}
export * from './local-service.ts';
export * from './redis.ts';
