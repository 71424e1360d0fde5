/**
 * One open WebRTC connection to a host, in the browser: the
 * `RTCPeerConnection`, its `control` channel (the protocol's
 * `CONTROL_METHODS` over the shared typed RPC client: results checked on
 * arrival, errors as `RemoteError` with the host's code), terminal channels,
 * the `stats`, `alerts` and `agent` channels and `files` channels opened
 * on demand,
 * and which path the bytes take (peer to peer, through a TURN relay, or
 * end to end through the PocketShell relay: relay-peer.ts).
 * `WebDevice.connect` builds it once the signed answer is applied and the
 * control channel is open.
 */
import {
  type CallArgs,
  CONTROL_METHODS,
  type ControlMethod,
  type ControlMethods,
  type ControlResult,
  Emitter,
  type LinkPath,
  linkPathOf,
  MAX_CONTROL_REPLY,
  ProtocolError,
  type RpcClient,
} from '@pocketshell/protocol';
import { AgentChannel } from './agent-channel.ts';
import { AlertsChannel } from './alerts-channel.ts';
import { FilesChannel } from './files-channel.ts';
import { RelayPeer } from './relay-peer.ts';
import { rpcOverDataChannel } from './rpc-channel.ts';
import { StatsChannel } from './stats-channel.ts';
import type { PinnedHost } from './store.ts';
import { TermChannel } from './term-channel.ts';

/** The path of a connection (`LinkPath`: direct, TURN over UDP/TCP/TLS, end to end through the relay), or unknown. */
export type Route = LinkPath | 'unknown';

/** What a `HostLink` uses of its connection: an `RTCPeerConnection`, or the relay path's `RelayPeer`. */
export type LinkPeer = RTCPeerConnection | RelayPeer;

export interface HostLinkEvents {
  /** The peer connection ended (by us, the host, or the network). */
  close: string;
}

const OPEN_TIMEOUT_MS = 20_000;

export class HostLink extends Emitter<HostLinkEvents> {
  readonly host: PinnedHost;
  readonly conn: string;
  readonly pc: LinkPeer;
  readonly control: RTCDataChannel;
  readonly #rpc: RpcClient<ControlMethods>;
  #closed = false;
  readonly #onClose: (tellHost: boolean) => void;

  constructor(
    host: PinnedHost,
    conn: string,
    pc: LinkPeer,
    control: RTCDataChannel,
    onClose: (tellHost: boolean) => void,
  ) {
    super();
    this.host = host;
    this.conn = conn;
    this.pc = pc;
    this.control = control;
    this.#onClose = onClose;
    // Replies larger than one channel message arrive as binary fragments (rpc-frames.ts);
    // a malformed one is dropped.
    this.#rpc = rpcOverDataChannel(control, CONTROL_METHODS, MAX_CONTROL_REPLY);
    control.addEventListener('close', () => this.#end('control channel closed'));
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.#end(pc.connectionState);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls a control method of the host (typed by the protocol's method map). */
  call<K extends ControlMethod>(method: K, ...args: CallArgs<ControlMethods, K>): Promise<ControlResult<K>> {
    return this.#rpc.call(method, ...args);
  }

  /**
   * Opens `term:<target>` (`new`, a session id, `tmux:<name>`,
   * `screen:<name>`) and resolves once the host attached it; the snapshot
   * follows as `data` events. Refused targets reject with `unavailable`.
   */
  async openTerminal(
    target: string,
    cols: number,
    rows: number,
    setup?: (term: TermChannel) => void,
  ): Promise<TermChannel> {
    if (this.#closed) throw new ProtocolError('unavailable', 'connection closed');
    const channel = this.pc.createDataChannel(`term:${target}`);
    const term = new TermChannel(channel);
    setup?.(term);
    let off: (() => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new ProtocolError('timeout', 'terminal did not open')),
          OPEN_TIMEOUT_MS,
        );
        const offAttached = term.once('attached', () => resolve());
        const offClose = term.once('close', () =>
          reject(new ProtocolError('unavailable', 'terminal refused')),
        );
        off = () => {
          offAttached();
          offClose();
        };
        channel.addEventListener('open', () => term.resize(cols, rows), { once: true });
      });
    } catch (error) {
      term.close();
      throw error;
    } finally {
      clearTimeout(timer);
      off?.();
    }
    return term;
  }

  /** Opens the `stats` channel; resolves once it is open (a host without the `stats` grant closes it at once). */
  async openStats(): Promise<StatsChannel> {
    if (this.#closed) throw new ProtocolError('unavailable', 'connection closed');
    const stats = new StatsChannel(this.pc.createDataChannel('stats'));
    try {
      await stats.opened(OPEN_TIMEOUT_MS);
    } catch (error) {
      stats.close();
      throw error;
    }
    return stats;
  }

  /** Opens the `alerts` channel; rejects `unsupported` when the host closes it at once (no alert center there). */
  async openAlerts(): Promise<AlertsChannel> {
    if (this.#closed) throw new ProtocolError('unavailable', 'connection closed');
    const alerts = new AlertsChannel(this.pc.createDataChannel('alerts'));
    try {
      await alerts.opened(OPEN_TIMEOUT_MS);
    } catch (error) {
      alerts.close();
      throw error;
    }
    return alerts;
  }

  /**
   * Opens an `agent` channel; rejects `unsupported` when the host closes it
   * at once (no agents there, or this device lacks the `agent` grant).
   */
  async openAgent(): Promise<AgentChannel> {
    if (this.#closed) throw new ProtocolError('unavailable', 'connection closed');
    const agent = new AgentChannel(this.pc.createDataChannel('agent'));
    // A lost connection ends its watches at once (agent-watch.ts resumes on the next one).
    const off = this.once('close', () => agent.close());
    void agent.closed.then(off);
    try {
      await agent.opened(OPEN_TIMEOUT_MS);
    } catch (error) {
      agent.close();
      throw error;
    }
    return agent;
  }

  /** Opens a `files` channel; resolves once it is open (a host without `files:read` closes it at once). */
  async openFiles(): Promise<FilesChannel> {
    if (this.#closed) throw new ProtocolError('unavailable', 'connection closed');
    const files = new FilesChannel(this.pc.createDataChannel('files'));
    // A lost connection fails its transfers at once (a paused upload resumes on the next one).
    const off = this.once('close', () => files.close());
    void files.closed.then(off);
    try {
      await files.opened(OPEN_TIMEOUT_MS);
    } catch (error) {
      files.close();
      throw error;
    }
    return files;
  }

  /**
   * Where the bytes flow, from the selected ICE candidate pair: a local relay
   * candidate's `relayProtocol` says how this browser reaches its TURN server.
   */
  async route(): Promise<Route> {
    if (this.pc instanceof RelayPeer) return 'relay';
    try {
      const stats = await this.pc.getStats();
      let pairId: string | undefined;
      stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      const pair = pairId ? stats.get(pairId) : undefined;
      if (!pair) return 'unknown';
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      if (!local || !remote) return 'unknown';
      return linkPathOf({
        localType: String(local.candidateType),
        relayProtocol: local.relayProtocol,
        remoteType: String(remote.candidateType),
      });
    } catch {
      return 'unknown';
    }
  }

  #end(reason: string, tellHost = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rpc.close(new ProtocolError('unavailable', 'connection closed'));
    this.#onClose(tellHost);
    this.pc.close();
    this.emit('close', reason);
  }

  /** Closes the connection (sessions live on at the host). Idempotent. */
  close(): void {
    this.#end('closed');
  }

  /**
   * The host ended this connection and said why (a sealed `hangup`:
   * revoked, grants changed): closed now, not when the peer connection's
   * own close arrives, which can be lost.
   */
  hungUp(reason: string): void {
    this.#end(reason, false);
  }
}
