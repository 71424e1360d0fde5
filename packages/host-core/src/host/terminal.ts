/**
 * Binds a `term:<target>` data channel to a PTY session: attaches (which
 * sends `attached` + the screen snapshot), forwards every frame the device
 * sends to the attachment, and detaches when the channel closes — the
 * session lives on. When the program exits the attachment sends `exit` and
 * the channel is closed. Output is bounded by the session's ack window.
 * `openTerminal` is the `term` entry of the host's channel table: it opens
 * (or creates) the session the label names, audited.
 */

import { type DataChannel, sendIfOpen } from '@pocketshell/webrtc';
import { HostError } from '../errors.ts';
import { RemoteSessionManager } from '../holder/client.ts';
import type { HostedSession, TerminalAttachment } from '../pty/session-host.ts';
import type { ChannelContext } from './channels.ts';

/** Attaches `channel` to `session`; resolves with the attachment once the snapshot was sent. */
export async function serveTerminal(
  channel: DataChannel,
  session: HostedSession,
  onBadFrame: (error: unknown) => void = () => {},
): Promise<TerminalAttachment> {
  // Frames that arrive before the attachment exists (a resize sent right after open) wait here.
  const early: Uint8Array[] = [];
  let attachment: TerminalAttachment | undefined;
  const offMessage = channel.on('message', (data) => {
    if (typeof data === 'string') {
      onBadFrame(new HostError('closed', 'text frame on a terminal channel'));
      return;
    }
    if (!attachment) {
      early.push(data);
      return;
    }
    try {
      attachment.receive(data);
    } catch (error) {
      onBadFrame(error);
    }
  });
  const offClose = channel.on('close', () => attachment?.detach());
  try {
    attachment = await session.attach({
      send: (frame) => {
        sendIfOpen(channel, frame);
      },
      onClose: (reason) => {
        offMessage();
        offClose();
        if (reason !== 'detached') channel.close();
      },
      // Held in the session holder, a bad frame is reported here instead of thrown by `receive`.
      onError: onBadFrame,
    });
  } catch (error) {
    offMessage();
    offClose();
    throw error;
  }
  if (channel.readyState !== 'open') attachment.detach();
  for (const frame of early) {
    try {
      attachment.receive(frame);
    } catch (error) {
      onBadFrame(error);
    }
  }
  return attachment;
}

/** Sessions whose end this process audits. */
const audited = new WeakSet<HostedSession>();

/** Opens `term:<target>`: `new`, a session id, `tmux:<name>` or `screen:<name>` (docs/protocol.md §6). */
export async function openTerminal(ctx: ChannelContext, target: string, channel: DataChannel): Promise<void> {
  const existing = ctx.sessions.get(target);
  const session = await ctx.sessions.open(target, { owner: ctx.device });
  if (!existing)
    ctx.audit.append('session.opened', { session: session.id, device: ctx.device, kind: session.kind });
  // A session held by the session holder has its end audited by the daemon's holder link (open-host.ts).
  if (!(ctx.sessions instanceof RemoteSessionManager) && !audited.has(session)) {
    // Once per session object (in process, a session lives and ends with this daemon).
    audited.add(session);
    // `reason` when the host ended it: a session limit (idle_timeout, max_lifetime), closed, shutdown.
    session.onExit((code, reason) =>
      ctx.audit.append('session.closed', { session: session.id, code, ...(reason ? { reason } : {}) }),
    );
  }
  await serveTerminal(channel, session, (error) => ctx.refuse(error, 'term frame'));
}
