/**
 * `@pocketshell/webrtc/testing`: test support only, never imported by
 * production code — the loopback engine and event helpers (`testing.ts`),
 * the Chromium path and flags the browser tests use, and the engine
 * conformance suite every `WebRtcEngine` must pass (`engine-conformance.ts`),
 * and what a fresh process loads on import (`module-graph.ts`).
 */
export * from './engine-conformance.ts';
export * from './module-graph.ts';
export * from './testing.ts';
