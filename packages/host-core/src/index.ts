/**
 * `@pocketshell/host-core`: the host library — state and secrets, identity
 * and trust store, audit log, PTY sessions, and the host agent that ties
 * them to the relay. The WebRTC layer is `@pocketshell/webrtc`.
 */

// The WebRTC layer moved to @pocketshell/webrtc; re-exported so host-core's users see no change.
export * from '@pocketshell/webrtc';
export * from './agent/agent-sandbox.ts';
export * from './agent/backend.ts';
export * from './agent/claude.ts';
export * from './agent/claude-history.ts';
export { codexAdapter } from './agent/codex.ts';
export { listCodexSessions } from './agent/codex-history.ts';
export * from './agent/manager.ts';
export * from './agent/permission-mcp.ts';
export * from './agent/policy.ts';
export * from './agent/sandbox.ts';
export * from './agent/secret-filter.ts';
export * from './alerts/center.ts';
export * from './alerts/exec-hook.ts';
export * from './alerts/rule-state.ts';
export * from './alerts/sampler.ts';
export * from './alerts/store.ts';
export * from './audit/index.ts';
export * from './errors.ts';
export * from './files/confine.ts';
export * from './files/transfers.ts';
export * from './holder/index.ts';
export * from './host/agent.ts';
export * from './host/alerts.ts';
export * from './host/control.ts';
export * from './host/files.ts';
export * from './host/host-agent.ts';
export * from './host/open-host.ts';
export * from './host/stats.ts';
export * from './host/terminal.ts';
export * from './pty/index.ts';
export * from './state/index.ts';
export * from './stats/collector.ts';
export * from './stats/history.ts';
