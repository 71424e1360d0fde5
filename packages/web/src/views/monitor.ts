/**
 * A host's Monitor screen (`#/host/<id>/monitor`, from the host screen):
 * a live watch of the host's stats (`stats.watch`, every second) drawn as
 * charts — CPU (total, or one line per core), memory and swap, network
 * received and sent, load — with the last five minutes kept in the page;
 * or, for 1 h / 24 h / 7 d / 30 d / 1 y, the host's own history
 * (`stats.history`; "No history yet" when it keeps none). Below: the
 * cores' load as bars, temperatures and battery, the disks and network
 * interfaces as tables, and the processes (the host's top 50), sortable
 * by CPU, memory, pid or name and filtered as one types. Tapping (or
 * long-pressing) a process opens its actions — TERM, KILL, STOP, CONT —
 * and a second sheet naming the process asks before `process.signal` is
 * sent. Without `admin` the host answers `grant_missing` and the screen
 * says so; without `stats` the whole screen says so.
 */
import {
  HISTORY_RANGES,
  type HistoryRange,
  type HostId,
  PROCESS_SIGNALS,
  type ProcessInfo,
  type ProcessSignal,
  type StatsSnapshot,
} from '@pocketshell/protocol';
import type { App } from '../app.ts';
import { Chart, coreColor, type Line } from '../charts.ts';
import type { StatsHistory } from '../stats-channel.ts';
import {
  bytes,
  DISK_WARN_PCT,
  diskPct,
  duration,
  memPct,
  netRates,
  pct,
  rate,
  swapPct,
} from '../stats-format.ts';
import { type WatchState, watchHost } from '../stats-watch.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { frame } from './chrome.ts';

/** Rate of the Monitor's watch. */
export const MONITOR_INTERVAL_MS = 1000;
/** Live points kept (five minutes at 1 s). */
const LIVE_POINTS = 300;
/** The series asked of the host's history. */
const HISTORY_SERIES = ['cpu', 'mem', 'swap', 'load1', 'net.rx', 'net.tx'];

type Range = 'live' | HistoryRange;
type SortKey = 'cpu' | 'mem' | 'pid' | 'name';

const SIGNAL_EFFECT: Record<ProcessSignal, string> = {
  TERM: 'asks it to end (it may clean up first).',
  KILL: 'ends it at once; it cannot clean up.',
  STOP: 'pauses it until it gets CONT.',
  CONT: 'resumes it after a STOP.',
};

const codeOf = (error: unknown) => (error as { code?: unknown }).code;

export function monitorView(app: App, [id]: string[]): () => void {
  const host = app.device.host(id ?? '');
  const body = h('div', { class: 'stack monitor' });
  const { dispose } = frame(app, host ? `${host.name} · Monitor` : 'Monitor', body, {
    back: host ? `#/host/${host.id}` : '#/hosts',
  });
  if (!host) {
    fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
    return dispose;
  }
  const hostId = host.id as HostId;
  let gone = false;
  let current: StatsSnapshot | undefined;

  // ---------------------------------------------------------------- status and about
  const status = h('p', { class: 'muted', 'data-testid': 'monitor-status' }, 'Connecting…');
  const denied = h(
    'div',
    { class: 'card warn', 'data-testid': 'stats-denied', 'data-code': 'grant_missing', hidden: true },
    h('div', { class: 'warn-title' }, 'Not allowed'),
    h('p', {}, `This device may not see how ${host.name} is doing: it does not hold the stats grant there.`),
    h('p', { class: 'muted' }, 'A device with admin on that computer can give it.'),
  );
  const about = h('div', { class: 'card about', 'data-testid': 'monitor-about', hidden: true });

  // ---------------------------------------------------------------- range
  let range: Range = 'live';
  let history: StatsHistory | undefined;
  const ranges: Range[] = ['live', ...HISTORY_RANGES];
  const rangeButtons = ranges.map((r) =>
    h(
      'button',
      {
        type: 'button',
        class: 'seg',
        'data-range': r,
        'aria-pressed': r === 'live' ? 'true' : 'false',
        onclick: () => void setRange(r),
      },
      r === 'live' ? 'Live' : r,
    ),
  );
  const rangeBar = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Range', 'data-testid': 'ranges' },
    ...rangeButtons,
  );
  const historyNote = h('p', { class: 'muted', 'data-testid': 'history-note', hidden: true });

  // ---------------------------------------------------------------- charts
  const cpuChart = new Chart('pct', 'chart-cpu');
  const memChart = new Chart('pct', 'chart-mem');
  const netChart = new Chart('rate', 'chart-net');
  const loadChart = new Chart('num', 'chart-load');
  const charts = [cpuChart, memChart, netChart, loadChart];
  const now = {
    cpu: h('span', { class: 'now', 'data-testid': 'now-cpu' }),
    mem: h('span', { class: 'now', 'data-testid': 'now-mem' }),
    net: h('span', { class: 'now', 'data-testid': 'now-net' }),
    load: h('span', { class: 'now', 'data-testid': 'now-load' }),
  };
  let perCore = false;
  const perCoreButton = h(
    'button',
    {
      type: 'button',
      class: 'chip',
      'aria-pressed': 'false',
      'data-testid': 'per-core',
      onclick: () => {
        perCore = !perCore;
        perCoreButton.setAttribute('aria-pressed', String(perCore));
        drawCharts();
      },
    },
    'Per core',
  );
  const cores = h('div', { class: 'cores', 'data-testid': 'cores' });

  const live = {
    x: [] as number[],
    cpu: [] as number[],
    cores: [] as (number | null)[][],
    mem: [] as number[],
    swap: [] as number[],
    rx: [] as number[],
    tx: [] as number[],
    l1: [] as number[],
    l5: [] as number[],
    l15: [] as number[],
  };
  const record = (s: StatsSnapshot) => {
    const { rx, tx } = netRates(s);
    const n = live.x.length;
    live.x.push(s.at / 1000);
    live.cpu.push(s.cpu.total);
    live.cores = s.cpu.cores.map((c, i) => [...(live.cores[i] ?? new Array(n).fill(null)), c.load]);
    live.mem.push(memPct(s));
    live.swap.push(swapPct(s));
    live.rx.push(rx);
    live.tx.push(tx);
    live.l1.push(s.cpu.loadavg[0]);
    live.l5.push(s.cpu.loadavg[1]);
    live.l15.push(s.cpu.loadavg[2]);
    if (live.x.length > LIVE_POINTS)
      for (const list of [
        live.x,
        live.cpu,
        live.mem,
        live.swap,
        live.rx,
        live.tx,
        live.l1,
        live.l5,
        live.l15,
        ...live.cores,
      ])
        list.shift();
  };

  const drawCharts = () => {
    perCoreButton.disabled = range !== 'live';
    if (range === 'live') {
      if (perCore && live.cores.length > 0)
        cpuChart.set(
          live.cores.map((_, i) => ({ label: `#${i}`, color: coreColor(i, live.cores.length) })),
          live.x,
          live.cores,
          false,
        );
      else cpuChart.set([{ label: 'CPU', color: '--chart-1', fill: true }], live.x, [live.cpu]);
      memChart.set(
        [
          { label: 'Memory', color: '--chart-2', fill: true },
          { label: 'Swap', color: '--chart-3' },
        ],
        live.x,
        [live.mem, live.swap],
      );
      netChart.set(
        [
          { label: 'Received', color: '--chart-1', fill: true },
          { label: 'Sent', color: '--chart-4' },
        ],
        live.x,
        [live.rx, live.tx],
      );
      loadChart.set(
        [
          { label: '1 min', color: '--chart-1' },
          { label: '5 min', color: '--chart-2' },
          { label: '15 min', color: '--chart-3' },
        ],
        live.x,
        [live.l1, live.l5, live.l15],
      );
      return;
    }
    // A history range: the series on one time axis (the union of their minutes), avg and max.
    const byName = new Map((history?.series ?? []).map((s) => [s.name, s.points]));
    const xs = [...new Set([...byName.values()].flatMap((p) => p.map((q) => q[0])))].sort((a, b) => a - b);
    const column = (name: string, field: 2 | 3) => {
      const at = new Map((byName.get(name) ?? []).map((p) => [p[0], p[field]]));
      return xs.map((x) => at.get(x) ?? null);
    };
    const x = xs.map((t) => t / 1000);
    const avgMax = (name: string, label: string, color: string): [Line[], (number | null)[][]] => [
      [
        { label, color, fill: true },
        { label: `${label} max`, color, dash: true },
      ],
      [column(name, 2), column(name, 3)],
    ];
    const [cpuLines, cpuData] = avgMax('cpu', 'CPU', '--chart-1');
    cpuChart.set(cpuLines, x, cpuData);
    memChart.set(
      [
        { label: 'Memory', color: '--chart-2', fill: true },
        { label: 'Swap', color: '--chart-3' },
      ],
      x,
      [column('mem', 2), column('swap', 2)],
    );
    netChart.set(
      [
        { label: 'Received', color: '--chart-1', fill: true },
        { label: 'Sent', color: '--chart-4' },
      ],
      x,
      [column('net.rx', 2), column('net.tx', 2)],
    );
    const [loadLines, loadData] = avgMax('load1', '1 min', '--chart-1');
    loadChart.set(loadLines, x, loadData);
  };

  const setRange = async (r: Range) => {
    range = r;
    for (const b of rangeButtons) b.setAttribute('aria-pressed', String(b.dataset.range === r));
    history = undefined;
    historyNote.hidden = r === 'live';
    if (r === 'live') {
      drawCharts();
      return;
    }
    historyNote.textContent = 'Loading history…';
    historyNote.dataset.state = 'loading';
    drawCharts();
    const c = watch.channel();
    if (!c) {
      // Asked again with the next snapshot, once the watch is connected.
      historyNote.textContent = 'Not connected to the host yet…';
      historyNote.dataset.state = 'offline';
      return;
    }
    try {
      const answer = await c.history(r, HISTORY_SERIES);
      if (gone || range !== r) return;
      history = answer;
      const points = answer.series.reduce((n, s) => n + s.points.length, 0);
      historyNote.hidden = points > 0;
      historyNote.textContent = 'No history yet for this range.';
      historyNote.dataset.state = points > 0 ? 'shown' : 'empty';
    } catch (error) {
      if (gone || range !== r) return;
      const code = codeOf(error);
      // A channel that closed under the request: asked again with the next snapshot.
      historyNote.dataset.state =
        code === 'unsupported' ? 'empty' : code === 'unavailable' ? 'offline' : 'error';
      historyNote.textContent =
        codeOf(error) === 'unsupported'
          ? 'No history yet: this host keeps none.'
          : `Could not load the history: ${(error as Error).message}`;
    }
    drawCharts();
  };

  // ---------------------------------------------------------------- tables
  const sensors = h('div', { class: 'kv', 'data-testid': 'temperatures' });
  const disks = h('div', { class: 'table-wrap', 'data-testid': 'disks' });
  const nets = h('div', { class: 'table-wrap', 'data-testid': 'interfaces' });

  const table = (
    head: string[],
    rows: (string | Node)[][],
    rowAttrs: (i: number) => Record<string, string> = () => ({}),
  ) =>
    h(
      'table',
      { class: 'data' },
      h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows.map((r, i) => h('tr', rowAttrs(i), ...r.map((c) => h('td', {}, c))))),
    );

  const bar = (value: number, warn: boolean) => {
    const fillEl = h('span', { class: 'meter-fill' });
    fillEl.style.width = `${Math.min(100, Math.max(0, value)).toFixed(1)}%`;
    return h('span', { class: `meter${warn ? ' warn' : ''}` }, fillEl);
  };

  const drawFigures = (s: StatsSnapshot) => {
    const { rx, tx } = netRates(s);
    about.hidden = false;
    fill(
      about,
      h('div', { class: 'row-title' }, s.system.hostname),
      h(
        'div',
        { class: 'row-sub wrap' },
        [s.system.distro, s.system.release].filter(Boolean).join(' '),
        ` · ${s.system.kernel} · ${s.system.arch}`,
      ),
      h(
        'div',
        { class: 'row-sub wrap' },
        `${s.system.cpuModel} · ${s.cpu.cores.length} cores · up ${duration(s.system.uptime)}`,
        s.users.length ? ` · ${s.users.length} logged in` : '',
      ),
    );
    now.cpu.textContent = pct(s.cpu.total);
    now.mem.textContent = `${bytes(s.memory.used)} of ${bytes(s.memory.total)}`;
    now.net.textContent = `↓${rate(rx)} ↑${rate(tx)}`;
    now.load.textContent = s.cpu.loadavg.map((l) => l.toFixed(2)).join(' · ');
    fill(
      cores,
      ...s.cpu.cores.map((c, i) => {
        const level = h('span', { class: 'core-level' });
        level.style.height = `${Math.min(100, c.load).toFixed(0)}%`;
        return h(
          'div',
          { class: 'core', title: `core ${i}: ${pct(c.load)} at ${Math.round(c.mhz)} MHz`, 'data-core': i },
          h('span', { class: 'core-bar' }, level),
          h('span', { class: 'core-label' }, String(i)),
        );
      }),
    );
    const sensorRows: Node[] = s.temperatures.map((t) =>
      h('div', { class: 'kv-row' }, h('span', {}, t.label), h('b', {}, `${Math.round(t.celsius)} °C`)),
    );
    if (s.battery)
      sensorRows.push(
        h(
          'div',
          { class: 'kv-row' },
          h('span', {}, 'Battery'),
          h('b', {}, `${Math.round(s.battery.percent)}%${s.battery.charging ? ' ⚡' : ''}`),
        ),
      );
    fill(
      sensors,
      ...(sensorRows.length ? sensorRows : [h('p', { class: 'muted' }, 'No sensors on this machine.')]),
    );
    fill(
      disks,
      s.disks.length
        ? table(
            ['Mount', 'Used', 'Size', 'Use'],
            s.disks.map((d) => {
              const p = diskPct(d);
              return [
                h('span', { class: 'mount' }, d.mount),
                bytes(d.used),
                bytes(d.size),
                h('span', { class: 'use' }, bar(p, p >= DISK_WARN_PCT), pct(p)),
              ];
            }),
            (i) => {
              const d = s.disks[i];
              return d && diskPct(d) >= DISK_WARN_PCT
                ? { class: 'warn', 'data-mount': d.mount }
                : { 'data-mount': d?.mount ?? '' };
            },
          )
        : h('p', { class: 'muted' }, 'No filesystems listed.'),
    );
    const tcp = Object.entries(s.tcp)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${v} ${k.toLowerCase().replace(/_/g, ' ')}`)
      .join(' · ');
    fill(
      nets,
      s.network.length
        ? table(
            ['Interface', '↓ Received', '↑ Sent'],
            s.network.map((n) => [h('span', { class: 'mount' }, n.iface), rate(n.rx), rate(n.tx)]),
            (i) => ({ 'data-iface': s.network[i]?.iface ?? '' }),
          )
        : h('p', { class: 'muted' }, 'No interfaces listed.'),
      tcp ? h('p', { class: 'row-sub wrap' }, `TCP: ${tcp}`) : null,
      s.listening.length
        ? h(
            'p',
            { class: 'row-sub wrap' },
            `Listening: ${s.listening
              .slice(0, 20)
              .map((l) => `${l.port}/${l.proto}${l.process ? ` (${l.process})` : ''}`)
              .join(', ')}`,
          )
        : null,
    );
  };

  // ---------------------------------------------------------------- processes
  let sortKey: SortKey = 'cpu';
  let descending = true;
  const sortButtons = (
    [
      ['cpu', 'CPU'],
      ['mem', 'Memory'],
      ['pid', 'PID'],
      ['name', 'Name'],
    ] as const
  ).map(([key, label]) =>
    h(
      'button',
      {
        type: 'button',
        class: 'chip',
        'data-sort': key,
        'aria-pressed': key === sortKey ? 'true' : 'false',
        onclick: () => {
          if (sortKey === key) descending = !descending;
          else {
            sortKey = key;
            descending = key === 'cpu' || key === 'mem';
          }
          for (const b of sortButtons) {
            const on = b.dataset.sort === sortKey;
            b.setAttribute('aria-pressed', String(on));
            b.dataset.dir = on ? (descending ? 'desc' : 'asc') : '';
          }
          drawProcesses();
        },
      },
      label,
    ),
  );
  (sortButtons[0] as HTMLElement).dataset.dir = 'desc';
  const filter = h('input', {
    type: 'search',
    class: 'text-field',
    placeholder: 'Filter: name, command, user or pid',
    'aria-label': 'Filter processes',
    'data-testid': 'process-filter',
    autocomplete: 'off',
    oninput: () => drawProcesses(),
  });
  const procDenied = h(
    'div',
    { class: 'card warn', 'data-testid': 'process-denied', 'data-code': 'grant_missing', hidden: true },
    h('div', { class: 'warn-title' }, 'Not allowed'),
    h(
      'p',
      {},
      `This device may not act on processes on ${host.name}: it does not hold the admin grant there.`,
    ),
  );
  const procCount = h('p', { class: 'row-sub', 'data-testid': 'process-count' });
  const procList = h('ul', { class: 'list procs', 'data-testid': 'processes' });
  const rows = new Map<number, { li: HTMLElement; p: ProcessInfo; set: (p: ProcessInfo) => void }>();

  const processRow = (first: ProcessInfo) => {
    const name = h('span', { class: 'proc-name' });
    const sub = h('span', { class: 'proc-sub' });
    const cpu = h('b', { class: 'proc-cpu' });
    const mem = h('span', { class: 'proc-mem' });
    const button = h(
      'button',
      {
        type: 'button',
        class: 'proc-row',
        onclick: () => void act(entry.p),
        oncontextmenu: (e: Event) => {
          // A long press on a phone: the same actions, not the browser's menu.
          e.preventDefault();
          void act(entry.p);
        },
      },
      h('span', { class: 'proc-main' }, name, sub),
      h('span', { class: 'proc-figs' }, cpu, mem),
    );
    const li = h('li', {}, button);
    const entry = {
      li,
      p: first,
      set: (p: ProcessInfo) => {
        entry.p = p;
        li.dataset.pid = String(p.pid);
        li.dataset.name = p.name;
        li.dataset.cpu = String(p.cpu);
        name.textContent = p.name;
        sub.textContent = `${p.pid} · ${p.user} · ${p.state}`;
        cpu.textContent = pct(p.cpu);
        mem.textContent = `${pct(p.mem)} · ${bytes(p.rss)}`;
      },
    };
    entry.set(first);
    return entry;
  };

  const drawProcesses = () => {
    if (!current) return;
    const q = filter.value.trim().toLowerCase();
    const shown = current.processes.filter(
      (p) =>
        q === '' ||
        p.name.toLowerCase().includes(q) ||
        p.command.toLowerCase().includes(q) ||
        p.user.toLowerCase().includes(q) ||
        String(p.pid) === q,
    );
    const dir = descending ? -1 : 1;
    shown.sort((a, b) => {
      const by =
        sortKey === 'name'
          ? a.name.localeCompare(b.name)
          : sortKey === 'pid'
            ? a.pid - b.pid
            : sortKey === 'mem'
              ? a.mem - b.mem
              : a.cpu - b.cpu;
      return dir * by || a.pid - b.pid;
    });
    const seen = new Set<number>();
    const items = shown.map((p) => {
      seen.add(p.pid);
      let row = rows.get(p.pid);
      if (row) row.set(p);
      else {
        row = processRow(p);
        rows.set(p.pid, row);
      }
      return row.li;
    });
    for (const pid of rows.keys()) if (!seen.has(pid)) rows.delete(pid);
    procList.replaceChildren(...items);
    procCount.textContent = `${shown.length} of ${current.processes.length} processes (the top ${current.processes.length} by CPU)`;
  };

  /** A signal or renice the host refused: no grant shows the red card, anything else a toast. */
  const actionFailed = (error: unknown, what: string) => {
    if (gone) return;
    if (codeOf(error) === 'grant_missing') {
      procDenied.hidden = false;
      procDenied.scrollIntoView({ block: 'center' });
      return;
    }
    toast(`${what}: ${(error as Error).message}`);
  };

  const act = async (p: ProcessInfo) => {
    const { result } = sheet({
      title: `${p.name} (pid ${p.pid})`,
      testid: 'process-sheet',
      content: [
        h('p', { class: 'proc-command' }, p.command || p.name),
        h(
          'p',
          { class: 'muted' },
          `${p.user} · CPU ${pct(p.cpu)} · memory ${pct(p.mem)} (${bytes(p.rss)}) · running ${duration(p.elapsed)}`,
        ),
      ],
      actions: [
        ...PROCESS_SIGNALS.map((s) => ({
          label: s,
          value: s,
          testid: `signal-${s}`,
          ...(s === 'KILL' || s === 'TERM' ? { kind: 'danger' as const } : {}),
        })),
        { label: 'Priority…', value: 'renice', testid: 'process-renice' },
        { label: 'Cancel', value: 'cancel', testid: 'process-cancel' },
      ],
    });
    const chosen = await result;
    if (chosen === 'renice' && !gone) return renice(p);
    if (gone || !chosen || !(PROCESS_SIGNALS as readonly string[]).includes(chosen)) return;
    const signal = chosen as ProcessSignal;
    const confirm = sheet({
      title: `Send ${signal} to ${p.name}?`,
      testid: 'signal-sheet',
      content: [
        h(
          'p',
          {},
          `“${p.name}” (pid ${p.pid}, user ${p.user}) on ${host.name}: ${signal} ${SIGNAL_EFFECT[signal]}`,
        ),
      ],
      actions: [
        { label: 'Cancel', value: 'cancel', testid: 'signal-cancel' },
        { label: `Send ${signal}`, value: 'send', kind: 'danger', testid: 'signal-confirm' },
      ],
    });
    if ((await confirm.result) !== 'send' || gone) return;
    const c = watch.channel();
    if (!c) {
      toast('Not connected to the host');
      return;
    }
    try {
      await c.signal(p.pid, signal);
      toast(`Sent ${signal} to ${p.name} (pid ${p.pid})`);
    } catch (error) {
      actionFailed(error, `Could not send ${signal}`);
    }
  };

  /** Renice: the choice is the confirmation (lowering a priority is harmless; raising one needs the host's rights). */
  const renice = async (p: ProcessInfo) => {
    const levels = [
      { nice: 0, label: 'Normal (nice 0)' },
      { nice: 10, label: 'Lower (nice 10)' },
      { nice: 19, label: 'Lowest (nice 19)' },
    ];
    const { result } = sheet({
      title: `Priority of ${p.name} (pid ${p.pid})`,
      testid: 'renice-sheet',
      content: [
        h(
          'p',
          {},
          `A higher nice value gives “${p.name}” less CPU when others want it. Going back up (a lower value) needs the rights of the host's user over it.`,
        ),
      ],
      actions: [
        ...levels.map((l) => ({ label: l.label, value: String(l.nice), testid: `renice-${l.nice}` })),
        { label: 'Cancel', value: 'cancel', testid: 'renice-cancel' },
      ],
    });
    const chosen = await result;
    const level = levels.find((l) => String(l.nice) === chosen);
    if (!level || gone) return;
    const c = watch.channel();
    if (!c) {
      toast('Not connected to the host');
      return;
    }
    try {
      await c.renice(p.pid, level.nice);
      toast(`${p.name} (pid ${p.pid}) now runs at nice ${level.nice}`);
    } catch (error) {
      actionFailed(error, 'Could not change the priority');
    }
  };

  // ---------------------------------------------------------------- layout
  const section = (title: string, testid: string, head: Node | null, ...children: (Node | null)[]) =>
    h(
      'section',
      { class: 'card mon-section', 'data-testid': testid },
      h('div', { class: 'section-head' }, h('h2', {}, title), head),
      ...children,
    );
  const content = h(
    'div',
    { class: 'mon-body', hidden: true },
    about,
    rangeBar,
    historyNote,
    section('CPU', 'section-cpu', now.cpu, perCoreButton, cpuChart.el, cores),
    section('Memory', 'section-mem', now.mem, memChart.el),
    section('Network', 'section-net', now.net, netChart.el),
    section('Load', 'section-load', now.load, loadChart.el),
    section('Temperatures', 'section-temps', null, sensors),
    section('Disks', 'section-disks', null, disks),
    section('Interfaces', 'section-ifaces', null, nets),
    section(
      'Processes',
      'section-procs',
      null,
      filter,
      h('div', { class: 'chips', role: 'group', 'aria-label': 'Sort processes by' }, ...sortButtons),
      procDenied,
      procCount,
      procList,
    ),
  );
  fill(body, status, denied, content);

  const showState = (state: WatchState) => {
    body.dataset.state = state;
    denied.hidden = state !== 'refused';
    status.hidden = state === 'live';
    status.textContent =
      state === 'connecting'
        ? 'Connecting…'
        : state === 'offline'
          ? `${host.name} is offline.`
          : state === 'retrying'
            ? 'Connection lost; trying again…'
            : state === 'refused'
              ? ''
              : 'Live';
    if (state === 'refused') content.hidden = true;
  };

  const watch = watchHost(app.device, hostId, {
    intervalMs: MONITOR_INTERVAL_MS,
    onState: (state) => {
      if (!gone) showState(state);
    },
    onSnapshot: (s) => {
      if (gone) return;
      current = s;
      content.hidden = false;
      body.dataset.at = String(s.at);
      record(s);
      drawFigures(s);
      if (range === 'live') drawCharts();
      else if (historyNote.dataset.state === 'offline') void setRange(range);
      drawProcesses();
    },
  });

  return () => {
    gone = true;
    watch.stop();
    for (const c of charts) c.destroy();
    dispose();
  };
}
