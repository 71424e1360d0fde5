/**
 * `@pocketshell/protocol`: the wire protocol shared by the host, the relay
 * and the web client — encodings, identities, transcripts, HPKE sealing,
 * SAS, replay protection, message types and parsers, error codes. No Node
 * APIs; nothing runs on import.
 */

export * from './agent.ts';
export * from './alerts.ts';
export * from './bytes.ts';
export * from './channels.ts';
export * from './control-methods.ts';
export * from './device-signals.ts';
export * from './emitter.ts';
export * from './envelope.ts';
export * from './errors.ts';
export * from './files.ts';
export * from './files-frames.ts';
export * from './frames.ts';
export * from './held-bytes.ts';
export * from './hpke.ts';
export * from './identity.ts';
export * from './inner.ts';
export * from './link.ts';
export * from './link-path.ts';
export * from './loopback.ts';
export * from './messages.ts';
export * from './once.ts';
export * from './pairing.ts';
export * from './predict.ts';
export * from './relay-client.ts';
export * from './relay-link.ts';
export * from './replay.ts';
export * from './rpc.ts';
export * from './rpc-endpoint.ts';
export * from './rpc-frames.ts';
export * from './sas.ts';
export * from './schema.ts';
export * from './sdp-handshake.ts';
export * from './stats.ts';
export * from './terminal-stream.ts';
export * from './time.ts';
export * from './transcript.ts';
