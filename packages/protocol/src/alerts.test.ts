/**
 * The alerts contract (issue 16): rules, attention settings, alerts and
 * the sealed push body survive the wire; every parser rebuilds what it
 * accepts and refuses the rest with a coded `bad_message` (targets per
 * metric, control characters, ids, bounds); the method params (rules set,
 * snooze targets, listing, ack) are bounded — and 10^4 random or mutated
 * inputs per parser give a value or `bad_message`, never anything else
 * (fast-check, `@pocketshell/protocol/testing`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { jsonValue, mutatedJson } from '../testing/fuzz.ts';
import {
  ALERTS_METHODS,
  type Alert,
  type AlertPushBody,
  type AlertRule,
  MAX_RULES,
  parseAlert,
  parseAlertPushBody,
  parseAlertRule,
  parseAttentionSettings,
} from './alerts.ts';
import { ProtocolError } from './errors.ts';

const RULE: AlertRule = {
  id: 'cpu-high',
  name: 'CPU',
  enabled: true,
  metric: 'cpu',
  target: '',
  op: 'above',
  threshold: 90,
  forSeconds: 300,
  cooldownSeconds: 1800,
  severity: 'warning',
};
const ALERT: Alert = {
  id: 'AbCdEfGh12345678',
  at: 1_760_000_000_000,
  kind: 'attention',
  state: 'notice',
  severity: 'info',
  title: 'Bell in build',
  body: 'line one\nline two',
  session: 's_1:a',
  reason: 'bell',
  ackedAt: 1_760_000_000_500,
};
const PUSH: AlertPushBody = {
  id: 'AbCdEfGh12345678',
  at: 1,
  kind: 'rule',
  state: 'firing',
  severity: 'critical',
  title: 'CPU above 90 %',
  body: 'CPU at 97 %',
  open: 'monitor',
};
const ATTENTION = { bell: true, notify: false, longCommandSeconds: 30, prompt: true };

const bad = (fn: () => unknown) =>
  assert.throws(fn, (e) => e instanceof ProtocolError && e.code === 'bad_message');
const coded = (fn: () => unknown) => {
  try {
    fn();
    return true;
  } catch (e) {
    return e instanceof ProtocolError && e.code === 'bad_message';
  }
};

describe('alerts contract', () => {
  test('rules, settings, alerts and push bodies survive the wire', () => {
    const wire = <T>(v: T) => JSON.parse(JSON.stringify(v)) as unknown;
    assert.deepEqual(parseAlertRule(wire(RULE)), RULE);
    assert.deepEqual(parseAttentionSettings(wire(ATTENTION)), ATTENTION);
    assert.deepEqual(parseAlert(wire(ALERT)), ALERT);
    assert.deepEqual(parseAlertPushBody(wire(PUSH)), PUSH);
    // Unknown fields are dropped, never passed on.
    assert.deepEqual(parseAlert({ ...ALERT, extra: 1 }), ALERT);
  });

  test('a rule names the right target for its metric; bounds and formats are checked', () => {
    assert.equal(parseAlertRule({ ...RULE, metric: 'disk', target: ' /home ' }).target, '/home');
    bad(() => parseAlertRule({ ...RULE, metric: 'disk', target: 'home' }));
    bad(() => parseAlertRule({ ...RULE, metric: 'process', target: '' }));
    assert.equal(parseAlertRule({ ...RULE, metric: 'port', target: '8080', op: 'below' }).target, '8080');
    for (const port of ['0', '65536', 'http', '1e3', '-1'])
      bad(() => parseAlertRule({ ...RULE, metric: 'port', target: port }));
    bad(() => parseAlertRule({ ...RULE, id: 'CPU' }));
    bad(() => parseAlertRule({ ...RULE, id: '-x' }));
    bad(() => parseAlertRule({ ...RULE, name: 'a\u0007b' }));
    bad(() => parseAlertRule({ ...RULE, target: 'a\u202eb', metric: 'process' }));
    bad(() => parseAlertRule({ ...RULE, metric: 'gpu' }));
    bad(() => parseAlertRule({ ...RULE, forSeconds: 7 * 24 * 3600 + 1 }));
    bad(() => parseAlertRule({ ...RULE, cooldownSeconds: -1 }));
    bad(() => parseAlertRule({ ...RULE, threshold: Number.NaN }));
    bad(() => parseAlertRule({ ...RULE, forSeconds: 1.5 }));
    bad(() => parseAttentionSettings({ ...ATTENTION, longCommandSeconds: 86_401 }));
  });

  test('alerts and push bodies: ids, sessions, text', () => {
    bad(() => parseAlert({ ...ALERT, id: 'short' }));
    bad(() => parseAlert({ ...ALERT, session: 'a b' }));
    bad(() => parseAlert({ ...ALERT, title: 'x'.repeat(121) }));
    bad(() => parseAlert({ ...ALERT, body: 'ok\u001b[31m' }));
    bad(() => parseAlert({ ...ALERT, reason: 'boom' }));
    bad(() => parseAlertPushBody({ ...PUSH, open: 'files' }));
    bad(() => parseAlertPushBody({ ...PUSH, kind: 'spam' }));
  });

  test('method params: rules set, snooze targets, listing, ack', () => {
    const set = ALERTS_METHODS['alerts.rules.set'].params;
    assert.deepEqual(set({ rules: [RULE], attention: ATTENTION }), { rules: [RULE], attention: ATTENTION });
    bad(() => set({ rules: [RULE, RULE], attention: ATTENTION }));
    bad(() =>
      set({
        rules: Array.from({ length: MAX_RULES + 1 }, (_, i) => ({ ...RULE, id: `r${i}` })),
        attention: ATTENTION,
      }),
    );
    const snooze = ALERTS_METHODS['alerts.snooze'].params;
    assert.deepEqual(snooze({ target: { rule: 'cpu-high' }, minutes: 30 }), {
      target: { rule: 'cpu-high' },
      minutes: 30,
    });
    assert.deepEqual(snooze({ target: { all: true }, minutes: 0 }).target, { all: true });
    bad(() => snooze({ target: { rule: 'cpu-high', session: 's' }, minutes: 5 }));
    bad(() => snooze({ target: {}, minutes: 5 }));
    bad(() => snooze({ target: { all: false }, minutes: 5 }));
    bad(() => snooze({ target: { all: true }, minutes: 7 * 24 * 60 + 1 }));
    const list = ALERTS_METHODS['alerts.list'].params;
    assert.deepEqual(list(undefined), { limit: 50, before: undefined });
    bad(() => list({ limit: 201 }));
    const ack = ALERTS_METHODS['alerts.ack'].params;
    assert.deepEqual(ack({ all: true }), { ids: [], all: true });
    bad(() => ack({ ids: ['bad id!'] }));
    const mute = ALERTS_METHODS['alerts.mute'].params;
    bad(() => mute({ session: '', muted: true }));
  });

  test('property: 10^4 random or mutated inputs per parser → a value or bad_message, never anything else', () => {
    const parsers: [unknown[], (v: unknown) => unknown][] = [
      [[RULE, { ...RULE, metric: 'port', target: '22' }], parseAlertRule],
      [[ATTENTION], parseAttentionSettings],
      [[ALERT, { ...ALERT, kind: 'rule', rule: 'cpu', value: 91.5 }], parseAlert],
      [[PUSH, { ...PUSH, open: 'session', session: 's1' }], parseAlertPushBody],
      [[{ rules: [RULE], attention: ATTENTION }], ALERTS_METHODS['alerts.rules.set'].params],
      [[{ target: { session: 's1' }, minutes: 5 }], ALERTS_METHODS['alerts.snooze'].params],
    ];
    for (const [valid, parse] of parsers) {
      const inputs = fc.oneof(
        jsonValue,
        mutatedJson(valid as object[]).map((t) => JSON.parse(t) as unknown),
      );
      fc.assert(
        fc.property(inputs, (v) => coded(() => parse(v))),
        { numRuns: 10_000, seed: 16 },
      );
    }
  });
});
