/**
 * The web client's words for alerts (packages/web/src/alert-format.ts) and
 * the route a tapped alert opens (alert-route.ts): units per metric, "gone"
 * and "closed", durations, and the checks an edited rule must pass, worded
 * for a person.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertRule } from '@pocketshell/protocol';
import { alertOpen, condition, duration, ruleProblem, unitOf } from '../../packages/web/src/alert-format.ts';
import { alertRoute } from '../../packages/web/src/alert-route.ts';

const rule = (over: Partial<AlertRule>): AlertRule => ({
  id: 'r-1',
  name: '',
  enabled: true,
  metric: 'cpu',
  target: '',
  op: 'above',
  threshold: 90,
  forSeconds: 300,
  cooldownSeconds: 1800,
  severity: 'warning',
  ...over,
});

test('conditions carry their unit, "gone" and "closed"', () => {
  assert.equal(condition(rule({})), 'CPU above 90%');
  assert.equal(condition(rule({ metric: 'temperature', threshold: 85 })), 'Temperature above 85°C');
  assert.equal(condition(rule({ metric: 'load', threshold: 1.5 })), 'Load above 1.5 per core');
  assert.equal(condition(rule({ metric: 'disk', target: '/home', threshold: 95 })), 'Disk /home above 95%');
  assert.equal(
    condition(rule({ metric: 'process', target: 'nginx', op: 'below', threshold: 1 })),
    'nginx gone',
  );
  assert.equal(
    condition(rule({ metric: 'port', target: '5432', op: 'below', threshold: 1 })),
    'port 5432 closed',
  );
  assert.equal(unitOf('battery'), '%');
});

test('durations as a person says them', () => {
  assert.equal(duration(0), 'none');
  assert.equal(duration(45), '45 s');
  assert.equal(duration(300), '5 min');
  assert.equal(duration(5400), '1 h 30 min');
  assert.equal(duration(7200), '2 h');
  assert.equal(duration(86_400), '1 d');
});

test('an edited rule is checked and the problem worded', () => {
  assert.equal(ruleProblem(rule({})), undefined);
  assert.equal(ruleProblem(rule({ threshold: 120 })), 'A percentage is between 0 and 100.');
  assert.equal(ruleProblem(rule({ threshold: Number.NaN })), 'The threshold must be a number.');
  assert.match(ruleProblem(rule({ metric: 'disk', target: 'home' })) ?? '', /names a mount/);
  assert.match(
    ruleProblem(rule({ metric: 'port', target: '70000', op: 'below', threshold: 1 })) ?? '',
    /port/,
  );
  assert.match(ruleProblem(rule({ metric: 'process', target: '' })) ?? '', /names a process/);
  assert.equal(ruleProblem(rule({ forSeconds: 8 * 86_400 })), 'Durations are at most a week.');
});

test('a tapped alert opens the session, the Monitor or the alerts screen', () => {
  assert.equal(alertRoute('h_abc', { open: 'session', session: 's_1' }), '#/t/h_abc/s_1');
  assert.equal(alertRoute('h_abc', { open: 'monitor' }), '#/host/h_abc/monitor');
  assert.equal(alertRoute('h_abc', { open: 'alerts' }), '#/host/h_abc/alerts');
  // A session alert without a session falls back to the alerts screen.
  assert.equal(alertRoute('h_abc', { open: 'session' }), '#/host/h_abc/alerts');
});

test('an agent alert opens the agent session’s chat (its approval), else the Agents screen', () => {
  assert.equal(alertRoute('h_abc', { open: 'agent', session: 'ag_abcdefgh12' }), '#/a/h_abc/ag_abcdefgh12');
  assert.equal(alertRoute('h_abc', { open: 'agent' }), '#/host/h_abc/agents');
  const alert = {
    id: 'alert_12345678',
    at: 1,
    kind: 'agent',
    state: 'notice',
    severity: 'warning',
    title: 'Agent needs approval',
    body: 'run `rm -rf build`',
    session: 'ag_abcdefgh12',
  } as const;
  assert.equal(alertOpen(alert), 'agent');
  assert.equal(alertOpen({ ...alert, kind: 'attention' }), 'session');
});
