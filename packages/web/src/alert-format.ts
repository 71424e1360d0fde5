/**
 * Words and units for alerts and rules (views/alerts.ts): a rule's figure
 * with its unit (% for CPU, memory, swap, disk and battery; °C; load per
 * core; "gone" for a process, "closed" for a port), durations as a person
 * says them, and the checks an edited rule must pass before it is sent
 * (the protocol's `parseAlertRule`, worded for the form).
 */
import {
  type Alert,
  type AlertMetric,
  type AlertRule,
  MAX_RULE_SECONDS,
  parseAlertRule,
} from '@pocketshell/protocol';

export const METRIC_LABEL: Record<AlertMetric, string> = {
  cpu: 'CPU',
  memory: 'Memory',
  swap: 'Swap',
  disk: 'Disk',
  load: 'Load',
  temperature: 'Temperature',
  battery: 'Battery',
  process: 'Process',
  port: 'Port',
};

/** The unit shown after a threshold. */
export function unitOf(metric: AlertMetric): string {
  switch (metric) {
    case 'cpu':
    case 'memory':
    case 'swap':
    case 'disk':
    case 'battery':
      return '%';
    case 'temperature':
      return '°C';
    case 'load':
      return 'per core';
    case 'process':
      return 'running';
    case 'port':
      return '';
  }
}

/** What `target` names for a metric, or undefined when it takes none. */
export function targetLabel(metric: AlertMetric): string | undefined {
  switch (metric) {
    case 'disk':
      return 'Mount (e.g. /)';
    case 'temperature':
      return 'Sensor (empty: the hottest)';
    case 'process':
      return 'Process name';
    case 'port':
      return 'TCP port';
    default:
      return undefined;
  }
}

/** "5 min", "1 h 30 min", "45 s", "none". */
export function duration(seconds: number): string {
  if (seconds === 0) return 'none';
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

const num = (n: number) => String(Math.round(n * 100) / 100);

/** The condition in words: "CPU above 90 %", "nginx gone", "port 5432 closed". */
export function condition(rule: Pick<AlertRule, 'metric' | 'target' | 'op' | 'threshold'>): string {
  const { metric, target, op, threshold } = rule;
  if (metric === 'process' && op === 'below' && threshold === 1) return `${target || 'process'} gone`;
  if (metric === 'port' && op === 'below' && threshold === 1) return `port ${target} closed`;
  if (metric === 'port') return `port ${target} ${op === 'above' ? 'open' : 'closed'}`;
  const unit = unitOf(metric);
  const what =
    metric === 'disk'
      ? `Disk ${target}`
      : metric === 'temperature' && target
        ? `Temperature ${target}`
        : metric === 'process'
          ? `${target} processes`
          : METRIC_LABEL[metric];
  return `${what} ${op} ${num(threshold)}${unit === '%' || unit === '°C' ? unit : unit ? ` ${unit}` : ''}`;
}

/** A rule's name, or its condition when it has none. */
export function ruleTitle(rule: AlertRule): string {
  return rule.name || condition(rule);
}

/** The rest of a rule's line: "for 5 min · cooldown 30 min · warning". */
export function ruleDetail(rule: AlertRule): string {
  return [
    rule.forSeconds ? `for ${duration(rule.forSeconds)}` : 'at once',
    `cooldown ${duration(rule.cooldownSeconds)}`,
    rule.severity,
  ].join(' · ');
}

/** The person's words for what is wrong with an edited rule, or undefined when it is good. */
export function ruleProblem(rule: AlertRule): string | undefined {
  if (!Number.isFinite(rule.threshold)) return 'The threshold must be a number.';
  const unit = unitOf(rule.metric);
  if (unit === '%' && (rule.threshold < 0 || rule.threshold > 100))
    return 'A percentage is between 0 and 100.';
  if (rule.metric === 'load' && rule.threshold < 0) return 'A load is 0 or more.';
  if (rule.metric === 'temperature' && (rule.threshold < -50 || rule.threshold > 150))
    return 'A temperature is between −50 and 150 °C.';
  if (rule.forSeconds > MAX_RULE_SECONDS || rule.cooldownSeconds > MAX_RULE_SECONDS)
    return 'Durations are at most a week.';
  if (!Number.isInteger(rule.forSeconds) || !Number.isInteger(rule.cooldownSeconds))
    return 'Durations are whole seconds.';
  try {
    parseAlertRule(rule);
  } catch (error) {
    const m = (error as Error).message.replace(/^[a-z]+: /, '');
    return m.charAt(0).toUpperCase() + m.slice(1).replace(/ \(/, ' (') + (m.endsWith('.') ? '' : '.');
  }
  return undefined;
}

/** When an alert happened, short: "14:02", or "3 Dec 14:02" when not today. */
export function when(at: number, now = Date.now()): string {
  const d = new Date(at);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (new Date(now).toDateString() === d.toDateString()) return time;
  return `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

/** A new rule id not in `taken`. */
export function newRuleId(metric: AlertMetric, taken: ReadonlySet<string>): string {
  for (let i = 1; ; i++) {
    const id = `${metric}-${i}`;
    if (!taken.has(id)) return id;
  }
}

/** The screen an alert of the history opens. */
export function alertOpen(alert: Alert): 'session' | 'agent' | 'monitor' | 'alerts' {
  if (alert.kind === 'agent') return 'agent';
  if (alert.session) return 'session';
  if (alert.kind === 'rule') return 'monitor';
  return 'alerts';
}
