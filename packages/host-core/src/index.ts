/**
 * `@pocketshell/host-core`: the host library — state and secrets, identity
 * and trust store, audit log, PTY sessions, the WebRTC engine layer, and the
 * host agent that ties them to the relay.
 */
export * from './audit/index.ts';
export * from './errors.ts';
export * from './host/control.ts';
export * from './host/host-agent.ts';
export * from './host/open-host.ts';
export * from './host/terminal.ts';
export * from './pty/index.ts';
export * from './state/index.ts';
export * from './webrtc/channel-writer.ts';
export * from './webrtc/dtls-binding.ts';
export * from './webrtc/engine.ts';
export * from './webrtc/errors.ts';
export * from './webrtc/events.ts';
export * from './webrtc/handshake.ts';
export * from './webrtc/negotiate.ts';
export * from './webrtc/node-datachannel-engine.ts';
export * from './webrtc/sdp.ts';
export * from './webrtc/werift-engine.ts';
