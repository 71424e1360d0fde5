/**
 * `@pocketshell/host-core/testing`: test support only, never imported by
 * production code — the files fixture (`files.ts`: a root with an outside
 * folder, a denied state folder and a real audit log), the PTY session
 * helpers (`pty.ts`: a frame recorder, a
 * spawn-counting backend, a predictable test shell). The WebRTC test
 * support moved with the engines to `@pocketshell/webrtc/testing`; this
 * entry re-exports it so existing tests keep their import.
 */
export * from '@pocketshell/webrtc/testing';
export * from './files.ts';
export * from './pty.ts';
