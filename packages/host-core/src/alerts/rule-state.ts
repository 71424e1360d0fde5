/**
 * One rule's state machine (docs/host.md "Alerts", the header of
 * packages/protocol/src/alerts.ts): a rule fires once when its condition
 * has held for `forSeconds`, resolves once it has been false for
 * `forSeconds` again, and never fires again within `cooldownSeconds` of
 * its last firing. Pure: the caller hands each sample's value and time,
 * and keeps (and stores) the state it returns. A sample without a value
 * (no swap, a mount gone, no sensor) changes nothing.
 */
import type { AlertRule } from '@pocketshell/protocol';

/** What the host keeps of a rule between samples (and, for `firing` and `lastFired`, across restarts). */
export interface RuleState {
  /** True between a firing and its resolution. */
  firing: boolean;
  /** When the condition started holding (not firing) or stopped holding (firing); undefined: not since the last sample. */
  since?: number;
  /** When the rule last fired (ms since the epoch). */
  lastFired?: number;
}

/** True when `value` is on the bad side of the rule's threshold. */
export function breached(rule: AlertRule, value: number): boolean {
  return rule.op === 'above' ? value > rule.threshold : value < rule.threshold;
}

/**
 * Advances `state` by one sample; answers `firing` or `resolved` when the
 * rule just crossed, else undefined. Mutates `state`.
 */
export function step(
  rule: AlertRule,
  state: RuleState,
  value: number | undefined,
  now: number,
): 'firing' | 'resolved' | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  const bad = breached(rule, value);
  const hold = rule.forSeconds * 1000;
  if (!state.firing) {
    if (!bad) {
      delete state.since;
      return undefined;
    }
    state.since ??= now;
    if (now - state.since < hold) return undefined;
    if (state.lastFired !== undefined && now - state.lastFired < rule.cooldownSeconds * 1000)
      return undefined;
    state.firing = true;
    state.lastFired = now;
    delete state.since;
    return 'firing';
  }
  if (bad) {
    delete state.since;
    return undefined;
  }
  state.since ??= now;
  if (now - state.since < hold) return undefined;
  state.firing = false;
  delete state.since;
  return 'resolved';
}
