/**
 * Devices: this device's id and fingerprint (what the computer shows in
 * `pocketshell devices list`), and the pinned hosts with an Unpair button.
 */
import { fingerprint } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { fill, h, toast } from '../ui.ts';
import { frame } from './chrome.ts';

export function devicesView(app: App): () => void {
  const hosts = h('ul', { class: 'list' });
  const body = h(
    'div',
    { class: 'stack' },
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'label' }, 'This device'),
      h(
        'code',
        { class: 'fingerprint', 'data-testid': 'device-fingerprint' },
        fingerprint(app.device.keyPair.publicKey),
      ),
      h('div', { class: 'row-sub' }, app.device.id),
    ),
    h('h2', {}, 'Paired computers'),
    hosts,
  );
  const { dispose } = frame(app, 'Devices', body, { tab: 'devices' });
  const render = () => {
    const list = app.device.hosts();
    if (list.length === 0) {
      fill(hosts, h('li', { class: 'empty muted' }, 'None.'));
      return;
    }
    fill(
      hosts,
      ...list.map((host) =>
        h(
          'li',
          { class: 'row', 'data-replaced': host.replacedBy ? 'true' : undefined },
          h(
            'span',
            { class: 'row-main' },
            h('span', { class: 'row-title' }, host.name),
            h('span', { class: 'row-sub wrap' }, host.fingerprint),
          ),
          host.replacedBy ? h('span', { class: 'badge old-key' }, 'old key') : null,
          h(
            'button',
            {
              class: 'button danger small',
              type: 'button',
              onclick: async () => {
                const which = host.replacedBy ? ' (old key)' : '';
                if (
                  !confirm(`Unpair ${host.name}${which}? You will need a new pairing code to use it again.`)
                )
                  return;
                await app.device.unpair(host.id);
                toast(`Unpaired ${host.name}`);
              },
            },
            'Unpair',
          ),
        ),
      ),
    );
  };
  render();
  const off = app.device.on('hosts', render);
  return () => {
    off();
    dispose();
  };
}
