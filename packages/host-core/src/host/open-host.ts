/**
 * Opens everything a host agent needs from its state folder — private
 * folder checks, secret store, identity, trust store, audit log, PTY
 * sessions, WebRTC engine — and builds the `HostAgent`. The CLI and the
 * end-to-end tests use this one path, so what they test is what runs.
 */

import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AgentKind, WebSocketFactory } from '@pocketshell/protocol';
import { once } from '@pocketshell/protocol';
import type { IceServer, WebRtcEngine } from '@pocketshell/webrtc';
import {
  NodeDataChannelEngine,
  nodeDataChannelAvailable,
  WebRtcError,
  WeriftEngine,
} from '@pocketshell/webrtc';
import { WebSocket } from 'ws';
import { agentRunDir, agentSandbox } from '../agent/agent-sandbox.ts';
import type { AgentAdapter } from '../agent/backend.ts';
import { claudeAdapter } from '../agent/claude.ts';
import { claudeHistory } from '../agent/claude-history.ts';
import { codexAdapter } from '../agent/codex.ts';
import { listCodexSessions } from '../agent/codex-history.ts';
import { AgentManager, type AgentManagerOptions } from '../agent/manager.ts';
import { AlertCenter } from '../alerts/center.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { FileRoot, fsError } from '../files/confine.ts';
import { DEFAULT_TRANSFER_LIMITS, type TransferLimits } from '../files/transfers.ts';
import { RemoteSessionManager, startHolder } from '../holder/client.ts';
import { holderSocket } from '../holder/wire.ts';
import { nodePtyBackend, type PtyBackend } from '../pty/backend.ts';
import type { SessionHost } from '../pty/session-host.ts';
import type { SessionTimeouts } from '../pty/session-limits.ts';
import { SessionManager } from '../pty/session-manager.ts';
import { type HostIdentity, IdentityStore } from '../state/identity-store.ts';
import type { StatePaths } from '../state/paths.ts';
import { ensurePrivateDir } from '../state/private-files.ts';
import { openSecretStore, type SecretStore } from '../state/secret-store.ts';
import { TrustStore } from '../state/trust-store.ts';
import { StatsCollector } from '../stats/collector.ts';
import { HistoryStore } from '../stats/history.ts';
import type { FilesService } from './files.ts';
import { HostAgent, type PeerLimits } from './host-agent.ts';
import type { StatsHistoryQuery, StatsService } from './stats.ts';

export interface OpenHostOptions {
  paths: StatePaths;
  relayUrl: string;
  /** Other nodes of the same relay fleet, tried in turn when the current one drops. */
  relayFallbackUrls?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  backend?: PtyBackend;
  engine?: WebRtcEngine;
  /** The engine for offers with the stream-TURN hint (default: werift when `engine` is TURN-over-UDP only). */
  streamTurnEngine?: WebRtcEngine;
  localAddressFilter?: (address: string) => boolean;
  iceServers?: readonly IceServer[];
  enroll?: string;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Session caps: in total (default 16) and per device (default 8). */
  sessionLimits?: { total?: number; perDevice?: number };
  /**
   * Idle timeout and maximum lifetime of sessions, by device (config
   * `sessionLimits`; default none). Changed later with `sessions.setTimeouts`.
   */
  sessionTimeouts?: SessionTimeouts;
  /** WebRTC peer caps (see `DEFAULT_PEER_LIMITS`). */
  peerLimits?: Partial<PeerLimits>;
  /** Extra environment variable names (or `PREFIX*`) PTY children get from the daemon (config `passEnv`). */
  passEnv?: readonly string[];
  /**
   * Keep the monitoring history (`stats.db` in the state folder, fed by the
   * collector at least once a minute, served as `stats.history`). The
   * daemon and `up` keep it; off by default, so a test host writes no
   * database it does not need.
   */
  keepHistory?: boolean;
  /** The history the `stats` channel serves (`stats.history`; none: `unsupported`); `keepHistory` sets it. */
  statsHistory?: StatsHistoryQuery;
  /** Hears every stats sample's numeric series (at least once a minute): feeds the history store. */
  onStatsSample?: (values: Record<string, number>, at: number) => void;
  /**
   * The `files` channel: the default root of every device (default: the
   * host user's home; a device's own `filesRoot` in the trust store comes
   * first) and the home the deny list is under (default `os.homedir()`);
   * tests point both at a temporary folder.
   */
  files?: { root?: string; home?: string; limits?: Partial<TransferLimits> };
  /**
   * The alert center (docs/host.md "Alerts": `alerts.json` and
   * `alerts-history.json` in the state folder, the rules evaluated every
   * `sampleMs`, terminal attention, the `alerts` channel, pushes through the
   * relay, the `alerts.exec` hook). The daemon and `up` always keep one;
   * off by default, so a test host writes no alert files it does not need.
   */
  alerts?: { sampleMs?: number; exec?: readonly string[]; execTimeoutMs?: number };
  /**
   * Where the PTYs live. Absent: in this process (a `SessionManager`; tests
   * and `up`). Given: in the state folder's session holder
   * (`holderSocket(paths)`), started with `command` (stdio appended to
   * `holder.log`) when none answers; the sessions outlive this process
   * (docs/host.md "Session holder"). `backend`, `sessionLimits` and `passEnv`
   * are then the holder's own.
   */
  holder?: { command: readonly string[]; socketPath?: string; log?: (line: string) => void };
  /**
   * Agent sessions (docs/host.md "Agents"): the `agent` channel, Claude Code
   * (and whatever other adapters are given), each session's folder under
   * `<state>/agents`. `mcpCommand` starts the permission prompt tool
   * (`pocketshell agent-permission-mcp`); executables are found on `env`'s
   * PATH. The daemon and `up` always keep it; off by default.
   */
  agents?: {
    mcpCommand: readonly string[];
    adapters?: Partial<Record<AgentKind, AgentAdapter>>;
    histories?: AgentManagerOptions['histories'];
    limits?: AgentManagerOptions['limits'];
    /** The sandbox (default: bubblewrap when it works here; `false`: none). */
    sandbox?: AgentManagerOptions['sandbox'] | false;
    /** The sandboxed agent's network (default `on`: it talks to its model's API). */
    network?: 'on' | 'off';
    filter?: AgentManagerOptions['filter'];
  };
}

/** The session holder's log in a state folder. */
export function holderLog(paths: StatePaths): string {
  return join(paths.root, 'holder.log');
}

/** An opened host: the agent plus the stores it was built from. */
export interface OpenedHost<S extends SessionHost = SessionManager> {
  agent: HostAgent;
  /** The WebRTC engine the agent runs (its `name` is what `status` reports). */
  engine: WebRtcEngine;
  identity: HostIdentity;
  secrets: SecretStore;
  trust: TrustStore;
  audit: AuditLog;
  /** The sessions: in process, or the holder's (`holder` option). */
  sessions: S;
  /** The stats collector and history the `stats` channel serves. */
  stats: StatsService;
  /** The alert center (with `alerts`). */
  alerts?: AlertCenter;
  /** The agent sessions (with `agents`). */
  agents?: AgentManager;
  /** Closes the agent, the sessions and the audit log. Idempotent. */
  close(): Promise<void>;
}

/** Opens the host's state (creating the identity on first use) and builds its agent. */
export async function openHost(
  options: OpenHostOptions & { holder?: undefined },
): Promise<OpenedHost<SessionManager>>;
export async function openHost(options: OpenHostOptions): Promise<OpenedHost<SessionHost>>;
export async function openHost(options: OpenHostOptions): Promise<OpenedHost<SessionHost>> {
  const { paths } = options;
  ensurePrivateDir(paths.root);
  const secrets = await openSecretStore({ paths, ...(options.env ? { env: options.env } : {}) });
  const identity = await new IdentityStore({ paths, secrets }).loadOrCreate();
  const trust = new TrustStore({ paths });
  const audit = AuditLog.open(paths.audit);
  // The center pushes through the agent, built last: bound once it exists.
  let agentRef: HostAgent | undefined;
  let alerts: AlertCenter | undefined;
  const onAttention = (event: Parameters<AlertCenter['attention']>[0]) => {
    alerts?.attention(event);
  };
  const holder = options.holder;
  let sessions: SessionHost;
  if (holder) {
    const socketPath = holder.socketPath ?? holderSocket(paths);
    try {
      sessions = await RemoteSessionManager.connect({
        socketPath,
        start: () =>
          startHolder(holder.command, holderLog(paths), {
            ...process.env,
            ...options.env,
          } as NodeJS.ProcessEnv),
        onAttention,
        // Every end the holder reports is audited here, also of sessions no device attached since
        // this daemon started and of those that ended while no daemon ran (host/terminal.ts).
        onSessionExit: (session, code, reason) =>
          audit.append('session.closed', { session, code, ...(reason ? { reason } : {}) }),
        ...(options.sessionTimeouts ? { timeouts: options.sessionTimeouts } : {}),
        ...(holder.log ? { log: holder.log } : {}),
      });
    } catch (error) {
      audit.close();
      throw error;
    }
  } else sessions = inProcess(options, onAttention);
  const engine = options.engine ?? engineFromEnv(options.env ?? process.env);
  // Chromium over TURN/TCP or TLS cannot reach a node-datachannel peer (libjuice refuses its
  // checks, docs/transport.md): offers with the stream-TURN hint are answered on werift
  // (loaded with its first such peer only).
  const bindAddress = (options.env ?? process.env).POCKETSHELL_ICE_ADDRESS;
  const streamTurnEngine =
    options.streamTurnEngine ??
    (engine.turnTransports && !engine.turnTransports.includes('tcp')
      ? new WeriftEngine(bindAddress ? { bindAddress } : {})
      : undefined);
  const history = options.keepHistory ? new HistoryStore(paths.root) : undefined;
  const onSample =
    history || options.onStatsSample
      ? (values: Record<string, number>, at: number) => {
          try {
            history?.record(at, values);
          } catch {
            // A refused value (a series past the cap, a name it cannot keep) loses only itself.
          }
          options.onStatsSample?.(values, at);
        }
      : undefined;
  // systeminformation loads with the first sample, not here.
  const collector = new StatsCollector(onSample ? { onSample } : {});
  if (onSample) collector.startHistory();
  const statsHistory = options.statsHistory ?? history;
  const stats: StatsService = { collector, ...(statsHistory ? { history: statsHistory } : {}) };
  if (options.alerts) {
    try {
      alerts = new AlertCenter({
        root: paths.root,
        audit,
        collector,
        devices: () => trust.list(),
        push: async (device, body) => {
          if (!agentRef) throw new Error('the agent is not built yet');
          await agentRef.pushAlert(device, body);
        },
        ...(options.alerts.sampleMs !== undefined ? { sampleMs: options.alerts.sampleMs } : {}),
        ...(options.alerts.exec ? { exec: options.alerts.exec } : {}),
        ...(options.alerts.execTimeoutMs !== undefined
          ? { execTimeoutMs: options.alerts.execTimeoutMs }
          : {}),
      });
    } catch (error) {
      // A corrupt alerts file refuses the start (state_corrupt, naming the file); close what is open.
      collector.close();
      await sessions.close();
      history?.close();
      audit.close();
      throw error;
    }
  }
  const files: FilesService = {
    // The device's own root when it has one (`pocketshell devices root`), read at each channel's opening.
    root: async (device) => {
      const known = trust.status(device);
      const root = (known.status === 'paired' ? known.device.filesRoot : undefined) ?? options.files?.root;
      try {
        return await FileRoot.open({
          ...(root !== undefined ? { root } : {}),
          ...(options.files?.home !== undefined ? { home: options.files.home } : {}),
          deny: [paths.root],
        });
      } catch (error) {
        throw fsError(error, 'the files root');
      }
    },
    limits: { ...DEFAULT_TRANSFER_LIMITS, ...options.files?.limits },
  };
  const env = options.env ?? process.env;
  const home = env.HOME ?? homedir();
  const runDir = agentRunDir(env, home);
  const agents = options.agents
    ? new AgentManager({
        adapters: {
          claude: claudeAdapter({
            mcpCommand: options.agents.mcpCommand,
            runDir,
          }),
          codex: codexAdapter,
          ...options.agents.adapters,
        },
        histories: {
          claude: claudeHistory,
          // Every root: the manager keeps those inside the asking device's roots.
          codex: (home, limit) => listCodexSessions({ home, roots: ['/'], limit }),
          ...options.agents.histories,
        },
        policy: (device) => {
          const known = trust.status(device);
          return known.status === 'paired' ? known.device.agent : undefined;
        },
        deviceName: (device) => {
          const known = trust.status(device);
          return known.status === 'paired' ? known.device.name : undefined;
        },
        audit,
        env,
        home,
        sandbox:
          options.agents.sandbox ||
          agentSandbox({
            env,
            stateDir: paths.root,
            runDir,
            programs: [process.execPath, ...options.agents.mcpCommand.filter((a) => a.startsWith('/'))],
            off: options.agents.sandbox === false,
            network: options.agents.network ?? 'on',
          }),
        tiersFile: join(paths.root, 'agent-tiers.json'),
        onApproval: (session, event) => {
          alerts?.agent({
            session: session.id,
            title: `${session.kind === 'claude' ? 'Claude' : 'Codex'} needs approval`,
            body: event.summary,
          });
        },
        ...(options.agents.limits ? { limits: options.agents.limits } : {}),
        ...(options.agents.filter ? { filter: options.agents.filter } : {}),
      })
    : undefined;
  const agent = new HostAgent({
    identity,
    trust,
    audit,
    sessions,
    stats,
    files,
    ...(alerts ? { alerts } : {}),
    ...(agents ? { agents } : {}),
    engine,
    ...(streamTurnEngine ? { streamTurnEngine } : {}),
    relayUrl: options.relayUrl,
    ...(options.relayFallbackUrls ? { relayFallbackUrls: options.relayFallbackUrls } : {}),
    WebSocket: WebSocket as unknown as WebSocketFactory,
    ...(options.localAddressFilter ? { localAddressFilter: options.localAddressFilter } : {}),
    ...(options.iceServers ? { iceServers: options.iceServers } : {}),
    ...(options.enroll !== undefined ? { enroll: options.enroll } : {}),
    ...(options.minBackoffMs !== undefined ? { minBackoffMs: options.minBackoffMs } : {}),
    ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
    ...(options.peerLimits ? { peerLimits: options.peerLimits } : {}),
  });
  agentRef = agent;
  return {
    agent,
    engine,
    identity,
    secrets,
    trust,
    audit,
    sessions,
    stats,
    ...(alerts ? { alerts } : {}),
    ...(agents ? { agents } : {}),
    close: once(async () => {
      await agents?.close();
      await alerts?.close();
      collector.close();
      await agent.close();
      await sessions.close();
      history?.close();
      audit.close();
    }),
  };
}

/** The in-process session manager `openHost` builds without `holder`. */
function inProcess(
  options: OpenHostOptions,
  onAttention: NonNullable<ConstructorParameters<typeof SessionManager>[0]['onAttention']>,
): SessionManager {
  return new SessionManager({
    onAttention,
    backend: options.backend ?? nodePtyBackend(),
    ...(options.env ? { env: options.env } : {}),
    ...(options.passEnv ? { passEnv: options.passEnv } : {}),
    ...(options.sessionLimits?.total !== undefined ? { limit: options.sessionLimits.total } : {}),
    ...(options.sessionLimits?.perDevice !== undefined
      ? { ownerLimit: options.sessionLimits.perDevice }
      : {}),
    ...(options.sessionTimeouts ? { timeouts: options.sessionTimeouts } : {}),
  });
}

/** The engines `POCKETSHELL_ENGINE` may name. */
export const ENGINE_NAMES = ['node-datachannel', 'werift'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/**
 * The engine this platform runs by default, chosen by measurement
 * (docs/transport.md): node-datachannel wherever its prebuilt native binary
 * loads (it moves terminal output several times faster, opens in a few
 * milliseconds and idles lighter), werift (pure TypeScript) elsewhere.
 */
export function defaultEngineName(available: () => boolean = nodeDataChannelAvailable): EngineName {
  return available() ? 'node-datachannel' : 'werift';
}

/**
 * The engine from the environment. `POCKETSHELL_ENGINE=werift|node-datachannel`
 * forces one (an unknown name, or node-datachannel where it cannot load,
 * throws `WebRtcError` `engine`); unset, the platform default.
 * `POCKETSHELL_ICE_ADDRESS` binds ICE to one local address (tests and
 * benchmarks use 127.0.0.1, so nothing leaves loopback).
 */
export function engineFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  available: () => boolean = nodeDataChannelAvailable,
): WebRtcEngine {
  const bindAddress = env.POCKETSHELL_ICE_ADDRESS;
  const wanted = env.POCKETSHELL_ENGINE || defaultEngineName(available);
  if (wanted === 'werift') return new WeriftEngine(bindAddress ? { bindAddress } : {});
  if (wanted === 'node-datachannel') {
    if (!available()) throw new WebRtcError('engine', 'node-datachannel cannot load on this platform');
    return new NodeDataChannelEngine(bindAddress ? { bindAddress } : {});
  }
  throw new WebRtcError('engine', `POCKETSHELL_ENGINE must be one of ${ENGINE_NAMES.join(', ')}`);
}
