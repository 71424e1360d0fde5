/**
 * The hosts screen: every pinned host with its live presence from the
 * relay; tapping one opens its sessions. A host replaced by a new key of
 * the same name (an acknowledged key change) is marked "old key", so two
 * identical names never look alike. With no host yet it explains how to
 * pair.
 *
 * Each online host whose pairing gave this device `stats` gets a live card
 * under its row (`host-card.ts`): CPU, memory and network sparklines from a
 * slow watch (every 2 s) that runs only while this screen is shown and the
 * page is visible; tapping it opens the host's Monitor screen.
 */
import type { HostId } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { fill, h } from '../ui.ts';
import { frame } from './chrome.ts';
import { type HostCard, hostCard } from './host-card.ts';

export function hostsView(app: App): () => void {
  const list = h('ul', { class: 'list', 'data-testid': 'hosts' });
  const body = h('div', { class: 'stack' }, list);
  const { dispose } = frame(app, 'Hosts', body, { tab: 'hosts' });
  /** Live cards by host id; kept across renders (a presence change redraws the rows, not the cards). */
  const cards = new Map<HostId, HostCard>();
  const render = () => {
    const hosts = app.device.hosts();
    const wanted = new Set<HostId>(
      hosts
        .filter((x) => !x.replacedBy && x.grants.includes('stats') && app.device.online(x.id) === true)
        .map((x) => x.id),
    );
    for (const [id, card] of cards)
      if (!wanted.has(id)) {
        card.dispose();
        cards.delete(id);
      }
    for (const id of wanted) if (!cards.has(id)) cards.set(id, hostCard(app, id));
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
            alertBadge(host.id),
            h('span', { class: `presence ${state}` }, state === 'unknown' ? '…' : state),
          ),
          cards.get(host.id)?.el,
        );
      }),
    );
  };
  const alertBadge = (id: HostId) => {
    const n = app.device.alerts.unseen(id);
    if (n === 0) return null;
    return h(
      'span',
      {
        class: 'badge alert-count',
        'data-testid': 'alert-badge',
        'aria-label': `${n} new alert${n === 1 ? '' : 's'}`,
        onclick: (e: Event) => {
          e.preventDefault();
          app.go(`#/host/${id}/alerts`);
        },
      },
      String(n > 99 ? '99+' : n),
    );
  };
  render();
  const offs = [
    app.device.alerts.on('changed', render),
    app.device.on('presence', render),
    app.device.on('hosts', render),
    app.device.on('relay', render),
  ];
  return () => {
    for (const off of offs) off();
    for (const card of cards.values()) card.dispose();
    cards.clear();
    dispose();
  };
}
