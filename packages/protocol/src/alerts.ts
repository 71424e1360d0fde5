/**
 * Alerts (issue 16, docs/protocol.md §6 `alerts`, docs/host.md "Alerts"):
 * the rules a host keeps, the alerts it raises (from a rule, from a
 * terminal asking for attention, from a test), the history a device lists,
 * and the small body the host seals to each device (inner kind `alert`)
 * for the relay to carry as Web Push without reading it.
 *
 * A rule watches one figure of the host's stats: `above` or `below` a
 * threshold for `forSeconds`, then fires once; it resolves when the
 * condition has been false for `forSeconds` again (the same hysteresis in
 * time both ways), and does not fire again within `cooldownSeconds` of
 * its last firing. `process` counts the processes whose name (or command
 * line) matches `target`, so "gone" is `below 1`; `port` is 1 while
 * something listens on TCP port `target`, so "closed" is `below 1`.
 */
import { ProtocolError } from './errors.ts';
import { method, noParams } from './rpc.ts';
import { array, boolean, finite, integer, type Obj, object, oneOf, optional, string } from './schema.ts';

/** The figures a rule may watch. */
export const ALERT_METRICS = [
  'cpu', // percent of all cores
  'memory', // percent used
  'swap', // percent used (a host without swap never fires)
  'disk', // percent used of the mount `target`
  'load', // 1-minute load average per core
  'temperature', // °C, the hottest sensor, or the one labelled `target`
  'battery', // percent charged
  'process', // processes matching `target`
  'port', // 1 while TCP port `target` listens, else 0
] as const;
/** One such figure. */
export type AlertMetric = (typeof ALERT_METRICS)[number];
/** Which side of the threshold is bad. */
export const ALERT_OPS = ['above', 'below'] as const;
export type AlertOp = (typeof ALERT_OPS)[number];
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
/** Where an alert came from. */
export const ALERT_KINDS = ['rule', 'attention', 'test', 'agent'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
/**
 * `firing`: a rule crossed; `resolved`: it came back; `notice`: a one-off
 * (terminal attention, test, agent).
 */
export const ALERT_STATES = ['firing', 'resolved', 'notice'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
/** Why a terminal asked for attention. */
export const ATTENTION_REASONS = ['bell', 'notify', 'finished', 'prompt'] as const;
export type AttentionReason = (typeof ATTENTION_REASONS)[number];
/** The screen a tapped alert opens. */
export const ALERT_SCREENS = ['alerts', 'monitor', 'session', 'agent'] as const;
export type AlertScreen = (typeof ALERT_SCREENS)[number];

/** Most rules a host keeps. */
export const MAX_RULES = 64;
/** Most alerts a host keeps in its history (oldest dropped first). */
export const MAX_ALERT_HISTORY = 1000;
/** Most alerts one listing carries. */
export const MAX_ALERT_PAGE = 200;
export const MAX_ALERT_TITLE = 120;
export const MAX_ALERT_BODY = 500;
/** Longest `forSeconds` and `cooldownSeconds` (a week). */
export const MAX_RULE_SECONDS = 7 * 24 * 3600;
/** Longest snooze, in minutes (a week). */
export const MAX_SNOOZE_MINUTES = 7 * 24 * 60;

const RULE_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const ALERT_ID = /^[A-Za-z0-9_-]{8,32}$/;
const SESSION_ID = /^[A-Za-z0-9_:.-]{1,64}$/;
const BIG = Number.MAX_SAFE_INTEGER;

/** A rule as stored on the host and edited from a device. */
export interface AlertRule {
  readonly id: string;
  /** A person's label; empty: the app words one from the rule. */
  readonly name: string;
  readonly enabled: boolean;
  readonly metric: AlertMetric;
  /** The mount (`disk`), sensor label (`temperature`), process name (`process`) or port (`port`); empty otherwise. */
  readonly target: string;
  readonly op: AlertOp;
  readonly threshold: number;
  /** How long the condition must hold before the rule fires (and be false before it resolves). */
  readonly forSeconds: number;
  /** No second firing within this long of the last one. */
  readonly cooldownSeconds: number;
  readonly severity: AlertSeverity;
}

/** What terminal sessions may raise (host-wide; a session can also be muted on its own). */
export interface AttentionSettings {
  /** BEL outside an escape sequence. */
  readonly bell: boolean;
  /** OSC 9 and OSC 777 notifications. */
  readonly notify: boolean;
  /** A command that ran at least this long finished (OSC 133, or output gone quiet while nobody watched); 0: off. */
  readonly longCommandSeconds: number;
  /** A session waiting for input at a prompt while nobody watches. */
  readonly prompt: boolean;
}

/** An alert, as kept in the host's history and listed. */
export interface Alert {
  readonly id: string;
  /** Milliseconds since the epoch, at the host. */
  readonly at: number;
  readonly kind: AlertKind;
  readonly state: AlertState;
  readonly severity: AlertSeverity;
  readonly title: string;
  readonly body: string;
  /** The rule that raised it (`kind: 'rule'`). */
  readonly rule?: string;
  /** The figure when it fired or resolved. */
  readonly value?: number;
  /** The session that raised it (`kind: 'attention'`). */
  readonly session?: string;
  readonly reason?: AttentionReason;
  /** Milliseconds since the epoch when a device acknowledged it. */
  readonly ackedAt?: number;
}

/**
 * The body sealed to a device (inner kind `alert`), carried by the relay as
 * Web Push: what the notification shows and what tapping it opens. Kept
 * small (a Web Push payload holds about 4 KiB after its own encryption).
 */
export interface AlertPushBody {
  readonly id: string;
  readonly at: number;
  readonly kind: AlertKind;
  readonly state: AlertState;
  readonly severity: AlertSeverity;
  readonly title: string;
  readonly body: string;
  readonly open: AlertScreen;
  readonly session?: string;
}

const text = (o: Obj, k: string, max: number) => {
  const v = string(o, k, max);
  if (/[\p{Cc}\p{Cf}]/u.test(v.replace(/\n/g, '')))
    throw new ProtocolError('bad_message', `${k}: bad format`);
  return v;
};
const at = (o: Obj, k: string) => integer(o, k, 0, BIG);

/** Checks a rule (the same checks for a device's edit and the host's file). */
export function parseAlertRule(value: unknown): AlertRule {
  const o = object(value, 'rule');
  const metric = oneOf(o, 'metric', ALERT_METRICS);
  const target = string(o, 'target', 256).trim();
  if (/[\p{Cc}\p{Cf}]/u.test(target)) throw new ProtocolError('bad_message', 'target: bad format');
  if (metric === 'disk' && !target.startsWith('/'))
    throw new ProtocolError('bad_message', 'target: a disk rule names a mount');
  if (metric === 'process' && target === '')
    throw new ProtocolError('bad_message', 'target: a process rule names a process');
  if (metric === 'port') {
    const port = Number(target);
    if (!/^[0-9]{1,5}$/.test(target) || port < 1 || port > 65_535)
      throw new ProtocolError('bad_message', 'target: a port rule names a port (1–65535)');
  }
  return {
    id: string(o, 'id', 32, RULE_ID),
    name: text(o, 'name', 64),
    enabled: boolean(o, 'enabled'),
    metric,
    target,
    op: oneOf(o, 'op', ALERT_OPS),
    threshold: finite(o, 'threshold', -1e9, 1e9),
    forSeconds: integer(o, 'forSeconds', 0, MAX_RULE_SECONDS),
    cooldownSeconds: integer(o, 'cooldownSeconds', 0, MAX_RULE_SECONDS),
    severity: oneOf(o, 'severity', ALERT_SEVERITIES),
  };
}

/** Checks the attention settings. */
export function parseAttentionSettings(value: unknown): AttentionSettings {
  const o = object(value, 'attention');
  return {
    bell: boolean(o, 'bell'),
    notify: boolean(o, 'notify'),
    longCommandSeconds: integer(o, 'longCommandSeconds', 0, 86_400),
    prompt: boolean(o, 'prompt'),
  };
}

const ruleId = (o: Obj, k: string) => string(o, k, 32, RULE_ID);
const sessionId = (o: Obj, k: string) => string(o, k, 64, SESSION_ID);

/** The fields an `Alert` and an `AlertPushBody` share. */
function alertCore(o: Obj) {
  return {
    id: string(o, 'id', 32, ALERT_ID),
    at: at(o, 'at'),
    kind: oneOf(o, 'kind', ALERT_KINDS),
    state: oneOf(o, 'state', ALERT_STATES),
    severity: oneOf(o, 'severity', ALERT_SEVERITIES),
    title: text(o, 'title', MAX_ALERT_TITLE),
    body: text(o, 'body', MAX_ALERT_BODY),
  };
}

/** Checks an alert. */
export function parseAlert(value: unknown): Alert {
  const o = object(value, 'alert');
  const rule = optional(o, 'rule', ruleId);
  const v = optional(o, 'value', (x, k) => finite(x, k, -1e12, 1e12));
  const session = optional(o, 'session', sessionId);
  const reason = optional(o, 'reason', (x, k) => oneOf(x, k, ATTENTION_REASONS));
  const ackedAt = optional(o, 'ackedAt', at);
  return {
    ...alertCore(o),
    ...(rule === undefined ? {} : { rule }),
    ...(v === undefined ? {} : { value: v }),
    ...(session === undefined ? {} : { session }),
    ...(reason === undefined ? {} : { reason }),
    ...(ackedAt === undefined ? {} : { ackedAt }),
  };
}

/** Checks the body of a sealed `alert` (the service worker and the apps run this on what they open). */
export function parseAlertPushBody(value: unknown): AlertPushBody {
  const o = object(value, 'alert');
  const session = optional(o, 'session', sessionId);
  return {
    ...alertCore(o),
    open: oneOf(o, 'open', ALERT_SCREENS),
    ...(session === undefined ? {} : { session }),
  };
}

/** What a device may snooze: one rule, one session's attention, or everything of this host. */
export type SnoozeTarget = { readonly rule: string } | { readonly session: string } | { readonly all: true };

function snoozeTarget(o: Obj): SnoozeTarget {
  const rule = optional(o, 'rule', ruleId);
  const session = optional(o, 'session', sessionId);
  const all = optional(o, 'all', boolean);
  const given = [rule !== undefined, session !== undefined, all === true].filter(Boolean).length;
  if (given !== 1) throw new ProtocolError('bad_message', 'snooze: name one of rule, session or all');
  return rule !== undefined ? { rule } : session !== undefined ? { session } : { all: true };
}

/** A snooze in force. */
export interface Snooze {
  readonly target: SnoozeTarget;
  /** Milliseconds since the epoch. */
  readonly until: number;
}

function snooze(value: unknown): Snooze {
  const o = object(value, 'snooze');
  return { target: snoozeTarget(object(o.target, 'target')), until: at(o, 'until') };
}

function rulesResult(v: unknown) {
  const o = object(v, 'result');
  return {
    rules: array(o, 'rules', MAX_RULES, (x) => parseAlertRule(x)),
    attention: parseAttentionSettings(o.attention),
    /** Rules the app offers to add (the host's suggestions for this machine: its mounts, its sensors). */
    suggested: array(o, 'suggested', MAX_RULES, (x) => parseAlertRule(x)),
    /** Sessions muted on their own. */
    muted: array(o, 'muted', 256, (x, f) => string({ [f]: x }, f, 64, SESSION_ID)),
  };
}

/**
 * The `alerts` channel's methods. Rule alerts are listed to, watched by and
 * sent to devices holding `stats`; terminal attention to devices holding
 * `shell`; the host filters every listing by the asking device's grants.
 */
export const ALERTS_METHODS = {
  /** The rules, the attention settings, suggestions for this machine and the muted sessions. */
  'alerts.rules': method({ grant: 'stats', params: noParams, result: rulesResult }),
  /** Replaces the rules and the attention settings at once (atomic on the host; audited). */
  'alerts.rules.set': method({
    grant: 'stats',
    params: (v) => {
      const o = object(v, 'params');
      const rules = array(o, 'rules', MAX_RULES, (x) => parseAlertRule(x));
      const ids = new Set(rules.map((r) => r.id));
      if (ids.size !== rules.length) throw new ProtocolError('bad_message', 'rules: ids must differ');
      return { rules, attention: parseAttentionSettings(o.attention) };
    },
    result: rulesResult,
  }),
  /** Mutes or unmutes one session's attention alerts (audited). */
  'alerts.mute': method({
    grant: 'shell',
    params: (v) => {
      const o = object(v, 'params');
      return { session: string(o, 'session', 64, SESSION_ID), muted: boolean(o, 'muted') };
    },
    result: (v) => ({ muted: boolean(object(v, 'result'), 'muted') }),
  }),
  /** The history, newest first; `before` (an alert's `at`) pages back. */
  'alerts.list': method({
    grant: null,
    optional: ['limit', 'before'],
    params: (v) => {
      const o = object(v ?? {}, 'params');
      return {
        limit: optional(o, 'limit', (x, k) => integer(x, k, 1, MAX_ALERT_PAGE)) ?? 50,
        before: optional(o, 'before', at),
      };
    },
    result: (v) => {
      const o = object(v, 'result');
      return {
        alerts: array(o, 'alerts', MAX_ALERT_PAGE, (x) => parseAlert(x)),
        /** Unacknowledged alerts this device may see, in the whole history. */
        unacked: integer(o, 'unacked', 0, MAX_ALERT_HISTORY),
        snoozes: array(o, 'snoozes', 320, (x) => snooze(x)),
      };
    },
  }),
  /** Acknowledges alerts (`all`: every one this device may see). */
  'alerts.ack': method({
    grant: null,
    optional: ['ids', 'all'],
    params: (v) => {
      const o = object(v, 'params');
      return {
        ids:
          optional(o, 'ids', (x, k) =>
            array(x, k, MAX_ALERT_PAGE, (y, f) => string({ [f]: y }, f, 32, ALERT_ID)),
          ) ?? [],
        all: optional(o, 'all', boolean) ?? false,
      };
    },
    result: (v) => ({ acked: integer(object(v, 'result'), 'acked', 0, MAX_ALERT_HISTORY) }),
  }),
  /** Silences a rule, a session or the whole host for a while (0 minutes lifts it); audited. */
  'alerts.snooze': method({
    grant: null,
    params: (v) => {
      const o = object(v, 'params');
      return {
        target: snoozeTarget(object(o.target, 'target')),
        minutes: integer(o, 'minutes', 0, MAX_SNOOZE_MINUTES),
      };
    },
    result: (v) => ({ snoozes: array(object(v, 'result'), 'snoozes', 320, (x) => snooze(x)) }),
  }),
  /**
   * Streams new alerts (event `alert`, data an `Alert`) this device may see,
   * until the channel closes; its result never comes.
   */
  'alerts.watch': method({ grant: null, params: noParams, result: () => ({}) }),
  /** Sends a test alert to the asking device only, by every path it has (push, relay, watchers). */
  'alerts.test': method({
    grant: null,
    params: noParams,
    result: (v) => ({ alert: parseAlert(object(v, 'result').alert) }),
  }),
} as const;

/** The alerts method map's type. */
export type AlertsMethods = typeof ALERTS_METHODS;
