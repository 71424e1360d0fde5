/**
 * PTY sessions: the backend seam and its node-pty implementation, the login
 * shell, tmux/screen discovery, sessions with their screen mirror and flow
 * control, attachments (the transport-neutral end of a `term:` channel),
 * terminal attention detection, and the session manager.
 */
export * from './attachment.ts';
export * from './attention-detector.ts';
export * from './backend.ts';
export * from './login-shell.ts';
export * from './multiplexers.ts';
export * from './screen-mirror.ts';
export * from './session.ts';
export * from './session-host.ts';
export * from './session-limits.ts';
export * from './session-manager.ts';
