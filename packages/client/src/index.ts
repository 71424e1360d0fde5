/**
 * `@pocketshell/client`: the device side in Node — pairing, relay link,
 * signed WebRTC connections, control calls and terminal channels.
 */
export * from './agent-client.ts';
export * from './alerts-client.ts';
export * from './device.ts';
export * from './files-client.ts';
export * from './stats-client.ts';
export * from './terminal-client.ts';
