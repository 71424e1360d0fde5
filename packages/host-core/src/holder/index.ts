/** The session holder: the process that keeps sessions across daemon restarts, and the daemon's proxy to it. */
export * from './client.ts';
export * from './server.ts';
export * from './wire.ts';
