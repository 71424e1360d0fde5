/**
 * One host: connects to it and lists what can be attached — our own
 * sessions, tmux and screen sessions — plus "New session". Tapping one
 * opens the terminal screen on it; each of our sessions can be renamed
 * (`sessions.rename`) or closed (`sessions.close`, after a confirmation).
 * Below them: *Monitor* (the host's live stats), *Files* (the file
 * browser), *Alerts* (history, rules, notifications), *Agents* (Claude
 * Code and Codex sessions; only when this device holds the `agent` grant
 * there) and *Devices*.
 */
import type { HostId, SessionInfo } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { frame } from './chrome.ts';

export function hostView(app: App, [id]: string[]): () => void {
  const host = app.device.host(id ?? '');
  const body = h('div', { class: 'stack' });
  const { dispose } = frame(app, host?.name ?? 'Host', body, { back: '#/hosts' });
  if (!host) {
    fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
    return dispose;
  }
  let gone = false;
  const status = h('p', { class: 'muted', 'data-testid': 'host-status' }, 'Connecting…');
  const open = (target: string) => app.go(`#/t/${host.id}/${encodeURIComponent(target)}`);
  const devices = h(
    'a',
    { class: 'button grow half', href: `#/host/${host.id}/devices`, 'data-testid': 'host-devices' },
    'Devices',
  );
  const monitor = h(
    'a',
    { class: 'button grow half', href: `#/host/${host.id}/monitor`, 'data-testid': 'host-monitor' },
    'Monitor',
  );
  const files = h(
    'a',
    { class: 'button grow half', href: `#/host/${host.id}/files`, 'data-testid': 'host-files' },
    'Files',
  );
  const alerts = h(
    'a',
    { class: 'button grow half', href: `#/host/${host.id}/alerts`, 'data-testid': 'host-alerts' },
    'Alerts',
  );
  const agents = h(
    'a',
    { class: 'button grow half', href: `#/host/${host.id}/agents`, 'data-testid': 'host-agents' },
    'Agents',
  );
  // Shown only to a device holding `agent` there (the stored grants at once, then the host's own word).
  const showAgents = () => {
    agents.hidden = !(app.device.host(host.id)?.grants.includes('agent') ?? false);
  };
  showAgents();
  const links = h('div', { class: 'button-row wrap' }, monitor, files, alerts, agents, devices);
  fill(
    body,
    h(
      'button',
      { class: 'button primary', type: 'button', 'data-testid': 'new-session', onclick: () => open('new') },
      'New session',
    ),
    status,
    links,
  );
  const load = async () => {
    const online = app.device.online(host.id as HostId);
    if (online === false) {
      status.textContent = 'This host is offline.';
      return;
    }
    status.textContent = 'Connecting…';
    try {
      const link = await app.device.link(host.id);
      // The grants now (a grant given while connected does not reconnect): whether to offer Agents.
      void link
        .call('host.info')
        .then(({ grants }) => {
          if (!gone) agents.hidden = !grants.includes('agent');
        })
        .catch(() => {});
      const list = await link.call('sessions.list');
      if (gone) return;
      const rows: HTMLElement[] = [];
      const row = (target: string, title: string, sub: string, kind: string) =>
        h(
          'li',
          {},
          h(
            'button',
            { class: 'row', type: 'button', 'data-target': target, onclick: () => open(target) },
            h('span', { class: 'badge' }, kind),
            h(
              'span',
              { class: 'row-main' },
              h('span', { class: 'row-title' }, title),
              h('span', { class: 'row-sub' }, sub),
            ),
            h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
          ),
        );
      for (const s of list.sessions) {
        const li = row(
          s.id,
          s.name || s.title || 'Shell',
          `${s.name && s.title ? `${s.title} · ` : ''}${s.cols ?? '?'}×${s.rows ?? '?'} · ${s.attached ?? 0} attached`,
          'pty',
        );
        li.classList.add('with-actions');
        li.append(
          h(
            'button',
            {
              class: 'icon-button',
              type: 'button',
              'aria-label': 'Rename session',
              'data-action': 'rename',
              onclick: () => void rename(s),
            },
            '✎',
          ),
          h(
            'button',
            {
              class: 'icon-button danger',
              type: 'button',
              'aria-label': 'Close session',
              'data-action': 'close',
              onclick: () => void close(s),
            },
            '✕',
          ),
        );
        rows.push(li);
      }
      for (const t of list.tmux) rows.push(row(`tmux:${t}`, t, 'tmux session', 'tmux'));
      for (const s of list.screen) rows.push(row(`screen:${s}`, s, 'screen session', 'screen'));
      fill(
        body,
        h(
          'button',
          {
            class: 'button primary',
            type: 'button',
            'data-testid': 'new-session',
            onclick: () => open('new'),
          },
          'New session',
        ),
        rows.length
          ? h('ul', { class: 'list', 'data-testid': 'sessions' }, ...rows)
          : h('p', { class: 'muted' }, 'No sessions yet.'),
        links,
      );
    } catch (error) {
      if (gone) return;
      status.replaceChildren(
        `Could not reach the host: ${(error as Error).message} `,
        h(
          'button',
          { class: 'button', type: 'button', 'data-testid': 'host-retry', onclick: () => void load() },
          'Try again',
        ),
      );
    }
  };
  const rename = async (s: SessionInfo) => {
    const field = h('input', {
      type: 'text',
      class: 'text-field',
      maxlength: 64,
      value: s.name || s.title || '',
      'aria-label': 'Session name',
      'data-testid': 'rename-field',
      autofocus: true,
    });
    const { result } = sheet({
      title: 'Rename session',
      testid: 'rename-sheet',
      content: [field],
      actions: [
        { label: 'Cancel', value: 'cancel' },
        { label: 'Rename', value: 'save', kind: 'primary', testid: 'rename-save' },
      ],
    });
    if ((await result) !== 'save' || gone) return;
    try {
      const link = await app.device.link(host.id);
      await link.call('sessions.rename', { id: s.id, name: field.value.trim() });
      await load();
    } catch (error) {
      toast(`Could not rename: ${(error as Error).message}`);
    }
  };
  const close = async (s: SessionInfo) => {
    const { result } = sheet({
      title: 'Close this session?',
      testid: 'close-sheet',
      content: [
        h(
          'p',
          { class: 'muted' },
          `“${s.name || s.title || 'Shell'}” ends on the computer, with everything running in it, for every device attached.`,
        ),
      ],
      actions: [
        { label: 'Cancel', value: 'cancel', testid: 'close-cancel' },
        { label: 'Close session', value: 'close', kind: 'danger', testid: 'close-confirm' },
      ],
    });
    if ((await result) !== 'close' || gone) return;
    try {
      const link = await app.device.link(host.id);
      await link.call('sessions.close', { id: s.id });
      toast('Session closed');
      await load();
    } catch (error) {
      toast(`Could not close: ${(error as Error).message}`);
    }
  };
  void load();
  const off = app.device.on('presence', (p) => {
    if (p.host === host.id && p.online) void load();
  });
  const offHosts = app.device.on('hosts', showAgents);
  return () => {
    gone = true;
    off();
    offHosts();
    dispose();
  };
}
