/**
 * Host state and secrets: the state folder layout, private atomic files, the
 * secret store (OS keychain or 0600 files), the host identity, the trust
 * store of paired and revoked devices, and the root guard.
 */
export * from './identity-store.ts';
export * from './paths.ts';
export * from './private-files.ts';
export * from './root-check.ts';
export * from './secret-store.ts';
export * from './trust-store.ts';
export * from './umask.ts';
