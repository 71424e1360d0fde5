/**
 * A malicious relay for tests: a real WebSocket man-in-the-middle in front
 * of a real relay process. The relay process is started with `--public-url`
 * set to the proxy's own address, so clients dial the proxy, authenticate
 * honestly end to end (the challenge names the proxy's origin), and from
 * then on every frame in either direction passes through `script`, which
 * may let it through, drop it, replace it, hold it to release later, or
 * inject frames of its own — everything the operator of a compromised relay
 * can do, since it owns the relay's wire. It also acts as a party itself:
 * `identity()` connects an extra, honestly authenticated client of its own
 * (straight to the relay process, so its frames are not scripted)
 * with its own key, as a relay operator could: used to swap keys in pairing.
 *
 * HTTP requests other than the WebSocket upgrade (the web client's files)
 * are passed to the relay unchanged. Everything listens on 127.0.0.1.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  b64u,
  type Envelope,
  generateKeyPair,
  type KeyPair,
  type PartyId,
  type Role,
  randomBytes,
} from '@pocketshell/protocol';
import { RawClient, type StartedRelay, startRelay } from '@pocketshell/relay/testing';
import { WebSocket, WebSocketServer } from 'ws';

/** A frame in flight, as JSON. `t` is the relay protocol's message type. */
export type Frame = { t: string; [key: string]: unknown };

/** Which way a frame goes: `up` client → relay, `down` relay → client. */
export type Direction = 'up' | 'down';

/** One client connection through the proxy. */
export class Tap {
  /** From the client's `auth` (up to `ready`, the claimed role and key). */
  role: Role | undefined;
  pub: string | undefined;
  /** From the relay's `ready`. */
  id: PartyId | undefined;
  readonly #client: WebSocket;
  readonly #upstream: WebSocket;
  readonly #pending: string[] = [];

  constructor(client: WebSocket, upstream: WebSocket) {
    this.#client = client;
    this.#upstream = upstream;
    upstream.once('open', () => {
      for (const f of this.#pending.splice(0)) upstream.send(f);
    });
  }

  /** Sends a frame to the client, as if the relay had said it. */
  toClient(frame: Frame): void {
    if (this.#client.readyState === WebSocket.OPEN) this.#client.send(JSON.stringify(frame));
  }

  /** Sends a frame to the relay on this client's authenticated connection, as if the client had. */
  toRelay(frame: Frame): void {
    this.rawToRelay(JSON.stringify(frame));
  }

  rawToRelay(text: string): void {
    if (this.#upstream.readyState === WebSocket.OPEN) this.#upstream.send(text);
    else if (this.#upstream.readyState === WebSocket.CONNECTING) this.#pending.push(text);
  }

  close(): void {
    this.#client.terminate();
    this.#upstream.terminate();
  }
}

/**
 * What the script decides for a frame: `undefined` passes it on unchanged,
 * `'drop'` drops it, a list sends those frames instead (the same way).
 * Frames can also be held and sent later with `tap.toClient`/`toRelay`.
 */
export type Verdict = undefined | 'drop' | Frame[];

/** The attack: called for every frame after authentication (and for `auth`/`ready` too). */
export type Script = (frame: Frame, dir: Direction, tap: Tap, relay: EvilRelay) => Verdict;

/** One line of what went through, for assertions and for reading a failure. */
export interface Routed {
  dir: Direction;
  role: Role | undefined;
  id: PartyId | undefined;
  t: string;
  /** `env.kind` when the frame carries an envelope. */
  kind?: string;
  verdict: 'pass' | 'drop' | 'replace';
}

export class EvilRelay {
  /** The real relay process behind the proxy. */
  readonly relay: StartedRelay;
  /** `http://127.0.0.1:PORT` of the proxy: what clients are given. */
  readonly url: string;
  readonly #server: Server;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  readonly #taps = new Set<Tap>();
  readonly #own: RawClient[] = [];
  /** Every frame routed, in order. */
  readonly log: Routed[] = [];
  /** Claims the relay handed to hosts (base64url): a relay knows every pairing code. */
  readonly claims: string[] = [];
  /** Envelopes seen, in order, with their sender and recipient: material for replays. */
  readonly envelopes: { from: PartyId | undefined; to: string; env: Envelope }[] = [];
  /** The attack in effect (default: an honest relay). */
  script: Script = () => undefined;

  private constructor(relay: StartedRelay, server: Server, url: string) {
    this.relay = relay;
    this.#server = server;
    this.url = url;
  }

  /** `ws://127.0.0.1:PORT/ws` of the proxy. */
  get wsUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/ws`;
  }

  /** Starts a proxy on 127.0.0.1:0 and a real relay process behind it (`args`: more relay options). */
  static async start(options: { args?: string[] } = {}): Promise<EvilRelay> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let relay: StartedRelay;
    try {
      relay = await startRelay({ args: ['--public-url', url, ...(options.args ?? [])] });
    } catch (error) {
      server.close();
      throw error;
    }
    const evil = new EvilRelay(relay, server, url);
    const upstream = new URL(relay.url);
    server.on('request', (req, res) => {
      const proxied = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      proxied.on('error', () => res.destroy());
      req.pipe(proxied);
    });
    server.on('upgrade', (req, socket, head) => {
      evil.#wss.handleUpgrade(req, socket, head, (ws) => evil.#accept(ws));
    });
    return evil;
  }

  #accept(client: WebSocket): void {
    const upstream = new WebSocket(this.relay.wsUrl, { perMessageDeflate: false });
    const tap = new Tap(client, upstream);
    this.#taps.add(tap);
    const end = () => {
      this.#taps.delete(tap);
      tap.close();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
    client.on('message', (data) => this.#route(data.toString(), 'up', tap));
    upstream.on('message', (data) => this.#route(data.toString(), 'down', tap));
  }

  #route(text: string, dir: Direction, tap: Tap): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      // Not JSON: passed on untouched (the relay or the client refuses it).
      if (dir === 'up') tap.rawToRelay(text);
      return;
    }
    if (dir === 'up' && frame.t === 'auth') {
      tap.role = frame.role as Role;
      tap.pub = frame.pub as string;
    }
    if (dir === 'down' && frame.t === 'ready') tap.id = frame.id as PartyId;
    if (dir === 'down' && frame.t === 'pair.created') this.claims.push(frame.claim as string);
    const env = frame.env as Envelope | undefined;
    if (env && typeof env === 'object') {
      this.envelopes.push({
        from: dir === 'up' ? tap.id : (frame.from as PartyId),
        to: dir === 'up' ? String(frame.to ?? frame.host ?? '') : String(tap.id),
        env,
      });
    }
    const verdict = this.script(frame, dir, tap, this);
    this.log.push({
      dir,
      role: tap.role,
      id: tap.id,
      t: frame.t,
      ...(env && typeof env === 'object' ? { kind: env.kind } : {}),
      verdict: verdict === undefined ? 'pass' : verdict === 'drop' ? 'drop' : 'replace',
    });
    const out = verdict === undefined ? [frame] : verdict === 'drop' ? [] : verdict;
    for (const f of out) {
      if (dir === 'up') tap.toRelay(f);
      else tap.toClient(f);
    }
  }

  /** The live connection of a party (by id), once it is ready. */
  tap(id: PartyId | string): Tap | undefined {
    for (const t of this.#taps) if (t.id === id) return t;
    return undefined;
  }

  /** A client of the relay's own, with its own key, honestly authenticated (straight to the relay, unscripted). */
  async identity(
    role: Role,
    keyPair: KeyPair = generateKeyPair(),
  ): Promise<{ client: RawClient; keyPair: KeyPair }> {
    const client = await RawClient.connect(this.relay.wsUrl, { role, keyPair });
    this.#own.push(client);
    return { client, keyPair };
  }

  /** Frames routed of type `t` (and envelope kind), in order. */
  routed(t: string, kind?: string): Routed[] {
    return this.log.filter((r) => r.t === t && (kind === undefined || r.kind === kind));
  }

  /** Stops the proxy, its own clients, every tapped connection and the relay process. */
  async stop(): Promise<void> {
    for (const c of this.#own) await c.close();
    for (const t of this.#taps) t.close();
    this.#wss.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await this.relay.stop();
  }
}

/** A forged envelope: well-formed, random ciphertext (nobody's key opens it). */
export function forgedEnvelope(kind: string): Envelope {
  return {
    kind,
    mid: b64u(randomBytes(16)),
    ts: Math.floor(Date.now() / 1000),
    enc: b64u(randomBytes(32)),
    ct: b64u(randomBytes(96)),
  };
}
