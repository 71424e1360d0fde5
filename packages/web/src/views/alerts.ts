/**
 * A host's alerts screens (docs/web.md "Alerts and notifications"), over
 * the host's `alerts` channel (alerts-channel.ts), like the Monitor over
 * `stats`:
 *
 * - `#/host/<id>/alerts`: the history newest first — severity colour, firing / resolved / notice,
 *   acknowledged or not — live through `alerts.watch`; tapping an alert
 *   opens its actions: acknowledge, open its session or the Monitor,
 *   snooze its rule, its session or the whole host for 15 min, 1 h, 8 h or
 *   a day (snoozes in force listed, each can be lifted). "Acknowledge
 *   all" and "Send a test alert" above the list, "Notifications on this
 *   phone" (push-panel.ts) below it.
 * - `#/host/<id>/alerts/rules`: the rules, each with an on/off toggle;
 *   tapping one edits it (metric, target, above/below, threshold in its
 *   unit, for, cooldown, severity) with the checks worded for a person;
 *   "Add a rule" offers the host's suggestions for this machine or a blank
 *   one; the attention settings (bell, notifications, long commands,
 *   prompts). "Save" sends everything with `alerts.rules.set`.
 *
 * A host whose agent has no alert center closes the channel at once: the
 * screen says "this host's agent is too old for alerts" and lists the
 * alerts this phone received from it anyway (alert-inbox.ts).
 */
import {
  ALERT_METRICS,
  ALERT_OPS,
  ALERT_SEVERITIES,
  type Alert,
  type AlertMetric,
  type AlertRule,
  type AttentionSettings,
  type HostId,
  type SnoozeTarget,
} from '@pocketshell/protocol';
import {
  alertOpen,
  condition,
  duration,
  METRIC_LABEL,
  newRuleId,
  ruleDetail,
  ruleProblem,
  ruleTitle,
  targetLabel,
  unitOf,
  when,
} from '../alert-format.ts';
import { alertRoute } from '../alert-route.ts';
import type { AlertsChannel, AlertsList } from '../alerts-channel.ts';
import type { App } from '../app.ts';
import { fill, h, sheet, toast } from '../ui.ts';
import { frame } from './chrome.ts';
import { pushPanel } from './push-panel.ts';

const SNOOZES: [string, number][] = [
  ['15 min', 15],
  ['1 h', 60],
  ['8 h', 480],
  ['1 day', 1440],
];

const codeOf = (error: unknown) => (error as { code?: unknown }).code;

/** The screens' shared part: frame, tabs, the channel and the "too old" card. */
function alertsFrame(
  app: App,
  id: string,
  tab: 'history' | 'rules',
): {
  host: ReturnType<App['device']['host']>;
  body: HTMLElement;
  content: HTMLElement;
  status: HTMLElement;
  channel: () => Promise<AlertsChannel>;
  dispose: () => void;
} {
  const host = app.device.host(id);
  const body = h('div', { class: 'stack alerts' });
  const { dispose } = frame(app, host ? `${host.name} · Alerts` : 'Alerts', body, {
    back: host ? `#/host/${host.id}` : '#/hosts',
  });
  const status = h('p', { class: 'muted', 'data-testid': 'alerts-status' }, 'Connecting…');
  const content = h('div', { class: 'stack' });
  if (host) {
    const seg = (name: 'history' | 'rules', label: string, href: string) =>
      h(
        'a',
        {
          class: 'seg',
          href,
          'aria-current': tab === name ? 'page' : undefined,
          'aria-pressed': tab === name ? 'true' : 'false',
          'data-testid': `alerts-tab-${name}`,
        },
        label,
      );
    fill(
      body,
      h(
        'div',
        { class: 'segmented two', role: 'group', 'aria-label': 'Alerts' },
        seg('history', 'History', `#/host/${host.id}/alerts`),
        seg('rules', 'Rules', `#/host/${host.id}/alerts/rules`),
      ),
      status,
      content,
    );
  } else fill(body, h('p', { class: 'error' }, 'This host is not paired with this device.'));
  let opened: AlertsChannel | undefined;
  let gone = false;
  return {
    host,
    body,
    content,
    status,
    channel: async () => {
      if (!host) throw new Error('not paired');
      // A connection that dropped while opening is tried again (twice); a refusal is final.
      for (let attempt = 0; ; attempt++) {
        try {
          const link = await app.device.link(host.id);
          const c = await link.openAlerts();
          if (gone) c.close();
          opened = c;
          return c;
        } catch (error) {
          const code = codeOf(error);
          if (gone || attempt >= 2 || (code !== 'unavailable' && code !== 'timeout')) throw error;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    },
    dispose: () => {
      gone = true;
      opened?.close();
      dispose();
    },
  };
}

/** The card shown when the host's agent serves no alerts. */
function tooOld(name: string): HTMLElement {
  return h(
    'div',
    { class: 'card warn', 'data-testid': 'alerts-unsupported', 'data-code': 'unsupported' },
    h('div', { class: 'warn-title' }, 'No alerts on this host'),
    h('p', {}, `${name}’s agent is too old for alerts: it keeps no rules and no history.`),
    h('p', { class: 'muted' }, 'Update pocketshell on that computer to set alert rules from here.'),
  );
}

function failure(error: unknown): string {
  const code = codeOf(error);
  if (code === 'grant_missing') return 'This device may not do that on this host (a grant is missing).';
  if (code === 'unavailable' || code === 'timeout') return 'The host cannot be reached right now.';
  return `The host refused: ${(error as Error).message}`;
}

// ---------------------------------------------------------------- history

export function alertsView(app: App, [id]: string[]): () => void {
  const f = alertsFrame(app, id ?? '', 'history');
  const { host } = f;
  if (!host) return f.dispose;
  const hostId = host.id as HostId;
  void app.device.alerts.markSeen(hostId);
  const push = pushPanel(app);
  const list = h('ul', { class: 'list alert-list', 'data-testid': 'alert-history' });
  const snoozeLine = h('ul', { class: 'list snoozes', 'data-testid': 'snoozes', hidden: true });
  const ackAll = h(
    'button',
    { type: 'button', class: 'button grow', 'data-testid': 'ack-all', disabled: true },
    'Acknowledge all',
  );
  const testButton = h(
    'button',
    { type: 'button', class: 'button grow', 'data-testid': 'test-alert', disabled: true },
    'Send a test alert',
  );
  let alerts: Alert[] = [];
  let channel: AlertsChannel | undefined;

  const render = () => {
    if (alerts.length === 0) {
      fill(list, h('li', { class: 'empty' }, h('p', { class: 'muted' }, 'No alerts yet.')));
      return;
    }
    fill(list, ...alerts.map((a) => alertRow(a)));
    ackAll.disabled = !channel || !alerts.some((a) => a.ackedAt === undefined);
  };
  const alertRow = (a: Alert) =>
    h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: `row alert-row sev-${a.severity}${a.ackedAt === undefined ? '' : ' acked'}`,
          'data-alert': a.id,
          'data-state': a.state,
          'data-acked': a.ackedAt === undefined ? 'false' : 'true',
          onclick: () => void actions(a),
        },
        h(
          'span',
          { class: 'row-main' },
          h('span', { class: 'row-title' }, a.title),
          a.body ? h('span', { class: 'row-sub' }, a.body) : null,
          h(
            'span',
            { class: 'row-sub' },
            `${when(a.at)} · ${a.severity}${a.ackedAt === undefined ? '' : ' · acknowledged'}`,
          ),
        ),
        h('span', { class: `badge state-${a.state}` }, a.state),
      ),
    );
  const showSnoozes = (snoozes: AlertsList['snoozes']) => {
    const now = Date.now();
    const live = snoozes.filter((s) => s.until > now);
    snoozeLine.hidden = live.length === 0;
    fill(
      snoozeLine,
      ...live.map((s) => {
        const t = s.target;
        const what = 'rule' in t ? `rule ${t.rule}` : 'session' in t ? `session ${t.session}` : 'everything';
        return h(
          'li',
          { class: 'toggle-row' },
          h('span', { class: 'row-main muted' }, `Snoozed: ${what} until ${when(s.until)}`),
          h(
            'button',
            {
              type: 'button',
              class: 'chip',
              'data-testid': 'snooze-lift',
              onclick: async () => {
                if (!channel) return;
                try {
                  showSnoozes((await channel.snooze(t, 0)).snoozes);
                } catch (error) {
                  toast(failure(error));
                }
              },
            },
            'Lift',
          ),
        );
      }),
    );
  };
  const actions = async (a: Alert) => {
    const buttons = [
      ...(a.ackedAt === undefined && channel
        ? [{ label: 'Acknowledge', value: 'ack', kind: 'primary' as const, testid: 'alert-ack' }]
        : []),
      ...(a.kind === 'agent'
        ? [{ label: 'Open the agent session', value: 'open', testid: 'alert-open' }]
        : a.session
          ? [{ label: 'Open the session', value: 'open', testid: 'alert-open' }]
          : []),
      ...(a.kind === 'rule' ? [{ label: 'Open Monitor', value: 'open', testid: 'alert-open' }] : []),
      ...(channel ? [{ label: 'Snooze…', value: 'snooze', testid: 'alert-snooze' }] : []),
      { label: 'Close', value: 'close' },
    ];
    const { result } = sheet({
      title: a.title,
      content: [
        h(
          'p',
          { class: 'muted' },
          a.body || condition({ metric: 'cpu', target: '', op: 'above', threshold: 0 }).slice(0, 0),
        ),
        h('p', { class: 'muted' }, `${when(a.at)} · ${a.kind} · ${a.state}`),
      ],
      actions: buttons,
      testid: 'alert-actions',
    });
    const choice = await result;
    if (choice === 'ack' && channel) {
      try {
        await channel.ack([a.id]);
        alerts = alerts.map((x) => (x.id === a.id ? { ...x, ackedAt: Date.now() } : x));
        render();
      } catch (error) {
        toast(failure(error));
      }
    } else if (choice === 'open')
      app.go(alertRoute(hostId, { open: alertOpen(a), ...(a.session ? { session: a.session } : {}) }));
    else if (choice === 'snooze') await snooze(a);
  };
  const snooze = async (a: Alert) => {
    const targets: [string, SnoozeTarget][] = [
      ...(a.rule ? ([[`the rule “${a.rule}”`, { rule: a.rule }]] as [string, SnoozeTarget][]) : []),
      ...(a.session ? ([[`session ${a.session}`, { session: a.session }]] as [string, SnoozeTarget][]) : []),
      [`everything from ${host.name}`, { all: true }],
    ];
    const what = h('select', { class: 'text-field', 'data-testid': 'snooze-target', 'aria-label': 'What' });
    for (const [i, [label]] of targets.entries()) what.append(h('option', { value: String(i) }, label));
    const { result } = sheet({
      title: 'Snooze',
      content: [h('label', { class: 'setting' }, h('span', { class: 'label' }, 'What'), what)],
      actions: SNOOZES.map(([label, minutes]) => ({
        label,
        value: String(minutes),
        testid: `snooze-${minutes}`,
      })),
      testid: 'snooze-sheet',
    });
    const minutes = Number(await result);
    const target = targets[Number(what.value)]?.[1];
    if (!minutes || !target || !channel) return;
    try {
      const r = await channel.snooze(target, minutes);
      showSnoozes(r.snoozes);
      toast(`Snoozed for ${duration(minutes * 60)}`);
    } catch (error) {
      toast(failure(error));
    }
  };
  ackAll.addEventListener('click', async () => {
    if (!channel) return;
    try {
      await channel.ack('all');
      alerts = alerts.map((x) => (x.ackedAt === undefined ? { ...x, ackedAt: Date.now() } : x));
      render();
    } catch (error) {
      toast(failure(error));
    }
  });
  testButton.addEventListener('click', async () => {
    if (!channel) return;
    testButton.disabled = true;
    try {
      const { alert } = await channel.test();
      if (!alerts.some((x) => x.id === alert.id)) alerts = [alert, ...alerts];
      render();
    } catch (error) {
      toast(failure(error));
    } finally {
      testButton.disabled = false;
    }
  });

  /** What this phone received from the host (no alert center there, or not reachable). */
  const showInbox = () => {
    alerts = app.device.alerts.list(hostId).map(({ alert }) => ({
      id: alert.id,
      at: alert.at,
      kind: alert.kind,
      state: alert.state,
      severity: alert.severity,
      title: alert.title,
      body: alert.body,
      ...(alert.session ? { session: alert.session } : {}),
    }));
    render();
  };

  const hostActions = h('div', { class: 'button-row', hidden: true }, ackAll, testButton);
  fill(f.content, hostActions, snoozeLine, h('h2', {}, 'History'), list, push.el);
  showInbox();
  const offInbox = app.device.alerts.on('changed', () => {
    if (!channel) showInbox();
    void app.device.alerts.markSeen(hostId);
  });
  void (async () => {
    try {
      const c = await f.channel();
      const first = await c.list(100);
      channel = c;
      alerts = first.alerts;
      showSnoozes(first.snoozes);
      f.status.hidden = true;
      hostActions.hidden = false;
      testButton.disabled = false;
      render();
      await c.watch((a) => {
        alerts = [a, ...alerts.filter((x) => x.id !== a.id)];
        render();
      });
    } catch (error) {
      if (codeOf(error) === 'unsupported') {
        f.status.replaceWith(tooOld(host.name));
        f.status.hidden = true;
      } else {
        f.status.textContent = failure(error);
        f.status.className = 'error';
      }
      channel = undefined;
      showInbox();
    }
  })();
  return () => {
    offInbox();
    push.dispose();
    f.dispose();
  };
}

// ---------------------------------------------------------------- rules

const TIME_UNITS: [string, number][] = [
  ['s', 1],
  ['min', 60],
  ['h', 3600],
];

function unitFor(seconds: number): number {
  if (seconds !== 0 && seconds % 3600 === 0) return 3600;
  if (seconds !== 0 && seconds % 60 === 0) return 60;
  return seconds === 0 ? 60 : 1;
}

/** A number field with a unit select (seconds, minutes, hours). */
function durationField(label: string, seconds: number, testid: string) {
  const unit = unitFor(seconds);
  const value = h('input', {
    class: 'text-field',
    type: 'number',
    inputmode: 'decimal',
    min: '0',
    step: 'any',
    value: String(seconds / unit),
    'data-testid': `${testid}-value`,
    'aria-label': label,
  });
  const select = h('select', {
    class: 'text-field unit',
    'data-testid': `${testid}-unit`,
    'aria-label': `${label} unit`,
  });
  for (const [name, mult] of TIME_UNITS)
    select.append(h('option', { value: String(mult), selected: mult === unit }, name));
  const el = h(
    'label',
    { class: 'setting' },
    h('span', { class: 'label' }, label),
    h('span', { class: 'inline' }, value, select),
  );
  return { el, seconds: () => Math.round(Number(value.value) * Number(select.value)) };
}

/** The rule editor sheet; resolves with the edited rule, 'delete', or null. */
async function editRule(rule: AlertRule, isNew: boolean): Promise<AlertRule | 'delete' | null> {
  const metric = h('select', { class: 'text-field', 'data-testid': 'rule-metric', 'aria-label': 'Metric' });
  for (const m of ALERT_METRICS)
    metric.append(h('option', { value: m, selected: m === rule.metric }, METRIC_LABEL[m]));
  const target = h('input', {
    class: 'text-field',
    type: 'text',
    value: rule.target,
    'data-testid': 'rule-target',
    autocapitalize: 'off',
    spellcheck: 'false',
  });
  const targetRow = h('label', { class: 'setting' }, h('span', { class: 'label' }), target);
  const op = h('select', { class: 'text-field', 'data-testid': 'rule-op', 'aria-label': 'Above or below' });
  const threshold = h('input', {
    class: 'text-field',
    type: 'number',
    inputmode: 'decimal',
    step: 'any',
    value: String(rule.threshold),
    'data-testid': 'rule-threshold',
    'aria-label': 'Threshold',
  });
  const unit = h('span', { class: 'unit-text', 'data-testid': 'rule-unit' });
  const thresholdRow = h(
    'label',
    { class: 'setting' },
    h('span', { class: 'label' }, 'When'),
    h('span', { class: 'inline' }, op, threshold, unit),
  );
  const name = h('input', {
    class: 'text-field',
    type: 'text',
    value: rule.name,
    maxlength: '64',
    placeholder: 'Optional',
    'data-testid': 'rule-name',
  });
  const forField = durationField('For', rule.forSeconds, 'rule-for');
  const cooldownField = durationField('Cooldown', rule.cooldownSeconds, 'rule-cooldown');
  const severity = h('select', {
    class: 'text-field',
    'data-testid': 'rule-severity',
    'aria-label': 'Severity',
  });
  for (const s of ALERT_SEVERITIES)
    severity.append(h('option', { value: s, selected: s === rule.severity }, s));
  const problem = h('p', { class: 'error', 'data-testid': 'rule-problem', role: 'alert', hidden: true });
  const sync = () => {
    const m = metric.value as AlertMetric;
    const tl = targetLabel(m);
    targetRow.hidden = tl === undefined;
    (targetRow.firstChild as HTMLElement).textContent = tl ?? '';
    const current = op.value || rule.op;
    op.replaceChildren();
    const words: Record<string, string> =
      m === 'process'
        ? { above: 'more than', below: 'fewer than' }
        : m === 'port'
          ? { above: 'open', below: 'closed' }
          : { above: 'above', below: 'below' };
    for (const o of ALERT_OPS) op.append(h('option', { value: o, selected: o === current }, words[o] ?? o));
    // A port is 1 or 0: "closed" is below 1, "open" above 0; no number to type.
    threshold.hidden = m === 'port';
    unit.textContent = m === 'port' ? '' : unitOf(m);
  };
  metric.addEventListener('change', sync);
  sync();
  // A message about the last "Done" goes as soon as the person changes something.
  const clearProblem = () => {
    problem.hidden = true;
  };
  for (const el of [metric, target, op, threshold, severity, name]) {
    el.addEventListener('input', clearProblem);
    el.addEventListener('change', clearProblem);
  }
  forField.el.addEventListener('input', clearProblem);
  cooldownField.el.addEventListener('input', clearProblem);
  const read = (): AlertRule => {
    const m = metric.value as AlertMetric;
    const o = op.value as AlertRule['op'];
    return {
      id: rule.id,
      name: name.value.trim(),
      enabled: rule.enabled,
      metric: m,
      target: targetLabel(m) === undefined ? '' : target.value.trim(),
      op: o,
      threshold:
        m === 'port'
          ? o === 'below'
            ? 1
            : 0
          : threshold.value.trim() === ''
            ? Number.NaN
            : Number(threshold.value),
      forSeconds: forField.seconds(),
      cooldownSeconds: cooldownField.seconds(),
      severity: severity.value as AlertRule['severity'],
    };
  };
  const content = [
    h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Watch'), metric),
    targetRow,
    thresholdRow,
    h('div', { class: 'two-col' }, forField.el, cooldownField.el),
    h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Severity'), severity),
    h('label', { class: 'setting' }, h('span', { class: 'label' }, 'Name'), name),
    problem,
  ];
  for (;;) {
    const { result } = sheet({
      title: isNew ? 'New rule' : 'Edit rule',
      content,
      actions: [
        ...(isNew
          ? []
          : [{ label: 'Delete', value: 'delete', kind: 'danger' as const, testid: 'rule-delete' }]),
        { label: 'Cancel', value: 'cancel' },
        { label: 'Done', value: 'done', kind: 'primary' as const, testid: 'rule-done' },
      ],
      testid: 'rule-editor',
    });
    const choice = await result;
    if (choice === 'delete') return 'delete';
    if (choice !== 'done') return null;
    const edited = read();
    const why = ruleProblem(edited);
    if (!why) return edited;
    problem.textContent = why;
    problem.hidden = false;
  }
}

export function alertRulesView(app: App, [id]: string[]): () => void {
  const f = alertsFrame(app, id ?? '', 'rules');
  const { host } = f;
  if (!host) return f.dispose;
  let channel: AlertsChannel | undefined;
  let rules: AlertRule[] = [];
  let suggested: AlertRule[] = [];
  let attention: AttentionSettings = { bell: true, notify: true, longCommandSeconds: 0, prompt: false };
  let dirty = false;
  const list = h('ul', { class: 'list', 'data-testid': 'rules' });
  const save = h(
    'button',
    { type: 'button', class: 'button primary', 'data-testid': 'rules-save', disabled: true },
    'Save',
  );
  const add = h('button', { type: 'button', class: 'button', 'data-testid': 'rule-add' }, 'Add a rule');
  const attentionCard = h('section', { class: 'card', 'data-testid': 'attention' });
  const changed = () => {
    dirty = true;
    save.disabled = false;
    save.textContent = 'Save changes';
  };
  const render = () => {
    fill(
      list,
      ...(rules.length === 0
        ? [h('li', { class: 'empty' }, h('p', { class: 'muted' }, 'No rules yet. Add one below.'))]
        : []),
      ...rules.map((r) =>
        h(
          'li',
          { class: 'with-actions' },
          h(
            'button',
            {
              type: 'button',
              class: `row rule-row sev-${r.severity}`,
              'data-rule': r.id,
              onclick: () => void edit(r),
            },
            h(
              'span',
              { class: 'row-main' },
              h('span', { class: 'row-title' }, ruleTitle(r)),
              h('span', { class: 'row-sub' }, r.name ? `${condition(r)} · ${ruleDetail(r)}` : ruleDetail(r)),
            ),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'chip toggle',
              'aria-pressed': r.enabled ? 'true' : 'false',
              'aria-label': `${ruleTitle(r)}: ${r.enabled ? 'on' : 'off'}`,
              'data-testid': `rule-toggle-${r.id}`,
              onclick: () => {
                rules = rules.map((x) => (x.id === r.id ? { ...x, enabled: !x.enabled } : x));
                changed();
                render();
              },
            },
            r.enabled ? 'On' : 'Off',
          ),
        ),
      ),
    );
    renderAttention();
  };
  const toggle = (label: string, key: 'bell' | 'notify' | 'prompt', hint: string) =>
    h(
      'div',
      { class: 'toggle-row' },
      h(
        'span',
        { class: 'row-main' },
        h('span', { class: 'row-title' }, label),
        h('span', { class: 'row-sub' }, hint),
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'chip toggle',
          'aria-pressed': attention[key] ? 'true' : 'false',
          'data-testid': `attention-${key}`,
          onclick: () => {
            attention = { ...attention, [key]: !attention[key] };
            changed();
            renderAttention();
          },
        },
        attention[key] ? 'On' : 'Off',
      ),
    );
  const renderAttention = () => {
    const long = h('input', {
      class: 'text-field',
      type: 'number',
      inputmode: 'numeric',
      min: '0',
      max: '86400',
      step: '1',
      value: String(attention.longCommandSeconds),
      'data-testid': 'attention-long',
      'aria-label': 'Long command seconds',
    });
    long.addEventListener('change', () => {
      const n = Math.round(Number(long.value));
      if (!Number.isFinite(n) || n < 0 || n > 86_400) {
        long.value = String(attention.longCommandSeconds);
        toast('Between 0 (off) and 86400 seconds');
        return;
      }
      attention = { ...attention, longCommandSeconds: n };
      changed();
    });
    fill(
      attentionCard,
      h('h2', {}, 'Terminal attention'),
      toggle('Bell', 'bell', 'A program rings the terminal bell'),
      toggle('Notifications', 'notify', 'A program sends a notification (OSC 9 / 777)'),
      toggle('Waiting at a prompt', 'prompt', 'A session waits for input while nobody watches'),
      h(
        'label',
        { class: 'setting' },
        h('span', { class: 'label' }, 'A long command finished (seconds, 0: off)'),
        long,
      ),
    );
  };
  const edit = async (r: AlertRule) => {
    const out = await editRule(r, false);
    if (out === null) return;
    rules =
      out === 'delete' ? rules.filter((x) => x.id !== r.id) : rules.map((x) => (x.id === r.id ? out : x));
    changed();
    render();
  };
  add.addEventListener('click', async () => {
    const taken = new Set(rules.map((r) => r.id));
    const offers = suggested.filter(
      (s) => !rules.some((r) => r.metric === s.metric && r.target === s.target && r.op === s.op),
    );
    const { result } = sheet({
      title: 'Add a rule',
      content: [
        h(
          'p',
          { class: 'muted' },
          offers.length ? 'Suggested for this machine:' : 'Start from a blank rule.',
        ),
      ],
      actions: [
        ...offers
          .slice(0, 8)
          .map((s, i) => ({ label: condition(s), value: `s${i}`, testid: `suggested-${s.id}` })),
        { label: 'Blank rule', value: 'blank', testid: 'rule-blank' },
        { label: 'Cancel', value: 'cancel' },
      ],
      testid: 'rule-add-sheet',
    });
    const choice = await result;
    if (!choice || choice === 'cancel') return;
    const base: AlertRule =
      choice === 'blank'
        ? {
            id: newRuleId('cpu', taken),
            name: '',
            enabled: true,
            metric: 'cpu',
            target: '',
            op: 'above',
            threshold: 90,
            forSeconds: 300,
            cooldownSeconds: 1800,
            severity: 'warning',
          }
        : { ...offers[Number(choice.slice(1))]!, enabled: true };
    const id = taken.has(base.id) ? newRuleId(base.metric, taken) : base.id;
    const out = await editRule({ ...base, id }, true);
    if (out === null || out === 'delete') return;
    rules = [...rules, out];
    changed();
    render();
  });
  save.addEventListener('click', async () => {
    if (!channel) return;
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const r = await channel.setRules(rules, attention);
      rules = [...r.rules];
      attention = r.attention;
      suggested = [...r.suggested];
      dirty = false;
      save.textContent = 'Saved';
      render();
    } catch (error) {
      save.disabled = false;
      save.textContent = 'Save changes';
      toast(failure(error));
    }
  });
  void (async () => {
    try {
      const c = await f.channel();
      const r = await c.rules();
      channel = c;
      rules = [...r.rules];
      suggested = [...r.suggested];
      attention = r.attention;
      f.status.hidden = true;
      fill(f.content, h('h2', {}, 'Rules'), list, add, attentionCard, save);
      render();
    } catch (error) {
      if (codeOf(error) === 'unsupported') f.status.replaceWith(tooOld(host.name));
      else {
        f.status.textContent = failure(error);
        f.status.className = 'error';
      }
    }
  })();
  const beforeLeave = (e: BeforeUnloadEvent) => {
    if (dirty) e.preventDefault();
  };
  window.addEventListener('beforeunload', beforeLeave);
  return () => {
    window.removeEventListener('beforeunload', beforeLeave);
    f.dispose();
  };
}
