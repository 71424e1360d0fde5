/**
 * `@pocketshell/webrtc`: the WebRTC layer shared by the host and the Node
 * device — the `WebRtcEngine` interface and its two engines (werift,
 * node-datachannel; each library loads on its engine's first peer, not at
 * import), the signed offer/answer negotiation, the DTLS certificate
 * binding, the ICE candidate policy and the paced channel writer. Test
 * support and the engine conformance suite are in `@pocketshell/webrtc/testing`.
 */
export * from './candidate-policy.ts';
export * from './channel-writer.ts';
export * from './connect-timing.ts';
export * from './dtls-binding.ts';
export * from './engine.ts';
export * from './errors.ts';
export * from './handshake.ts';
export * from './negotiate.ts';
export * from './node-datachannel-engine.ts';
export * from './relay-link.ts';
export * from './send-if-open.ts';
export * from './turn-choice.ts';
export * from './werift-engine.ts';
