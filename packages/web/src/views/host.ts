/**
 * One host: connects to it and lists what can be attached — our own
 * sessions, tmux and screen sessions — plus "New session". Tapping one
 * opens the terminal screen on it.
 */
import type { HostId } from '@pocketshell/protocol';
import type { App } from '../main.ts';
import { fill, h } from '../ui.ts';
import { frame } from './chrome.ts';

interface SessionRow {
  id: string;
  title?: string;
  attached?: number;
  cols?: number;
  rows?: number;
}
interface SessionsResult {
  sessions: SessionRow[];
  tmux: (string | { name: string })[];
  screen: (string | { name: string })[];
}

const nameOf = (s: string | { name: string }) => (typeof s === 'string' ? s : s.name);

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
  fill(
    body,
    h(
      'button',
      { class: 'button primary', type: 'button', 'data-testid': 'new-session', onclick: () => open('new') },
      'New session',
    ),
    status,
  );
  const load = async () => {
    const online = app.device.online(host.id as HostId);
    if (online === false) {
      status.textContent = 'This host is offline.';
      return;
    }
    try {
      const link = await app.device.link(host.id);
      const list = await link.call<SessionsResult>('sessions.list');
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
        rows.push(
          row(
            s.id,
            s.title || 'Shell',
            `${s.cols ?? '?'}×${s.rows ?? '?'} · ${s.attached ?? 0} attached`,
            'pty',
          ),
        );
      }
      for (const t of list.tmux) rows.push(row(`tmux:${nameOf(t)}`, nameOf(t), 'tmux session', 'tmux'));
      for (const s of list.screen)
        rows.push(row(`screen:${nameOf(s)}`, nameOf(s), 'screen session', 'screen'));
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
      );
    } catch (error) {
      if (!gone) status.textContent = `Could not reach the host: ${(error as Error).message}`;
    }
  };
  void load();
  const off = app.device.on('presence', (p) => {
    if (p.host === host.id && p.online) void load();
  });
  return () => {
    gone = true;
    off();
    dispose();
  };
}
