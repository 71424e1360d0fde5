/**
 * The relay path: a `Peer` whose data channels travel inside sealed frame
 * envelopes through the relay (docs/protocol.md §10), for networks where
 * WebRTC cannot get through. The channels above it (terminal, stats,
 * files, agents, alerts, control) use it exactly as a WebRTC peer: same
 * `DataChannel` interface, reliable and ordered. No Node APIs: the web
 * client runs it too.
 *
 * Below the interface: records batched into frames of at most 32 KiB,
 * sealed with the session's direction key and a 64-bit counter
 * (`LinkCipher`), delivered only in counter order — an older counter is a
 * duplicate or replay and is dropped, a newer one (past a frame the relay
 * refused) is dropped too and the gap is repaired by the sender going back
 * to it. Flow control keeps the relay's limits: at most `windowBytes` sent
 * and not acked (the relay's per-socket buffer is 8 MiB) and a frame rate
 * under its `send` budget, halved on each `rate_limited` and regained
 * slowly, so a throttled session slows down instead of being dropped. A
 * frame that fails to authenticate, or silence past `deadMs`, ends it.
 */
import { fromUtf8, utf8 } from './bytes.ts';
import { Emitter } from './emitter.ts';
import type { Envelope } from './envelope.ts';
import { ProtocolError, WebRtcError } from './errors.ts';
import type { IceCandidateInit } from './inner.ts';
import {
  decodeLinkRecords,
  encodeLinkRecords,
  LINK_MAX_LABEL,
  LINK_MAX_MESSAGE,
  LINK_MAX_PLAINTEXT,
  LINK_RECORD,
  LINK_RECORD_HEADER,
  type LinkCipher,
  type LinkRecord,
  type LinkRecordType,
  linkAck,
  linkAckValue,
  linkFrameSeq,
} from './link.ts';

// The shapes of `@pocketshell/webrtc`'s engine interface (engine.ts), which a
// relay link implements; repeated here so the browser's client uses it too.
type PeerRole = 'offerer' | 'answerer';
type PeerConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';
type DataChannelState = 'connecting' | 'open' | 'closing' | 'closed';
/** Events of a relay link's channel (as `DataChannelEvents`). */
export interface LinkChannelEvents {
  open: undefined;
  message: Uint8Array | string;
  close: undefined;
  bufferedamountlow: undefined;
}
/** Events of a relay link (as `PeerEvents`; it never has ICE candidates). */
export interface RelayLinkEvents {
  icecandidate: IceCandidateInit | null;
  connectionstatechange: PeerConnectionState;
  datachannel: LinkChannel;
}
type DataChannel = LinkChannel;
type DataChannelEvents = LinkChannelEvents;
type PeerEvents = RelayLinkEvents;
const MAX_MESSAGE_BYTES = LINK_MAX_MESSAGE;

/** Lets a Node process exit with the timer pending (browsers have no such thing). */
function unref(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}

/** The path name a relay link reports (beside WebRTC's `direct`, `turn-udp`, `turn-tcp`, `turn-tls`). */
export const RELAY_PATH = 'relay' as const;

/** How frames leave: through the relay client, to the peer. */
export interface LinkTransport {
  /**
   * Sends one frame envelope. `rid` comes back on the relay's refusal of
   * this frame (`onRefused`). Throws when the relay is not connected.
   */
  send(envelope: Envelope, rid: string): void;
}

/** Tunables (defaults: `DEFAULT_LINK_LIMITS`). */
export interface LinkLimits {
  /** Frame bytes sent and not acked. */
  windowBytes: number;
  /** Frames per second at most (the relay allows 200 per identity). */
  maxRate: number;
  /** Frames per second after a `rate_limited`, at least. */
  minRate: number;
  /** Frames sent at once before the rate applies. */
  burst: number;
  /** An ack goes out after this many frames received … */
  ackEvery: number;
  /** … or this long after the first unacked one. */
  ackDelayMs: number;
  /** Without an ack for this long, unacked frames are sent again. */
  rtoMs: number;
  /** Idle this long, a keepalive ack goes out. */
  keepaliveMs: number;
  /** Nothing heard for this long ends the session (`timeout`). */
  deadMs: number;
  /** Pause after a `rate_limited` before sending again. */
  backoffMs: number;
  /** Channels open at once. */
  maxChannels: number;
}

export const DEFAULT_LINK_LIMITS: LinkLimits = {
  windowBytes: 1024 * 1024,
  maxRate: 120,
  minRate: 5,
  burst: 60,
  ackEvery: 4,
  ackDelayMs: 20,
  rtoMs: 3000,
  keepaliveMs: 15_000,
  deadMs: 45_000,
  backoffMs: 500,
  maxChannels: 256,
};

/** What a relay link needs. */
export interface LinkOptions {
  /** The device offers (opens channels with odd ids); the host answers (even ids). */
  role: PeerRole;
  cipher: LinkCipher;
  transport: LinkTransport;
  /** Milliseconds clock (default `Date.now`). */
  now?: () => number;
  limits?: Partial<LinkLimits>;
}

interface Queued {
  type: LinkRecordType;
  chan: number;
  payload: Uint8Array;
  channel?: LinkChannel;
}

interface InFlight {
  seq: number;
  envelope: Envelope;
  bytes: number;
}

/** One data channel of a relay link. */
export class LinkChannel extends Emitter<DataChannelEvents> {
  readonly label: string;
  readonly id: number;
  readonly #link: RelayLink;
  #state: DataChannelState;
  #buffered = 0;
  bufferedAmountLowThreshold = 0;
  #listeners = 0;
  /** Messages that arrived before anyone listened (the host attaches its handler after checks). */
  readonly #held: (Uint8Array | string)[] = [];

  constructor(link: RelayLink, id: number, label: string, state: DataChannelState) {
    super();
    this.#link = link;
    this.id = id;
    this.label = label;
    this.#state = state;
  }

  override on<K extends keyof DataChannelEvents & string>(
    event: K,
    listener: (payload: DataChannelEvents[K]) => void,
  ): () => void {
    const off = super.on(event, listener);
    if (event === 'message') {
      this.#listeners += 1;
      if (this.#held.length > 0) queueMicrotask(() => this.#flushHeld());
    }
    return off;
  }

  override off<K extends keyof DataChannelEvents & string>(
    event: K,
    listener: (payload: DataChannelEvents[K]) => void,
  ): void {
    super.off(event, listener);
    if (event === 'message' && this.#listeners > 0) this.#listeners -= 1;
  }

  #flushHeld(): void {
    while (this.#listeners > 0 && this.#held.length > 0) this.emit('message', this.#held.shift()!);
  }

  get readyState(): DataChannelState {
    return this.#state;
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  send(data: Uint8Array | string): void {
    if (this.#state !== 'open') throw new WebRtcError('not_open', `channel ${this.label} is not open`);
    const bytes = typeof data === 'string' ? utf8(data) : data.slice();
    if (bytes.length > MAX_MESSAGE_BYTES) {
      throw new WebRtcError(
        'message_too_large',
        `message of ${bytes.length} bytes exceeds ${MAX_MESSAGE_BYTES}`,
      );
    }
    this.#buffered += bytes.length;
    this.#link.enqueue({
      type: typeof data === 'string' ? LINK_RECORD.text : LINK_RECORD.binary,
      chan: this.id,
      payload: bytes,
      channel: this,
    });
  }

  close(): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#link.closeChannel(this);
  }

  /** Bytes of this channel left the queue for the relay. */
  drained(n: number): void {
    const before = this.#buffered;
    this.#buffered -= n;
    if (before > this.bufferedAmountLowThreshold && this.#buffered <= this.bufferedAmountLowThreshold)
      if (this.#state === 'open') this.emit('bufferedamountlow');
  }

  opened(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    this.emit('open');
  }

  received(data: Uint8Array | string): void {
    if (this.#state !== 'open' && this.#state !== 'closing') return;
    if (this.#listeners === 0 || this.#held.length > 0) this.#held.push(data);
    else this.emit('message', data);
  }

  markClosing(): void {
    if (this.#state === 'open' || this.#state === 'connecting') this.#state = 'closing';
  }

  markClosed(): void {
    if (this.#state === 'closed') return;
    this.#flushHeld();
    this.#state = 'closed';
    this.emit('close');
    queueMicrotask(() => this.removeAllListeners());
  }
}

/**
 * A relay-path session behind the `Peer` interface. The signalling calls
 * of WebRTC (`createOffer` …) do not apply and throw `unsupported`; the
 * session is set up by the signed `link.open`/`link.accept` (link.ts).
 */
export class RelayLink extends Emitter<PeerEvents> {
  readonly role: PeerRole;
  readonly conn: string;
  readonly #o: LinkOptions;
  readonly #limits: LinkLimits;
  readonly #now: () => number;
  #state: PeerConnectionState = 'connected';
  readonly #channels = new Map<number, LinkChannel>();
  #nextChan: number;
  // send side
  readonly #queue: Queued[] = [];
  readonly #inflight: InFlight[] = [];
  #inflightBytes = 0;
  /** Index into `#inflight` of the next frame to send again after a go-back. */
  #resend = 0;
  #nextSeq = 0;
  #rate: number;
  #tokens: number;
  #tokensAt: number;
  #pauseUntil = 0;
  #lastAckProgress: number;
  #lastSent: number;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #pumpQueued = false;
  // receive side
  #expected = 0;
  #unacked = 0;
  #ackOwed = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #lastHeard: number;
  readonly #watchdog: ReturnType<typeof setInterval>;
  /** Frames the relay refused with `rate_limited`, and counters for diagnostics. */
  readonly stats = { framesSent: 0, framesResent: 0, framesReceived: 0, dropped: 0, throttled: 0 };
  #closeReason: string | undefined;

  constructor(options: LinkOptions) {
    super();
    this.#o = options;
    this.role = options.role;
    this.conn = options.cipher.conn;
    this.#limits = { ...DEFAULT_LINK_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    this.#nextChan = options.role === 'offerer' ? 1 : 2;
    this.#rate = this.#limits.maxRate;
    this.#tokens = this.#limits.burst;
    const t = this.#now();
    this.#tokensAt = t;
    this.#lastAckProgress = t;
    this.#lastSent = t;
    this.#lastHeard = t;
    const tick = Math.max(50, Math.min(1000, this.#limits.rtoMs / 3));
    this.#watchdog = setInterval(() => this.#tick(), tick);
    unref(this.#watchdog);
  }

  /** Which way this connection goes: always through the relay. */
  async path(): Promise<typeof RELAY_PATH> {
    return RELAY_PATH;
  }

  get connectionState(): PeerConnectionState {
    return this.#state;
  }

  /** Why the session ended (an error code), once it has. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  createOffer(): Promise<string> {
    return Promise.reject(new ProtocolError('unsupported', 'a relay link has no SDP'));
  }
  createAnswer(): Promise<string> {
    return Promise.reject(new ProtocolError('unsupported', 'a relay link has no SDP'));
  }
  setLocalDescription(): Promise<string> {
    return Promise.reject(new ProtocolError('unsupported', 'a relay link has no SDP'));
  }
  setRemoteDescription(): Promise<void> {
    return Promise.reject(new ProtocolError('unsupported', 'a relay link has no SDP'));
  }
  addIceCandidate(_candidate: IceCandidateInit | null): Promise<void> {
    return Promise.resolve();
  }
  localFingerprint(): string {
    return '';
  }
  remoteCertificateFingerprint(): string | null {
    return null;
  }

  createDataChannel(label: string): DataChannel {
    if (this.#state !== 'connected') throw new WebRtcError('not_open', 'the relay link is closed');
    const bytes = utf8(label);
    if (bytes.length === 0 || bytes.length > LINK_MAX_LABEL) throw new RangeError('bad channel label');
    if (this.#channels.size >= this.#limits.maxChannels)
      throw new WebRtcError('not_open', 'too many channels on this relay link');
    const id = this.#nextChan;
    this.#nextChan += 2;
    const channel = new LinkChannel(this, id, label, 'connecting');
    this.#channels.set(id, channel);
    this.enqueue({ type: LINK_RECORD.open, chan: id, payload: bytes });
    // Open once the open record is on its way, as a WebRTC channel opens once negotiated.
    queueMicrotask(() => channel.opened());
    return channel;
  }

  // ---------------------------------------------------------------- send side

  /** Queues a record (channels call this). */
  enqueue(record: Queued): void {
    if (this.#state !== 'connected') return;
    this.#queue.push(record);
    this.#schedule();
  }

  closeChannel(channel: LinkChannel): void {
    channel.markClosing();
    this.enqueue({ type: LINK_RECORD.close, chan: channel.id, payload: new Uint8Array(0) });
    // The close is ordered after the channel's messages; it is done for us once queued.
    this.#channels.delete(channel.id);
    queueMicrotask(() => channel.markClosed());
  }

  #schedule(): void {
    if (this.#pumpQueued || this.#state !== 'connected') return;
    this.#pumpQueued = true;
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  #scheduleIn(ms: number): void {
    if (this.#pumpTimer) return;
    this.#pumpTimer = setTimeout(
      () => {
        this.#pumpTimer = undefined;
        this.#pump();
      },
      Math.max(1, Math.ceil(ms)),
    );
    unref(this.#pumpTimer);
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#limits.burst, this.#tokens + ((now - this.#tokensAt) * this.#rate) / 1000);
    this.#tokensAt = now;
  }

  #pump(): void {
    if (this.#state !== 'connected') return;
    for (;;) {
      const now = this.#now();
      const resend = this.#resend < this.#inflight.length;
      const fresh = this.#queue.length > 0 && this.#inflightBytes < this.#limits.windowBytes;
      const ackOnly = !resend && !fresh && this.#ackOwed && this.#unacked >= this.#limits.ackEvery;
      if (!resend && !fresh && !ackOnly) return;
      if (now < this.#pauseUntil) {
        this.#scheduleIn(this.#pauseUntil - now);
        return;
      }
      this.#refill(now);
      if (this.#tokens < 1) {
        this.#scheduleIn(((1 - this.#tokens) * 1000) / this.#rate);
        return;
      }
      this.#tokens -= 1;
      try {
        if (resend) {
          const f = this.#inflight[this.#resend++]!;
          this.#o.transport.send(f.envelope, this.#rid(f.seq));
          this.stats.framesResent += 1;
        } else this.#sendFrame(now);
      } catch (error) {
        // The relay is gone: frames in flight are lost with it, so the session is over.
        this.#fail(error instanceof ProtocolError ? error.code : 'unavailable');
        return;
      }
      this.#lastSent = now;
    }
  }

  #rid(seq: number): string {
    return `${this.conn}.${seq}`;
  }

  #sendFrame(now: number): void {
    const records: LinkRecord[] = [];
    const drained: [LinkChannel, number][] = [];
    let size = 0;
    if (this.#ackOwed) {
      records.push(linkAck(this.#expected));
      size += LINK_RECORD_HEADER + 8;
    }
    while (this.#queue.length > 0) {
      const q = this.#queue[0]!;
      if (size + LINK_RECORD_HEADER + q.payload.length > LINK_MAX_PLAINTEXT) break;
      this.#queue.shift();
      records.push({ type: q.type, chan: q.chan, payload: q.payload });
      size += LINK_RECORD_HEADER + q.payload.length;
      if (q.channel) drained.push([q.channel, q.payload.length]);
    }
    this.#clearAck();
    const seq = this.#nextSeq++;
    const envelope = this.#o.cipher.seal(seq, Math.floor(now / 1000), encodeLinkRecords(records));
    const bytes = envelope.ct.length;
    this.#inflight.push({ seq, envelope, bytes });
    this.#inflightBytes += bytes;
    this.#resend = this.#inflight.length;
    this.#o.transport.send(envelope, this.#rid(seq));
    this.stats.framesSent += 1;
    for (const [channel, n] of drained) channel.drained(n);
  }

  /**
   * The relay refused one of our frames (`rid` as given to the transport).
   * `rate_limited` (our send budget, or the peer's socket is full): slow
   * down, pause, and go back to that frame. Anything else ends the session.
   */
  onRefused(rid: string, code: string): boolean {
    const prefix = `${this.conn}.`;
    if (!rid.startsWith(prefix)) return false;
    if (this.#state !== 'connected') return true;
    const seq = Number(rid.slice(prefix.length));
    if (code !== 'rate_limited') {
      this.#fail(code);
      return true;
    }
    this.stats.throttled += 1;
    this.#rate = Math.max(this.#limits.minRate, this.#rate / 2);
    this.#pauseUntil = this.#now() + this.#limits.backoffMs;
    const index = this.#inflight.findIndex((f) => f.seq === seq);
    if (index >= 0 && index < this.#resend) this.#resend = index;
    this.#schedule();
    return true;
  }

  // ---------------------------------------------------------------- receive side

  /** A frame envelope of this session arrived (the caller checked it comes from the peer). */
  receive(envelope: Envelope): void {
    if (this.#state !== 'connected') return;
    let seq: number;
    try {
      seq = linkFrameSeq(envelope);
    } catch {
      this.stats.dropped += 1;
      return;
    }
    if (seq !== this.#expected) {
      // A duplicate (our ack was lost, or a replay) or past a gap the sender will repair: dropped, and acked.
      this.stats.dropped += 1;
      this.#oweAck(true);
      return;
    }
    let records: LinkRecord[];
    try {
      records = decodeLinkRecords(this.#o.cipher.open(envelope, seq));
    } catch (error) {
      this.#fail(error instanceof ProtocolError ? error.code : 'bad_message');
      return;
    }
    this.#expected += 1;
    this.stats.framesReceived += 1;
    this.#lastHeard = this.#now();
    for (const r of records) {
      if (this.#state !== 'connected') return;
      try {
        this.#onRecord(r);
      } catch (error) {
        this.#fail(error instanceof ProtocolError ? error.code : 'bad_message');
        return;
      }
    }
    // A frame holding only an ack needs no ack back.
    if (records.some((r) => r.type !== LINK_RECORD.ack)) this.#oweAck(false);
  }

  #onRecord(r: LinkRecord): void {
    switch (r.type) {
      case LINK_RECORD.ack:
        this.#onAck(linkAckValue(r));
        return;
      case LINK_RECORD.bye:
        this.#end(
          fromUtf8(r.payload)
            .replace(/[^a-z0-9_]/g, '')
            .slice(0, 48) || 'closed',
          false,
        );
        return;
      case LINK_RECORD.open: {
        const theirs = this.role === 'offerer' ? 0 : 1;
        if (r.chan % 2 !== theirs || this.#channels.has(r.chan) || r.chan === 0)
          throw new ProtocolError('bad_message', 'link: bad channel id');
        if (this.#channels.size >= this.#limits.maxChannels) {
          // Refused like a channel the host closes at once.
          this.enqueue({ type: LINK_RECORD.close, chan: r.chan, payload: new Uint8Array(0) });
          return;
        }
        const channel = new LinkChannel(this, r.chan, fromUtf8(r.payload), 'open');
        this.#channels.set(r.chan, channel);
        this.emit('datachannel', channel);
        return;
      }
      case LINK_RECORD.text:
      case LINK_RECORD.binary: {
        const channel = this.#channels.get(r.chan);
        // A message for a channel closed meanwhile is dropped, as on WebRTC.
        channel?.received(r.type === LINK_RECORD.text ? fromUtf8(r.payload) : r.payload.slice());
        return;
      }
      case LINK_RECORD.close: {
        const channel = this.#channels.get(r.chan);
        if (!channel) return;
        this.#channels.delete(r.chan);
        channel.markClosed();
        return;
      }
    }
  }

  #onAck(next: number): void {
    if (next > this.#nextSeq) throw new ProtocolError('bad_message', 'link: ack past what was sent');
    let progressed = false;
    while (this.#inflight.length > 0 && this.#inflight[0]!.seq < next) {
      const f = this.#inflight.shift()!;
      this.#inflightBytes -= f.bytes;
      this.#resend = Math.max(0, this.#resend - 1);
      progressed = true;
    }
    if (progressed) {
      this.#lastAckProgress = this.#now();
      this.#rate = Math.min(this.#limits.maxRate, this.#rate + 1);
      this.#schedule();
    }
  }

  #oweAck(now: boolean): void {
    this.#ackOwed = true;
    this.#unacked += 1;
    if (now || this.#unacked >= this.#limits.ackEvery) {
      this.#unacked = Math.max(this.#unacked, this.#limits.ackEvery);
      this.#schedule();
      return;
    }
    if (this.#ackTimer) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      if (!this.#ackOwed) return;
      this.#unacked = Math.max(this.#unacked, this.#limits.ackEvery);
      this.#pump();
    }, this.#limits.ackDelayMs);
    unref(this.#ackTimer);
  }

  #clearAck(): void {
    this.#ackOwed = false;
    this.#unacked = 0;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  #tick(): void {
    if (this.#state !== 'connected') return;
    const now = this.#now();
    if (now - this.#lastHeard > this.#limits.deadMs) {
      this.#fail('timeout');
      return;
    }
    if (this.#inflight.length > 0 && this.#resend >= this.#inflight.length) {
      if (now - this.#lastAckProgress > this.#limits.rtoMs) {
        // No ack for a while: go back to the oldest unacked frame.
        this.#resend = 0;
        this.#lastAckProgress = now;
        this.#pump();
      }
    } else if (this.#inflight.length === 0) this.#lastAckProgress = now;
    if (now - this.#lastSent > this.#limits.keepaliveMs) {
      this.#ackOwed = true;
      this.#unacked = this.#limits.ackEvery;
      this.#pump();
    }
  }

  // ---------------------------------------------------------------- end

  /** Ends the session on an error and tells the peer why (best effort: a `bye` in order after what was sent). */
  #fail(code: string): void {
    this.#end(code, true);
  }

  /** Ends the session from outside without telling the peer (its relay connection is gone). */
  fail(code: string): void {
    this.#end(code, false);
  }

  /** Ends the session; `tell` sends a `bye` first (best effort). */
  #end(reason: string, tell: boolean): void {
    if (this.#state === 'closed') return;
    if (tell) {
      try {
        const envelope = this.#o.cipher.seal(
          this.#nextSeq,
          Math.floor(this.#now() / 1000),
          encodeLinkRecords([{ type: LINK_RECORD.bye, chan: 0, payload: utf8(reason) }]),
        );
        this.#nextSeq += 1;
        this.#o.transport.send(envelope, this.#rid(this.#nextSeq - 1));
      } catch {
        // The relay is gone: the peer learns from its silence.
      }
    }
    this.#closeReason = reason;
    this.#state = 'closed';
    clearInterval(this.#watchdog);
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#ackTimer);
    this.#queue.length = 0;
    this.#inflight.length = 0;
    for (const channel of [...this.#channels.values()]) channel.markClosed();
    this.#channels.clear();
    this.emit('connectionstatechange', reason === 'closed' ? 'closed' : 'failed');
  }

  /** Ends the session and tells the peer; idempotent. */
  close(): Promise<void> {
    this.#end('closed', true);
    return Promise.resolve();
  }
}
