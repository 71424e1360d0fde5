/**
 * What the host code (channels, control, daemon) needs from its sessions —
 * one interface both the in-process `SessionManager` and the daemon's proxy
 * to the session holder (`RemoteSessionManager`, holder/client.ts)
 * implement, so the host code does not care where the PTYs live.
 */
import type { ExitReason } from '@pocketshell/protocol';
import type { AttachOptions, PacingInfo } from './attachment.ts';
import type { SessionInfo, SessionKind } from './session.ts';
import type { SessionTimeouts } from './session-limits.ts';
import type { Discovered, OpenOptions } from './session-manager.ts';

/** The host's end of one attachment: device frames in, `detach` when the channel goes. */
export interface TerminalAttachment {
  /** One frame the device sent; a bad one throws (in process) or is reported to `onError` (holder). */
  receive(frame: Uint8Array): void;
  detach(): void;
}

/** Attach options, plus where a bad device frame is reported when it is checked elsewhere. */
export interface HostedAttachOptions extends AttachOptions {
  readonly onError?: (error: unknown) => void;
}

/** One session, wherever it runs. */
export interface HostedSession {
  readonly id: string;
  readonly kind: SessionKind;
  info(): SessionInfo;
  rename(name: string): void;
  close(reason?: ExitReason): Promise<void>;
  onExit(listener: (code: number, reason: ExitReason | undefined) => void): void;
  attach(opts: HostedAttachOptions): Promise<TerminalAttachment>;
}

/** The sessions of a host, wherever they run. */
export interface SessionHost {
  get(id: string): HostedSession | undefined;
  open(target: string, opts?: OpenOptions): HostedSession | Promise<HostedSession>;
  list(): SessionInfo[] | Promise<SessionInfo[]>;
  links(): Record<string, PacingInfo[]> | Promise<Record<string, PacingInfo[]>>;
  ownerOf(id: string): string | undefined;
  discover(): Promise<Discovered>;
  setTimeouts(timeouts: SessionTimeouts): void;
  readonly timeouts: SessionTimeouts;
  /** In process: kills every session. Holder: lets go of it (the sessions live on). */
  close(): Promise<void>;
}
