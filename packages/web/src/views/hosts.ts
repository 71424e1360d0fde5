/**
 * The hosts screen: every pinned host with its live presence from the
 * relay; tapping one opens its sessions. A host replaced by a new key of
 * the same name (an acknowledged key change) is marked "old key", so two
 * identical names never look alike. With no host yet it explains how to
 * pair.
 */
import type { App } from '../app.ts';
import { fill, h } from '../ui.ts';
import { frame } from './chrome.ts';

export function hostsView(app: App): () => void {
  const list = h('ul', { class: 'list', 'data-testid': 'hosts' });
  const body = h('div', { class: 'stack' }, list);
  const { dispose } = frame(app, 'Hosts', body, { tab: 'hosts' });
  const render = () => {
    const hosts = app.device.hosts();
    if (hosts.length === 0) {
      fill(
        list,
        h(
          'li',
          { class: 'empty' },
          h('p', { class: 'lead' }, 'No computers yet'),
          h(
            'p',
            { class: 'muted' },
            'On your computer, run pocketshell pair and scan the QR code with your camera.',
          ),
          h('a', { class: 'button primary', href: '#/scan' }, 'Scan a code'),
        ),
      );
      return;
    }
    fill(
      list,
      ...hosts.map((host) => {
        const online = app.device.online(host.id);
        const state = online === undefined ? 'unknown' : online ? 'online' : 'offline';
        return h(
          'li',
          {},
          h(
            'a',
            {
              class: 'row',
              href: `#/host/${host.id}`,
              'data-host': host.id,
              'data-state': state,
              'data-replaced': host.replacedBy ? 'true' : undefined,
            },
            h('span', { class: `dot ${state}`, 'aria-hidden': 'true' }),
            h(
              'span',
              { class: 'row-main' },
              h('span', { class: 'row-title' }, host.name),
              h('span', { class: 'row-sub' }, host.fingerprint),
            ),
            host.replacedBy ? h('span', { class: 'badge old-key' }, 'old key') : null,
            h('span', { class: `presence ${state}` }, state === 'unknown' ? '…' : state),
          ),
        );
      }),
    );
  };
  render();
  const offs = [
    app.device.on('presence', render),
    app.device.on('hosts', render),
    app.device.on('relay', render),
  ];
  return () => {
    for (const off of offs) off();
    dispose();
  };
}
