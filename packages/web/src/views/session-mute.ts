/**
 * "Alerts from this session" in the terminal's settings sheet: whether the
 * session's terminal attention (bell, OSC 9/777, a long command, a prompt)
 * raises alerts, read from `alerts.rules` (`muted`) and changed with
 * `alerts.mute` over the host's `alerts` channel (opened for the sheet and
 * closed with it). A host without an alert center says so.
 */
import type { HostId } from '@pocketshell/protocol';
import type { AlertsChannel } from '../alerts-channel.ts';
import type { App } from '../app.ts';
import { fill, h } from '../ui.ts';

export function sessionMute(
  app: App,
  host: HostId,
  session: string | undefined,
): { el: HTMLElement; close(): void } {
  const chip = h(
    'button',
    {
      type: 'button',
      class: 'chip toggle',
      'data-testid': 'session-alerts',
      disabled: true,
      'aria-pressed': 'false',
    },
    '…',
  );
  const note = h('span', { class: 'row-sub', 'data-testid': 'session-alerts-note' }, 'Asking the host…');
  const el = h(
    'div',
    { class: 'toggle-row' },
    h('span', { class: 'row-main' }, h('span', { class: 'row-title' }, 'Alerts from this session'), note),
    chip,
  );
  let channel: AlertsChannel | undefined;
  let closed = false;
  let muted = false;
  const show = () => {
    chip.setAttribute('aria-pressed', String(!muted));
    fill(chip, muted ? 'Muted' : 'On');
    note.textContent = muted
      ? 'Bell and notifications of this session raise no alert.'
      : 'Bell, notifications, long commands.';
  };
  if (session === undefined) {
    note.textContent = 'Not attached yet.';
    fill(chip, '—');
  } else {
    void (async () => {
      try {
        const link = await app.device.link(host);
        const c = await link.openAlerts();
        if (closed) return c.close();
        channel = c;
        muted = (await c.rules()).muted.includes(session);
        chip.disabled = false;
        show();
      } catch (error) {
        fill(chip, '—');
        note.textContent =
          (error as { code?: unknown }).code === 'unsupported'
            ? 'This host’s agent is too old for alerts.'
            : (error as { code?: unknown }).code === 'grant_missing'
              ? 'This device may not read this host’s alert settings.'
              : 'The host cannot be reached right now.';
      }
    })();
  }
  chip.addEventListener('click', async () => {
    if (!channel || session === undefined) return;
    chip.disabled = true;
    try {
      muted = (await channel.mute(session, !muted)).muted;
      show();
    } catch {
      note.textContent = 'The host refused.';
    } finally {
      chip.disabled = false;
    }
  });
  return {
    el,
    close() {
      closed = true;
      channel?.close();
    },
  };
}
