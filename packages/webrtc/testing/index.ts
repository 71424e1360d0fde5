/**
 * `@pocketshell/webrtc/testing`: test support only, never imported by
 * production code — the loopback engine, event helpers and the in-memory
 * candidate pipe (`testing.ts`), the Chromium path and flags the browser
 * tests use, the engine conformance suite every `WebRtcEngine` must pass
 * and its signed-handshake helpers (`engine-conformance.ts`), and what a
 * fresh process loads on import and after each step (`module-graph.ts`).
 */

export * from './coturn.ts';
export * from './engine-conformance.ts';
export * from './module-graph.ts';
export * from './testing.ts';
