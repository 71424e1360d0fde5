/**
 * Opens everything a host agent needs from its state folder — private
 * folder checks, secret store, identity, trust store, audit log, PTY
 * sessions, WebRTC engine — and builds the `HostAgent`. The CLI and the
 * end-to-end tests use this one path, so what they test is what runs.
 */
import type { WebSocketFactory } from '@pocketshell/protocol';
import { WebSocket } from 'ws';
import { AuditLog } from '../audit/audit-log.ts';
import { nodePtyBackend, type PtyBackend } from '../pty/backend.ts';
import { SessionManager } from '../pty/session-manager.ts';
import { type HostIdentity, IdentityStore } from '../state/identity-store.ts';
import type { StatePaths } from '../state/paths.ts';
import { ensurePrivateDir } from '../state/private-files.ts';
import { openSecretStore, type SecretStore } from '../state/secret-store.ts';
import { TrustStore } from '../state/trust-store.ts';
import type { IceServer, WebRtcEngine } from '../webrtc/engine.ts';
import { WeriftEngine } from '../webrtc/werift-engine.ts';
import { HostAgent } from './host-agent.ts';

export interface OpenHostOptions {
  paths: StatePaths;
  relayUrl: string;
  env?: Readonly<Record<string, string | undefined>>;
  backend?: PtyBackend;
  engine?: WebRtcEngine;
  localAddressFilter?: (address: string) => boolean;
  iceServers?: readonly IceServer[];
  enroll?: string;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** An opened host: the agent plus the stores it was built from. */
export interface OpenedHost {
  agent: HostAgent;
  identity: HostIdentity;
  secrets: SecretStore;
  trust: TrustStore;
  audit: AuditLog;
  sessions: SessionManager;
  /** Closes the agent, the sessions and the audit log. Idempotent. */
  close(): Promise<void>;
}

/** Opens the host's state (creating the identity on first use) and builds its agent. */
export async function openHost(options: OpenHostOptions): Promise<OpenedHost> {
  const { paths } = options;
  ensurePrivateDir(paths.root);
  const secrets = await openSecretStore({ paths, ...(options.env ? { env: options.env } : {}) });
  const identity = await new IdentityStore({ paths, secrets }).loadOrCreate();
  const trust = new TrustStore({ paths });
  const audit = AuditLog.open(paths.audit);
  const sessions = new SessionManager({
    backend: options.backend ?? nodePtyBackend(),
    ...(options.env ? { env: options.env } : {}),
  });
  const agent = new HostAgent({
    identity,
    trust,
    audit,
    sessions,
    engine: options.engine ?? engineFromEnv(options.env ?? process.env),
    relayUrl: options.relayUrl,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    ...(options.localAddressFilter ? { localAddressFilter: options.localAddressFilter } : {}),
    ...(options.iceServers ? { iceServers: options.iceServers } : {}),
    ...(options.enroll !== undefined ? { enroll: options.enroll } : {}),
    ...(options.minBackoffMs !== undefined ? { minBackoffMs: options.minBackoffMs } : {}),
    ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
  });
  let closed: Promise<void> | undefined;
  return {
    agent,
    identity,
    secrets,
    trust,
    audit,
    sessions,
    close: () => {
      closed ??= (async () => {
        await agent.close();
        await sessions.close();
        audit.close();
      })();
      return closed;
    },
  };
}

/**
 * The default engine. `POCKETSHELL_ICE_ADDRESS` binds ICE to one local
 * address (tests and benchmarks use 127.0.0.1, so nothing leaves loopback).
 */
export function engineFromEnv(env: Readonly<Record<string, string | undefined>>): WebRtcEngine {
  const bindAddress = env.POCKETSHELL_ICE_ADDRESS;
  return new WeriftEngine(bindAddress ? { bindAddress } : {});
}
