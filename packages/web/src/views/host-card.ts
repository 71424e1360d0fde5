/**
 * A host's live card on the hosts list: CPU %, memory % and network
 * (received + sent) as figures with sparklines of the last two minutes,
 * and a chip per filesystem at or past 90 % use. Fed by a slow watch
 * (`stats-watch.ts`, every 2 s) that the hosts screen stops when it goes
 * away; hidden until the first snapshot, and hidden for good when the host
 * refuses the `stats` channel (no error shown: the card is a bonus).
 * Tapping it opens the host's Monitor screen.
 */
import type { HostId, StatsSnapshot } from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { fullDisks, memPct, netRates, pct, shortBytes, sparkline } from '../stats-format.ts';
import { watchHost } from '../stats-watch.ts';
import { fill, h } from '../ui.ts';

/** Rate of the hosts list's watch. */
export const CARD_INTERVAL_MS = 2000;
/** Points kept per sparkline (two minutes at 2 s). */
const POINTS = 60;

export interface HostCard {
  el: HTMLElement;
  dispose(): void;
}

export function hostCard(app: App, hostId: HostId): HostCard {
  const el = h('a', {
    class: 'stats-card',
    href: `#/host/${hostId}/monitor`,
    'data-testid': 'host-card',
    'data-stats-host': hostId,
    'aria-label': 'Monitor',
    hidden: true,
  });
  const cpu: number[] = [];
  const mem: number[] = [];
  const net: number[] = [];
  const push = (list: number[], v: number) => {
    list.push(v);
    if (list.length > POINTS) list.shift();
  };
  const cell = (metric: string, label: string, value: string, values: number[], max?: number) =>
    h(
      'span',
      { class: `spark-cell ${metric}`, 'data-metric': metric },
      h('span', { class: 'spark-head' }, h('span', { class: 'spark-label' }, label), h('b', {}, value)),
      sparkline(values, max),
    );
  const draw = (s: StatsSnapshot) => {
    const { rx, tx } = netRates(s);
    push(cpu, s.cpu.total);
    push(mem, memPct(s));
    push(net, rx + tx);
    el.hidden = false;
    el.dataset.at = String(s.at);
    el.dataset.cpu = s.cpu.total.toFixed(1);
    el.dataset.points = String(cpu.length);
    const full = fullDisks(s);
    fill(
      el,
      h(
        'span',
        { class: 'spark-row' },
        cell('cpu', 'CPU', pct(s.cpu.total), cpu, 100),
        cell('mem', 'Mem', pct(memPct(s)), mem, 100),
        cell('net', 'Net/s', `↓${shortBytes(rx)} ↑${shortBytes(tx)}`, net),
      ),
      full.length
        ? h(
            'span',
            { class: 'chips' },
            ...full.map((d) =>
              h(
                'span',
                { class: 'warn-chip', 'data-testid': 'disk-warning', 'data-mount': d.mount },
                `${d.mount} ${Math.floor(d.pct)}% full`,
              ),
            ),
          )
        : null,
    );
  };
  const watch = watchHost(app.device, hostId, {
    intervalMs: CARD_INTERVAL_MS,
    onSnapshot: draw,
    onState: (state) => {
      el.dataset.state = state;
      if (state === 'refused' || state === 'offline') el.hidden = true;
    },
  });
  return { el, dispose: () => watch.stop() };
}
