/** The hash-chained audit log: appending entries and verifying the chain. */
export * from './audit-log.ts';
