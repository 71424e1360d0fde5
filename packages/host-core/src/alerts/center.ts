/**
 * The alert center (issue 16, docs/host.md "Alerts"): keeps the rules and
 * the history in the state folder (./store.ts), evaluates the rules
 * against this machine's figures (./sampler.ts, one state machine per rule:
 * ./rule-state.ts), turns terminal attention events into alerts, and hands
 * every alert to its sinks — the devices (sealed, through the relay:
 * `push`), the devices watching the `alerts` channel, and the optional
 * `alerts.exec` hook (./exec-hook.ts).
 *
 * Who sees what: rule alerts need the `stats` grant, attention alerts
 * `shell`, agent alerts ("needs approval") `agent`; a test alert goes to the
 * device that asked only. A
 * snoozed alert is kept in the history and shown to watchers, but neither
 * pushed nor handed to the hook; a muted session raises nothing. The
 * evaluator samples every `sampleMs` (default 5 s) while at least one
 * enabled rule exists, and not at all otherwise.
 */
import {
  type Alert,
  type AlertPushBody,
  type AlertRule,
  type AttentionReason,
  type AttentionSettings,
  type DeviceId,
  type Grant,
  MAX_ALERT_BODY,
  MAX_ALERT_HISTORY,
  MAX_ALERT_TITLE,
  ProtocolError,
  randomId,
  type Snooze,
  type SnoozeTarget,
} from '@pocketshell/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AttentionEvent } from '../pty/attention.ts';
import type { StatsCollector } from '../stats/collector.ts';
import { ExecHook } from './exec-hook.ts';
import { type RuleState, step } from './rule-state.ts';
import { type AlertSampler, LightSampler } from './sampler.ts';
import {
  AlertFiles,
  type AlertsState,
  DEFAULT_ATTENTION,
  defaultRules,
  MAX_MUTED,
  MAX_SNOOZES,
  type StoredAlert,
  suggestedRules,
} from './store.ts';

/** The evaluator's default sample interval. */
export const ALERT_SAMPLE_MS = 5_000;
/** At most one attention alert per session and reason this often. */
export const ATTENTION_MIN_GAP_MS = 10_000;

/** A paired device and its grants, as the sinks see it. */
export interface AlertDevice {
  readonly id: DeviceId;
  readonly grants: readonly Grant[];
}

export interface AlertCenterOptions {
  /** Seals an alert to one device and hands it to the relay (`HostAgent.pushAlert`). */
  readonly push?: (device: DeviceId, body: AlertPushBody) => Promise<void>;
  /** The state folder (none: rules and history in memory only). */
  readonly root?: string;
  /** Where changes and hook failures are audited. */
  readonly audit?: AuditLog;
  /** The paired devices now (the push sink's recipients). */
  readonly devices?: () => readonly AlertDevice[];
  /** The stats collector (temperature, battery, and every figure off Linux). */
  readonly collector?: StatsCollector;
  /** The figures (default: `LightSampler` over `collector`). */
  readonly sampler?: AlertSampler;
  /** The evaluator's interval (default `ALERT_SAMPLE_MS`). */
  readonly sampleMs?: number;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
  /** `alerts.exec`: the hook's argv (config). */
  readonly exec?: readonly string[];
  readonly execTimeoutMs?: number;
  /** The rules of a new host (default `defaultRules()`). */
  readonly defaults?: () => AlertRule[];
  /** Start the evaluator at once (default true). */
  readonly autoStart?: boolean;
}

type Listener = (alert: Alert) => void;
interface Watcher {
  device: DeviceId;
  grants: () => ReadonlySet<Grant>;
  listener: Listener;
}

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
const clean = (s: string) => s.replace(/[\p{Cc}\p{Cf}]/gu, ' ');

const METRIC_WORDS: Record<AlertRule['metric'], [string, string]> = {
  cpu: ['CPU', ' %'],
  memory: ['Memory', ' %'],
  swap: ['Swap', ' %'],
  disk: ['Disk', ' %'],
  load: ['Load per core', ''],
  temperature: ['Temperature', ' °C'],
  battery: ['Battery', ' %'],
  process: ['Processes', ''],
  port: ['Port', ''],
};

function duration(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 360) / 10} h`;
}

const fmt = (v: number) => (Math.abs(v) >= 10 ? String(Math.round(v)) : String(Math.round(v * 100) / 100));

/** The words of a rule's alert. */
export function ruleWords(
  rule: AlertRule,
  state: 'firing' | 'resolved',
  value: number,
): { title: string; body: string } {
  const [what, unit] = METRIC_WORDS[rule.metric];
  const label =
    rule.name ||
    (rule.metric === 'disk'
      ? `Disk ${rule.target}`
      : rule.metric === 'process'
        ? `Process ${rule.target}`
        : rule.metric === 'port'
          ? `Port ${rule.target}`
          : rule.target
            ? `${what} ${rule.target}`
            : what);
  if (rule.metric === 'process' && rule.op === 'below' && rule.threshold <= 1)
    return state === 'firing'
      ? { title: `${label} is gone`, body: `No process matches ${rule.target}.` }
      : { title: `${label} is back`, body: `${fmt(value)} process(es) match ${rule.target}.` };
  if (rule.metric === 'port' && rule.op === 'below' && rule.threshold <= 1)
    return state === 'firing'
      ? { title: `${label} closed`, body: `Nothing listens on TCP port ${rule.target}.` }
      : { title: `${label} open again`, body: `TCP port ${rule.target} listens again.` };
  const side = rule.op === 'above' ? 'above' : 'below';
  const back = rule.op === 'above' ? 'below' : 'above';
  return state === 'firing'
    ? {
        title: `${label} ${side} ${fmt(rule.threshold)}${unit}`,
        body: `${label} at ${fmt(value)}${unit} for ${duration(rule.forSeconds)} (rule ${rule.id}).`,
      }
    : {
        title: `${label} back ${back} ${fmt(rule.threshold)}${unit}`,
        body: `${label} at ${fmt(value)}${unit} (rule ${rule.id}).`,
      };
}

/** The grant a device needs to see `alert` (null: a test alert, only its own device). */
function needs(alert: Alert): Grant | null {
  return alert.kind === 'attention'
    ? 'shell'
    : alert.kind === 'test'
      ? null
      : alert.kind === 'agent'
        ? 'agent'
        : 'stats';
}

export class AlertCenter {
  readonly options: AlertCenterOptions;
  readonly #files: AlertFiles;
  readonly #now: () => number;
  readonly #sampler: AlertSampler;
  readonly #sampleMs: number;
  readonly #exec: ExecHook | undefined;
  #state: AlertsState;
  #history: StoredAlert[];
  readonly #watchers = new Set<Watcher>();
  readonly #attentionSeen = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;
  /** Push deliveries that succeeded / failed (never thrown). */
  readonly pushes = { sent: 0, failed: 0 };
  /** Evaluator samples taken. */
  samples = 0;
  /** Alert-path writes that failed (the alert was kept in memory and delivered). */
  saveFailures = 0;

  /** Loads (or creates) the state folder's alert files; throws `state_corrupt` on a bad one. */
  constructor(options: AlertCenterOptions) {
    this.options = options;
    this.#files = new AlertFiles(options.root);
    this.#now = options.now ?? Date.now;
    this.#sampler = options.sampler ?? new LightSampler(options.collector);
    this.#sampleMs = options.sampleMs ?? ALERT_SAMPLE_MS;
    this.#state = this.#files.loadState(() => ({
      rules: (options.defaults ?? defaultRules)(),
      attention: DEFAULT_ATTENTION,
      muted: [],
      snoozes: [],
      state: {},
    }));
    this.#history = this.#files.loadHistory();
    this.#exec =
      options.exec && options.exec.length > 0
        ? new ExecHook({
            argv: options.exec,
            ...(options.execTimeoutMs !== undefined ? { timeoutMs: options.execTimeoutMs } : {}),
            onFailure: (alert, why, detail) => {
              try {
                options.audit?.append('alerts.exec', { outcome: why, detail, alert: alert.id });
              } catch {
                // The audit log closed under us: the failure is counted anyway.
              }
            },
          })
        : undefined;
    if (options.autoStart !== false) this.#schedule();
  }

  /** The exec hook's counts (undefined without a hook). */
  get exec(): ExecHook | undefined {
    return this.#exec;
  }

  /** True while the evaluator samples. */
  get evaluating(): boolean {
    return this.#timer !== undefined;
  }

  /** The rules, the attention settings, suggestions for this machine and the muted sessions. */
  rules(): { rules: AlertRule[]; attention: AttentionSettings; suggested: AlertRule[]; muted: string[] } {
    const last = this.options.collector?.last;
    const seen = last
      ? {
          temperatures: last.temperatures.length > 0,
          battery: last.battery !== null,
          mounts: last.disks.map((d) => d.mount).filter((m) => m.startsWith('/')),
        }
      : {};
    return {
      rules: [...this.#state.rules],
      attention: this.#state.attention,
      suggested: suggestedRules(this.#state.rules, seen),
      muted: [...this.#state.muted],
    };
  }

  /** Replaces the rules and attention settings (a rule changed or added starts afresh); audited. */
  setRules(
    rules: readonly AlertRule[],
    attention: AttentionSettings,
    by: string,
  ): ReturnType<AlertCenter['rules']> {
    const before = new Map(this.#state.rules.map((r) => [r.id, JSON.stringify(r)]));
    const state: Record<string, RuleState> = {};
    let changed = 0;
    for (const r of rules) {
      const old = before.get(r.id);
      if (old === JSON.stringify(r) && this.#state.state[r.id]) state[r.id] = this.#state.state[r.id]!;
      if (old !== JSON.stringify(r)) changed++;
    }
    const removed = [...before.keys()].filter((id) => !rules.some((r) => r.id === id)).length;
    const next: AlertsState = { ...this.#state, rules: [...rules], attention, state };
    this.#files.saveState(next);
    this.#state = next;
    this.options.audit?.append('alerts.rules', {
      device: by,
      rules: rules.length,
      enabled: rules.filter((r) => r.enabled).length,
      changed,
      removed,
      summary: cut(
        rules
          .filter((r) => r.enabled)
          .map((r) => `${r.id}:${r.metric} ${r.op} ${r.threshold}/${r.forSeconds}s`)
          .join(', '),
        1000,
      ),
      attention: `bell=${attention.bell} notify=${attention.notify} long=${attention.longCommandSeconds} prompt=${attention.prompt}`,
    });
    this.#schedule();
    return this.rules();
  }

  /** Mutes or unmutes one session's attention alerts; audited. */
  mute(session: string, muted: boolean, by: string): boolean {
    const set = new Set(this.#state.muted);
    if (muted) {
      if (!set.has(session) && set.size >= MAX_MUTED)
        throw new ProtocolError('limit_reached', `at most ${MAX_MUTED} sessions muted`);
      set.add(session);
    } else set.delete(session);
    const next = { ...this.#state, muted: [...set] };
    this.#files.saveState(next);
    this.#state = next;
    this.options.audit?.append('alerts.mute', { device: by, session, muted });
    return muted;
  }

  /** The snoozes in force (expired ones dropped). */
  snoozes(now = this.#now()): Snooze[] {
    return this.#state.snoozes.filter((s) => s.until > now);
  }

  /** Snoozes a rule, a session or everything for `minutes` (0 lifts it); audited. */
  snooze(target: SnoozeTarget, minutes: number, by: string): Snooze[] {
    const now = this.#now();
    const key = JSON.stringify(target);
    const rest = this.snoozes(now).filter((s) => JSON.stringify(s.target) !== key);
    if (minutes > 0) {
      if (rest.length >= MAX_SNOOZES)
        throw new ProtocolError('limit_reached', `at most ${MAX_SNOOZES} snoozes`);
      rest.push({ target, until: now + minutes * 60_000 });
    }
    const next = { ...this.#state, snoozes: rest };
    this.#files.saveState(next);
    this.#state = next;
    const what =
      'rule' in target ? `rule ${target.rule}` : 'session' in target ? `session ${target.session}` : 'all';
    this.options.audit?.append('alerts.snooze', { device: by, target: what, minutes });
    return this.snoozes(now);
  }

  #snoozed(alert: Alert, now: number): boolean {
    return this.snoozes(now).some(
      (s) =>
        'all' in s.target ||
        ('rule' in s.target && alert.rule === s.target.rule) ||
        ('session' in s.target && alert.session === s.target.session),
    );
  }

  #visible(e: StoredAlert, device: DeviceId, grants: ReadonlySet<Grant>): boolean {
    const grant = needs(e.alert);
    return grant === null ? e.to === device : grants.has(grant);
  }

  /** The history this device may see, newest first (`before`: older than that `at`). */
  list(
    device: DeviceId,
    grants: ReadonlySet<Grant>,
    o: { limit: number; before?: number | undefined },
  ): { alerts: Alert[]; unacked: number; snoozes: Snooze[] } {
    const alerts: Alert[] = [];
    let unacked = 0;
    for (let i = this.#history.length - 1; i >= 0; i--) {
      const e = this.#history[i]!;
      if (!this.#visible(e, device, grants)) continue;
      if (e.alert.ackedAt === undefined) unacked++;
      if (alerts.length < o.limit && (o.before === undefined || e.alert.at < o.before)) alerts.push(e.alert);
    }
    return { alerts, unacked, snoozes: this.snoozes() };
  }

  /** Acknowledges alerts this device may see (`all`: every one); answers how many changed. */
  ack(device: DeviceId, grants: ReadonlySet<Grant>, ids: readonly string[], all: boolean): number {
    const wanted = new Set(ids);
    const now = this.#now();
    let acked = 0;
    this.#history = this.#history.map((e) => {
      if (e.alert.ackedAt !== undefined || !(all || wanted.has(e.alert.id))) return e;
      if (!this.#visible(e, device, grants)) return e;
      acked++;
      return { ...e, alert: { ...e.alert, ackedAt: now } };
    });
    if (acked > 0) this.#files.saveHistory(this.#history);
    return acked;
  }

  /** Streams new alerts `device` may see (its grants read at each alert) until the returned function is called. */
  watch(device: DeviceId, grants: () => ReadonlySet<Grant>, listener: Listener): () => void {
    const w: Watcher = { device, grants, listener };
    this.#watchers.add(w);
    return () => {
      this.#watchers.delete(w);
    };
  }

  /** Raises a test alert for `device` only, by every path it has. */
  async test(device: DeviceId): Promise<Alert> {
    return this.#raise(
      {
        kind: 'test',
        state: 'notice',
        severity: 'info',
        title: 'Test alert',
        body: 'Alerts from this host reach this device.',
      },
      device,
    );
  }

  /** A terminal's attention event: settings, mutes, snoozes and the rate limit applied, then an alert. */
  attention(event: AttentionEvent): Alert | undefined {
    if (this.#closed) return undefined;
    const s = this.#state.attention;
    const wanted =
      event.reason === 'bell'
        ? s.bell && !event.watched
        : event.reason === 'notify'
          ? s.notify
          : event.reason === 'finished'
            ? s.longCommandSeconds > 0 &&
              !event.watched &&
              (event.durationMs ?? 0) >= s.longCommandSeconds * 1000
            : s.prompt && !event.watched;
    if (!wanted || this.#state.muted.includes(event.session)) return undefined;
    if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(event.session)) return undefined;
    const now = this.#now();
    const key = `${event.session}\0${event.reason}`;
    const last = this.#attentionSeen.get(key);
    if (last !== undefined && now - last < ATTENTION_MIN_GAP_MS) return undefined;
    this.#attentionSeen.set(key, now);
    if (this.#attentionSeen.size > 1024)
      for (const [k, t] of this.#attentionSeen)
        if (now - t >= ATTENTION_MIN_GAP_MS) this.#attentionSeen.delete(k);
    const { title, body, severity } = attentionWords(event);
    const alert = this.#record(
      {
        kind: 'attention',
        state: 'notice',
        severity,
        title,
        body,
        session: event.session,
        reason: event.reason,
      },
      undefined,
    );
    this.#deliver(alert, undefined);
    return alert;
  }

  /**
   * An agent session waits for an approval (docs/host.md "Agents"): an
   * alert to the devices holding `agent` (pushed sealed; tapping it opens
   * the session, `open: 'agent'`). Snoozes apply as to any alert.
   */
  agent(o: { session: string; title: string; body: string }): Alert | undefined {
    if (this.#closed || !/^[A-Za-z0-9_:.-]{1,64}$/.test(o.session)) return undefined;
    const alert = this.#record(
      {
        kind: 'agent',
        state: 'notice',
        severity: 'warning',
        title: o.title,
        body: o.body,
        session: o.session,
      },
      undefined,
    );
    void this.#deliver(alert, undefined);
    return alert;
  }

  /** Takes one sample and advances every enabled rule (the timer calls this; tests may too). */
  async tick(): Promise<Alert[]> {
    const rules = this.#state.rules.filter((r) => r.enabled);
    if (rules.length === 0) return [];
    const values = await this.#sampler.sample(rules);
    this.samples++;
    return this.evaluate(values, this.#now());
  }

  /** Advances every enabled rule with these figures (by rule id). */
  evaluate(values: ReadonlyMap<string, number | undefined>, now: number): Alert[] {
    if (this.#closed) return [];
    const out: Alert[] = [];
    let dirty = false;
    for (const rule of this.#state.rules) {
      if (!rule.enabled) continue;
      const state = this.#state.state[rule.id] ?? { firing: false };
      this.#state.state[rule.id] = state;
      const value = values.get(rule.id);
      const crossed = step(rule, state, value, now);
      if (!crossed || value === undefined) continue;
      dirty = true;
      const words = ruleWords(rule, crossed, value);
      out.push(
        this.#record(
          {
            kind: 'rule',
            state: crossed,
            severity: crossed === 'resolved' ? 'info' : rule.severity,
            ...words,
            rule: rule.id,
            value: Math.round(value * 100) / 100,
          },
          undefined,
        ),
      );
    }
    if (dirty) this.#save(() => this.#files.saveState(this.#state));
    for (const a of out) this.#deliver(a, undefined);
    return out;
  }

  #record(a: Omit<Alert, 'id' | 'at'>, to: DeviceId | undefined): Alert {
    const alert: Alert = {
      ...a,
      id: randomId(12),
      at: this.#now(),
      title: cut(clean(a.title), MAX_ALERT_TITLE),
      body: cut(
        a.body.replace(/[\p{Cc}\p{Cf}]/gu, (c) => (c === '\n' ? c : ' ')),
        MAX_ALERT_BODY,
      ),
    };
    this.#history.push({ alert, ...(to ? { to } : {}) });
    if (this.#history.length > MAX_ALERT_HISTORY)
      this.#history.splice(0, this.#history.length - MAX_ALERT_HISTORY);
    this.#save(() => this.#files.saveHistory(this.#history));
    return alert;
  }

  /**
   * Writes on the alert path (a sample, a terminal's event): a failure (disk
   * full) keeps the alert in memory and delivers it anyway, counted in
   * `saveFailures` and refused in the audit log, never thrown into the
   * evaluator or a session.
   */
  #save(write: () => void): void {
    try {
      write();
    } catch (error) {
      this.saveFailures++;
      const code = (error as { code?: unknown }).code;
      try {
        this.options.audit?.append('refusal', {
          code: typeof code === 'string' ? code : 'internal',
          what: 'alerts save',
        });
      } catch {
        // The audit log is closed or full too: counted above.
      }
    }
  }

  async #raise(a: Omit<Alert, 'id' | 'at'>, to: DeviceId): Promise<Alert> {
    const alert = this.#record(a, to);
    await this.#deliver(alert, to);
    return alert;
  }

  /** Hands an alert to its sinks: watchers; unless snoozed, push and the exec hook. */
  #deliver(alert: Alert, to: DeviceId | undefined): Promise<void> {
    const stored: StoredAlert = { alert, ...(to ? { to } : {}) };
    for (const w of [...this.#watchers]) {
      try {
        if (this.#visible(stored, w.device, w.grants())) w.listener(alert);
      } catch {
        // One watcher's failure is its own.
      }
    }
    if (to === undefined && this.#snoozed(alert, this.#now())) return Promise.resolve();
    this.#exec?.run(alert);
    const push = this.options.push;
    if (!push) return Promise.resolve();
    const body: AlertPushBody = {
      id: alert.id,
      at: alert.at,
      kind: alert.kind,
      state: alert.state,
      severity: alert.severity,
      title: alert.title,
      body: alert.body,
      open:
        alert.kind === 'attention'
          ? 'session'
          : alert.kind === 'rule'
            ? 'monitor'
            : alert.kind === 'agent'
              ? 'agent'
              : 'alerts',
      ...(alert.session !== undefined ? { session: alert.session } : {}),
    };
    const recipients =
      to !== undefined
        ? [to]
        : (this.options.devices?.() ?? [])
            .filter((d) => this.#visible(stored, d.id, new Set(d.grants)))
            .map((d) => d.id);
    return Promise.all(
      recipients.map(async (d) => {
        try {
          await push(d, body);
          this.pushes.sent++;
        } catch {
          this.pushes.failed++;
        }
      }),
    ).then(() => {});
  }

  #schedule(): void {
    const any = this.#state.rules.some((r) => r.enabled);
    if (!any || this.#closed) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#timer) return;
    const run = () => {
      this.#ticking = this.tick()
        .then(
          () => {},
          () => {},
        )
        .finally(() => {
          this.#ticking = undefined;
          if (this.#timer && !this.#closed) {
            this.#timer = setTimeout(run, this.#sampleMs);
            this.#timer.unref();
          }
        });
    };
    this.#timer = setTimeout(run, 0);
    this.#timer.unref();
  }

  /** Stops the evaluator and waits for the hook's queue and a sample in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watchers.clear();
    await this.#ticking;
    await this.#exec?.idle();
  }
}

/** The words of an attention alert. */
export function attentionWords(e: AttentionEvent): {
  title: string;
  body: string;
  severity: Alert['severity'];
} {
  const where = e.title || `session ${e.session}`;
  const titles: Record<AttentionReason, string> = {
    bell: `Bell in ${where}`,
    notify: e.title || `Notification from session ${e.session}`,
    finished: `Command finished in ${where}`,
    prompt: `${where} waits for input`,
  };
  let body = e.text;
  if (e.reason === 'finished') {
    const ran = e.durationMs !== undefined ? `ran ${duration(Math.round(e.durationMs / 1000))}` : '';
    const exit = e.exitCode !== undefined ? `exit ${e.exitCode}` : '';
    body = [e.text, [ran, exit].filter(Boolean).join(', ')].filter(Boolean).join(' — ');
  }
  return {
    title: titles[e.reason],
    body,
    severity: e.reason === 'finished' && e.exitCode !== undefined && e.exitCode !== 0 ? 'warning' : 'info',
  };
}
