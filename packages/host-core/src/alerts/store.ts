/**
 * The alert center's two files in the state folder (docs/host.md
 * "Alerts"), both private (0600) and written atomically (temp file, fsync,
 * rename: state/private-files.ts):
 *
 * - `alerts.json`: the rules, the attention settings, the muted sessions,
 *   the snoozes in force and each rule's firing state (so a restart does
 *   not fire a still-firing rule again). Rewritten on every change.
 * - `alerts-history.json`: the last `MAX_ALERT_HISTORY` alerts, oldest
 *   first, with the device a test alert was for. Rewritten per alert and
 *   per acknowledgement (alerts are rare; attention is rate-limited).
 *
 * Both are schema-checked on load with the protocol's parsers: a corrupt
 * file is a `state_corrupt` error naming it, never a silent reset.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ALERTS_METHODS,
  type Alert,
  type AlertRule,
  type AttentionSettings,
  array,
  boolean,
  DEVICE_ID_RE,
  type DeviceId,
  integer,
  MAX_ALERT_HISTORY,
  MAX_RULES,
  object,
  optional,
  parseAlert,
  parseAlertRule,
  parseAttentionSettings,
  type Snooze,
  string,
} from '@pocketshell/protocol';
import { readJsonFile, writeJsonFile } from '../state/private-files.ts';
import type { RuleState } from './rule-state.ts';

/** The rules file's name in the state folder. */
export const ALERTS_FILE = 'alerts.json';
/** The history file's name in the state folder. */
export const ALERT_HISTORY_FILE = 'alerts-history.json';
/** Most sessions muted at once. */
export const MAX_MUTED = 256;
/** Most snoozes in force at once. */
export const MAX_SNOOZES = 320;

/** What `alerts.json` holds. */
export interface AlertsState {
  rules: AlertRule[];
  attention: AttentionSettings;
  muted: string[];
  snoozes: Snooze[];
  /** Each rule's firing state, by rule id. */
  state: Record<string, RuleState>;
}

/** An alert as the history keeps it: for a test alert, the device it was for. */
export interface StoredAlert {
  alert: Alert;
  to?: DeviceId;
}

const SESSION_ID = /^[A-Za-z0-9_:.-]{1,64}$/;
const DEVICE = DEVICE_ID_RE;
const BIG = Number.MAX_SAFE_INTEGER;

/** The attention settings of a new host. */
export const DEFAULT_ATTENTION: AttentionSettings = {
  bell: true,
  notify: true,
  longCommandSeconds: 30,
  prompt: true,
};

const COOLDOWN = 30 * 60;

/** A rule id for a mount: `disk-root` for `/`, else `disk-` and the path's words. */
export function diskRuleId(mount: string): string {
  if (mount === '/') return 'disk-root';
  const slug = mount
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `disk-${slug || 'mount'}`.slice(0, 32).replace(/-+$/, '');
}

/** A disk rule: above 90 % for a minute. */
export function diskRule(mount: string, enabled = true): AlertRule {
  return {
    id: diskRuleId(mount),
    name: '',
    enabled,
    metric: 'disk',
    target: mount,
    op: 'above',
    threshold: 90,
    forSeconds: 60,
    cooldownSeconds: COOLDOWN,
    severity: 'warning',
  };
}

const REAL_FS = new Set([
  'ext2',
  'ext3',
  'ext4',
  'xfs',
  'btrfs',
  'zfs',
  'f2fs',
  'jfs',
  'reiserfs',
  'bcachefs',
]);

/**
 * The machine's real mounts (Linux: block-device file systems from
 * /proc/mounts, no bind duplicates; elsewhere `/`), at most 16.
 */
export function realMounts(): string[] {
  if (process.platform !== 'linux') return ['/'];
  let text = '';
  try {
    text = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return ['/'];
  }
  const out: string[] = [];
  const devices = new Set<string>();
  for (const line of text.split('\n')) {
    const [dev, where, type] = line.split(' ');
    if (!dev || !where || !type || !REAL_FS.has(type)) continue;
    const mount = where.replace(/\\040/g, ' ');
    if (!mount.startsWith('/') || /[\p{Cc}]/u.test(mount) || mount.length > 256) continue;
    if (devices.has(dev) && mount !== '/') continue;
    devices.add(dev);
    if (!out.includes(mount)) out.push(mount);
  }
  if (out.length === 0) out.push('/');
  return out.slice(0, 16);
}

/** The rules of a new host: CPU, memory, swap, load and every real mount's disk. */
export function defaultRules(mounts: readonly string[] = realMounts()): AlertRule[] {
  const base = { name: '', enabled: true, target: '', op: 'above' as const, cooldownSeconds: COOLDOWN };
  return [
    { ...base, id: 'cpu-high', metric: 'cpu', threshold: 90, forSeconds: 300, severity: 'warning' },
    { ...base, id: 'memory-high', metric: 'memory', threshold: 90, forSeconds: 300, severity: 'warning' },
    { ...base, id: 'load-high', metric: 'load', threshold: 2, forSeconds: 600, severity: 'warning' },
    { ...base, id: 'swap-high', metric: 'swap', threshold: 50, forSeconds: 600, severity: 'warning' },
    ...mounts.slice(0, MAX_RULES - 4).map((m) => diskRule(m)),
  ];
}

/** Whether this machine has a temperature sensor / a battery (Linux: /sys; elsewhere unknown). */
function hasSys(dir: string, test: (name: string) => boolean): boolean {
  try {
    return fs.readdirSync(dir).some(test);
  } catch {
    return false;
  }
}

/**
 * Rules the app offers to add for this machine (not yet among `rules`):
 * its other mounts, a temperature rule when it has a sensor, a battery
 * rule when it has one. `seen` adds what the stats collector found.
 */
export function suggestedRules(
  rules: readonly AlertRule[],
  seen: { temperatures?: boolean; battery?: boolean; mounts?: readonly string[] } = {},
): AlertRule[] {
  const have = new Set(rules.map((r) => r.id));
  const watched = new Set(rules.filter((r) => r.metric === 'disk').map((r) => r.target));
  const out: AlertRule[] = [];
  const mounts = [...new Set([...realMounts(), ...(seen.mounts ?? [])])];
  for (const m of mounts) if (!watched.has(m) && m.length <= 256) out.push(diskRule(m, false));
  const temps =
    seen.temperatures ??
    (process.platform === 'linux' &&
      hasSys('/sys/class/hwmon', (n) => hasSys(`/sys/class/hwmon/${n}`, (f) => /^temp\d+_input$/.test(f))));
  if (temps)
    out.push({
      id: 'temperature-high',
      name: '',
      enabled: false,
      metric: 'temperature',
      target: '',
      op: 'above',
      threshold: 85,
      forSeconds: 120,
      cooldownSeconds: COOLDOWN,
      severity: 'critical',
    });
  const battery =
    seen.battery ??
    (process.platform === 'linux' && hasSys('/sys/class/power_supply', (n) => /^BAT/.test(n)));
  if (battery)
    out.push({
      id: 'battery-low',
      name: '',
      enabled: false,
      metric: 'battery',
      target: '',
      op: 'below',
      threshold: 15,
      forSeconds: 60,
      cooldownSeconds: COOLDOWN,
      severity: 'warning',
    });
  return out.filter((r) => !have.has(r.id)).slice(0, MAX_RULES);
}

const snoozesOf = (v: unknown): Snooze[] => ALERTS_METHODS['alerts.snooze'].result({ snoozes: v }).snoozes;

function parseRuleState(v: unknown): RuleState {
  const o = object(v, 'state');
  const lastFired = optional(o, 'lastFired', (x, k) => integer(x, k, 0, BIG));
  return { firing: boolean(o, 'firing'), ...(lastFired === undefined ? {} : { lastFired }) };
}

/** Checks `alerts.json`. */
export function parseAlertsState(value: unknown): AlertsState {
  const o = object(value, 'alerts');
  if (o.version !== 1) throw new Error('version: expected 1');
  const rules = array(o, 'rules', MAX_RULES, (x) => parseAlertRule(x));
  if (new Set(rules.map((r) => r.id)).size !== rules.length) throw new Error('rules: ids must differ');
  const stateIn = object(o.state, 'state');
  const state: Record<string, RuleState> = {};
  for (const r of rules) if (stateIn[r.id] !== undefined) state[r.id] = parseRuleState(stateIn[r.id]);
  return {
    rules,
    attention: parseAttentionSettings(o.attention),
    muted: array(o, 'muted', MAX_MUTED, (x, f) => string({ [f]: x }, f, 64, SESSION_ID)),
    snoozes: snoozesOf(o.snoozes),
    state,
  };
}

/** Checks `alerts-history.json`. */
export function parseAlertHistory(value: unknown): StoredAlert[] {
  const o = object(value, 'history');
  if (o.version !== 1) throw new Error('version: expected 1');
  return array(o, 'alerts', MAX_ALERT_HISTORY, (x) => {
    const e = object(x, 'entry');
    const to = optional(e, 'to', (y, k) => string(y, k, 64, DEVICE));
    return { alert: parseAlert(e.alert), ...(to === undefined ? {} : { to: to as DeviceId }) };
  });
}

/** The two files of one state folder (no folder: kept in memory only, for tests). */
export class AlertFiles {
  readonly #root: string | undefined;

  constructor(root: string | undefined) {
    this.#root = root;
  }

  get rulesFile(): string | undefined {
    return this.#root && path.join(this.#root, ALERTS_FILE);
  }

  get historyFile(): string | undefined {
    return this.#root && path.join(this.#root, ALERT_HISTORY_FILE);
  }

  /** The rules state, or the defaults (written at once) on first run. Throws `state_corrupt`. */
  loadState(defaults: () => AlertsState): AlertsState {
    const file = this.rulesFile;
    const loaded = file ? readJsonFile(file, parseAlertsState) : null;
    if (loaded) return loaded;
    const fresh = defaults();
    this.saveState(fresh);
    return fresh;
  }

  saveState(s: AlertsState): void {
    const file = this.rulesFile;
    if (!file) return;
    const state: Record<string, RuleState> = {};
    for (const [id, st] of Object.entries(s.state))
      if (st.firing || st.lastFired !== undefined)
        state[id] = { firing: st.firing, ...(st.lastFired !== undefined ? { lastFired: st.lastFired } : {}) };
    writeJsonFile(file, {
      version: 1,
      rules: s.rules,
      attention: s.attention,
      muted: s.muted,
      snoozes: s.snoozes,
      state,
    });
  }

  /** The history, oldest first. Throws `state_corrupt`. */
  loadHistory(): StoredAlert[] {
    const file = this.historyFile;
    return (file ? readJsonFile(file, parseAlertHistory) : null) ?? [];
  }

  saveHistory(history: readonly StoredAlert[]): void {
    const file = this.historyFile;
    if (!file) return;
    writeJsonFile(file, { version: 1, alerts: history });
  }
}
