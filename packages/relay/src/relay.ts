/**
 * The relay server: an HTTP(S) listener serving `/healthz`, `/metrics` and
 * the web client, and the `/ws` WebSocket endpoint where each connection is
 * challenged, authenticated and then routed (`router.ts`). Owns the timers
 * (heartbeat, idle drop, sweeps) and closes everything it opened in
 * `close()`, which is idempotent. The world (store, logger, clocks,
 * randomness) is injected.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  b64u,
  decodeFrame,
  errorMessage,
  type HostId,
  ProtocolError,
  parseClientMessage,
  ridOf,
} from '@pocketshell/protocol';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { register, verifyAuth } from './auth.ts';
import type { RelayConfig } from './config.ts';
import { CLOSE, Connection } from './connection.ts';
import { prepareDataDir } from './data-dir.ts';
import { RelayError } from './errors.ts';
import { Fleet, fleetScript } from './fleet.ts';
import { createHttpHandler } from './http.ts';
import { Hub } from './hub.ts';
import { RateLimiter } from './limits.ts';
import type { Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { PairingCache } from './pairing-cache.ts';
import { loadVapidKeys, PushSender, sharedVapidKeys } from './push.ts';
import { Router } from './router.ts';
import { BUCKET_SCRIPT, SharedRateLimiter } from './shared-limiter.ts';
import type { RelayStore } from './store.ts';

/** What the relay takes from the world. */
export interface RelayDeps {
  store: RelayStore;
  log: Logger;
  /** Milliseconds since the epoch. */
  now?: () => number;
  random?: (n: number) => Uint8Array;
  /** Web Push sender; by default made from `config.push` with the VAPID keys of the data folder. */
  push?: PushSender;
}

const HOST_HEADER_RE = /^[A-Za-z0-9.:[\]-]{1,253}$/;
/** Seconds between sweeps of rate-limit buckets and expired claims. */
const SWEEP_SECONDS = 60;
const BUCKET = fleetScript(BUCKET_SCRIPT);

/** The ws origin (`ws[s]://host[:port]`) of a public http(s) URL. */
export function wsOriginOf(publicUrl: string): string {
  const u = new URL(publicUrl);
  return `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}`;
}

/** A running relay. */
export class Relay {
  readonly metrics = new Metrics();
  readonly #config: RelayConfig;
  readonly #store: RelayStore;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #random: (n: number) => Uint8Array;
  readonly #limiter: RateLimiter;
  /** The other relay nodes, once `listen()` joined them (`--redis`). */
  #fleet: Fleet | undefined;
  readonly #hub = new Hub<Connection>();
  readonly #router: Router;
  #push: PushSender | undefined;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  /** Open TCP sockets per remote address. */
  readonly #perAddress = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | undefined;

  constructor(config: RelayConfig, deps: RelayDeps) {
    this.#config = config;
    this.#store = deps.store;
    this.#log = deps.log;
    this.#nowMs = deps.now ?? Date.now;
    this.#random = deps.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#limiter = new RateLimiter(config.limits, this.#nowMs);
    if (deps.push !== undefined) this.#push = deps.push;
    else if (config.push.enabled) {
      prepareDataDir(config.dataDir);
      // relays sharing a store share the key pair it holds (read in listen()); one alone keeps vapid.json
      if (!this.#store.shared) this.#push = new PushSender(loadVapidKeys(config.dataDir), config.push);
    }
    this.#router = new Router({
      store: this.#store,
      hub: this.#hub,
      limiter: this.#limiter,
      limits: config.limits,
      metrics: this.metrics,
      log: this.#log,
      now: () => this.#nowS(),
      nowMs: this.#nowMs,
      random: this.#random,
      turn: { secret: config.turnSecret, urls: config.turnUrls, ttl: config.turnTtlSeconds },
      push: this.#push,
      // a store other processes share is cached only once the fleet can carry revocations (listen())
      pairings: this.#store.shared
        ? undefined
        : new PairingCache({ now: this.#nowMs, count: (o) => this.metrics.pairingLookup(o) }),
    });
    const tls = config.tlsCert !== undefined && config.tlsKey !== undefined;
    const handler = createHttpHandler({
      metrics: this.metrics,
      store: this.#store,
      log: this.#log,
      webRoot: config.webRoot,
      tls,
      ready: async () => {
        await this.#store.ping();
        await this.#fleet?.ping();
      },
      ...(config.publicUrl ? { wsOrigin: wsOriginOf(config.publicUrl) } : {}),
    });
    // Node checks these timeouts only every `connectionsCheckingInterval` (30 s by default), which let
    // slow-header sockets live 30–40 s; checking every second enforces them to the second.
    const headersTimeout = config.limits.headersTimeoutSeconds * 1000;
    const timeouts = {
      headersTimeout,
      requestTimeout: Math.max(headersTimeout, config.limits.requestTimeoutSeconds * 1000),
      connectionsCheckingInterval: Math.min(1000, headersTimeout),
    };
    this.#server = tls
      ? createHttpsServer({ ...readTls(config.tlsCert!, config.tlsKey!), ...timeouts }, handler)
      : createHttpServer(timeouts, handler);
    if (!config.trustProxy) this.#server.on('connection', (socket) => this.#capAddress(socket));
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /**
   * Holds each address to `maxConnectionsPerAddress` open sockets (HTTP and
   * WebSocket alike); the excess is destroyed before a byte is read. Behind
   * a proxy every socket comes from the proxy, so `--trust-proxy` turns this
   * off and the proxy must cap instead (docs/relay.md).
   */
  #capAddress(socket: Socket): void {
    const address = socket.remoteAddress ?? 'unknown';
    const open = this.#perAddress.get(address) ?? 0;
    if (open >= this.#config.limits.maxConnectionsPerAddress) {
      this.metrics.refuse('limit_reached');
      socket.destroy();
      return;
    }
    this.#perAddress.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    });
  }

  #nowS(): number {
    return Math.floor(this.#nowMs() / 1000);
  }

  /** Starts listening (after joining the fleet, with `--redis`); resolves with the base URL actually bound. */
  async listen(): Promise<{ url: string; port: number }> {
    if (this.#push === undefined && this.#config.push.enabled && this.#store.shared) {
      const keys = await sharedVapidKeys(this.#store, this.#config.dataDir, this.#log, this.#nowS());
      this.#push = new PushSender(keys, this.#config.push);
      this.#router.usePush(this.#push);
    }
    if (this.#config.redis !== undefined && this.#fleet === undefined) {
      this.#fleet = await Fleet.join({
        url: this.#config.redis,
        nodeId: this.#config.nodeId,
        ttlSeconds: this.#config.redisTtlSeconds,
        log: this.#log,
        deliver: (to, message) => this.#router.deliverLocal(to, message),
        count: (outcome) => this.metrics.fleetMessage(outcome),
        onEvict: (host, device) => this.#router.evictPairing(host, device),
        onNodeGone: async (hosts) => {
          for (const host of hosts) {
            await this.#router.announce(host as HostId, false).catch((error: unknown) => {
              this.#log.error('presence failed', { error: String((error as Error).message) });
            });
          }
        },
      });
      const fleet = this.#fleet;
      this.#router.useFleet(
        fleet,
        new SharedRateLimiter(this.#config.limits, this.#limiter, (s, k, a) => fleet.eval(s, k, a), BUCKET),
        new PairingCache({
          now: this.#nowMs,
          usable: () => fleet.cacheUsable(),
          count: (o) => this.metrics.pairingLookup(o),
        }),
      );
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (cause: Error) =>
        reject(
          new RelayError('listen_failed', `cannot listen on ${this.#config.host}:${this.#config.port}`, {
            cause,
          }),
        );
      this.#server.once('error', onError);
      this.#server.listen(this.#config.port, this.#config.host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    const scheme = this.#config.tlsCert ? 'https' : 'http';
    const host = this.#config.host.includes(':') ? `[${this.#config.host}]` : this.#config.host;
    const limits = this.#config.limits;
    this.#timers.push(
      setInterval(() => this.#heartbeat(), limits.pingIntervalSeconds * 1000),
      setInterval(() => this.#sweep(), SWEEP_SECONDS * 1000),
    );
    return { url: `${scheme}://${host}:${port}`, port };
  }

  #sweep(): void {
    this.#limiter.sweep();
    this.#store.purgeExpired(this.#nowS()).catch((error: unknown) => {
      this.#log.error('purge failed', { error: String((error as Error).message) });
    });
  }

  #heartbeat(): void {
    const now = this.#nowMs();
    const idleMs = this.#config.limits.idleTimeoutSeconds * 1000;
    for (const conn of this.#connections) {
      if (now - conn.lastSeen > idleMs) {
        this.#log.info('idle drop', { ip: conn.ip, id: conn.state === 'ready' ? conn.id : undefined });
        conn.ws.terminate();
      } else if (conn.ws.readyState === conn.ws.OPEN) {
        conn.ws.ping();
      }
    }
  }

  #clientIp(req: IncomingMessage): string {
    if (this.#config.trustProxy) {
      const xff = req.headers['x-forwarded-for'];
      const last = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').at(-1)?.trim();
      if (last) return last;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  #originOf(req: IncomingMessage): string | undefined {
    if (this.#config.publicUrl) return wsOriginOf(this.#config.publicUrl);
    const host = req.headers.host;
    if (host === undefined || !HOST_HEADER_RE.test(host)) return undefined;
    let secure = this.#config.tlsCert !== undefined;
    if (this.#config.trustProxy) {
      const proto = req.headers['x-forwarded-proto'];
      const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim();
      if (first === 'https') secure = true;
      else if (first === 'http') secure = false;
    }
    return `${secure ? 'wss' : 'ws'}://${host.toLowerCase()}`;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    const origin = this.#originOf(req);
    if (this.#closing !== undefined || path !== '/ws' || origin === undefined) {
      socket.end(
        `HTTP/1.1 ${path === '/ws' ? '400 Bad Request' : '404 Not Found'}\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, this.#clientIp(req), origin));
  }

  #accept(ws: WebSocket, ip: string, origin: string): void {
    const nonce = this.#random(32);
    const conn = new Connection({
      ws,
      ip,
      nonce,
      origin,
      now: this.#nowMs(),
      onRefuse: (code) => this.metrics.refuse(code),
    });
    this.metrics.connectionsTotal += 1;
    this.metrics.openConnections += 1;
    this.#connections.add(conn);
    ws.on('error', (error: Error & { code?: string }) => {
      // ws reports protocol violations (e.g. a frame over maxPayload) here and closes the socket itself.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.metrics.refuse('bad_message');
      this.#log.debug('socket error', { ip, code: error.code ?? 'unknown' });
    });
    ws.on('close', () => this.#closed(conn));
    ws.on('pong', () => {
      conn.lastSeen = this.#nowMs();
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.#message(conn, data, isBinary));

    if (this.#connections.size > this.#config.limits.maxConnections) {
      conn.refuse('limit_reached', undefined, 'the relay is at its connection limit');
      conn.close(CLOSE.policy);
      return;
    }
    if (!this.#limiter.take('connect', ip)) {
      conn.refuse('rate_limited');
      conn.close(CLOSE.policy);
      return;
    }
    conn.send({ t: 'challenge', nonce: b64u(nonce), relay: origin });
    const timer = setTimeout(() => {
      if (conn.state === 'challenged') {
        conn.refuse('unauthorized', undefined, 'authentication timed out');
        conn.close(CLOSE.policy);
      }
    }, this.#config.limits.authTimeoutSeconds * 1000);
    ws.once('close', () => clearTimeout(timer));
  }

  #message(conn: Connection, data: RawData, isBinary: boolean): void {
    conn.lastSeen = this.#nowMs();
    if (conn.state === 'closed') return;
    const frame = isBinary ? toBytes(data) : toBytes(data).toString('utf8');
    if (conn.state === 'challenged') {
      conn.setState('authenticating');
      conn.enqueue(
        () => this.#authenticate(conn, frame),
        (error) => this.#authFailed(conn, error),
      );
      return;
    }
    if (conn.state === 'authenticating') {
      // Frames sent before `ready` wait in the queue behind the auth.
      conn.enqueue(
        async () => {
          if (conn.state === 'ready') await this.#route(conn, frame);
        },
        (error) => this.#routeFailed(conn, error, undefined),
      );
      return;
    }
    conn.enqueue(
      () => this.#route(conn, frame),
      (error) => this.#routeFailed(conn, error, undefined),
    );
  }

  async #authenticate(conn: Connection, frame: string | Buffer): Promise<void> {
    const message = parseClientMessage(decodeFrame(frame));
    if (message.t !== 'auth') throw new ProtocolError('unauthorized', 'the first message must be auth');
    // the IP pays before the signature check (which costs CPU), the identity once it is proven
    const limiter = this.#router.limiter;
    if (!(await limiter.take('auth', conn.ip))) throw new ProtocolError('rate_limited');
    const proven = verifyAuth(message, conn.origin, conn.nonce, this.#nowS());
    if (!(await limiter.takeIdentity('auth', proven.id))) throw new ProtocolError('rate_limited');
    const max = this.#config.limits.maxConnectionsPerIdentity;
    if (this.#hub.count(proven.id) >= max) throw new ProtocolError('too_many_connections');
    await register(this.#store, proven, message.enroll, this.#config.registration, this.#nowS());
    if (conn.state === 'closed') return;
    // checked again: another connection of this identity may have finished its auth meanwhile
    if (this.#hub.count(proven.id) >= max) throw new ProtocolError('too_many_connections');
    conn.authenticated(proven.id, proven.role, proven.pub);
    let first = this.#hub.add(conn);
    this.metrics.authenticated[proven.role] += 1;
    // findable from the other nodes before it is told it is ready
    if (first && this.#fleet !== undefined) first = (await this.#fleet.add(proven.id)) === 0;
    if ((conn.state as string) === 'closed') return; // closed while Redis answered
    conn.send({ t: 'ready', id: proven.id, time: this.#nowS() });
    this.#log.info('authenticated', { id: proven.id, role: proven.role, ip: conn.ip });
    if (proven.role === 'device') await this.#router.presenceFor(conn);
    else if (first) await this.#router.announce(proven.id as HostId, true);
  }

  #authFailed(conn: Connection, error: unknown): void {
    const code = error instanceof ProtocolError ? error.code : 'internal';
    if (!(error instanceof ProtocolError)) {
      this.#log.error('auth failed unexpectedly', { ip: conn.ip, error: String((error as Error).message) });
    } else {
      this.#log.info('auth refused', { ip: conn.ip, code, why: error.message });
    }
    if (conn.state !== 'closed') {
      conn.refuse(code, undefined, error instanceof ProtocolError ? error.message : undefined);
      conn.close(CLOSE.policy);
    }
  }

  async #route(conn: Connection, frame: string | Buffer): Promise<void> {
    let decoded: unknown;
    try {
      decoded = decodeFrame(frame);
    } catch (error) {
      this.#routeFailed(conn, error, undefined);
      return;
    }
    try {
      await this.#router.handle(conn, parseClientMessage(decoded));
    } catch (error) {
      this.#routeFailed(conn, error, ridOf(decoded));
    }
  }

  #routeFailed(conn: Connection, error: unknown, rid: string | undefined): void {
    if (!(error instanceof ProtocolError)) {
      this.#log.error('message failed', {
        id: conn.state === 'ready' ? conn.id : undefined,
        error: String((error as Error).message),
      });
    }
    if (conn.state === 'closed') return;
    const m = errorMessage(error, rid);
    if (error instanceof ProtocolError) conn.refuse(error.code, rid, m.message);
    else conn.refuse('internal', rid);
  }

  #closed(conn: Connection): void {
    conn.close();
    if (!this.#connections.delete(conn)) return;
    this.metrics.openConnections -= 1;
    if (conn.authId === undefined) return;
    this.metrics.authenticated[conn.role] -= 1;
    const last = this.#hub.remove(conn);
    if (!last || this.#closing !== undefined) return;
    const fleet = this.#fleet;
    const id = conn.id;
    void (async () => {
      // in a fleet the identity is offline only when no other node holds it either
      const elsewhere = fleet === undefined ? 0 : await fleet.remove(id);
      if (elsewhere === 0 && conn.role === 'host') await this.#router.announce(id as HostId, false);
    })().catch((error: unknown) => {
      this.#log.error('presence failed', { error: String((error as Error).message) });
    });
  }

  /** This node's id in the fleet (undefined without `--redis`). */
  get nodeId(): string | undefined {
    return this.#fleet?.nodeId;
  }

  /** Number of open WebSocket connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Stops listening, closes every connection and the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      const open = [...this.#connections];
      for (const conn of open) conn.close(CLOSE.goingAway, 'relay shutting down');
      // wait for each closing handshake (a peer that does not answer is cut after 2 s)
      await Promise.all(
        open.map(
          (conn) =>
            new Promise<void>((resolve) => {
              if (conn.ws.readyState === conn.ws.CLOSED) {
                resolve();
                return;
              }
              const timer = setTimeout(() => conn.ws.terminate(), 2000);
              conn.ws.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
        ),
      );
      await new Promise<void>((resolve) => {
        this.#server.close(() => resolve());
        this.#server.closeAllConnections();
      });
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
      // pushes under way still remove the subscriptions their push service called gone
      await this.#router.settle();
      await this.#fleet?.close();
      this.#push?.close();
      await this.#store.close();
    })();
    return this.#closing;
  }
}

function readTls(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(certPath), key: readFileSync(keyPath) };
  } catch (cause) {
    throw new RelayError('config_invalid', `tls-cert/tls-key: cannot read ${(cause as Error).message}`, {
      cause,
    });
  }
}

function toBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
