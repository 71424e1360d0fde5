/**
 * The frame shared by the list screens: a top bar (back button, title,
 * relay state) and the bottom tabs (Hosts, Scan, Devices), each a 48 px
 * touch target.
 */

import type { App } from '../app.ts';
import { icon } from '../icons.ts';
import { h } from '../ui.ts';

export type Tab = 'hosts' | 'scan' | 'devices';

export function frame(
  app: App,
  title: string,
  content: HTMLElement,
  options: { tab?: Tab; back?: string } = {},
): { el: HTMLElement; dispose: () => void } {
  const relayDot = h('span', { class: 'relay-state', 'data-testid': 'relay-state' });
  const showRelay = (s: string) => {
    relayDot.dataset.state = s;
    relayDot.textContent = s === 'ready' ? '' : 'offline';
    relayDot.title = s === 'ready' ? 'relay connected' : 'relay not connected';
  };
  showRelay(app.device.relay.state);
  const off = app.device.on('relay', showRelay);
  const tab = (id: Tab, label: string) =>
    h(
      'a',
      {
        class: 'tab',
        href: `#/${id}`,
        'aria-current': options.tab === id ? 'page' : undefined,
      },
      icon(id),
      h('span', {}, label),
    );
  const el = h(
    'div',
    { class: 'screen' },
    h(
      'header',
      { class: 'bar' },
      options.back
        ? h('a', { class: 'icon-button', href: options.back, 'aria-label': 'Back' }, '‹')
        : h('span', { class: 'logo', 'aria-hidden': 'true' }, '❯_'),
      h('h1', {}, title),
      relayDot,
    ),
    h('main', { class: 'content' }, content),
    options.tab
      ? h('nav', { class: 'tabs' }, tab('hosts', 'Hosts'), tab('scan', 'Scan'), tab('devices', 'Devices'))
      : null,
  );
  app.root.replaceChildren(el);
  return { el, dispose: off };
}
