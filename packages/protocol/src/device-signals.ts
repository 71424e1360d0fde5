/**
 * The device's side of connection signalling through the relay, for every
 * device (the Node client and the web client): offers, answers, ICE
 * candidates and hangups travel as sealed envelopes between the device and
 * one paired host, each body naming its connection (`conn`). `seal` sends
 * one; `deliver` opens one the relay delivered from a paired host (with the
 * replay cache and clock window) and hands it to the connection it names.
 * A forged, replayed, stale or malformed envelope, or one for no live
 * connection, is dropped without a word, like anything else a stranger
 * could send.
 */
import { type Envelope, openJson, sealJson } from './envelope.ts';
import type { DeviceId, HostId } from './identity.ts';
import { ReplayCache } from './replay.ts';

/** A paired host as signalling needs it. */
export interface SignalHost {
  readonly id: HostId;
  readonly pub: Uint8Array;
}

/** Called with the envelope's kind and its opened body. */
export type SignalHandler = (kind: string, body: unknown) => void;

export class DeviceSignals {
  readonly #id: DeviceId;
  readonly #secretKey: Uint8Array;
  readonly #send: (to: HostId, envelope: Envelope) => void;
  readonly #replay = new ReplayCache();
  readonly #handlers = new Map<string, SignalHandler>();

  constructor(o: {
    id: DeviceId;
    secretKey: Uint8Array;
    send: (to: HostId, envelope: Envelope) => void;
  }) {
    this.#id = o.id;
    this.#secretKey = o.secretKey;
    this.#send = o.send;
  }

  /** Seals `body` for `host` and sends it (throws when the relay cannot take it). */
  seal(host: SignalHost, kind: string, body: unknown): void {
    this.#send(
      host.id,
      sealJson({
        kind,
        body,
        senderId: this.#id,
        senderSecret: this.#secretKey,
        recipientId: host.id,
        recipientPublic: host.pub,
      }),
    );
  }

  /** Opens an envelope `host` sent and hands it to the connection it names. */
  deliver(envelope: Envelope, host: SignalHost): void {
    let body: unknown;
    try {
      body = openJson({
        envelope,
        senderId: host.id,
        senderPublic: host.pub,
        recipientId: this.#id,
        recipientSecret: this.#secretKey,
        replay: this.#replay,
      });
    } catch {
      return;
    }
    const conn = (body as { conn?: unknown })?.conn;
    if (typeof conn === 'string') this.#handlers.get(conn)?.(envelope.kind, body);
  }

  /** Routes what arrives for `conn` to `handler`; returns the function that stops it. */
  listen(conn: string, handler: SignalHandler): () => void {
    this.#handlers.set(conn, handler);
    return () => {
      if (this.#handlers.get(conn) === handler) this.#handlers.delete(conn);
    };
  }
}
