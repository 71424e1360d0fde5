/**
 * `@pocketshell/host-core/holder`: the second door of this package, for the
 * session holder process alone (host-agent's holder-main.ts) and for what
 * must load as little as it does (the host's config file). A holder lives
 * as long as its shells, so its bundle holds only this: the session
 * manager and its PTY backend, the holder's server, the state folder's
 * paths and private files — no WebRTC, relay, stats, files or agents,
 * which the main door (index.ts) would bring in with it.
 */
export { HOLDER_IDLE_MS, SessionHolder } from './holder/server.ts';
export { holderSocket } from './holder/wire.ts';
export { nodePtyBackend } from './pty/backend.ts';
export { PASS_ENV_RE } from './pty/login-shell.ts';
export type { SessionLimits, SessionTimeouts } from './pty/session-limits.ts';
export { SessionManager } from './pty/session-manager.ts';
export { type StatePaths, statePaths } from './state/paths.ts';
export { ensurePrivateDir, readJsonFile, writeJsonFile } from './state/private-files.ts';
export { privateUmask } from './state/umask.ts';
