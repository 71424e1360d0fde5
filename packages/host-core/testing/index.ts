/**
 * `@pocketshell/host-core/testing`: test support only. The WebRTC test
 * support moved with the engines to `@pocketshell/webrtc/testing`; this
 * entry re-exports it so existing tests keep their import.
 */
export * from '@pocketshell/webrtc/testing';
