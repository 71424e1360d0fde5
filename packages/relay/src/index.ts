/**
 * `@pocketshell/relay`: the self-hostable control plane — authentication,
 * pairing, routing of sealed envelopes, presence, TURN credentials, health
 * and metrics. The process is `bin/pocketshell-relay.js`; this surface lets
 * other code embed a relay or reuse its storage. The PostgreSQL store is
 * `@pocketshell/relay/postgres` (apart, so its driver loads only where it is
 * used). Test helpers live in `@pocketshell/relay/testing`.
 */
export { verifyAuth } from './auth.ts';
export {
  type DatabaseConfig,
  defaultDataDir,
  loadConfig,
  type Registration,
  type RelayConfig,
} from './config.ts';
export { openDataStore, prepareDataDir, privateDatabaseFiles } from './data-dir.ts';
export { describeDatabaseUrl, isPostgresUrl } from './database-url.ts';
export { RelayError, type RelayErrorCode } from './errors.ts';
export { DEFAULT_LIMITS, type Limits, RateLimiter } from './limits.ts';
export { Logger, type LogLevel } from './log.ts';
export { Metrics } from './metrics.ts';
export { MIGRATIONS, type Migration } from './migrations.ts';
export { Relay, type RelayDeps, wsOriginOf } from './relay.ts';
export { DATABASE_FILE, SqliteStore } from './sqlite-store.ts';
export type { NewToken, PushSubscriptionRecord, RelayStore, TokenRecord } from './store.ts';
export { newToken, secretHash } from './tokens.ts';
export { type TurnCredentials, turnCredentials } from './turn.ts';
export {
  BUILD_WEB_COMMAND,
  buildWebClient,
  bundledWebRoot,
  ensureWebClient,
  missingWebHint,
  webClientBuilt,
  webClientStale,
} from './web-root.ts';
